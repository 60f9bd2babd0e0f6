"""Tiny hand-made rounds with a known optimum, and the solve() options."""

from __future__ import annotations

from typing import Any

import pytest

import solver
from solver import check, engine, load_instance, solve, solve_methods
from solver.result import METHODS
from tests.solver import factory
from tests.solver.factory import instance, offer, school, student


def placements(result: solver.Result) -> dict[str, tuple[str, int | None]]:
    return {a.student: (a.offer, a.rank) for a in result.assignments}


def solved(doc: dict[str, Any], method: str = "optimal", **kw: Any) -> solver.Result:
    inst = load_instance(doc)
    result = solve(inst, method, **kw)
    assert check(inst, result) == []
    return result


@pytest.mark.parametrize("method", ["optimal", "mcf"])
def test_placement_comes_before_preference(method: str) -> None:
    # A would rather have X, but only A can use Y: both are placed.
    doc = instance([offer("X"), offer("Y")], [student("A", ["X", "Y"]), student("B", ["X"])], assign_unranked=False)
    assert placements(solved(doc, method)) == {"A": ("Y", 2), "B": ("X", 1)}


@pytest.mark.parametrize("method", ["optimal", "mcf"])
def test_convex_rank_cost_avoids_an_eighth_choice(method: str) -> None:
    # Both rank X first; A's alternative is its 2nd choice, B's its 8th (O2..O7 have no place).
    fillers = [offer(f"O{k}", 0) for k in range(2, 8)]
    doc = instance(
        [offer("X"), offer("Y"), *fillers],
        [student("A", ["X", "Y"]), student("B", ["X", "O2", "O3", "O4", "O5", "O6", "O7", "Y"])],
        assign_unranked=False,
    )
    result = solved(doc, method)
    assert placements(result) == {"A": ("Y", 2), "B": ("X", 1)}
    assert result.status == "optimal"
    assert result.metrics.top_3 == 2


def test_everyone_gets_their_first_choice_when_possible() -> None:
    doc = instance([offer("X"), offer("Y")], [student("A", ["X", "Y"]), student("B", ["Y", "X"])])
    result = solved(doc)
    assert placements(result) == {"A": ("X", 1), "B": ("Y", 1)}
    assert result.explanations == {}


def test_unranked_placement_is_the_nearest_within_the_radius() -> None:
    doc = instance(
        [offer("X", north_km=1), offer("NEAR", north_km=3), offer("FAR", north_km=9), offer("OUT", north_km=30)],
        [student("A", ["X"]), student("B", ["X"])],
        max_distance_km=20,
    )
    result = solved(doc)
    got = placements(result)
    unranked = [s for s, (_, rank) in got.items() if rank is None]
    assert len(unranked) == 1
    assert got[unranked[0]] == ("NEAR", None)
    assert result.metrics.unranked == 1


def test_unranked_uses_the_pupils_preferred_sector() -> None:
    # Two unranked places at the same distance; A ranked a health offer, B an IT offer.
    doc = instance(
        [
            offer("H", 0, sector="health"),
            offer("T", 0, sector="it"),
            offer("U1", north_km=2, sector="it"),
            offer("U2", north_km=2, sector="health"),
        ],
        [student("A", ["H"]), student("B", ["T"])],
    )
    got = placements(solved(doc))
    assert got == {"A": ("U2", None), "B": ("U1", None)}


def test_as_few_unranked_as_possible_before_ranks() -> None:
    # Placing A at its 8th choice keeps B off an unranked offer.
    fillers = [offer(f"F{k}", 0) for k in range(2, 8)]
    doc = instance(
        [offer("X"), offer("Z"), offer("U", north_km=1), *fillers],
        [student("A", ["X", *(f"F{k}" for k in range(2, 8)), "Z"]), student("B", ["X"])],
    )
    result = solved(doc)
    assert result.metrics.unranked == 0
    assert placements(result) == {"A": ("Z", 8), "B": ("X", 1)}


def test_radius_is_decided_per_student() -> None:
    doc = instance(
        [offer("X", 0), offer("U", north_km=6)],
        [student("A", ["X"], max_distance_km=5), student("B", ["X"])],
    )
    result = solved(doc)
    assert placements(result) == {"B": ("U", None)}
    assert [(u.student, u.reason) for u in result.unassigned] == [
        ("A", "no eligible offer with a place in w45 within 5 km")
    ]


