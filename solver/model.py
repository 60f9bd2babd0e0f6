"""The instance of an allocation round, as frozen dataclasses.

An :class:`Instance` is built from a ``praktik-instance/1`` document by
:func:`solver.load.load_instance`, which validates every rule of the format
(described in ``docs/allocation.md``).  Nothing here touches a database or
the web layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

INSTANCE_FORMAT = "praktik-instance/1"
RESULT_FORMAT = "praktik-result/1"
GENDERS = ("female", "male", "other")
BALANCED_GENDERS = ("female", "male")
MECHANISMS = ("optimal", "da-reserves", "mcf", "da", "fcfs")
"""The values of ``policy.mechanism`` (the methods of :func:`solver.solve`)."""


@dataclass(frozen=True)
class Period:
    id: str
    start: date
    end: date


@dataclass(frozen=True)
class School:
    id: str
    name: str
    lat: float
    lon: float
    need_index: float = 1.0


@dataclass(frozen=True)
class Offer:
    id: str
    employer: str
    title: str
    sector: str
    lat: float
    lon: float
    capacity: Mapping[str, int]
    min_age: int | None = None
    requires: frozenset[str] = frozenset()
    schools: frozenset[str] | None = None

    def places(self, period: str) -> int:
        """Places in ``period`` (0 when the period is not listed)."""
        return self.capacity.get(period, 0)


@dataclass(frozen=True)
class Student:
    id: str
    school: str
    period: str
    gender: str | None
    age: int
    preferences: tuple[str, ...] = ()
    attributes: frozenset[str] = frozenset()
    max_distance_km: float | None = None
    locked: str | None = None
    excluded_offers: frozenset[str] = frozenset()

    def rank_of(self, offer: str) -> int | None:
        """1-based position of ``offer`` in the preferences, or None."""
        try:
            return self.preferences.index(offer) + 1
        except ValueError:
            return None


@dataclass(frozen=True)
class Fairness:
    school: float = 1.0
    gender: float = 1.0
    need: float = 1.0


@dataclass(frozen=True)
class Reserves:
    """``policy.reserves``: the reserves of the ``da-reserves`` mechanism."""

    high_need_share: float | None = None
    """Share of each slot's free places first offered to the high-need tercile (0..1);
    None: that tercile's share of the pupils of the round."""


@dataclass(frozen=True)
class Policy:
    max_distance_km: float
    assign_unranked: bool
    fairness: Fairness = field(default_factory=Fairness)
    time_limit_s: float = 60.0
    seed: int = 0
    mechanism: str = "optimal"
    """One of :data:`MECHANISMS`: the method :func:`solver.solve` uses when none is given."""
    reserves: Reserves = field(default_factory=Reserves)


@dataclass(frozen=True)
class Instance:
    """A validated round.  Build it with :func:`solver.load_instance`."""

    name: str
    periods: tuple[Period, ...]
    schools: tuple[School, ...]
    offers: tuple[Offer, ...]
    students: tuple[Student, ...]
    policy: Policy
    warnings: tuple[str, ...] = ()

    @cached_property
    def school_by_id(self) -> dict[str, School]:
        return {s.id: s for s in self.schools}

    @cached_property
    def offer_by_id(self) -> dict[str, Offer]:
        return {o.id: o for o in self.offers}

    def radius_km(self, student: Student) -> float:
        """The radius for this student's unranked placements."""
        if student.max_distance_km is None:
            return self.policy.max_distance_km
        return min(self.policy.max_distance_km, student.max_distance_km)
