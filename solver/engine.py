"""``solve``: from an instance (and optionally the previous result) to a result."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from solver.baselines import deferred_acceptance, first_come_first_served
from solver.equity import dimensions
from solver.explain import explain
from solver.flow import FlowOutcome, maximum_placements
from solver.incremental import moves, plan
from solver.model import Instance
from solver.network import Network, build_network
from solver.optimal import CostModel, Prices, Stays, optimise
from solver.reserves import allocate
from solver.result import METHODS, Assignment, Move, Result, Unassigned, compute_metrics

logger = logging.getLogger(__name__)


def solve(
    instance: Instance,
    method: str | None = None,
    previous: Result | None = None,
    *,
    seed: int | None = None,
    time_limit_s: float | None = None,
    bonuses: Mapping[str, Any] | None = None,
) -> Result:
    """Allocate the round.

    ``method`` is ``optimal``, ``da-reserves`` (strategy-proof deferred
    acceptance with reserves for high-need pupils, :mod:`solver.reserves`),
    ``mcf`` (plain rank-squared min-cost flow, the efficiency reference),
    ``da`` or ``fcfs`` (baselines); None (default) means the instance's
    ``policy.mechanism``.  With ``previous``, the round is incremental (see
    :mod:`solver.incremental`), for ``optimal`` and ``mcf`` only: the other
    methods are not defined in terms of a previous result.  ``seed`` and
    ``time_limit_s`` override the policy.  ``bonuses`` (the shape of a
    result's ``calibration.bonuses``) makes ``optimal`` solve once with those
    equity bonuses instead of calibrating them, to study their effect.
    """
    method = instance.policy.mechanism if method is None else method
    _check_method(method)
    if previous is not None and method not in ("optimal", "mcf"):
        raise ValueError("incremental rounds (previous=...) use method optimal or mcf")
    if bonuses is not None and (method != "optimal" or previous is not None):
        raise ValueError("given equity bonuses (bonuses=...) apply to a new round with method optimal")
    instance = _with_policy(instance, seed, time_limit_s)
    started = time.perf_counter()
    net = build_network(instance)
    return _solve_on(net, method, previous, bonuses, started=started, built_s=0.0)


def solve_methods(
    instance: Instance, methods: Sequence[str], *, seed: int | None = None, time_limit_s: float | None = None
) -> Iterator[Result]:
    """Allocate a new round with each of ``methods`` in turn, on one network built once.

    Yields each result as it is ready (the same as :func:`solve` would give
    for that method).  Each method has the policy's time limit of its own; a
    result's ``solve_seconds`` counts the shared network's building too.
    """
    for method in methods:
        _check_method(method)
    prepared = PreparedRound(instance, seed=seed, time_limit_s=time_limit_s)
    for method in methods:
        yield prepared.solve(method)


class PreparedRound:
    """A new round with its network built once, to be solved by one method after another.

    :func:`solve_methods` is the usual way in; a caller that must carry on
    when one method fails (the review's comparisons) calls :meth:`solve`
    itself, method by method.
    """

    def __init__(self, instance: Instance, *, seed: int | None = None, time_limit_s: float | None = None) -> None:
        instance = _with_policy(instance, seed, time_limit_s)
        started = time.perf_counter()
        self.net = build_network(instance)
        self.built_s = time.perf_counter() - started

    def solve(self, method: str) -> Result:
        """The round solved by ``method``, as :func:`solve` would give it."""
        _check_method(method)
        return _solve_on(self.net, method, None, None, started=time.perf_counter(), built_s=self.built_s)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")


def _with_policy(instance: Instance, seed: int | None, time_limit_s: float | None) -> Instance:
    if seed is None and time_limit_s is None:
        return instance
    policy = instance.policy
    policy = replace(
        policy,
        seed=policy.seed if seed is None else seed,
        time_limit_s=policy.time_limit_s if time_limit_s is None else time_limit_s,
    )
    return replace(instance, policy=policy)


def _solve_on(
    net: Network,
    method: str,
    previous: Result | None,
    bonuses: Mapping[str, Any] | None,
    *,
    started: float,
    built_s: float,
) -> Result:
    """One method on a built network.

    ``started`` is when the method's clock started; ``built_s`` is the time
    the network took to build when that was before ``started`` (a network
    shared by several methods): it counts against the time limit and in
    ``solve_seconds`` all the same.
    """
    instance = net.instance
    policy = instance.policy
    deadline = started + policy.time_limit_s - built_s
    warnings = list(instance.warnings) + net.warnings
    calibration: dict[str, Any] | None = None
    move_list: list[Move] | None = None
    locked = int((net.locked_slot >= 0).sum())
    if previous is not None:
        the_plan = plan(net, previous)
        warnings.extend(the_plan.warnings)
        outcome, calibration = _incremental(net, method, previous, the_plan.stays, policy.seed)
        finished = calibration["lexicographic"] != "uncertified"
        placed_max = locked + outcome.placed
        move_list = moves(net, the_plan, _final_slots(net, outcome))
    elif method in ("optimal", "mcf"):
        outcome, calibration, finished = optimise(net, method, policy.seed, deadline, bonuses)
        placed_max = locked + outcome.placed
    elif method == "da-reserves":
        # An algorithm run to the end, not a search: the time limit does not apply.
        outcome, calibration, finished = allocate(net, policy.seed)
        placed_max = locked + outcome.placed
    else:
        runner = deferred_acceptance if method == "da" else first_come_first_served
        outcome = runner(net, policy.seed)
        finished = False  # baselines are not optimised: reported as "feasible"
        placed_max = locked + maximum_placements(net)
    result = _assemble(
        net,
        method=method,
        outcome=outcome,
        warnings=warnings,
        placed_max=placed_max,
        finished=finished,
        started=started - built_s,
        calibration=calibration,
        move_list=move_list,
    )
    logger.info(
        "solved %s with %s: %s of %s placed (max %s), status %s",
        instance.name, method, result.metrics.placed, len(instance.students), placed_max, result.status,
    )  # fmt: skip
    return result


def _incremental(
    net: Network, method: str, previous: Result, stays: Stays, seed: int
) -> tuple[FlowOutcome, dict[str, Any]]:
    instance = net.instance
    kept = (previous.calibration or {}).get("bonuses") if method != "mcf" else None
    bonus = Prices.from_dict(dimensions(instance), kept).per_student(dimensions(instance)) if kept else None
    with CostModel(net, seed, stays) as model:
        outcome = model.solve(bonus, share=True)
    details: dict[str, Any] = {
        "objective": "incremental: placed, then kept placements, then unranked, then preferences",
        "lexicographic": model.mode,
    }
    if kept:
        details["bonuses"] = kept
    return outcome, details


def _final_slots(net: Network, outcome: FlowOutcome) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.where(net.locked_slot >= 0, net.locked_slot, outcome.slot_of)


def _assemble(
    net: Network,
    *,
    method: str,
    outcome: FlowOutcome,
    warnings: list[str],
    placed_max: int,
    finished: bool,
    started: float,
    calibration: dict[str, Any] | None,
    move_list: list[Move] | None,
) -> Result:
    instance = net.instance
    slots = _final_slots(net, outcome)
    assignments: list[Assignment] = []
    unassigned: list[Unassigned] = []
    for i, student in enumerate(instance.students):
        slot = int(slots[i])
        if slot >= 0:
            offer = instance.offers[int(net.slot_offer[slot])].id
            assignments.append(
                Assignment(student.id, offer, student.period, student.rank_of(offer), student.locked is not None)
            )
        else:
            unassigned.append(Unassigned(student.id, _why_unplaced(net, i)))
    status = "optimal" if finished else "feasible"
    result = Result(
        instance=instance.name,
        method=method,
        status=status,
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        warnings=tuple(warnings),
        metrics=compute_metrics(instance, assignments),
        placed_max=placed_max,
        solve_seconds=0.0,
        seed=instance.policy.seed,
        moves=None if move_list is None else tuple(move_list),
        calibration=calibration,
    )
    result = replace(result, explanations=explain(instance, result))
    return replace(result, solve_seconds=time.perf_counter() - started)


def _why_unplaced(net: Network, i: int) -> str:
    instance = net.instance
    student = instance.students[i]
    ranked = int(net.r_start[i + 1] - net.r_start[i])
    if not instance.policy.assign_unranked:
        if ranked:
            return "no eligible ranked offer with free capacity (unranked placements are off)"
        return "no eligible ranked offer (unranked placements are off)"
    radius = instance.radius_km(student)
    if ranked or net.profile_of[i] >= 0:
        return f"no eligible offer with free capacity within {radius:g} km"
    return f"no eligible offer with a place in {student.period} within {radius:g} km"