@pytest.mark.parametrize(
    ("assign", "prefs", "reason"),
    [
        (False, ["X"], "no eligible ranked offer with free capacity (unranked placements are off)"),
        (False, [], "no eligible ranked offer (unranked placements are off)"),
        (True, ["X"], "no eligible offer with free capacity within 20 km"),
    ],
)
def test_unassigned_reasons(assign: bool, prefs: list[str], reason: str) -> None:
    doc = instance([offer("X")], [student("A", ["X"]), student("B", prefs)], assign_unranked=assign)
    result = solved(doc)
    assert [(u.student, u.reason) for u in result.unassigned] == [("B", reason)]


def test_ineligible_ranked_offers_are_warned_and_ignored() -> None:
    doc = instance(
        [
            offer("AGE", min_age=16),
            offer("TAG", requires=["swedish", "english"]),
            offer("OWN", schools=["S2"]),
            offer("NONE", 0),
            offer("OK"),
        ],
        [student("A", ["AGE", "TAG", "OWN", "NONE", "OK"], attributes=["swedish"], age=15)],
        schools=[school("S1"), school("S2")],
    )
    result = solved(doc)
    assert placements(result) == {"A": ("OK", 5)}
    assert result.warnings == (
        "students[0] (A): not eligible for ranked offer AGE (min_age 16)",
        "students[0] (A): not eligible for ranked offer TAG (requires english)",
        "students[0] (A): not eligible for ranked offer OWN (not open to school S1)",
        "students[0] (A): not eligible for ranked offer NONE (no place in w45)",
    )
    reasons = [e.reason for e in result.explanations["A"]]
    assert reasons == [
        "not eligible: min_age 16",
        "not eligible: requires english",
        "not eligible: not open to school S1",
        "not eligible: no place in w45",
    ]


def test_locked_placements_take_their_place_first() -> None:
    doc = instance(
        [offer("X"), offer("Y")],
        [student("A", ["X"]), student("L", [], locked="X"), student("B", ["Y", "X"])],
        assign_unranked=False,
    )
    result = solved(doc)
    assert placements(result) == {"L": ("X", None), "B": ("Y", 1)}
    assert [a.locked for a in result.assignments] == [True, False]
    assert result.metrics.locked == 1
    assert result.placed_max == 2
    full = result.explanations["A"][0]
    assert (full.reason, full.taken_by_ranks, full.locked) == ("full", (), 1)


def test_locked_placement_ignores_eligibility_and_may_be_ranked() -> None:
    doc = instance([offer("X", min_age=18, north_km=90)], [student("L", ["X"], locked="X", age=14)])
    result = solved(doc)
    assert placements(result) == {"L": ("X", 1)}
    assert result.metrics.rank_1 == 1


def test_every_student_appears_once_in_instance_order() -> None:
    doc = instance(
        [offer("X", 2)], [student(f"P{k}", ["X"]) for k in (3, 1, 2)] + [student("P0", [])], assign_unranked=False
    )
    result = solved(doc)
    assert [a.student for a in result.assignments] == ["P3", "P1"]
    assert [u.student for u in result.unassigned] == ["P2", "P0"]


def test_periods_are_independent() -> None:
    doc = instance(
        [offer("X", {"w45": 1, "w47": 1})],
        [student("A", ["X"]), student("B", ["X"], period="w47")],
        periods=("w45", "w47"),
    )
    assert placements(solved(doc)) == {"A": ("X", 1), "B": ("X", 1)}


def test_high_need_pupils_are_not_crowded_out() -> None:
    # Everyone ranks POPULAR first.  Pupils of the low-need school have a worse second
    # option (rank 3: their rank-2 offer has no place this week) than those of the
    # high-need school (rank 2), so the plain rank^2 flow gives every POPULAR place to
    # the low-need school.  Everybody is in their top three either way: the equity
    # bonus for over-demanded places shares POPULAR out without costing anyone that.
    low = [student(f"L{k}", ["POPULAR", "CLOSED", "Z"], school="LOW") for k in range(20)]
    high = [student(f"H{k}", ["POPULAR", "Y"], school="HIGH") for k in range(20)]
    doc = instance(
        [offer("POPULAR", 10), offer("CLOSED", {"w47": 1}), offer("Z", 20), offer("Y", 20)],
        low + high,
        schools=[school("LOW", need=0.6), school("HIGH", need=1.8)],
        periods=("w45", "w47"),
        fairness={"school": 0, "gender": 0, "need": 1},
    )

    def popular(result: dict[str, tuple[str, int | None]]) -> dict[str, int]:
        return {p: sum(1 for s, (o, _) in result.items() if o == "POPULAR" and s[0] == p) for p in "LH"}

    plain = placements(solved(doc, method="mcf"))
    assert popular(plain) == {"L": 10, "H": 0}
    for seed in range(3):
        got = placements(solved(doc, seed=seed))
        assert all(rank is not None and rank <= 3 for _, rank in got.values())
        assert min(popular(got).values()) >= 3, popular(got)


