"""Praktik's allocation engine: a pure library (standard library, OR-Tools, geopy, numpy).

Typical use::

    import solver

    instance = solver.load_instance(json.load(f))   # raises solver.InstanceError
    result = solver.solve(instance)                  # method=None: the policy's mechanism (optimal, da-reserves, ...)
    assert solver.check(instance, result) == []      # independent re-verification
    json.dump(result.to_dict(), out)

The objective, the guarantees and the extension fields are documented in
``docs/allocation.md``.
"""

from solver.check import Violation, check
from solver.compare import Comparison, MethodSummary, compare
from solver.engine import PreparedRound, solve, solve_methods
from solver.explain import explain
from solver.flow import SolverError
from solver.load import InstanceError, load_instance, read_instance
from solver.model import Fairness, Instance, Offer, Period, Policy, School, Student
from solver.result import (
    Assignment,
    Explanation,
    Metrics,
    Move,
    Result,
    ResultError,
    Unassigned,
    result_from_dict,
)

__all__ = [
    "Assignment",
    "Comparison",
    "Explanation",
    "Fairness",
    "Instance",
    "InstanceError",
    "MethodSummary",
    "Metrics",
    "Move",
    "Offer",
    "Period",
    "Policy",
    "PreparedRound",
    "Result",
    "ResultError",
    "School",
    "SolverError",
    "Student",
    "Unassigned",
    "Violation",
    "check",
    "compare",
    "explain",
    "load_instance",
    "read_instance",
    "result_from_dict",
    "solve",
    "solve_methods",
]
