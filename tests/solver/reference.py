"""Plain reference computations for tiny instances (no solver code): eligibility, radius, max matching."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from geopy.distance import geodesic

from solver.model import Instance, Offer, Student


def eligible(s: Student, o: Offer) -> bool:
    return (
        o.capacity.get(s.period, 0) > 0
        and (o.min_age is None or s.age >= o.min_age)
        and o.requires <= s.attributes
        and (o.schools is None or s.school in o.schools)
        and o.id not in s.excluded_offers
    )


def options(inst: Instance, s: Student) -> list[tuple[str, int | None]]:
    """(offer, rank) pairs the student may be placed at (rank None: unranked)."""
    out: list[tuple[str, int | None]] = []
    school = inst.school_by_id[s.school]
    for o in inst.offers:
        if not eligible(s, o):
            continue
        if o.id in s.preferences:
            out.append((o.id, s.preferences.index(o.id) + 1))
        elif inst.policy.assign_unranked and geodesic((school.lat, school.lon), (o.lat, o.lon)).km <= inst.radius_km(s):
            out.append((o.id, None))
    return out


def free_places(inst: Instance) -> dict[tuple[str, str], int]:
    places = {(o.id, p): c for o in inst.offers for p, c in o.capacity.items()}
    for s in inst.students:
        if s.locked is not None:
            places[(s.locked, s.period)] -= 1
    return places


def max_placed(inst: Instance) -> int:
    """Locked students plus a maximum matching (Kuhn's augmenting paths over single places)."""
    places = free_places(inst)
    units = [(o, p) for (o, p), c in places.items() for _ in range(max(c, 0))]
    free = [s for s in inst.students if s.locked is None]
    allowed = [{o for o, _ in options(inst, s)} for s in free]
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for u, (o, p) in enumerate(units):
            if u in seen or p != free[i].period or o not in allowed[i]:
                continue
            seen.add(u)
            if u not in owner or augment(owner[u], seen):
                owner[u] = i
                return True
        return False

    matched = sum(augment(i, set()) for i in range(len(free)))
    return matched + sum(1 for s in inst.students if s.locked is not None)


def assignments(inst: Instance) -> Iterator[list[tuple[str, int | None] | None]]:
    """Every capacity-respecting assignment of the free students (tiny instances only)."""
    free = [s for s in inst.students if s.locked is None]
    places = free_places(inst)
    for combo in itertools.product(*[[None, *options(inst, s)] for s in free]):
        used: dict[tuple[str, str], int] = {}
        ok = True
        for s, choice in zip(free, combo, strict=True):
            if choice is not None:
                key = (choice[0], s.period)
                used[key] = used.get(key, 0) + 1
                ok &= used[key] <= places[key]
        if ok:
            yield list(combo)
