"""Pupils: the cohort import, login codes, ranked choices, and what school staff and pupils may do."""
