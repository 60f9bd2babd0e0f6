"""The equity measures of a round, defined once (``docs/formats.md``, "Equity measures").

:func:`equity` computes them from an instance and its assignments; every
report of equity (the result's ``metrics.equity``, ``praktik compare``, the
benchmarks, the review page) uses it, so that figures from different tools
mean the same thing.  In short:

* a **ranker** is a student who is not locked and has at least one eligible
  ranked offer; rates are over rankers;
* the **top-3 rate** of a group is its rankers placed at rank 1-3 over its
  rankers, for the groups of the engine (:func:`solver.equity.dimensions`):
  schools, genders (``female``, ``male``, ``other``, and ``null`` as
  ``unknown``) and need terciles;
* a group counts for **spread** and **worst** only with at least
  :data:`MIN_RANKERS` rankers;
* **unplaced** per need tercile counts all students of the tercile;
* **popular-offer access**: the over-demanded (offer, period) pairs are those
  whose demand (rankers of the period who list the offer and are eligible
  for it) per place is at or above the 90th percentile of all pairs and
  above 1; per tercile, the share of the rankers listing (eligibly) at least
  one such pair of their period who are placed at one of them.

Eligibility and the counts are vectorised with numpy; 100,000 students take
under a second, most of it spent reading the records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from solver.equity import Dimension, dimensions
from solver.model import Instance

if TYPE_CHECKING:
    from solver.result import Assignment

MIN_RANKERS = 20
"""A group counts for spread and worst only with at least this many rankers."""
TOP = 3
"""Ranks 1 to TOP count as "top three"."""
LOW, HIGH = 0, 2
"""Indices of the low-need and high-need terciles among the need groups."""

I64 = npt.NDArray[np.int64]
Groups = npt.NDArray[np.int32]
Bools = npt.NDArray[np.bool_]


class EquityError(ValueError):
    """A ``metrics.equity`` document that does not have the shape :meth:`Equity.to_dict` writes."""


@dataclass(frozen=True)
class GroupRate:
    """Top-3 rate of one group: ``top_3`` of its ``rankers``; None when it has no rankers."""

    rankers: int
    top_3: int
    rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"rankers": self.rankers, "top_3": self.top_3, "rate": self.rate}


@dataclass(frozen=True)
class Worst:
    """The counted group with the lowest top-3 rate."""

    dimension: str
    group: str
    rate: float

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "group": self.group, "rate": self.rate}


@dataclass(frozen=True)
class DimensionRates:
    """Top-3 rates of every group of one dimension, in the dimension's order."""

    groups: Mapping[str, GroupRate]
    spread: float | None
    """Highest minus lowest rate of the counted groups; None when fewer than two count."""
    worst: Worst | None
    """The counted group with the lowest rate; None when none counts."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": {label: g.to_dict() for label, g in self.groups.items()},
            "spread": self.spread,
            "worst": None if self.worst is None else self.worst.to_dict(),
        }


@dataclass(frozen=True)
class Unplaced:
    """Students of one need tercile, and how many of them have no placement."""

    students: int
    unplaced: int

    def to_dict(self) -> dict[str, Any]:
        return {"students": self.students, "unplaced": self.unplaced}


@dataclass(frozen=True)
class Access:
    """Rankers of one need tercile who list an over-demanded pair, and how many got one."""

    rankers: int
    placed: int
    share: float | None
    """``placed / rankers``; None when there are no such rankers."""

    def to_dict(self) -> dict[str, Any]:
        return {"rankers": self.rankers, "placed": self.placed, "share": self.share}


@dataclass(frozen=True)
class PopularAccess:
    over_demanded: int
    """Number of over-demanded (offer, period) pairs."""
    groups: Mapping[str, Access]
    """Per need tercile (low, middle, high)."""
    high_low_ratio: float | None
    """High-need share over low-need share; None when either is undefined or the low share is 0."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "over_demanded": self.over_demanded,
            "groups": {label: a.to_dict() for label, a in self.groups.items()},
            "high_low_ratio": self.high_low_ratio,
        }