def test_seed_breaks_exact_ties() -> None:
    doc = instance(
        [offer("X"), offer("Y")],
        [student("A", ["X", "Y"]), student("B", ["X", "Y"])],
        fairness={"school": 0, "gender": 0, "need": 0},
    )
    winners = {placements(solved(doc, seed=seed))["A"][0] for seed in range(12)}
    assert winners == {"X", "Y"}
    assert placements(solved(doc, seed=5)) == placements(solved(doc, seed=5))


def test_gender_never_decides_eligibility() -> None:
    doc = factory.valid()
    before = solved(doc)
    for s in doc["students"]:
        s["gender"] = {"female": "male", "male": "female"}.get(s["gender"], s["gender"])
    after = solved(doc)
    assert before.metrics.placed == after.metrics.placed
    assert before.warnings == after.warnings


def test_overrides_and_unknown_method() -> None:
    inst = load_instance(factory.valid())
    result = solve(inst, seed=7, time_limit_s=30)
    assert result.seed == 7
    with pytest.raises(ValueError, match="unknown method"):
        solve(inst, "random")
    with pytest.raises(ValueError, match="incremental rounds"):
        solve(inst, "da", previous=result)


def test_time_limit_returns_the_best_found_and_says_so() -> None:
    doc = factory.valid()
    doc["policy"]["time_limit_s"] = 1e-9
    result = solved(doc)
    assert result.status == "feasible"
    assert result.metrics.placed == result.placed_max
    assert result.calibration is not None
    assert result.calibration["selected"] == "plain"


def test_no_students_and_no_offers() -> None:
    empty = instance([], [])
    for method in ("optimal", "mcf", "da", "fcfs"):
        result = solved(empty, method)
        assert result.metrics.students == 0
        assert result.placed_max == 0
    only_students = instance([], [student("A", [])])
    assert solved(only_students).unassigned[0].reason == "no eligible offer with a place in w45 within 20 km"


def test_zero_radius_allows_only_the_same_spot() -> None:
    doc = instance(
        [offer("X", 0), offer("HERE"), offer("NEXT", north_km=0.01)], [student("A", ["X"])], max_distance_km=0
    )
    assert placements(solved(doc)) == {"A": ("HERE", None)}


def test_result_round_trips_through_json() -> None:
    import json

    inst = load_instance(factory.valid())
    result = solve(inst)
    again = solver.result_from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.assignments == result.assignments
    assert again.unassigned == result.unassigned
    assert again.metrics == result.metrics
    assert again.explanations == result.explanations
    assert check(inst, again.to_dict()) == []


def test_several_methods_on_one_network_give_what_each_gives_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = load_instance(factory.valid_larger())
    alone = {method: solve(inst, method) for method in METHODS}
    builds: list[int] = []
    real_build = engine.build_network

    def counted(instance: Any) -> Any:
        builds.append(1)
        return real_build(instance)

    monkeypatch.setattr(engine, "build_network", counted)
    together = list(solve_methods(inst, METHODS))
    assert len(builds) == 1
    assert [r.method for r in together] == list(METHODS)
    for result in together:
        reference = alone[result.method]
        assert result.assignments == reference.assignments
        assert result.unassigned == reference.unassigned
        assert (result.status, result.metrics, result.calibration) == (
            reference.status,
            reference.metrics,
            reference.calibration,
        )
        assert result.solve_seconds > 0


def test_an_unknown_method_is_refused_before_any_solve() -> None:
    inst = load_instance(factory.valid())
    with pytest.raises(ValueError, match="unknown method"):
        next(solve_methods(inst, ["optimal", "lottery"]))
