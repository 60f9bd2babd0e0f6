"""The processes: the scheduler, the solve worker, and the sweeps the scheduler runs."""