@dataclass(frozen=True)
class Equity:
    """Every equity measure of ``docs/formats.md`` for one set of assignments."""

    school: DimensionRates
    gender: DimensionRates
    need: DimensionRates
    worst: Worst | None
    """The lowest counted rate over all three dimensions."""
    female_male_gap: float | None
    """Female rate minus male rate (all their rankers); None when either has no rankers."""
    unplaced: Mapping[str, Unplaced]
    """Per need tercile."""
    popular: PopularAccess

    @property
    def dimensions(self) -> dict[str, DimensionRates]:
        return {"school": self.school, "gender": self.gender, "need": self.need}

    def to_dict(self) -> dict[str, Any]:
        return {
            **{name: dim.to_dict() for name, dim in self.dimensions.items()},
            "worst": None if self.worst is None else self.worst.to_dict(),
            "female_male_gap": self.female_male_gap,
            "unplaced": {label: u.to_dict() for label, u in self.unplaced.items()},
            "popular": self.popular.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: object) -> Equity:
        """Read what :meth:`to_dict` writes; raises :class:`EquityError` naming the first problem."""
        top = _object(data, "equity")
        dims = {
            name: DimensionRates(
                _table(raw, "groups", where, _group_rate), _number(raw, "spread", where), _worst(raw, "worst", where)
            )
            for name in ("school", "gender", "need")
            for where in [f"equity.{name}"]
            for raw in [_object(_field(top, name, "equity"), where)]
        }
        popular = _object(_field(top, "popular", "equity"), "equity.popular")
        return cls(
            school=dims["school"],
            gender=dims["gender"],
            need=dims["need"],
            worst=_worst(top, "worst", "equity"),
            female_male_gap=_number(top, "female_male_gap", "equity"),
            unplaced=_table(top, "unplaced", "equity", _unplaced),
            popular=PopularAccess(
                _int(popular, "over_demanded", "equity.popular"),
                _table(popular, "groups", "equity.popular", _access),
                _number(popular, "high_low_ratio", "equity.popular"),
            ),
        )


T = TypeVar("T")


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise EquityError(f"{where} must be an object")
    return value


def _field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise EquityError(f'{where}: missing field "{key}"')
    return obj[key]


def _table(obj: Mapping[str, Any], key: str, where: str, read: Callable[[Mapping[str, Any], str], T]) -> dict[str, T]:
    """An object of records keyed by group label, each read by ``read``."""
    table = _object(_field(obj, key, where), f"{where}.{key}")
    return {
        label: read(_object(value, f"{where}.{key}.{label}"), f"{where}.{key}.{label}")
        for label, value in table.items()
    }


