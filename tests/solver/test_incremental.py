"""Incremental rounds: confirmed placements stay, as few pupils as possible move, and each move says why."""

from __future__ import annotations

from typing import Any

from solver import Result, check, load_instance, solve
from tests.solver.factory import instance, offer, school, student


def run(before: dict[str, Any], after: dict[str, Any], method: str = "optimal") -> tuple[Result, Result]:
    previous = solve(load_instance(before))
    inst = load_instance(after)
    result = solve(inst, method, previous=previous)
    assert check(inst, result) == []
    return previous, result


def moves(result: Result) -> dict[str, tuple[str | None, str | None, str]]:
    assert result.moves is not None
    return {m.student: (m.from_offer, m.to_offer, m.reason) for m in result.moves}


def base() -> dict[str, Any]:
    return instance(
        [offer("X"), offer("Y"), offer("Z", 2), offer("U", north_km=2)],
        [student("A", ["X", "Z"]), student("B", ["Y", "Z"]), student("C", ["Z"]), student("D", ["X"])],
    )


def test_nothing_changes_nothing_moves() -> None:
    previous, result = run(base(), base())
    assert result.assignments == previous.assignments
    assert moves(result) == {}
    assert result.calibration is not None
    assert result.calibration["objective"].startswith("incremental")


def test_withdrawn_offer() -> None:
    after = base()
    after["offers"] = [o for o in after["offers"] if o["id"] != "Y"]
    for s in after["students"]:
        s["preferences"] = [p for p in s["preferences"] if p != "Y"]
    previous, result = run(base(), after)
    before = previous.assignment_map()
    assert before["B"].offer == "Y"
    assert moves(result)["B"] == ("Y", "U", "previous offer Y withdrawn")  # A and C keep Z


def test_no_place_in_the_period_any_more() -> None:
    after = base()
    after["offers"][1]["capacity"] = {"w45": 0}
    _, result = run(base(), after)
    assert moves(result)["B"][2] == "previous offer Y has no place in w45 any more"


def test_declined_by_employer_and_confirmed_placements() -> None:
    previous = solve(load_instance(base()))
    placed = previous.assignment_map()
    after = base()
    after["students"][2]["locked"] = placed["C"].offer  # confirmed by the employer
    after["students"][1]["excluded_offers"] = [placed["B"].offer]  # declined by the employer
    inst = load_instance(after)
    result = solve(inst, previous=previous)
    assert check(inst, result) == []
    assert result.assignment_map()["C"].offer == placed["C"].offer
    assert result.assignment_map()["C"].locked
    assert moves(result)["B"][2] == f"declined by employer (previous offer {placed['B'].offer})"
    assert "C" not in moves(result)


def test_new_and_previously_unplaced_students() -> None:
    before = instance([offer("X")], [student("A", ["X"]), student("B", [])], assign_unranked=False)
    after = instance(
        [offer("X"), offer("Y", 2)],
        [student("A", ["X"]), student("B", ["Y"]), student("N", ["Y", "X"])],
        assign_unranked=False,
    )
    previous, result = run(before, after)
    assert [u.student for u in previous.unassigned] == ["B"]
    assert moves(result) == {"B": (None, "Y", "previously unplaced"), "N": (None, "Y", "new student")}


def test_moved_to_place_another_pupil() -> None:
    # A new pupil can only use X, where A sits; A has an alternative.
    before = instance([offer("X"), offer("Y")], [student("A", ["X", "Y"])], assign_unranked=False)
    after = instance([offer("X"), offer("Y")], [student("A", ["X", "Y"]), student("N", ["X"])], assign_unranked=False)
    _, result = run(before, after)
    assert moves(result) == {
        "A": ("X", "Y", "moved to place another pupil"),
        "N": (None, "X", "new student"),
    }


def test_fewer_places_than_pupils_who_stay() -> None:
    before = instance([offer("X", 2), offer("Y", 2)], [student("A", ["X", "Y"]), student("B", ["X", "Y"])])
    after = instance([offer("X", 1), offer("Y", 2)], [student("A", ["X", "Y"]), student("B", ["X", "Y"])])
    _, result = run(before, after)
    (reason,) = {m.reason for m in result.moves or ()}
    assert reason == "previous offer X has only 1 free places in w45 now"


