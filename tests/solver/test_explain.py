"""Explanations: for each offer ranked higher than the one obtained, full (with whom) or why not eligible."""

from __future__ import annotations

from solver import explain, load_instance, solve
from solver.result import Explanation
from tests.solver.factory import instance, offer, student


def test_full_offers_show_the_ranks_that_took_them() -> None:
    doc = instance(
        [offer("POP", 2), offer("MID"), offer("LOW", 3), offer("U", north_km=1)],
        [
            student("A", ["POP"]),
            student("B", ["LOW", "POP"]),
            student("C", ["POP", "MID", "LOW"]),
            student("D", ["MID"]),
            student("E", ["POP", "MID"]),
        ],
    )
    inst = load_instance(doc)
    result = solve(inst)
    got = result.assignment_map()
    assert got["C"].offer == "LOW"
    assert result.explanations["C"] == (
        Explanation("POP", 1, "full", (1, 1)),
        Explanation("MID", 2, "full", (1,)),
    )
    assert explain(inst, result, "C") == {"C": result.explanations["C"]}
    assert "A" not in result.explanations
    assert "E" not in result.explanations
    assert got["E"].offer == "POP"


def test_unranked_and_unplaced_pupils_get_every_ranked_offer_explained() -> None:
    doc = instance(
        [offer("X"), offer("OLD", min_age=18), offer("U", north_km=2)],
        [student("A", ["X"]), student("B", ["X", "OLD"]), student("C", ["X"], max_distance_km=1)],
    )
    inst = load_instance(doc)
    result = solve(inst)
    unlucky = [
        sid
        for sid in ("B", "C")
        if result.assignment_map().get(sid) is None or result.assignment_map()[sid].rank is None
    ]
    assert unlucky
    for sid in unlucky:
        entries = result.explanations[sid]
        assert entries[0].offer == "X"
        assert entries[0].reason == "full"
    if "B" in unlucky:
        assert result.explanations["B"][1].reason == "not eligible: min_age 18"
    full = [e for e in result.explanations.get("C", ()) if e.offer == "X"]
    assert all(e.unranked == 0 for e in full)


def test_free_higher_offer_next_to_a_locked_placement() -> None:
    doc = instance([offer("X"), offer("L")], [student("A", ["X", "L"], locked="L")])
    inst = load_instance(doc)
    result = solve(inst)
    assert result.explanations["A"] == (Explanation("X", 1, "free, but the pupil's placement is locked"),)


def test_places_taken_by_unranked_and_locked_placements_are_counted() -> None:
    # U can only be placed (unranked) at X, so B gets its second choice.
    doc = instance(
        [offer("X", 2), offer("Y", north_km=20), offer("GONE", 0)],
        [student("L", [], locked="X"), student("U", ["GONE"]), student("B", ["X", "Y"])],
        max_distance_km=5,
    )
    inst = load_instance(doc)
    result = solve(inst)
    assert result.metrics.placed == 3
    assert result.explanations["U"] == (Explanation("GONE", 1, "not eligible: no place in w45"),)
    assert result.explanations["B"] == (Explanation("X", 1, "full", (), locked=1, unranked=1),)
    assert explain(inst, result) == result.explanations


def test_explain_any_result_even_a_poor_one() -> None:
    from dataclasses import replace

    from solver import Assignment

    doc = instance([offer("X"), offer("Y")], [student("A", ["X", "Y"])], assign_unranked=False)
    inst = load_instance(doc)
    result = solve(inst)
    poor = replace(result, assignments=(Assignment("A", "Y", "w45", 2),))
    assert explain(inst, poor) == {"A": (Explanation("X", 1, "free"),)}