def _int(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = _field(obj, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EquityError(f'{where}: field "{key}" must be a whole number')
    return value


def _number(obj: Mapping[str, Any], key: str, where: str) -> float | None:
    value = _field(obj, key, where)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EquityError(f'{where}: field "{key}" must be a number or null')
    return float(value)


def _group_rate(raw: Mapping[str, Any], where: str) -> GroupRate:
    return GroupRate(_int(raw, "rankers", where), _int(raw, "top_3", where), _number(raw, "rate", where))


def _unplaced(raw: Mapping[str, Any], where: str) -> Unplaced:
    return Unplaced(_int(raw, "students", where), _int(raw, "unplaced", where))


def _access(raw: Mapping[str, Any], where: str) -> Access:
    return Access(_int(raw, "rankers", where), _int(raw, "placed", where), _number(raw, "share", where))


def _worst(obj: Mapping[str, Any], key: str, where: str) -> Worst | None:
    value = _field(obj, key, where)
    if value is None:
        return None
    raw = _object(value, f"{where}.{key}")
    dimension, group = _field(raw, "dimension", f"{where}.{key}"), _field(raw, "group", f"{where}.{key}")
    rate = _number(raw, "rate", f"{where}.{key}")
    if not isinstance(dimension, str) or not isinstance(group, str) or rate is None:
        raise EquityError(f"{where}.{key} must name a dimension, a group and a rate")
    return Worst(dimension, group, rate)


def equity(instance: Instance, assignments: Sequence[Assignment]) -> Equity:
    """The equity measures of ``assignments`` (a result's) for ``instance``; see the module docstring."""
    students = instance.students
    n = len(students)
    school, gender, need = dimensions(instance)
    period_pos = {p.id: k for k, p in enumerate(instance.periods)}
    offer_pos = {o.id: k for k, o in enumerate(instance.offers)}
    n_periods = len(period_pos)
    places = np.zeros(len(offer_pos) * n_periods, dtype=np.int64)
    for k, offer in enumerate(instance.offers):
        for period, count in offer.capacity.items():
            places[k * n_periods + period_pos[period]] = count
    period_of = np.array([period_pos[s.period] for s in students], dtype=np.int64)
    locked = np.array([s.locked is not None for s in students], dtype=np.bool_)

    # Every (student, listed offer) entry; "listed" keeps those of free students eligible for the offer.
    pref_student, pref_pair, eligible = _listed(instance, offer_pos, period_of, school.group_of, places)
    listed = eligible & ~locked[pref_student]
    rankers = np.bincount(pref_student[listed], minlength=n) > 0

    # The placements, per student: placed, rank (0 when unranked or not placed), (offer, period) pair or -1.
    student_pos = {s.id: i for i, s in enumerate(students)}
    who = np.array([student_pos.get(a.student, -1) for a in assignments], dtype=np.int64)
    offer_of = np.array([offer_pos.get(a.offer, -1) for a in assignments], dtype=np.int64)
    ranks = np.array([a.rank or 0 for a in assignments], dtype=np.int64)
    known = who >= 0
    who, offer_of, ranks = who[known], offer_of[known], ranks[known]
    placed = np.zeros(n, dtype=np.bool_)
    placed[who] = True
    rank = np.zeros(n, dtype=np.int64)
    rank[who] = ranks
    placed_pair = np.full(n, -1, dtype=np.int64)
    placed_pair[who] = np.where(offer_of >= 0, offer_of * n_periods + period_of[who], -1)
    top = rankers & placed & (rank >= 1) & (rank <= TOP)

    # Popular-offer access: who lists an over-demanded pair, and who is placed at one they list.
    over = over_demanded(np.bincount(pref_pair[listed], minlength=len(places)), places)
    wants = np.bincount(pref_student[listed & over[pref_pair]], minlength=n) > 0
    got = np.zeros(n, dtype=np.bool_)
    at = np.flatnonzero(wants & (rank >= 1) & (placed_pair >= 0))
    got[at] = over[placed_pair[at]]
    return from_outcome(
        (school, gender, need), rankers=rankers, top=top, placed=placed, wants=wants, got=got, over=int(over.sum())
    )


def from_outcome(
    dims: Sequence[Dimension], *, rankers: Bools, top: Bools, placed: Bools, wants: Bools, got: Bools, over: int
) -> Equity:
    """The measures from per-student facts: the one place where rates, spreads, worst and access are defined.

    ``dims`` are the school, gender and need dimensions
    (:func:`solver.equity.dimensions`); per student, ``rankers`` marks a
    ranker, ``top`` a ranker placed at rank 1-3, ``placed`` any placement,
    ``wants`` a ranker listing an over-demanded pair and ``got`` one placed
    at such a pair they listed; ``over`` is the number of over-demanded
    pairs.  :func:`equity` derives the facts from a result's assignments,
    the engine's calibration from its flow (:func:`solver.optimal.evaluate`).
    """
    need = dims[2]
    rates = {dim.name: _dimension(dim.name, dim.labels, dim.group_of, rankers, top) for dim in dims}
    female, male = (rates["gender"].groups[label] for label in ("female", "male"))
    worsts = [d.worst for d in rates.values() if d.worst is not None]
    terciles = len(need.labels)
    in_tercile = np.bincount(need.group_of, minlength=terciles)
    left_out = np.bincount(need.group_of[~placed], minlength=terciles)
    asking = np.bincount(need.group_of[wants], minlength=terciles)
    getting = np.bincount(need.group_of[got], minlength=terciles)
    access = {
        label: Access(int(asking[t]), int(getting[t]), _ratio(int(getting[t]), int(asking[t])))
        for t, label in enumerate(need.labels)
    }
    high, low = access[need.labels[HIGH]].share, access[need.labels[LOW]].share
    return Equity(
        school=rates["school"],
        gender=rates["gender"],
        need=rates["need"],
        worst=min(worsts, key=lambda w: w.rate) if worsts else None,
        female_male_gap=None if female.rate is None or male.rate is None else female.rate - male.rate,
        unplaced={label: Unplaced(int(in_tercile[t]), int(left_out[t])) for t, label in enumerate(need.labels)},
        popular=PopularAccess(over, access, None if high is None or low is None or low == 0 else high / low),
    )


def _listed(
    instance: Instance, offer_pos: dict[str, int], period_of: I64, school_of: Groups, places: I64
) -> tuple[I64, I64, Bools]:
    """Per preference entry: its student, its (offer, period) pair index, and eligibility.

    Eligibility is the rule of :func:`solver.eligibility.ineligibility`,
    vectorised: places in the student's period, ``min_age``, ``requires``,
    ``schools`` and the student's ``excluded_offers``.
    """
    students, offers = instance.students, instance.offers
    n_periods = len(places) // max(1, len(offers))
    lengths = np.array([len(s.preferences) for s in students], dtype=np.int64)
    pref_offer = np.array(
        list(map(offer_pos.__getitem__, chain.from_iterable(s.preferences for s in students))), dtype=np.int64
    )
    pref_student = np.repeat(np.arange(len(students), dtype=np.int64), lengths)
    pref_pair = pref_offer * n_periods + period_of[pref_student]
    eligible = places[pref_pair] > 0

    ages = np.array([s.age for s in students], dtype=np.int64)
    min_age = np.array([o.min_age or 0 for o in offers], dtype=np.int64)
    eligible &= ages[pref_student] >= min_age[pref_offer]

    attribute_sets: dict[frozenset[str], int] = {}
    attributes = np.array([attribute_sets.setdefault(s.attributes, len(attribute_sets)) for s in students])
    required_sets: dict[frozenset[str], int] = {}
    required = np.array([required_sets.setdefault(o.requires, len(required_sets)) for o in offers])
    has = np.array([[need <= have for need in required_sets] for have in attribute_sets], dtype=np.bool_)
    if len(pref_offer):
        eligible &= has[attributes[pref_student], required[pref_offer]]

    school_pos = {s.id: k for k, s in enumerate(instance.schools)}
    school_sets: dict[frozenset[str] | None, int] = {None: 0}
    restriction = np.array([school_sets.setdefault(o.schools, len(school_sets)) for o in offers], dtype=np.int64)
    open_to = np.zeros((len(school_pos), len(school_sets)), dtype=np.bool_)
    open_to[:, 0] = True
    for allowed, column in school_sets.items():
        for sid in allowed or ():
            open_to[school_pos[sid], column] = True
    eligible &= open_to[school_of[pref_student], restriction[pref_offer]]

    starts = np.concatenate([[0], np.cumsum(lengths)])
    for i, s in enumerate(students):
        if s.excluded_offers:
            for k, offer_id in enumerate(s.preferences, start=int(starts[i])):
                if offer_id in s.excluded_offers:
                    eligible[k] = False
    return pref_student, pref_pair, eligible


def over_demanded(demand: I64, places: I64) -> Bools:
    """The over-demanded pairs: demand per place at or above the 90th percentile of all pairs, and above 1.

    The 90th percentile is numpy's default (linear interpolation between the
    sorted ratios), so "at or above it" means at or above the sorted ratio at
    0-based position ceil(0.9 (n - 1)).
    """
    pairs = places > 0
    ratio = np.zeros(len(places), dtype=np.float64)
    ratio[pairs] = demand[pairs] / places[pairs]
    values = np.sort(ratio[pairs])
    if not len(values):
        return pairs
    threshold = values[(9 * (len(values) - 1) + 9) // 10]
    return pairs & (ratio >= threshold) & (demand > places)


def _dimension(name: str, labels: Sequence[str], group_of: Groups, rankers: Bools, top: Bools) -> DimensionRates:
    counts = np.bincount(group_of[rankers], minlength=len(labels))
    hits = np.bincount(group_of[top], minlength=len(labels))
    groups = {
        label: GroupRate(int(counts[g]), int(hits[g]), _ratio(int(hits[g]), int(counts[g])))
        for g, label in enumerate(labels)
    }
    counted = [(g.rate, label) for label, g in groups.items() if g.rankers >= MIN_RANKERS and g.rate is not None]
    if not counted:
        return DimensionRates(groups, None, None)
    lowest = min(counted, key=lambda c: c[0])
    highest = max(rate for rate, _ in counted)
    spread = highest - lowest[0] if len(counted) > 1 else None
    return DimensionRates(groups, spread, Worst(name, lowest[1], lowest[0]))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
