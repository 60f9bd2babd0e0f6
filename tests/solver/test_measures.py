"""The equity measures (docs/formats.md, "Equity measures"), on rounds small enough to work out by hand."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver import Assignment, ResultError, check, load_instance, result_from_dict, solve
from solver.eligibility import ineligibility
from solver.measures import MIN_RANKERS, Access, Equity, EquityError, GroupRate, Unplaced, Worst, equity
from solver.model import Instance
from solver.result import METHODS
from tests.solver import factory
from tests.solver.factory import instance, offer, school, student

LOW, MID, HIGH = "low need", "middle need", "high need"


def placed(student_id: str, offer_id: str, rank: int | None, *, locked: bool = False) -> Assignment:
    return Assignment(student_id, offer_id, "w45", rank, locked)


def test_rankers_leave_out_locked_pupils_and_pupils_without_an_eligible_choice() -> None:
    inst = load_instance(
        instance(
            [offer("X", 2), offer("Y", min_age=16), offer("Z1"), offer("Z2"), offer("L")],
            [
                student("A", ["X"], gender="female"),
                student("B", ["Y"], gender="female"),  # ranks only an offer she is too young for
                student("C", ["L"], gender="male", locked="L"),
                student("D", [], gender=None),
                student("E", ["Y", "Z1", "Z2", "X"], gender="male"),
            ],
        )
    )
    e = equity(inst, [placed("A", "X", 1), placed("C", "L", 1, locked=True), placed("E", "X", 4)])
    assert e.school.groups == {"S1": GroupRate(rankers=2, top_3=1, rate=0.5)}
    assert e.gender.groups == {
        "female": GroupRate(1, 1, 1.0),
        "male": GroupRate(1, 0, 0.0),
        "other": GroupRate(0, 0, None),
        "unknown": GroupRate(0, 0, None),
    }
    assert e.female_male_gap == 1.0
    # Nobody counts with fewer than 20 rankers: no spread, no worst group.
    assert (e.school.spread, e.school.worst, e.gender.spread, e.worst) == (None, None, None, None)
    # One school of 5 pupils: m = 2.5, floor(3 * 2.5 / 5) = 1, the middle tercile; B and D are unplaced.
    assert e.unplaced == {LOW: Unplaced(0, 0), MID: Unplaced(5, 2), HIGH: Unplaced(0, 0)}


def test_a_group_of_19_rankers_does_not_count_for_spread_or_worst() -> None:
    sizes = {"S1": 20, "S2": 19, "S3": 20}
    inst = load_instance(
        instance(
            [offer("X", 100)],
            [student(f"{s}-{k}", ["X"], school=s) for s, n in sizes.items() for k in range(n)],
            schools=[school("S1", need=0.5), school("S2", need=1.0), school("S3", need=2.0)],
        )
    )
    top = [f"S1-{k}" for k in range(20)] + [f"S3-{k}" for k in range(10)]
    e = equity(inst, [placed(p, "X", 1) for p in top])
    assert MIN_RANKERS == 20
    assert e.school.groups["S2"] == GroupRate(19, 0, 0.0)
    assert e.school.spread == 0.5  # S1 (1.0) minus S3 (0.5); S2 (0.0) does not count
    assert e.school.worst == Worst("school", "S3", 0.5)
    # Terciles: S1 m = 10 -> 30/59 -> low; S2 m = 29.5 -> 1.5 -> middle; S3 m = 49 -> 2.49 -> high.
    assert [g.rankers for g in e.need.groups.values()] == [20, 19, 20]
    assert (e.need.spread, e.need.worst) == (0.5, Worst("need", HIGH, 0.5))
    # One counted gender only: a worst group but no spread; no male rankers: no gap.
    assert e.gender.groups["female"] == GroupRate(59, 30, 30 / 59)
    assert (e.gender.spread, e.gender.worst) == (None, Worst("gender", "female", 30 / 59))
    assert e.female_male_gap is None
    # School S3 and the high-need tercile tie at 0.5: the first dimension (school) is the worst group.
    assert e.worst == Worst("school", "S3", 0.5)


def test_need_terciles_sort_schools_by_need_then_id_and_keep_each_school_whole() -> None:
    sizes = {"A": 3, "B": 3, "C": 4, "D": 2}
    inst = load_instance(
        instance(
            [offer("X", 20)],
            [student(f"{s}{k}", ["X"], school=s) for s, n in sizes.items() for k in range(n)],
            schools=[school("B", need=1.0), school("A", need=1.0), school("C", need=0.5), school("D", need=2.0)],
        )
    )
    e = equity(inst, [])
    # Order C (0.5), A, B (1.0, tie broken by id), D; N = 12 and floor(3 m / N) with m before + half its own:
    # C m = 2 -> 0; A m = 5.5 -> 1; B m = 8.5 -> 2 (it straddles the 2/3 boundary at 8); D m = 11 -> 2.
    assert e.unplaced == {LOW: Unplaced(4, 4), MID: Unplaced(3, 3), HIGH: Unplaced(5, 5)}
    assert [g.rankers for g in e.need.groups.values()] == [4, 3, 5]
    assert list(e.school.groups) == ["B", "A", "C", "D"]  # the instance's order


def popular_round() -> Instance:
    """Eleven (offer, period) pairs with demand per place 4 (P1), 3 (P2), 2 (Q), 1 (F1, F2) and 0 (six others)."""
    fillers = [offer(f"F{k}") for k in range(8)]
    return load_instance(
        instance(
            [offer("P1"), offer("P2"), offer("Q"), *fillers],
            [
                student("L1", ["P1", "Q"], school="L"),
                student("L2", ["P2"], school="L"),
                student("L3", ["F2"], school="L"),
                student("H1", ["P1", "Q", "F1"], school="H"),
                student("H2", ["P2", "P1"], school="H"),
                student("H3", ["P1", "P2"], school="H"),
                student("H4", ["Q"], school="H", locked="F3"),  # locked: not in any demand
            ],
            schools=[school("L", need=0.5), school("H", need=2.0)],
        )
    )


def test_popular_offers_are_at_or_above_the_90th_percentile() -> None:
    inst = popular_round()
    e = equity(
        inst,
        [
            placed("L1", "P1", 1),
            placed("L2", "F0", None),
            placed("L3", "F2", 1),
            placed("H1", "Q", 2),
            placed("H2", "P2", 1),
            placed("H4", "F3", None, locked=True),
        ],
    )
    # Sorted ratios 0 x 6, 1, 1, 2, 3, 4: the 90th percentile is the 10th (position 0.9 * 10 = 9), 3.
    # Over-demanded: P1 and P2.  Q (2) is not; counting the locked H4 would have made it 3.
    assert e.popular.over_demanded == 2
    assert e.popular.groups == {
        LOW: Access(rankers=2, placed=1, share=0.5),  # L1 got P1; L2 was placed elsewhere; L3 never asked
        MID: Access(0, 0, None),
        HIGH: Access(rankers=3, placed=1, share=1 / 3),  # H2 got P2; H1 got Q, which is not over-demanded
    }
    assert e.popular.high_low_ratio == pytest.approx(2 / 3)
    assert e.unplaced[HIGH] == Unplaced(4, 1)


def test_popular_offers_must_be_demanded_above_one_per_place() -> None:
    inst = load_instance(
        instance([offer(f"O{k}") for k in range(11)], [student(f"P{k}", [f"O{k}"]) for k in range(11)])
    )
    e = equity(inst, [])
    assert e.popular.over_demanded == 0  # every ratio is 1: at the 90th percentile, but not above 1
    assert all(a == Access(0, 0, None) for a in e.popular.groups.values())
    assert e.popular.high_low_ratio is None


def test_the_percentile_interpolates_between_ratios_not_demands() -> None:
    # Ratios: A 3/1 = 3, B 4/2 = 2, C 3/2 = 1.5 and nine zeros.  Position 0.9 * 11 = 9.9 lies between 1.5
    # and 2, so the percentile is 1.95 and only A and B are over-demanded (the 10th value, 1.5, would
    # admit C; raw demands 3, 4, 3 would admit all three).
    offers = [offer("A"), offer("B", 2), offer("C", 2), *[offer(f"F{k}") for k in range(9)]]
    wishes = ["A"] * 3 + ["B"] * 4 + ["C"] * 3
    inst = load_instance(instance(offers, [student(f"P{k}", [o]) for k, o in enumerate(wishes)]))
    ratios = [3, 2, 1.5] + [0] * 9
    assert np.percentile(ratios, 90) == pytest.approx(1.95)
    assert equity(inst, []).popular.over_demanded == 2


def test_gender_null_is_a_group_of_its_own() -> None:
    pupils = [student(f"F{k}", ["X"], gender="female") for k in range(20)]
    pupils += [student(f"N{k}", ["X"], gender=None) for k in range(20)]
    inst = load_instance(instance([offer("X", 40)], pupils))
    e = equity(inst, [placed(f"F{k}", "X", 1) for k in range(20)])
    assert e.gender.groups["unknown"] == GroupRate(20, 0, 0.0)
    assert (e.gender.spread, e.gender.worst) == (1.0, Worst("gender", "unknown", 0.0))
    assert e.female_male_gap is None


def test_an_empty_round() -> None:
    e = equity(load_instance(instance([], [])), [])
    assert (e.worst, e.female_male_gap, e.popular.over_demanded) == (None, None, 0)
    assert Equity.from_dict(json.loads(json.dumps(e.to_dict()))) == e


def test_the_result_carries_the_measures_and_reads_them_back() -> None:
    inst = load_instance(factory.valid_larger())
    result = solve(inst)
    assert result.metrics.equity == equity(inst, result.assignments)
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["metrics"]["equity"]["need"]["groups"][HIGH]["rankers"] > 0
    assert result_from_dict(doc).metrics.equity == result.metrics.equity
    del doc["metrics"]["equity"]
    assert result_from_dict(doc).metrics.equity is None  # results written without them are read
    assert check(inst, doc) == []


def test_malformed_measures_are_reported() -> None:
    doc = solve(load_instance(factory.valid())).to_dict()
    doc["metrics"]["equity"]["school"]["groups"]["S1"]["rate"] = "high"
    with pytest.raises(ResultError) as caught:
        result_from_dict(doc)
    assert caught.value.problems == ['metrics.equity.school.groups.S1: field "rate" must be a number or null']
    for broken, message in [
        ([], "equity must be an object"),
        ({"school": {}}, 'equity.school: missing field "groups"'),
    ]:
        with pytest.raises(EquityError, match=message):
            Equity.from_dict(broken)


def test_the_checker_shows_a_wrong_figure_false() -> None:
    inst = load_instance(factory.valid_larger())
    result = solve(inst)
    e = result.metrics.equity
    assert e is not None
    need = replace(e.need, groups={**e.need.groups, HIGH: replace(e.need.groups[HIGH], top_3=0)})
    wrong = replace(result, metrics=replace(result.metrics, equity=replace(e, need=need)))
    found = [str(v) for v in check(inst, wrong)]
    assert found == [f"metrics: metrics.equity.need.groups.{HIGH}.top_3 is 0, expected {e.need.groups[HIGH].top_3}"]
    doc = result.to_dict()
    doc["metrics"]["equity"]["popular"]["over_demanded"] += 1
    doc["metrics"]["equity"]["gender"]["groups"]["female"]["rate"] = 0.123
    found = [str(v) for v in check(inst, doc)]
    assert len(found) == 2
    assert all(v.startswith("metrics: metrics.equity.") for v in found)


def _rankers(inst: Instance) -> int:
    return sum(
        1
        for s in inst.students
        if s.locked is None and any(ineligibility(s, inst.offer_by_id[o]) is None for o in s.preferences)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=factory.instances(max_students=12), method=st.sampled_from(METHODS))
def test_measures_are_consistent_and_survive_the_result_json(doc: dict[str, Any], method: str) -> None:
    inst = load_instance(doc)
    result = solve(inst, method)
    e = equity(inst, result.assignments)
    rankers = _rankers(inst)
    for dim in e.dimensions.values():
        assert sum(g.rankers for g in dim.groups.values()) == rankers
        for g in dim.groups.values():
            assert 0 <= g.top_3 <= g.rankers
            assert g.rate is None if not g.rankers else 0.0 <= g.rate <= 1.0
        assert dim.spread is None or 0.0 <= dim.spread <= 1.0
    assert sum(u.students for u in e.unplaced.values()) == len(inst.students)
    assert sum(u.unplaced for u in e.unplaced.values()) == len(result.unassigned)
    for a in e.popular.groups.values():
        assert 0 <= a.placed <= a.rankers
        assert a.share is None if not a.rankers else 0.0 <= a.share <= 1.0
    assert result.metrics.equity == e
    assert result_from_dict(json.loads(json.dumps(result.to_dict()))).metrics.equity == e
    assert [v for v in check(inst, result) if v.rule == "metrics"] == []
