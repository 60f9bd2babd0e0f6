"""``python -m solver``: see :mod:`solver.cli`."""

from solver.cli import main

main()
