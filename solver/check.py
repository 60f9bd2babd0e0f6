"""An independent checker of results.

``check(instance, result)`` re-verifies every guarantee of the format with its
own code: its own eligibility test, its own distance prefilter (3-D chord on
a sphere, 2 % margin, geodesic in the band), and its own maximum flow
(OR-Tools ``SimpleMaxFlow``, not the min-cost flow the solver uses).  It
shares nothing with the solver beyond the data classes, so a bug in the
solver's graph, costs or decoding shows up here.  The equity measures of
``metrics.equity`` (``docs/formats.md``) are re-derived in plain Python from
the definitions, sharing only the group labels with :mod:`solver.measures`.
It is used by the tests and by the CLI after every solve.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from geopy.distance import geodesic
from ortools.graph.python import max_flow

from solver.equity import GENDER_LABELS, TERCILES
from solver.model import Instance, Offer, Student
from solver.result import Result, ResultError, result_from_dict


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


def _eligible(student: Student, offer: Offer) -> bool:
    if offer.capacity.get(student.period, 0) < 1:
        return False
    if offer.min_age is not None and student.age < offer.min_age:
        return False
    if not offer.requires.issubset(student.attributes):
        return False
    if offer.schools is not None and student.school not in offer.schools:
        return False
    return offer.id not in student.excluded_offers


_A = 6378.137
_F = 1 / 298.257223563
_FLAT_MAX_KM = 100.0
_FLAT_MAX_LAT = 70.0
_FLAT_BAND = 0.03
_KM_PER_DEG = 111.2
_BAND = 1e-5
"""Lambert's formula is within 1.5e-6 (relative) of the geodesic; pairs closer than this to a radius
are decided by geopy's geodesic."""


