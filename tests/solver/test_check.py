"""The independent checker finds every kind of broken result."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from solver import Assignment, Explanation, Move, Result, Unassigned, check, load_instance, solve
from solver.check import Violation, independent_max_placements, lambert_km
from solver.model import Instance
from tests.solver import factory
from tests.solver.factory import instance, offer, student


@pytest.fixture
def inst() -> Instance:
    return load_instance(
        instance(
            [
                offer("X"),
                offer("Y", 2, min_age=16),
                offer("Z", 2, north_km=2),
                offer("FAR", north_km=50),
                offer("W", {"w47": 1}),
            ],
            [
                student("A", ["X", "Y"]),
                student("B", ["X", "Z"]),
                student("C", ["Y"], age=16),
                student("L", [], locked="Z"),
            ],
            periods=("w45", "w47"),
        )
    )


@pytest.fixture
def good(inst: Instance) -> Result:
    result = solve(inst)
    assert check(inst, result) == []
    return result


def rules(inst: Instance, result: Result | dict[str, Any]) -> list[str]:
    return sorted({v.rule for v in check(inst, result)})


def with_assignment(result: Result, student_id: str, **changes: Any) -> Result:
    return replace(
        result,
        assignments=tuple(replace(a, **changes) if a.student == student_id else a for a in result.assignments),
    )


def test_violation_reads_well() -> None:
    assert (
        str(Violation("capacity", "X has 3 pupils in w45 but 2 places"))
        == "capacity: X has 3 pupils in w45 but 2 places"
    )


def test_bad_documents(inst: Instance, good: Result) -> None:
    assert rules(inst, {"format": "nope"}) == ["format"]
    assert rules(inst, replace(good, instance="another round")) == ["round"]
    assert rules(inst, replace(good, status="perfect")) == ["status"]


def test_students_exactly_once(inst: Instance, good: Result) -> None:
    extra = Assignment("NOBODY", "X", "w45", None)
    assert "students" in rules(inst, replace(good, assignments=(*good.assignments, extra)))
    twice = replace(good, assignments=(*good.assignments, good.assignments[0]))
    assert "students" in rules(inst, twice)
    missing = replace(good, assignments=good.assignments[1:])
    assert "students" in rules(inst, missing)
    stranger = replace(good, unassigned=(*good.unassigned, Unassigned("NOBODY", "?")))
    assert "students" in rules(inst, stranger)
    both = replace(good, unassigned=(*good.unassigned, Unassigned(good.assignments[0].student, "?")))
    assert "students" in rules(inst, both)


def test_order_offer_period(inst: Instance, good: Result) -> None:
    assert "order" in rules(inst, replace(good, assignments=tuple(reversed(good.assignments))))
    assert "offer" in rules(inst, with_assignment(good, "A", offer="NOPE"))
    assert "period" in rules(inst, with_assignment(good, "A", period="w47"))


def test_locked(inst: Instance, good: Result) -> None:
    assert "locked" in rules(inst, with_assignment(good, "L", locked=False))
    assert "locked" in rules(inst, with_assignment(good, "A", locked=True))
    dropped = replace(
        good,
        assignments=tuple(a for a in good.assignments if a.student != "L"),
        unassigned=(*good.unassigned, Unassigned("L", "?")),
    )
    assert "locked" in rules(inst, dropped)


def test_eligibility_rank_radius(inst: Instance, good: Result) -> None:
    assert "eligibility" in rules(inst, with_assignment(good, "A", offer="Y", rank=2))
    assert "rank" in rules(inst, with_assignment(good, "A", rank=7))
    assert "radius" in rules(inst, with_assignment(good, "A", offer="FAR", rank=None))
    ranked_only = replace(inst, policy=replace(inst.policy, assign_unranked=False))
    unranked = with_assignment(good, "A", offer="Z", rank=None)
    assert "unranked" in rules(ranked_only, unranked)


def test_capacity_metrics_bound_placed(inst: Instance, good: Result) -> None:
    crowded = with_assignment(with_assignment(good, "A", offer="Z", rank=None), "B", offer="Z", rank=2)
    assert "capacity" in rules(inst, crowded)
    assert rules(inst, replace(good, metrics=replace(good.metrics, top_3=99))) == ["metrics"]
    assert rules(inst, replace(good, placed_max=good.placed_max + 1)) == ["bound"]
    fewer = replace(
        good,
        assignments=tuple(a for a in good.assignments if a.student != "B"),
        unassigned=(Unassigned("B", "?"),),
        metrics=replace(good.metrics, placed=good.metrics.placed - 1),
    )
    assert "placed" in rules(inst, fewer)
    assert "placed" not in rules(inst, replace(fewer, method="da"))


def test_more_than_the_maximum_is_impossible() -> None:
    tight = load_instance(instance([offer("X")], [student("A", ["X"]), student("B", ["X"])], assign_unranked=False))
    result = solve(tight)
    both = replace(
        result,
        assignments=(Assignment("A", "X", "w45", 1), Assignment("B", "X", "w45", 1)),
        unassigned=(),
    )
    assert {"capacity", "placed"} <= set(rules(tight, both))


def test_explanations(inst: Instance, good: Result) -> None:
    b = good.assignment_map()["B"]
    assert b.rank == 2
    (entry,) = good.explanations["B"]
    assert entry.reason == "full"
    assert "explanations" in rules(inst, replace(good, explanations={}))
    wrong = {**good.explanations, "B": (replace(entry, taken_by_ranks=(5,)),)}
    assert "explanations" in rules(inst, replace(good, explanations=wrong))
    wrong_rank = {**good.explanations, "B": (replace(entry, rank=3),)}
    assert "explanations" in rules(inst, replace(good, explanations=wrong_rank))
    stranger = {**good.explanations, "NOBODY": (entry,)}
    assert "explanations" in rules(inst, replace(good, explanations=stranger))
    not_eligible = {**good.explanations, "B": (Explanation("X", 1, "not eligible: min_age 99"),)}
    assert "explanations" in rules(inst, replace(good, explanations=not_eligible))
    free = {**good.explanations, "B": (Explanation("X", 1, "free"),)}
    assert "explanations" in rules(inst, replace(good, explanations=free))
    moved_b = with_assignment(good, "A", offer="Y", rank=2)
    assert "explanations" in rules(inst, moved_b)


def test_moves(inst: Instance, good: Result) -> None:
    assert rules(inst, replace(good, moves=(Move("NOBODY", None, "X", "new student"),))) == ["moves"]
    assert rules(inst, replace(good, moves=(Move("A", None, "Q", "new student"),))) == ["moves"]
    assert rules(inst, replace(good, moves=(Move("A", None, "X", "new student"),))) == []


def test_dict_results_are_read_first(inst: Instance, good: Result) -> None:
    assert check(inst, good.to_dict()) == []


def test_independent_max_flow_counts_locked_and_radius() -> None:
    doc = factory.valid_larger()
    assert independent_max_placements(load_instance(doc)) == solve(load_instance(doc)).placed_max
    doc["students"][0]["excluded_offers"] = [o["id"] for o in doc["offers"][:4]]
    doc["students"][0]["max_distance_km"] = 3
    inst = load_instance(doc)
    assert independent_max_placements(inst) == solve(inst).placed_max


def test_lambert_formula_matches_geodesic() -> None:
    import numpy as np
    from geopy.distance import geodesic

    lats = np.array([57.7, 57.9, 67.8, 57.7])
    lons = np.array([11.97, 12.4, 20.2, 11.97])
    approx = lambert_km(57.7, 11.97, lats, lons)
    exact = [geodesic((57.7, 11.97), (la, lo)).km for la, lo in zip(lats, lons, strict=True)]
    assert np.allclose(approx, exact, rtol=2e-6, atol=1e-9)
