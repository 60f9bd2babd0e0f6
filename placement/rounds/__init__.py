"""Allocation rounds: set-up, the bridge to the solver, solving, jobs, review, placements."""
