"""compare(): one summary per method, with the equity measures of solver.measures."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from solver import compare, load_instance, solve
from solver.compare import DEFAULT_METHODS, rows, summarise
from solver.measures import GroupRate, equity
from solver.result import METHODS
from tests.solver import factory
from tests.solver.factory import instance, offer, school, student


def test_default_methods() -> None:
    assert DEFAULT_METHODS == ("optimal", "da-reserves", "mcf", "da", "fcfs")
    assert set(DEFAULT_METHODS) <= set(METHODS)


def test_compare_summaries() -> None:
    inst = load_instance(factory.valid_larger())
    comparison = compare(inst)
    assert [m.method for m in comparison.methods] == list(DEFAULT_METHODS)
    by = {m.method: m for m in comparison.methods}
    assert by["optimal"].placed == by["optimal"].placed_max >= by["da"].placed
    for m in comparison.methods:
        assert m.equity == equity(inst, solve(inst, m.method).assignments)
    data = json.loads(json.dumps(comparison.to_dict()))
    assert list(data["methods"]) == list(DEFAULT_METHODS)
    assert data["methods"]["da"]["equity"] == by["da"].equity.to_dict()
    table = comparison.table()
    assert table.splitlines()[0] == inst.name
    assert table.splitlines()[1].split() == list(DEFAULT_METHODS)


def test_unknown_methods_are_not_dropped() -> None:
    inst = load_instance(factory.valid())
    with pytest.raises(ValueError, match="unknown method"):
        compare(inst, ("optimal", "lottery"))


def test_table_rows() -> None:
    inst = load_instance(factory.valid_larger())
    labels = [label for label, _ in rows(compare(inst, ("optimal", "fcfs")).methods)]
    assert labels == [
        "placed",
        "maximum placeable",
        "at first choice",
        "in top three",
        "unranked",
        "mean rank cost",
        "top three by school: spread",
        "top three by school: worst",
        "top three by gender: spread",
        "top three by gender: worst",
        "top three by need tercile: spread",
        "top three by need tercile: worst",
        "top three, worst group",
        "top three, female-male gap",
        "unplaced, low need (15 pupils)",
        "unplaced, middle need (30 pupils)",
        "unplaced, high need (15 pupils)",
        "popular-offer access, low need",
        "popular-offer access, middle need",
        "popular-offer access, high need",
        "popular-offer access, high/low",
        "solve seconds",
    ]


def test_shares_over_all_students_and_rates_over_rankers() -> None:
    doc = instance(
        [offer("X"), offer("Y"), offer("L")],
        [
            student("A", ["X"], school="S1", gender="female"),
            student("B", ["X", "Y"], school="S2", gender="male"),
            student("C", [], school="S2", gender=None, locked="L"),
        ],
        schools=[school("S1", need=0.5), school("S2", need=2.0)],
        assign_unranked=False,
    )
    inst = load_instance(doc)
    summary = summarise(inst, solve(inst))
    assert summary.placed == 3
    assert summary.top3 == pytest.approx(2 / 3)  # of all pupils
    groups = summary.equity.school.groups
    assert groups == {"S1": GroupRate(1, 1, 1.0), "S2": GroupRate(1, 1, 1.0)}  # C is locked: not a ranker
    assert summary.equity.gender.groups["unknown"] == GroupRate(0, 0, None)
    assert summary.equity.female_male_gap == 0.0
    assert summary.mean_rank_cost == pytest.approx((1 + 4) / 2)
    # A result without the measures (written by an older version) is measured from its assignments.
    result = solve(inst)
    bare = replace(result, metrics=replace(result.metrics, equity=None))
    assert summarise(inst, bare).equity == summary.equity


def test_empty_round() -> None:
    empty = load_instance(instance([], []))
    summary = summarise(empty, solve(empty))
    assert (summary.top3, summary.equity.worst, summary.equity.popular.high_low_ratio) == (0.0, None, None)