def test_period_change_eligibility_radius_and_unranked_off() -> None:
    before = instance(
        [offer("X", {"w45": 1, "w47": 1}), offer("AGE"), offer("U", north_km=3), offer("V", north_km=4), offer("K")],
        [
            student("P", ["X"]),
            student("Q", ["AGE"], age=15),
            student("R", ["K"]),
            student("S", ["K"]),
            student("T", ["K"]),
        ],
        periods=("w45", "w47"),
    )
    previous = solve(load_instance(before))
    placed = previous.assignment_map()
    unranked = sorted(s for s, a in placed.items() if a.rank is None)
    assert len(unranked) == 2
    after = instance(
        [
            offer("X", {"w45": 1, "w47": 1}),
            offer("AGE", min_age=16),
            offer("U", north_km=3),
            offer("V", north_km=4),
            offer("K"),
        ],
        [
            student("P", ["X"], period="w47"),
            student("Q", ["AGE"], age=15),
            student("R", ["K"], max_distance_km=1),
            student("S", ["K"], max_distance_km=1),
            student("T", ["K"]),
        ],
        periods=("w45", "w47"),
    )
    inst = load_instance(after)
    result = solve(inst, previous=previous)
    assert check(inst, result) == []
    got = moves(result)
    assert got["P"][2] == "period changed from w45 to w47"
    assert got["Q"][2] == "no longer eligible for previous offer AGE (min_age 16)"
    for sid in unranked:
        if sid in ("R", "S"):
            assert got[sid][2] == f"previous offer {placed[sid].offer} is now outside the 1 km radius"
    off = instance(after["offers"], after["students"], periods=("w45", "w47"), assign_unranked=False)
    inst_off = load_instance(off)
    result_off = solve(inst_off, previous=previous)
    assert check(inst_off, result_off) == []
    for sid in unranked:
        assert moves(result_off)[sid][2].endswith("is unranked and unranked placements are off")


def test_previous_unranked_placement_is_kept() -> None:
    doc = instance(
        [offer("X"), offer("U", north_km=2), offer("V", north_km=1)], [student("A", ["X"]), student("B", ["X"])]
    )
    previous = solve(load_instance(doc))
    kept_unranked = [a for a in previous.assignments if a.rank is None]
    assert len(kept_unranked) == 1
    # A nearer unranked offer appears: the previous unranked placement is kept anyway.
    doc["offers"].append(offer("NEAR", north_km=0.1))
    inst = load_instance(doc)
    result = solve(inst, previous=previous)
    assert result.assignment_map()[kept_unranked[0].student].offer == kept_unranked[0].offer
    assert moves(result) == {}
    assert [e.reason for e in result.explanations[kept_unranked[0].student]] == ["full"]


def test_keeps_previous_even_when_a_better_place_frees_up() -> None:
    before = instance([offer("X"), offer("Y")], [student("A", ["X", "Y"]), student("B", ["X"])], assign_unranked=False)
    after = instance([offer("X"), offer("Y")], [student("A", ["X", "Y"])], assign_unranked=False)
    previous, result = run(before, after)
    assert previous.assignment_map()["A"].offer == "Y"
    assert result.assignment_map()["A"].offer == "Y"
    (entry,) = result.explanations["A"]
    assert entry.reason == "free, but the pupil keeps the previous placement"
    assert any("not in this round" in w for w in result.warnings)


def test_locked_change_other_round_and_plain_method() -> None:
    before = base()
    previous = solve(load_instance(before))
    after = base()
    after["name"] = "another round"
    other = "X" if previous.assignment_map()["C"].offer != "X" else "Y"
    after["students"][2]["locked"] = other
    for s in after["students"]:
        if s["id"] != "C" and other in s["preferences"]:
            s["preferences"].remove(other)
    inst = load_instance(after)
    result = solve(inst, "mcf", previous=previous)
    assert check(inst, result) == []
    assert moves(result)["C"][2] == f"locked to {other}"
    assert result.warnings[-1] == 'previous result is for round "test round", this round is "another round"'


def test_many_departed_students_are_summarised() -> None:
    before = instance([offer("X", 20)], [student(f"P{k}", ["X"]) for k in range(14)])
    after = instance([offer("X", 20)], [student("P0", ["X"])])
    _, result = run(before, after)
    assert "13 students are not in this round" in result.warnings[-1]
    assert "and 3 more" in result.warnings[-1]


def test_calibrated_bonuses_carry_over() -> None:
    doc = instance(
        [offer("X"), offer("Y")],
        [student("A", ["X", "Y"], school="S1"), student("B", ["X", "Y"], school="S2")],
        schools=[school("S1"), school("S2")],
    )
    previous = solve(load_instance(doc))
    assert previous.calibration is not None
    bonuses = {"top3 school": {"S2": 2000}}
    calibration = {**previous.calibration, "bonuses": bonuses}
    from dataclasses import replace

    # C is new and wants X too; X's place can go to B (school S2, bonus) or stay with A.
    doc["offers"][0]["capacity"] = {"w45": 1}
    doc["offers"].append(offer("Z"))
    doc["students"].append(student("C", ["Z"], school="S1"))
    result = solve(load_instance(doc), previous=replace(previous, calibration=calibration))
    assert result.calibration is not None
    assert result.calibration["bonuses"] == bonuses
