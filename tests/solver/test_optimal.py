"""The optimal method's lexicographic solving, calibration and unranked aggregation paths."""

from __future__ import annotations

import runpy
import sys
from typing import Any

import numpy as np
import pytest

from benchmarks.instances import generate
from solver import check, flow, load_instance, optimal, solve
from solver.equity import dimensions, need_terciles
from solver.flow import complete
from solver.network import build_network
from tests.solver import factory
from tests.solver.factory import instance, offer, school, student


def huge_levels(self: optimal.CostModel, base: Any) -> tuple[Any, Any]:
    big = np.full(self.periods, 10**17, dtype=np.int64)
    return big, big


def test_targets_from_a_small_cost_flow_when_exact_constants_do_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = load_instance(factory.valid_larger())
    expected = solve(inst)
    monkeypatch.setattr(optimal.CostModel, "_exact_levels", huge_levels)
    # Without exact constants the moderate ones must certify themselves against the targets.
    result = solve(inst)
    assert result.calibration is not None
    assert result.calibration["lexicographic"].startswith("certified")
    assert result.metrics.placed == expected.metrics.placed
    assert result.metrics.unranked == expected.metrics.unranked


@pytest.mark.parametrize("factors", [(0,), ()])
def test_uncertified_is_reported_as_feasible(monkeypatch: pytest.MonkeyPatch, factors: tuple[int, ...]) -> None:
    doc = factory.valid_larger()
    inst = load_instance(doc)
    monkeypatch.setattr(optimal.CostModel, "_exact_levels", huge_levels)
    monkeypatch.setattr(optimal, "CERTIFY_FACTORS", factors)
    result = solve(inst)
    assert result.status == "feasible"
    assert check(inst, result) == [] or factors == ()
    plain = solve(inst, "mcf")
    assert plain.status == "feasible"
    previous = solve(inst, "mcf")
    assert solve(inst, previous=previous).status == "feasible"


def test_moderate_constants_that_do_not_fit_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = load_instance(factory.valid_larger())
    monkeypatch.setattr(optimal, "CERTIFY_FACTORS", (10**15,))
    result = solve(inst)
    assert result.status == "optimal"
    assert result.calibration is not None
    assert result.calibration["lexicographic"] == "exact constants"


def test_small_corner_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from solver import unranked

    monkeypatch.setattr(unranked, "FAR_CACHE", 1)
    from tests.solver.test_geo import assert_profiles_exact, grid_round

    assert_profiles_exact(grid_round(25.0, 20.0, 70, 5))


def test_exact_constants_when_moderate_ones_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = load_instance(factory.valid_larger())
    monkeypatch.setattr(optimal, "CERTIFY_FACTORS", (0, 0))
    result = solve(inst)
    assert check(inst, result) == []
    assert result.calibration is not None
    assert result.calibration["lexicographic"] == "exact constants"


def test_calibration_without_any_top_three_reference() -> None:
    doc = instance([offer("X")], [student("A", []), student("B", [], gender="male")])
    result = solve(load_instance(doc))
    assert result.status == "optimal"


def test_calibration_off_is_the_plain_method() -> None:
    doc = factory.valid_larger()
    doc["policy"]["fairness"] = {"school": 0, "gender": 0, "need": 0}
    inst = load_instance(doc)
    result = solve(inst)
    assert result.calibration is not None
    assert result.calibration["iterates"] == 1
    assert result.calibration["objective"] == "plain rank^2"
    plain = solve(inst, "mcf")
    assert plain.calibration == {"objective": "plain rank^2", "lexicographic": "exact constants"}
    assert result.assignments == plain.assignments


def test_bonuses_are_reported_per_group_and_read_back() -> None:
    inst = load_instance(factory.valid_larger(90, seed=4))
    result = solve(inst)
    assert result.calibration is not None
    dims = dimensions(inst)
    if result.calibration["objective"] != "plain rank^2":
        table = result.calibration["bonuses"]
        assert table
        for groups in table.values():
            assert all(isinstance(v, int) and v != 0 and abs(v) <= optimal.CAP for v in groups.values())
        again = optimal.Prices.from_dict(dims, table).to_dict(dims)
        assert again == table
    assert optimal.Prices.from_dict(dims, "nonsense").to_dict(dims) == {}


