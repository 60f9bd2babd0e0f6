"""Employers, their workplaces and offers, their import and what an employer contact may do."""
