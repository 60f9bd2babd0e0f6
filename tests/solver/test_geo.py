"""Distances and the aggregated unranked options agree exactly with plain geodesic decisions."""

from __future__ import annotations

from typing import Any

import numpy as np
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import check, load_instance, solve
from solver.baselines import profile_candidates
from solver.geo import Distances, geodesic_km, haversine_km, local_ellipsoid_km
from solver.model import Offer, School
from solver.network import build_network
from tests.solver import reference
from tests.solver.factory import instance, offer, school, student


def test_cheap_distances_are_close_to_geodesic() -> None:
    lats = np.array([57.71, 57.9, 58.3, 56.0])
    lons = np.array([11.98, 12.4, 11.0, 13.0])
    exact = np.array([geodesic((57.7, 11.97), (a, b)).km for a, b in zip(lats, lons, strict=True)])
    assert np.all(np.abs(haversine_km(57.7, 11.97, lats, lons) - exact) <= 0.006 * exact)
    assert np.all(np.abs(local_ellipsoid_km(57.7, 11.97, lats[:3], lons[:3]) - exact[:3]) <= 6e-5 * exact[:3])
    assert geodesic_km(57.7, 11.97, 57.7, 11.97) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-80, 80),
    st.floats(-179, 179),
    st.lists(st.tuples(st.floats(-0.5, 0.5), st.floats(-0.9, 0.9)), min_size=1, max_size=30),
    st.sampled_from([0.0, 1.0, 7.5, 25.0, 90.0]),
)
def test_within_radius_is_the_geodesic_decision(
    lat: float, lon: float, deltas: list[tuple[float, float]], radius: float
) -> None:
    schools = [School("S", "S", lat, lon)]
    offers = [
        Offer(f"O{k}", "E", "T", "s", max(-90.0, min(90.0, lat + a)), ((lon + b + 180) % 360) - 180, {"w": 1})
        for k, (a, b) in enumerate(deltas)
    ]
    # Put some offers exactly on (or a hair off) the boundary.
    if radius and offers:
        bearing_lat = lat + radius / 111.2
        if bearing_lat < 89:
            edge = geodesic((lat, lon), (bearing_lat, lon)).km
            offers.append(Offer("EDGE", "E", "T", "s", lat + (radius / edge) * radius / 111.2, lon, {"w": 1}))
    distances = Distances(schools, offers)
    inside = distances.within(0, np.arange(len(offers)), radius)
    expected = [geodesic((lat, lon), (o.lat, o.lon)).km <= radius for o in offers]
    assert inside.tolist() == expected
    assert distances.within(0, np.arange(len(offers)), radius).tolist() == expected  # cached geodesics


def grid_round(
    radius: float, spread_km: float, n_offers: int, seed: int, *, centre: tuple[float, float] | None = None
) -> dict[str, Any]:
    import random

    rng = random.Random(seed)
    offers = [
        offer(
            f"O{k}",
            rng.choice([1, 2]),
            north_km=rng.uniform(-spread_km, spread_km),
            east_km=rng.uniform(-spread_km, spread_km),
            sector=rng.choice(["it", "care"]),
            **({"min_age": 16} if k % 7 == 0 else {}),
        )
        for k in range(n_offers)
    ]
    schools = [school(f"S{k}", north_km=rng.uniform(-3, 3), east_km=rng.uniform(-3, 3)) for k in range(3)]
    students = [
        student(f"P{k}", [], school=f"S{k % 3}", age=15 + k % 2, max_distance_km=[None, radius / 3][k % 4 == 0])
        for k in range(40)
    ]
    doc = instance(offers, students, schools=schools, max_distance_km=radius)
    if centre is not None:
        for record in doc["offers"] + doc["schools"]:
            record["lat"] += centre[0] - 57.70
            record["lon"] += centre[1] - 11.97
    for s in doc["students"]:
        if s["max_distance_km"] is None:
            del s["max_distance_km"]
    return doc


def assert_profiles_exact(doc: dict[str, Any]) -> None:
    inst = load_instance(doc)
    net = build_network(inst)
    for p, profile in enumerate(net.unranked.profiles):
        sample = inst.students[profile.students[0]]
        got = {inst.offers[int(net.slot_offer[k])].id for k in profile_candidates(net, p).tolist()}
        expected = {o for o, _ in reference.options(inst, sample)}
        assert got == expected, (p, sorted(got ^ expected))
    assert check(inst, solve(inst)) == []


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([(12.0, 14.0), (25.0, 30.0), (8.0, 30.0)]))
def test_grid_cells_give_exactly_the_eligible_offers(seed: int, shape: tuple[float, float]) -> None:
    radius, spread = shape
    assert_profiles_exact(grid_round(radius, spread, 90, seed))


def test_grid_with_a_long_radius_and_far_north() -> None:
    assert_profiles_exact(grid_round(80.0, 120.0, 80, 1))
    assert_profiles_exact(grid_round(20.0, 25.0, 80, 2, centre=(78.2, 15.6)))


def test_exclusions_get_a_private_hub() -> None:
    doc = grid_round(25.0, 20.0, 60, 3)
    doc["students"][1]["excluded_offers"] = ["O1", "O2", "O3"]
    assert_profiles_exact(doc)