def test_need_terciles() -> None:
    doc = instance(
        [offer("X")],
        [student(f"P{k}", ["X"], school=f"S{k % 3}") for k in range(6)],
        schools=[school("S0", need=0.5), school("S1", need=1.0), school("S2", need=2.0)],
    )
    inst = load_instance(doc)
    assert need_terciles(inst).tolist() == [0, 1, 2, 0, 1, 2]
    assert need_terciles(load_instance(instance([], []))).tolist() == []


def test_whole_group_inside_cells() -> None:
    # Pairs of offers at the same spot near the school: every slot is reached through a cell.
    offers = [offer(f"O{k}", north_km=(k // 2) * 0.05, east_km=0.3) for k in range(40)]
    doc = instance(offers, [student(f"P{k}", []) for k in range(10)])
    inst = load_instance(doc)
    net = build_network(inst)
    assert len(net.unranked.hs_hub) == 0
    assert len(net.unranked.hc_hub) > 0
    result = solve(inst)
    assert check(inst, result) == []
    assert result.metrics.placed == 10


def test_complete_is_idempotent() -> None:
    inst = load_instance(factory.valid())
    net = build_network(inst)
    model = optimal.CostModel(net, 0)
    outcome = model.solve()
    assert complete(net, complete(net, outcome, 0), 0) is outcome


def test_geodesic_calls_are_counted() -> None:
    inst = load_instance(factory.valid_larger())
    net = build_network(inst)
    assert net.distances.geodesic_calls <= len(inst.schools) * len(inst.offers)


def test_python_dash_m_in_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import json

    path = tmp_path / "round.json"
    path.write_text(json.dumps(factory.valid()), encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["solver", "solve", str(path), "-o", str(tmp_path / "r.json")])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("solver", run_name="__main__")
    assert done.value.code == 0


def test_calibration_when_a_group_gets_none_of_what_it_could() -> None:
    # A ranked X, but X is the only place B can have; A is placed unranked at Y near its school.
    doc = instance(
        [offer("X", north_km=10), offer("Y", north_km=-9)],
        [student("A", ["X"], school="S1"), student("B", [], school="S2")],
        schools=[school("S1", north_km=-5), school("S2", north_km=15)],
        max_distance_km=12,
    )
    inst = load_instance(doc)
    result = solve(inst)
    assert {a.student: a.offer for a in result.assignments} == {"A": "Y", "B": "X"}
    assert check(inst, result) == []


def test_periods_solved_side_by_side_give_the_same_allocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large rounds solve their periods in worker processes; the answer must not depend on it."""
    inst = load_instance(generate(2500, seed=5, scarce=True))
    sequential = solve(inst)
    pools: list[int] = []
    real_pool = flow.ProcessPoolExecutor

    def counted_pool(workers: int, **kwargs: Any) -> Any:
        pools.append(workers)
        return real_pool(workers, **kwargs)

    monkeypatch.setattr(flow, "PARALLEL_MIN_ARCS", 0)
    monkeypatch.setattr(flow.os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(flow, "ProcessPoolExecutor", counted_pool)
    parallel = solve(inst)
    assert pools == [2]
    assert parallel.assignments == sequential.assignments
    assert parallel.metrics.equity == sequential.metrics.equity
    assert parallel.calibration == sequential.calibration


def test_worker_processes_stop_with_the_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flow, "PARALLEL_MIN_ARCS", 0)
    monkeypatch.setattr(flow.os, "sched_getaffinity", lambda pid: {0, 1})
    net = build_network(load_instance(generate(600, seed=2)))
    with optimal.CostModel(net, 0) as model:
        model.solve()
        pool = model.flows._pool
        assert pool is not None
        workers = list(pool._processes.values())
        assert workers
        assert all(p.is_alive() for p in workers)
    assert model.flows._pool is None
    for p in workers:
        p.join(timeout=10)
    assert not any(p.is_alive() for p in workers)
