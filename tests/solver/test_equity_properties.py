"""Metamorphic tests of the equity terms: a group's bonus only ever helps that group.

Each bonus of :class:`solver.optimal.Prices` makes one kind of outcome more
attractive for the pupils of one group: any placement (need tercile), a
top-three placement (school, gender or need tercile), a place at an
over-demanded offer they listed or one they ranked higher (need tercile).  Every solve is an exact lexicographic
optimum, so raising one bonus can never make its group worse off in that
outcome (the exchange argument in docs/allocation.md).  These tests raise
one bonus at a time on random rounds, small and mid-sized, and compare.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.instances import generate
from solver import load_instance, solve
from solver.equity import dimensions
from solver.flow import FlowOutcome
from solver.network import Network, build_network
from solver.optimal import CostModel, Miss, Prices, _polish_move, evaluate, over_demanded, top3_hits
from tests.solver import factory

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _group_top3(net: Network, outcome: FlowOutcome, members: np.ndarray[Any, Any]) -> int:
    return int((top3_hits(net, outcome) & members).sum())


def _group_unplaced(net: Network, outcome: FlowOutcome, members: np.ndarray[Any, Any]) -> int:
    placed = (net.locked_slot >= 0) | (outcome.slot_of >= 0) | outcome.unranked
    return int((~placed & members).sum())


def _group_popular(net: Network, outcome: FlowOutcome, members: np.ndarray[Any, Any]) -> int:
    """Pupils placed at an over-demanded place they listed, or at one they ranked higher than their last such."""
    over = over_demanded(net)
    last_over = np.zeros(net.n_students, dtype=np.int64)
    np.maximum.at(last_over, net.r_student[over[net.r_slot]], net.r_rank[over[net.r_slot]])
    ranked = (outcome.rank > 0) & (outcome.rank <= last_over)
    return int((ranked & members).sum())


def _wasted(net: Network, outcome: FlowOutcome) -> list[int]:
    """Pupils below (or without) a place they ranked higher that is still free."""
    taken = np.bincount(outcome.slot_of[outcome.slot_of >= 0], minlength=net.n_slots)
    free = net.slot_remaining - taken
    out = []
    for i in range(net.n_students):
        arcs = range(int(net.r_start[i]), int(net.r_start[i + 1]))
        better = [a for a in arcs if outcome.rank[i] == 0 or net.r_rank[a] < outcome.rank[i]]
        if any(free[net.r_slot[a]] > 0 for a in better):
            out.append(i)
    return out


def _raise(prices: Prices, kind: str, dim: str, group: int, amount: float) -> Prices:
    raised = prices.copy()
    target = raised.top3[dim] if kind == "top3" else getattr(raised, kind)
    target[group] += amount
    return raised


def _random_prices(data: st.DataObject, dims: tuple[Any, ...]) -> Prices:
    prices = Prices.zero(dims)
    bonus = st.integers(0, 3000)
    for d in dims:
        prices.top3[d.name][:] = [data.draw(bonus) for _ in d.labels]
    prices.placed[:] = [data.draw(bonus) for _ in range(3)]
    prices.popular[:] = [data.draw(bonus) for _ in range(3)]
    return prices


KINDS = [("top3", "school"), ("top3", "gender"), ("top3", "need"), ("placed", "need"), ("popular", "need")]
MEASURE = {"top3": (_group_top3, 1), "placed": (_group_unplaced, -1), "popular": (_group_popular, 1)}


def _assert_monotone(doc: dict[str, Any], data: st.DataObject) -> None:
    """Raise each bonus of each group in turn, by a drawn amount, from drawn bonuses."""
    inst = load_instance(doc)
    net = build_network(inst)
    dims = dimensions(inst)
    base = _random_prices(data, dims)
    model = CostModel(net, inst.policy.seed)
    before = model.solve(base.per_student(dims), share=True)
    assert _wasted(net, before) == []
    for kind, dim_name in KINDS:
        dim = next(d for d in dims if d.name == dim_name)
        measure, direction = MEASURE[kind]
        for group in sorted(set(dim.group_of.tolist())):
            members = dim.group_of == group
            raised = _raise(base, kind, dim_name, group, data.draw(st.integers(1, 3000)))
            after = model.solve(raised.per_student(dims), share=True)
            assert direction * measure(net, after, members) >= direction * measure(net, before, members), (
                kind,
                dim_name,
                dim.labels[group],
            )
            # The levels above the equity terms never move: as many placed and as few unranked.
            assert after.placed == before.placed
            assert int(after.unranked.sum()) == int(before.unranked.sum())


@SETTINGS
@given(factory.instances(), st.data())
def test_raising_a_bonus_never_hurts_its_group_on_small_rounds(doc: dict[str, Any], data: st.DataObject) -> None:
    _assert_monotone(doc, data)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 50), st.booleans(), st.data())
def test_raising_a_bonus_never_hurts_its_group_on_generated_regions(
    seed: int, scarce: bool, data: st.DataObject
) -> None:
    _assert_monotone(generate(300, seed=seed, scarce=scarce, periods=2), data)


@SETTINGS
@given(factory.instances())
def test_with_every_fairness_weight_zero_the_optimum_is_the_plain_flow(doc: dict[str, Any]) -> None:
    doc = copy.deepcopy(doc)
    doc["policy"]["fairness"] = {"school": 0, "gender": 0, "need": 0}
    inst = load_instance(doc)
    optimal, plain = solve(inst), solve(inst, "mcf")
    assert optimal.assignments == plain.assignments
    assert optimal.metrics == plain.metrics


def test_calibration_never_gives_up_more_than_half_a_percent_of_top_three_places() -> None:
    for seed, scarce in ((0, False), (1, True), (2, True)):
        inst = load_instance(generate(1500, seed=seed, scarce=scarce))
        optimal, plain = solve(inst), solve(inst, "mcf")
        assert optimal.metrics.placed == plain.metrics.placed == optimal.placed_max
        assert optimal.metrics.unranked == plain.metrics.unranked
        assert optimal.metrics.top_3 >= plain.metrics.top_3 - int(0.005 * len(inst.students))


def test_calibration_narrows_the_gaps_of_the_plain_flow() -> None:
    # Seeded generated regions, normal and scarce: the calibrated result's worst group and
    # school spread are never worse than the plain flow's, and its misses of the targets fewer.
    for seed, scarce in ((0, False), (1, True)):
        inst = load_instance(generate(1500, seed=seed, scarce=scarce))
        net = build_network(inst)
        dims = dimensions(inst)
        model = CostModel(net, inst.policy.seed)
        plain = evaluate(net, model.solve(), dims)
        result = solve(inst)
        assert result.calibration is not None
        assert result.calibration["objective"] == "rank^2 with equity bonuses"
        bonus = Prices.from_dict(dims, result.calibration["bonuses"]).per_student(dims)
        chosen = evaluate(net, model.solve(bonus), dims)
        assert chosen.worst >= plain.worst
        assert chosen.school_spread <= plain.school_spread
        assert chosen.need_spread <= plain.need_spread


def test_the_calibrated_bonuses_given_back_reproduce_the_allocation() -> None:
    inst = load_instance(generate(1500, seed=3, scarce=True))
    calibrated = solve(inst)
    assert calibrated.calibration is not None
    bonuses = calibrated.calibration["bonuses"]
    again = solve(inst, "optimal", bonuses=bonuses)
    assert again.assignments == calibrated.assignments
    assert again.calibration is not None
    assert again.calibration["objective"] == "rank^2 with given equity bonuses"
    assert again.calibration["bonuses"] == bonuses


def test_given_bonuses_only_apply_to_a_new_optimal_round() -> None:
    inst = load_instance(factory.valid())
    with pytest.raises(ValueError, match="bonuses"):
        solve(inst, "mcf", bonuses={})
    with pytest.raises(ValueError, match="bonuses"):
        solve(inst, "optimal", previous=solve(inst), bonuses={})


@pytest.mark.parametrize(
    ("miss", "moved"),
    [
        (Miss("access low", 0.1), ("popular", None, 2)),
        (Miss("access high", 0.1), ("popular", None, 0)),
        (Miss("need spread", 0.01), ("top3", "need", None)),
        (Miss("school spread", 0.01), ("top3", "school", None)),
        (Miss("gap", 0.01), ("top3", "gender", None)),
        (Miss("unplaced", 0.05, 1), ("placed", None, None)),
    ],
)
def test_each_missed_target_moves_the_bonus_of_the_group_it_is_short_for(
    miss: Miss, moved: tuple[str, str | None, int | None]
) -> None:
    inst = load_instance(generate(1500, seed=1, scarce=True))
    net = build_network(inst)
    dims = dimensions(inst)
    ev = evaluate(net, CostModel(net, 0).solve(), dims)
    start = Prices.zero(dims)
    trial = _polish_move(start, miss, ev, {"school": 1.0, "gender": 1.0, "need": 1.0}, 1.0)
    kind, dim, group = moved
    changed = {
        (k, d, g)
        for k, d, values in [("popular", None, trial.popular), ("placed", None, trial.placed)]
        + [("top3", name, v) for name, v in trial.top3.items()]
        for g in np.flatnonzero(values).tolist()
    }
    assert len(changed) == 1
    (k, d, g) = changed.pop()
    assert (k, d) == (kind, dim)
    if group is not None:
        assert g == group
    if kind == "placed":  # the tercile most over-represented among the unplaced
        excess = ev.unplaced / ev.unplaced.sum() - ev.students / ev.students.sum()
        assert g == int(np.argmax(excess))
    if kind == "top3":  # the counted group with the lowest rate (female or male for the gap)
        rates = np.where(ev.counts(dim) >= 20, ev.rates(dim), np.inf)
        if dim == "gender":
            rates[2:] = np.inf
        assert g == int(np.argmin(rates))


def test_the_calibration_steers_by_the_figures_the_result_reports() -> None:
    """evaluate() (the calibration's view of a flow) gives the result's own metrics.equity."""
    inst = load_instance(generate(1500, seed=4, scarce=True))
    result = solve(inst)
    assert result.calibration is not None
    net = build_network(inst)
    dims = dimensions(inst)
    model = CostModel(net, inst.policy.seed)
    model.solve()
    chosen = model.solve(Prices.from_dict(dims, result.calibration["bonuses"]).per_student(dims))
    assert evaluate(net, chosen, dims).equity == result.metrics.equity
