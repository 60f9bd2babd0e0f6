"""compare(): one summary per method, with group rates."""

from __future__ import annotations

import pytest

from solver import compare, load_instance, solve
from solver.compare import summarise
from tests.solver import factory
from tests.solver.factory import instance, offer, school, student


def test_compare_summaries() -> None:
    inst = load_instance(factory.valid_larger())
    comparison = compare(inst)
    assert [m.method for m in comparison.methods] == ["optimal", "da", "fcfs"]
    optimal, da, _fcfs = comparison.methods
    assert optimal.placed == optimal.placed_max >= da.placed
    assert optimal.top3 >= 0
    assert optimal.school.worst <= optimal.school.best
    assert set(optimal.gender.rates) <= {"female", "male", "other", "unknown"}
    assert set(optimal.need.rates) <= {"low need", "middle need", "high need"}
    data = comparison.to_dict()
    assert data["methods"]["da"]["top3_by_school"]["spread"] == pytest.approx(da.school.spread, abs=1e-4)
    table = comparison.table()
    assert table.splitlines()[0] == inst.name


def test_rates_over_all_students() -> None:
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
    assert summary.top3 == pytest.approx(2 / 3)
    assert summary.school.rates == {"S1": 1.0, "S2": 0.5}
    assert summary.gender.rates == {"female": 1.0, "male": 1.0, "unknown": 0.0}
    assert (summary.gender.worst, summary.gender.spread) == (1.0, 0.0)
    assert summary.mean_rank_cost == pytest.approx((1 + 4) / 2)


def test_no_balanced_group() -> None:
    doc = instance([offer("X")], [student("A", ["X"], gender=None)])
    inst = load_instance(doc)
    summary = summarise(inst, solve(inst))
    assert (summary.gender.worst_group, summary.gender.worst) == ("-", 0.0)
    empty = load_instance(instance([], []))
    assert summarise(empty, solve(empty)).top3 == 0.0
