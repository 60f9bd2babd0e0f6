"""Services: plain functions taking a Session first.  They flush, never commit."""
