"""Figures and lists read from the database: the region overview, placement exports."""
