"""Deleting personal data when its retention ends (gallring)."""