def lambert_km(
    lat: float, lon: float, lats: npt.NDArray[np.float64], lons: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Lambert's formula for long lines on the WGS-84 ellipsoid (vectorised)."""
    b1 = np.arctan((1 - _F) * np.tan(np.radians(lat)))
    b2 = np.arctan((1 - _F) * np.tan(np.radians(lats)))
    h = np.sin((b2 - b1) / 2) ** 2 + np.cos(b1) * np.cos(b2) * np.sin(np.radians(lons - lon) / 2) ** 2
    sigma = 2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    p, q = (b1 + b2) / 2, (b2 - b1) / 2
    half_cos = np.cos(sigma / 2) ** 2
    half_sin = np.sin(sigma / 2) ** 2
    x = np.divide(
        (sigma - np.sin(sigma)) * np.sin(p) ** 2 * np.cos(q) ** 2,
        half_cos,
        out=np.zeros_like(sigma),
        where=half_cos > 1e-15,
    )
    y = np.divide(
        (sigma + np.sin(sigma)) * np.cos(p) ** 2 * np.sin(q) ** 2,
        half_sin,
        out=np.zeros_like(sigma),
        where=half_sin > 1e-30,
    )
    return np.asarray(_A * (sigma - _F / 2 * (x + y)), dtype=np.float64)


class _Radius:
    """Decides 'within the radius' by geodesic, skipping pairs clearly inside or outside."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.exact: dict[tuple[str, str], float] = {}
        self._coords: dict[int, tuple[list[Offer], npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}

    def geodesic(self, school_id: str, offer: Offer) -> float:
        key = (school_id, offer.id)
        if key not in self.exact:
            school = self.instance.school_by_id[school_id]
            self.exact[key] = geodesic((school.lat, school.lon), (offer.lat, offer.lon)).km
        return self.exact[key]

    def rings(self, school_id: str, offers: list[Offer], radii: list[float]) -> npt.NDArray[np.int64]:
        """For each offer, the index of the smallest radius it lies within (len(radii) when none)."""
        school = self.instance.school_by_id[school_id]
        key = id(offers)
        if key not in self._coords:
            self._coords[key] = (
                offers,
                np.array([o.lat for o in offers], dtype=np.float64),
                np.array([o.lon for o in offers], dtype=np.float64),
            )
        _, lats, lons = self._coords[key]
        bounds = np.array(radii, dtype=np.float64)
        ring = np.full(len(offers), len(radii), dtype=np.int64)
        reach = float(bounds.max(initial=0.0)) * 1.02 + 0.01
        cos_lat = max(math.cos(math.radians(min(abs(school.lat) + reach / 100.0, 90.0))), 1e-6)
        box = (np.abs(lats - school.lat) <= reach / 110.0) & (
            np.abs((lons - school.lon + 180.0) % 360.0 - 180.0) <= reach / (110.0 * cos_lat)
        )
        candidates = np.flatnonzero(box)
        if reach <= _FLAT_MAX_KM and abs(school.lat) <= _FLAT_MAX_LAT:
            # Flat-earth distance (error well under 1 % this close): only pairs near a radius need Lambert.
            dy = (lats[candidates] - school.lat) * _KM_PER_DEG
            dx = (lons[candidates] - school.lon) * _KM_PER_DEG * math.cos(math.radians(school.lat))
            rough = np.hypot(dx, dy)
            ring[candidates] = np.searchsorted(bounds, rough, side="left")
            unsure = (np.abs(rough[:, None] - bounds[None, :]) <= bounds[None, :] * _FLAT_BAND + 0.01).any(axis=1)
            candidates = candidates[unsure]
        approx = lambert_km(school.lat, school.lon, lats[candidates], lons[candidates])
        ring[candidates] = np.searchsorted(bounds, approx, side="left")
        near = (np.abs(approx[:, None] - bounds[None, :]) <= bounds[None, :] * _BAND + 1e-6).any(axis=1)
        for k in candidates[near].tolist():
            ring[k] = int(np.searchsorted(bounds, self.geodesic(school_id, offers[k]), side="left"))
        return ring


def independent_max_placements(instance: Instance, radius: _Radius | None = None) -> int:
    """Maximum number of placed students (locked count as placed), by a plain max flow.

    Unranked options are represented per (school, period, offer type) by a
    chain of distance rings, one per radius in use: a class of students with
    radius r enters the ring of r and may flow down to nearer rings.
    """
    radius = radius or _Radius(instance)
    offers = instance.offers
    used: Counter[tuple[str, str]] = Counter()
    for s in instance.students:
        if s.locked is not None:
            used[(s.locked, s.period)] += 1
    free_places: dict[tuple[str, str], int] = {}
    for o in offers:
        for period, places in sorted(o.capacity.items()):
            if places - used[(o.id, period)] > 0:
                free_places[(o.id, period)] = places - used[(o.id, period)]
    node_of = {pair: 2 + k for k, pair in enumerate(free_places)}
    tails: list[int] = list(node_of.values())
    heads: list[int] = [1] * len(node_of)
    caps: list[int] = list(free_places.values())
    next_node = 2 + len(node_of)
    free = [s for s in instance.students if s.locked is None]
    classes: dict[tuple[Any, ...], list[Student]] = defaultdict(list)
    class_of: list[tuple[Any, ...] | None] = []
    for s in free:
        key = None
        if instance.policy.assign_unranked:
            key = (s.school, s.period, s.age, frozenset(s.attributes), instance.radius_km(s), s.excluded_offers)
            classes[key].append(s)
        class_of.append(key)
    class_node = {key: next_node + k for k, key in enumerate(classes)}
    next_node += len(classes)
    for s, key in zip(free, class_of, strict=True):
        me = next_node
        next_node += 1
        tails.append(0)
        heads.append(me)
        caps.append(1)
        for offer_id in s.preferences:
            pair = (offer_id, s.period)
            if pair in node_of and _eligible(s, instance.offer_by_id[offer_id]):
                tails.append(me)
                heads.append(node_of[pair])
                caps.append(1)
        if key is not None:
            tails.append(me)
            heads.append(class_node[key])
            caps.append(1)
    # Offer types: the rules that decide eligibility apart from the student.
    types: dict[tuple[str, Any], list[Offer]] = defaultdict(list)
    for o in offers:
        for period in sorted(o.capacity):
            if (o.id, period) in free_places:
                types[(period, (o.min_age, o.requires, o.schools))].append(o)
    type_nodes = {
        key: np.array([node_of[(o.id, key[0])] for o in members], dtype=np.int64) for key, members in types.items()
    }
    type_caps = {
        key: np.array([free_places[(o.id, key[0])] for o in members], dtype=np.int64) for key, members in types.items()
    }
    zones: dict[tuple[str, str], set[float]] = defaultdict(set)
    for (school, period, _, _, r, _), _members in classes.items():
        zones[(school, period)].add(r)
    by_period: dict[str, list[tuple[Any, list[Offer]]]] = defaultdict(list)
    for (t_period, rule), members in types.items():
        by_period[t_period].append((rule, members))
    period_offers = {period: [o for _, members in entries for o in members] for period, entries in by_period.items()}
    everyone = sum(free_places.values())
    blocks: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    ring_node: dict[tuple[str, str, Any, float], int] = {}
    for (school, period), radii_set in zones.items():
        radii = sorted(radii_set)
        rings = radius.rings(school, period_offers.get(period, []), radii)
        start = 0
        for rule, members in by_period.get(period, []):
            ring = rings[start : start + len(members)]
            start += len(members)
            if rule[2] is not None and school not in rule[2]:
                continue
            first = next_node
            for j, r in enumerate(radii):
                ring_node[(school, period, rule, r)] = first + j
            next_node += len(radii)
            chain = np.arange(first + 1, first + len(radii), dtype=np.int64)
            blocks.append((chain, chain - 1, np.full(len(chain), everyone, dtype=np.int64)))
            inside = ring < len(radii)
            blocks.append((first + ring[inside], type_nodes[(period, rule)][inside], type_caps[(period, rule)][inside]))
    compatible: dict[tuple[str, int, frozenset[str]], list[tuple[Any, list[Offer]]]] = {}
    for key, pupils in classes.items():
        school, period, age, attrs, r, excluded = key
        sample = pupils[0]
        rules = compatible.get((period, age, attrs))
        if rules is None:
            rules = [
                (rule, t_offers)
                for rule, t_offers in by_period.get(period, [])
                if (rule[0] is None or age >= rule[0]) and rule[1] <= attrs
            ]
            compatible[(period, age, attrs)] = rules
        for rule, t_offers in rules:
            if rule[2] is not None and school not in rule[2]:
                continue
            if not excluded:
                tails.append(class_node[key])
                heads.append(ring_node[(school, period, rule, r)])
                caps.append(len(pupils))
                continue
            ring = radius.rings(school, t_offers, [r])
            for k, o in enumerate(t_offers):
                if ring[k] == 0 and _eligible(sample, o):
                    tails.append(class_node[key])
                    heads.append(node_of[(o.id, period)])
                    caps.append(len(pupils))
    blocks.append((np.array(tails, dtype=np.int64), np.array(heads, dtype=np.int64), np.array(caps, dtype=np.int64)))
    locked = sum(1 for s in instance.students if s.locked is not None)
    solver = max_flow.SimpleMaxFlow()
    solver.add_arcs_with_capacity(
        np.concatenate([b[0] for b in blocks]).astype(np.int32),
        np.concatenate([b[1] for b in blocks]).astype(np.int32),
        np.concatenate([b[2] for b in blocks]),
    )
    solver.solve(0, 1)
    return locked + int(solver.optimal_flow())


def check(instance: Instance, result: Result | Mapping[str, Any]) -> list[Violation]:
    """Every way in which ``result`` breaks a guarantee for ``instance`` (empty when none)."""
    out: list[Violation] = []

    def bad(rule: str, message: str) -> None:
        out.append(Violation(rule, message))

    if not isinstance(result, Result):
        try:
            result = result_from_dict(result)
        except ResultError as exc:
            return [Violation("format", p) for p in exc.problems]
    if result.instance != instance.name:
        bad("round", f'result is for "{result.instance}", the instance is "{instance.name}"')
    if result.status not in ("optimal", "feasible"):
        bad("status", f'unknown status "{result.status}"')
    index = {s.id: k for k, s in enumerate(instance.students)}
    seen: dict[str, str] = {}
    last = -1
    load: Counter[tuple[str, str]] = Counter()
    radius = _Radius(instance)
    for a in result.assignments:
        k = index.get(a.student)
        if k is None:
            bad("students", f"assignment for unknown student {a.student}")
            continue
        if a.student in seen:
            bad("students", f"student {a.student} appears twice ({seen[a.student]} and assignments)")
            continue
        seen[a.student] = "assignments"
        if k <= last:
            bad("order", f"assignment of {a.student} is out of the instance's student order")
        last = max(last, k)
        s = instance.students[k]
        offer = instance.offer_by_id.get(a.offer)
        if offer is None:
            bad("offer", f"{a.student} is assigned to unknown offer {a.offer}")
            continue
        if a.period != s.period:
            bad("period", f"{a.student} is assigned in {a.period}, the student's period is {s.period}")
        load[(a.offer, s.period)] += 1
        if s.locked is not None:
            if a.offer != s.locked or not a.locked:
                bad("locked", f"{a.student} is locked to {s.locked} but assigned to {a.offer} (locked={a.locked})")
        elif a.locked:
            bad("locked", f"{a.student} is marked locked but has no locked placement")
        elif not _eligible(s, offer):
            bad("eligibility", f"{a.student} is not eligible for {a.offer}")
        expected = s.preferences.index(a.offer) + 1 if a.offer in s.preferences else None
        if a.rank != expected:
            bad("rank", f"{a.student} at {a.offer} has rank {a.rank}, expected {expected}")
        if expected is None and s.locked is None:
            if not instance.policy.assign_unranked:
                bad("unranked", f"{a.student} has an unranked placement but assign_unranked is false")
            limit = instance.radius_km(s)
            distance = radius.geodesic(s.school, offer)
            if distance > limit:
                bad("radius", f"{a.student} is placed unranked at {a.offer}, {distance:.3f} km > {limit:g} km")
    for u in result.unassigned:
        if u.student not in index:
            bad("students", f"unassigned entry for unknown student {u.student}")
        elif u.student in seen:
            bad("students", f"student {u.student} appears twice ({seen[u.student]} and unassigned)")
        else:
            seen[u.student] = "unassigned"
            if instance.students[index[u.student]].locked is not None:
                bad("locked", f"{u.student} is locked but listed as unassigned")
    for s in instance.students:
        if s.id not in seen:
            bad("students", f"student {s.id} appears neither in assignments nor in unassigned")
    for (offer_id, period), count in sorted(load.items()):
        offer = instance.offer_by_id.get(offer_id)
        places = offer.capacity.get(period, 0) if offer is not None else 0
        if count > places:
            bad("capacity", f"{offer_id} has {count} pupils in {period} but {places} places")
    _check_metrics(instance, result, bad)
    best = independent_max_placements(instance, radius)
    if result.placed_max != best:
        bad("bound", f"bound.placed_max is {result.placed_max}, the maximum flow is {best}")
    placed = len(result.assignments)
    if result.method in ("optimal", "da-reserves", "mcf") and placed != best:
        bad("placed", f"{placed} students placed, but {best} can be")
    if placed > best:
        bad("placed", f"{placed} students placed, more than the maximum {best}")
    _check_explanations(instance, result, load, bad)
    if result.moves is not None:
        now = {a.student: a.offer for a in result.assignments}
        for m in result.moves:
            if m.student not in index:
                bad("moves", f"move of unknown student {m.student}")
            elif now.get(m.student) != m.to_offer:
                bad("moves", f"move of {m.student} says to {m.to_offer}, the result has {now.get(m.student)}")
    return out


def _check_metrics(instance: Instance, result: Result, bad: Any) -> None:
    ranks = [a.rank for a in result.assignments]
    expected = {
        "students": len(instance.students),
        "placed": len(result.assignments),
        "locked": sum(1 for a in result.assignments if a.locked),
        "rank_1": ranks.count(1),
        "top_3": sum(1 for r in ranks if r is not None and r <= 3),
        "unranked": sum(1 for a in result.assignments if a.rank is None and not a.locked),
    }
    for key, value in expected.items():
        reported = getattr(result.metrics, key)
        if reported != value:
            bad("metrics", f"metrics.{key} is {reported}, expected {value}")
    if result.metrics.equity is not None:
        _compare("metrics.equity", result.metrics.equity.to_dict(), _equity(instance, result), bad)


def _equity(instance: Instance, result: Result) -> dict[str, Any]:
    """The equity measures of docs/formats.md, re-derived in plain Python in the layout of ``Equity.to_dict``."""
    students = instance.students
    got = {a.student: a.offer for a in result.assignments}
    size = Counter(s.school for s in students)
    tercile: dict[str, str] = {}
    before = 0
    for school in sorted(size, key=lambda sid: (instance.school_by_id[sid].need_index, sid)):
        # floor(3 m / N) with m = before + size / 2, in whole numbers
        tercile[school] = TERCILES[min(2, 3 * (2 * before + size[school]) // (2 * len(students)))]
        before += size[school]
    wanted = {
        s.id: [o for o in s.preferences if _eligible(s, instance.offer_by_id[o])] for s in students if s.locked is None
    }
    rankers = [s for s in students if wanted.get(s.id)]
    top_3 = {s.id for s in rankers if got.get(s.id) in s.preferences[:3]}
    dimensions: dict[str, tuple[list[str], Callable[[Student], str]]] = {
        "school": ([s.id for s in instance.schools], lambda s: s.school),
        "gender": (list(GENDER_LABELS), lambda s: s.gender or "unknown"),
        "need": (list(TERCILES), lambda s: tercile[s.school]),
    }
    out: dict[str, Any] = {}
    worsts: list[dict[str, Any]] = []
    for dim, (names, group_of) in dimensions.items():
        counts = Counter(group_of(s) for s in rankers)
        hits = Counter(group_of(s) for s in rankers if s.id in top_3)
        counted = sorted((hits[g] / counts[g], k, g) for k, g in enumerate(names) if counts[g] >= 20)
        worst = None if not counted else {"dimension": dim, "group": counted[0][2], "rate": counted[0][0]}
        out[dim] = {
            "groups": {
                g: {"rankers": counts[g], "top_3": hits[g], "rate": hits[g] / counts[g] if counts[g] else None}
                for g in names
            },
            "spread": counted[-1][0] - counted[0][0] if len(counted) > 1 else None,
            "worst": worst,
        }
        worsts += [worst] if worst else []
    out["worst"] = min(worsts, key=lambda w: w["rate"], default=None)
    female, male = (out["gender"]["groups"][g]["rate"] for g in ("female", "male"))
    out["female_male_gap"] = None if female is None or male is None else female - male
    pupils = Counter(tercile[s.school] for s in students)
    left = Counter(tercile[s.school] for s in students if s.id not in got)
    out["unplaced"] = {g: {"students": pupils[g], "unplaced": left[g]} for g in TERCILES}
    demand = Counter((o, s.period) for s in rankers for o in wanted[s.id])
    ratio = {
        (o.id, period): demand[(o.id, period)] / places
        for o in instance.offers
        for period, places in o.capacity.items()
        if places > 0
    }
    ordered = sorted(ratio.values())
    # numpy's 90th percentile interpolates linearly: a ratio is at or above it iff it is at or above this one
    threshold = ordered[math.ceil(0.9 * (len(ordered) - 1) - 1e-9)] if ordered else math.inf
    over = {pair for pair, r in ratio.items() if r >= threshold and r > 1}
    asking = [s for s in rankers if any((o, s.period) in over for o in wanted[s.id])]
    ask = Counter(tercile[s.school] for s in asking)
    win = Counter(tercile[s.school] for s in asking if got.get(s.id) in s.preferences and (got[s.id], s.period) in over)
    access = {g: {"rankers": ask[g], "placed": win[g], "share": win[g] / ask[g] if ask[g] else None} for g in TERCILES}
    high, low = access[TERCILES[2]]["share"], access[TERCILES[0]]["share"]
    out["popular"] = {
        "over_demanded": len(over),
        "groups": access,
        "high_low_ratio": None if high is None or not low else high / low,
    }
    return out


def _compare(path: str, reported: Any, expected: Any, bad: Any) -> None:
    """Report every figure of ``reported`` that differs from ``expected`` (numbers within 1e-9)."""
    if isinstance(expected, dict):
        if not isinstance(reported, dict):
            bad("metrics", f"{path} is {reported}, expected an object")
            return
        for key in reported.keys() - expected.keys():
            bad("metrics", f"{path}.{key} is reported but does not exist")
        for key, value in expected.items():
            if key in reported:
                _compare(f"{path}.{key}", reported[key], value, bad)
            else:
                bad("metrics", f"{path}.{key} is missing, expected {value}")
    elif isinstance(expected, float) and isinstance(reported, float):
        if not math.isclose(reported, expected, rel_tol=0.0, abs_tol=1e-9):
            bad("metrics", f"{path} is {reported}, expected {expected}")
    elif reported != expected:
        bad("metrics", f"{path} is {reported}, expected {expected}")


def _check_explanations(instance: Instance, result: Result, load: Counter[tuple[str, str]], bad: Any) -> None:
    at: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    for a in result.assignments:
        if a.rank is not None and not a.locked:
            at[(a.offer, a.period)].append(a.rank)
    got = {a.student: a for a in result.assignments}
    index = {s.id: s for s in instance.students}
    for s in instance.students:
        placed = got.get(s.id)
        higher = len(s.preferences) if placed is None or placed.rank is None else placed.rank - 1
        entries = result.explanations.get(s.id, ())
        if [e.offer for e in entries] != list(s.preferences[:higher]):
            bad("explanations", f"{s.id}: explanations do not cover exactly the {higher} offers ranked higher")
    for student_id, entries in result.explanations.items():
        pupil = index.get(student_id)
        if pupil is None:
            bad("explanations", f"explanation for unknown student {student_id}")
            continue
        for e in entries:
            offer = instance.offer_by_id.get(e.offer)
            if offer is None or e.offer not in pupil.preferences or pupil.preferences.index(e.offer) + 1 != e.rank:
                bad("explanations", f"{student_id}: entry for {e.offer} has a wrong offer or rank")
                continue
            eligible = _eligible(pupil, offer)
            if e.reason == "full":
                if load[(offer.id, pupil.period)] < offer.capacity.get(pupil.period, 0):
                    bad("explanations", f"{student_id}: {offer.id} is called full but has a free place")
                if sorted(e.taken_by_ranks) != sorted(at[(offer.id, pupil.period)]):
                    bad("explanations", f"{student_id}: taken_by_ranks of {offer.id} do not match the result")
            elif e.reason.startswith("not eligible"):
                if eligible:
                    bad("explanations", f"{student_id}: called not eligible for {offer.id}, but is eligible")
            elif result.moves is None and (got.get(student_id) is None or not got[student_id].locked):
                bad("explanations", f"{student_id}: {offer.id} ranked higher has a free place ({e.reason})")
