"""Domain errors.  Every message names the record and the field that is wrong."""

from __future__ import annotations


class PlacementError(Exception):
    """Base class of every failure a service reports to its caller."""


class NotFound(PlacementError):
    pass


class Conflict(PlacementError):
    """The operation clashes with the current state (a duplicate, a wrong status)."""


class CapacityExceeded(Conflict):
    pass


class NotEligible(PlacementError):
    pass


class PermissionDenied(PlacementError):
    pass


class ValidationError(PlacementError):
    """Input that cannot be accepted.  ``problems`` lists every problem found."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class ImportRejected(ValidationError):
    """An import file with at least one bad row: nothing was written."""
