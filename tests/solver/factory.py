"""Small hand-made and random instances for the solver tests."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

CENTRE = (57.70, 11.97)
KM_LAT = 1 / 111.2  # degrees of latitude per km


def school(ident: str, *, north_km: float = 0.0, east_km: float = 0.0, need: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": ident,
        "name": f"School {ident}",
        "lat": CENTRE[0] + north_km * KM_LAT,
        "lon": CENTRE[1] + east_km * KM_LAT / 0.534,
    }
    if need is not None:
        out["need_index"] = need
    return out


def offer(
    ident: str, capacity: dict[str, int] | int = 1, *, north_km: float = 0.0, east_km: float = 0.0, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": ident,
        "employer": f"E-{ident}",
        "title": f"Offer {ident}",
        "sector": extra.pop("sector", "retail"),
        "lat": CENTRE[0] + north_km * KM_LAT,
        "lon": CENTRE[1] + east_km * KM_LAT / 0.534,
        "capacity": {"w45": capacity} if isinstance(capacity, int) else capacity,
    }
    out.update(extra)
    return out


def student(ident: str, prefs: list[str] | tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": ident,
        "school": extra.pop("school", "S1"),
        "period": extra.pop("period", "w45"),
        "gender": extra.pop("gender", "female"),
        "age": extra.pop("age", 15),
        "preferences": list(prefs),
    }
    out.update(extra)
    return out


def instance(
    offers: list[dict[str, Any]],
    students: list[dict[str, Any]],
    *,
    schools: list[dict[str, Any]] | None = None,
    periods: tuple[str, ...] = ("w45",),
    **policy: Any,
) -> dict[str, Any]:
    base_policy: dict[str, Any] = {
        "max_distance_km": 20,
        "assign_unranked": True,
        "fairness": {"school": 1.0, "gender": 1.0, "need": 1.0},
        "time_limit_s": 60,
        "seed": 0,
    }
    base_policy.update(policy)
    return {
        "format": "praktik-instance/1",
        "name": "test round",
        "periods": [
            {"id": p, "start": f"2026-{10 + k:02d}-02", "end": f"2026-{10 + k:02d}-13"} for k, p in enumerate(periods)
        ],
        "schools": schools if schools is not None else [school("S1")],
        "offers": offers,
        "students": students,
        "policy": base_policy,
    }


def valid() -> dict[str, Any]:
    """A small instance that uses every field of the format."""
    return instance(
        [
            offer("O1", {"w45": 2, "w47": 1}, min_age=15, requires=["swedish"], schools=["S1", "S2"]),
            offer("O2", {"w45": 1}, north_km=3, sector="health"),
            offer("O3", {"w47": 2}, east_km=4, sector="it"),
        ],
        [
            student("P1", ["O1", "O2"], attributes=["swedish"], max_distance_km=15, locked=None),
            student("P2", ["O2"], school="S2", gender="male", age=14),
            student("P3", [], period="w47", gender=None, locked="O3"),
            student("P4", ["O3", "O1"], period="w47", gender="other", attributes=["swedish"]),
        ],
        schools=[school("S1", need=1.4), school("S2", north_km=2, need=0.8)],
        periods=("w45", "w47"),
    )


def clone(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)


@st.composite
def instances(draw: st.DrawFn, max_students: int = 9, max_offers: int = 6) -> dict[str, Any]:
    """Small random valid instances: capacities, eligibility rules, radius and locks all vary."""
    periods = ("w45", "w47")[: draw(st.integers(1, 2))]
    n_schools = draw(st.integers(1, 3))
    schools = [
        school(
            f"S{k}",
            north_km=draw(st.floats(-8, 8)),
            east_km=draw(st.floats(-8, 8)),
            need=draw(st.sampled_from([0.6, 1.0, 1.7])),
        )
        for k in range(n_schools)
    ]
    offers = []
    for k in range(draw(st.integers(1, max_offers))):
        extra: dict[str, Any] = {"sector": draw(st.sampled_from(["retail", "health", "it"]))}
        if draw(st.integers(0, 4)) == 0:
            extra["min_age"] = draw(st.sampled_from([15, 16]))
        if draw(st.integers(0, 4)) == 0:
            extra["requires"] = ["swedish"]
        if draw(st.integers(0, 5)) == 0:
            extra["schools"] = [f"S{draw(st.integers(0, n_schools - 1))}"]
        capacity = {p: draw(st.integers(0, 2)) for p in periods if draw(st.booleans())}
        offers.append(
            offer(f"O{k}", capacity, north_km=draw(st.floats(-15, 15)), east_km=draw(st.floats(-15, 15)), **extra)
        )
    ids = [o["id"] for o in offers]
    students = []
    used: dict[tuple[str, str], int] = {}
    for k in range(draw(st.integers(1, max_students))):
        period = draw(st.sampled_from(periods))
        prefs = draw(st.lists(st.sampled_from(ids), unique=True, max_size=4))
        extra = {
            "school": f"S{draw(st.integers(0, n_schools - 1))}",
            "period": period,
            "gender": draw(st.sampled_from(["female", "male", "other", None])),
            "age": draw(st.integers(14, 16)),
            "attributes": ["swedish"] if draw(st.booleans()) else [],
        }
        if draw(st.integers(0, 4)) == 0:
            extra["max_distance_km"] = draw(st.sampled_from([3, 8]))
        if draw(st.integers(0, 5)) == 0:
            free = [o for o in offers if o["capacity"].get(period, 0) > used.get((o["id"], period), 0)]
            if free:
                chosen = draw(st.sampled_from(free))
                extra["locked"] = chosen["id"]
                used[(chosen["id"], period)] = used.get((chosen["id"], period), 0) + 1
        students.append(student(f"P{k}", prefs, **extra))
    return instance(
        offers,
        students,
        schools=schools,
        periods=periods,
        max_distance_km=draw(st.sampled_from([0, 5, 12, 40])),
        assign_unranked=draw(st.booleans()),
        seed=draw(st.integers(0, 3)),
        fairness={
            "school": draw(st.sampled_from([0.0, 1.0])),
            "gender": draw(st.sampled_from([0.0, 1.0])),
            "need": draw(st.sampled_from([0.0, 1.0, 2.0])),
        },
    )


def valid_larger(n: int = 60, seed: int = 0) -> dict[str, Any]:
    """A deterministic medium round (ties, unranked placements, two periods)."""
    import random

    rng = random.Random(seed)
    schools = [
        school(f"S{k}", north_km=rng.uniform(-5, 5), east_km=rng.uniform(-5, 5), need=0.6 + k / 3) for k in range(4)
    ]
    offers = [
        offer(
            f"O{k}",
            {p: rng.randint(0, 2) for p in ("w45", "w47") if rng.random() < 0.8},
            north_km=rng.uniform(-12, 12),
            east_km=rng.uniform(-12, 12),
            sector=rng.choice(["retail", "health", "it"]),
        )
        for k in range(n // 3)
    ]
    ids = [o["id"] for o in offers]
    popular = ids[:3]
    students = [
        student(
            f"P{k:03d}",
            list(dict.fromkeys([rng.choice(popular), *rng.sample(ids, 3)])),
            school=f"S{k % 4}",
            period=("w45", "w47")[k % 2],
            gender=("female", "male")[k % 2 if k % 5 else 0],
        )
        for k in range(n)
    ]
    return instance(offers, students, schools=schools, periods=("w45", "w47"))
