"""The optimal method: lexicographic min-cost flow with equity weights and their calibration.

See ``docs/allocation.md`` for the objective in words and in precise form.
Every iterate is an exact optimum of, in this order of priority:

1. placed pupils (the maximum flow);
2. previous placements kept (incremental rounds only);
3. unranked placements (fewest);
4. ranked placements outside the top three (fewest; not for ``method="mcf"``);
5. the sum of ``round(w * (100 r^2 + 10000 [r > 3])) + jitter`` over ranked
   placements and ``distance term + jitter`` over unranked ones, where ``w``
   is the pupil's equity weight: need weight x school, gender and
   need-tercile multipliers.

The plain reference (``method="mcf"``) skips level 4 and uses ``w = 1`` and
``100 r^2``.  Calibration re-solves a fixed number of times, moving the
multipliers of groups whose top-three rate is below (above) what their
preferences allow, and returns the best iterate by a documented criterion.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from solver.costs import (
    COST_LIMIT,
    DISTANCE_STEPS,
    JITTER,
    MIN_WEIGHT,
    OUTSIDE_TOP3,
    distance_cost,
    hash64,
    jitter,
    weighted_rank_cost,
)
from solver.equity import Dimension, dimensions, need_weights, rates, reference_top3
from solver.flow import ArcCosts, FlowOutcome, complete, period_nodes, solve_flow
from solver.network import Network

logger = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Counts = tuple[I64, I64, I64]

ITERATIONS = 4
"""Re-solves after the first weighted solve."""
STEP = 1.5
"""Log-multiplier change per iteration for a group at relative gap 1 (scaled by the policy weight)."""
SHRINK = 10
"""A group of n pupils moves n / (n + SHRINK) of the full step: small schools are noisy."""
MAX_MULTIPLIER = 4.0
UNRANKED_EXTRA = DISTANCE_STEPS + 3 * JITTER
"""Most that the distance term and jitter add to one unranked placement."""
CERTIFY_FACTORS = (16, 256, 4096)
"""Moderate big-M multiples tried before the exact constants (see CostModel)."""


@dataclass
class Stays:
    """Incremental rounds: arcs that keep a student at their previous placement."""

    ranked: Bools
    """Per ranked arc: it is the student's previous placement."""
    extra_student: I64
    extra_slot: I64
    """Direct arcs for previous unranked placements that are still allowed."""


@dataclass
class Iterate:
    label: str
    outcome: FlowOutcome
    multipliers: dict[str, F64] | None
    top3: int = 0
    unranked: int = 0
    worst: dict[str, float] = field(default_factory=dict)
    spread: dict[str, float] = field(default_factory=dict)


class CostModel:
    """Arc costs for one network, seed and (optional) set of stays; solves lexicographically.

    The objective is lexicographic.  Above the maximum flow (placed first,
    which OR-Tools guarantees) come, in order: most previous placements kept
    (incremental rounds), fewest unranked placements, fewest ranked
    placements outside the top three (``top3=True``), and only then the
    weighted rank costs, the distance term and the jitter.

    Exact big-M constants for that are huge and slow the solver down, so each
    solve first tries moderate constants and *certifies* the answer: the best
    achievable counts of the levels are known (from the first solve, with the
    exact constants, or from a flow with tiny costs when those do not fit),
    and a solve that reaches them is provably a lexicographic optimum.
    Otherwise the constants grow, up to the exact ones.
    """

    def __init__(self, net: Network, seed: int, stays: Stays | None = None, *, top3: bool = True) -> None:
        self.net = net
        instance = net.instance
        g = net.unranked
        self.seed = seed
        self.stays = stays
        self.top3 = top3
        self.student_hash = hash64(seed, "student", [s.id for s in instance.students])
        offer_hash = hash64(seed, "offer", [o.id for o in instance.offers])
        hub_hash = hash64(seed, "hub", g.hub_key)
        cell_hash = hash64(seed, "cell", g.cell_key)
        self.ranked_jitter = jitter(self.student_hash[net.r_student], offer_hash[net.slot_offer[net.r_slot]])
        self.hub_cell = distance_cost(g.hc_km, g.hc_radius) + jitter(hub_hash[g.hc_hub], cell_hash[g.hc_cell])
        self.hub_slot = distance_cost(g.hs_km, g.hs_radius) + jitter(
            hub_hash[g.hs_hub], offer_hash[net.slot_offer[g.hs_slot]]
        )
        self.cell_slot = jitter(cell_hash[g.cs_cell], offer_hash[net.slot_offer[g.cs_slot]])
        self.unranked_jitter = jitter(self.student_hash, np.full(len(self.student_hash), 7, dtype=np.uint64))
        free = net.locked_slot < 0
        self.with_profile = free & (g.profile_of >= 0)
        self.periods = len(instance.periods)
        self.period = net.student_period.astype(np.int64)
        self.extra_student = stays.extra_student if stays is not None else np.zeros(0, dtype=np.int64)
        self.extra_slot = stays.extra_slot if stays is not None else np.zeros(0, dtype=np.int64)
        has_arc = self.with_profile.copy()
        has_arc[net.r_student] = True
        has_arc[self.extra_student] = True
        self.active = np.bincount(self.period[has_arc], minlength=self.periods).astype(np.int64)
        self.nodes = period_nodes(net, self.extra_student, self.extra_slot)
        self.stay_ranked = stays.ranked if stays is not None else np.zeros(len(net.r_student), dtype=np.bool_)
        self.outside = net.r_rank > 3 if top3 else np.zeros(len(net.r_student), dtype=np.bool_)
        self.stay_slot = np.full(net.n_students, -1, dtype=np.int64)
        self.stay_slot[net.r_student[self.stay_ranked]] = net.r_slot[self.stay_ranked]
        self.stay_slot[self.extra_student] = self.extra_slot
        self.mode = ""
        self.certified = True
        self._targets: Counts | None = None

    def _counts(self, outcome: FlowOutcome) -> Counts:
        """Per period: kept previous placements, unranked placements, ranked placements outside the top 3."""
        kept = (self.stay_slot >= 0) & (outcome.slot_of == self.stay_slot)
        outside = (outcome.rank > 3) if self.top3 else np.zeros(len(outcome.rank), dtype=np.bool_)
        return (
            np.bincount(self.period[kept], minlength=self.periods).astype(np.int64),
            np.bincount(self.period[outcome.unranked], minlength=self.periods).astype(np.int64),
            np.bincount(self.period[outside], minlength=self.periods).astype(np.int64),
        )

    def _costs(self, base_ranked: I64, levels: tuple[I64, I64, I64]) -> ArcCosts:
        """Arc costs: base costs plus, per period, the constants of the three levels (move, unranked, outside)."""
        move, unranked_level, outside_level = (level[self.period] for level in levels)
        net = self.net
        ranked = base_ranked + np.where(self.outside, outside_level[net.r_student], 0)
        ranked = ranked + np.where(self.stay_ranked, 0, move[net.r_student] if self.stays is not None else 0)
        unranked = np.where(self.with_profile, unranked_level + self.unranked_jitter, 0)
        if self.stays is not None:
            unranked = np.where(self.with_profile, unranked + move, 0)
        extra = self.extra_student
        extra_cost = unranked_level[extra] + DISTANCE_STEPS + self.unranked_jitter[extra]
        return ArcCosts(
            ranked.astype(np.int64),
            unranked.astype(np.int64),
            self.hub_cell,
            self.hub_slot,
            self.cell_slot,
            extra,
            self.extra_slot,
            extra_cost.astype(np.int64),
        )

    def _fits(self, costs: ArcCosts) -> bool:
        """Whether every period's largest arc cost is within OR-Tools' range for its number of nodes."""
        top = np.zeros(self.periods, dtype=np.int64)
        np.maximum.at(top, self.period[self.net.r_student], costs.ranked)
        np.maximum.at(top, self.period, costs.unranked)
        np.maximum.at(top, self.period[costs.extra_student], costs.extra_cost)
        return bool(np.all(top.astype(np.float64) * (self.nodes + 1) <= COST_LIMIT))

    def targets(self) -> Counts:
        """The best counts of the three levels, from a flow with tiny lexicographic costs."""
        if self._targets is None:
            step = self.active + 1
            zero = np.zeros(self.periods, dtype=np.int64)
            levels = (
                step * step if self.stays is not None else zero,
                step,
                np.ones(self.periods, dtype=np.int64) if self.top3 else zero,
            )
            costs = self._costs(np.zeros(len(self.net.r_student), dtype=np.int64), levels)
            costs = ArcCosts(
                costs.ranked,
                costs.unranked - np.where(self.with_profile, self.unranked_jitter, 0),
                np.zeros_like(self.hub_cell),
                np.zeros_like(self.hub_slot),
                np.zeros_like(self.cell_slot),
                costs.extra_student,
                costs.extra_slot,
                costs.extra_cost - DISTANCE_STEPS - self.unranked_jitter[costs.extra_student],
            )
            self._targets = self._counts(solve_flow(self.net, costs, self.seed, share=False))
        return self._targets

    def _exact_levels(self, base_ranked: I64) -> tuple[I64, I64, I64]:
        """Constants larger than every possible difference of all lower levels of a period together."""
        net = self.net
        worst = np.zeros(net.n_students, dtype=np.int64)
        np.maximum.at(worst, net.r_student, base_ranked)
        worst = np.maximum(worst, np.where(self.with_profile, UNRANKED_EXTRA, 0))
        worst[self.extra_student] = np.maximum(worst[self.extra_student], UNRANKED_EXTRA)
        zero = np.zeros(self.periods, dtype=np.int64)

        def above(per_student: I64) -> I64:
            return (
                np.bincount(self.period, weights=per_student.astype(np.float64), minlength=self.periods).astype(
                    np.int64
                )
                + 1
            )

        outside = above(worst) if self.top3 else zero
        has_outside = np.zeros(net.n_students, dtype=np.bool_)
        has_outside[net.r_student[self.outside]] = True
        worst = worst + np.where(has_outside, outside[self.period], 0)
        unranked = above(worst)
        may_be_unranked = self.with_profile.copy()
        may_be_unranked[self.extra_student] = True
        worst = np.maximum(worst, np.where(may_be_unranked, unranked[self.period] + UNRANKED_EXTRA, 0))
        move = above(worst) if self.stays is not None else zero
        return move, unranked, outside

    def solve(self, weights: F64, *, share: bool = False) -> FlowOutcome:
        """Lexicographic optimum for these equity weights (see the class docstring)."""
        net = self.net
        outside = OUTSIDE_TOP3 if self.top3 else 0
        base = weighted_rank_cost(net.r_rank, weights[net.r_student], outside=outside) + self.ranked_jitter
        exact = self._costs(base, self._exact_levels(base))
        exact_fits = self._fits(exact)
        if self._targets is None and exact_fits:
            outcome = solve_flow(net, exact, self.seed, share=share)
            self._targets = self._counts(outcome)
            self.mode = "exact constants"
            return outcome
        targets = self.targets()
        dominant = int(base.max(initial=0)) + UNRANKED_EXTRA + 1
        attempt: FlowOutcome | None = None
        for factor in CERTIFY_FACTORS:
            outside = factor * dominant if self.top3 else 0
            unranked = factor * (dominant + outside)
            move = factor * (dominant + outside + unranked) if self.stays is not None else 0
            levels = tuple(np.full(self.periods, v, dtype=np.int64) for v in (move, unranked, outside))
            costs = self._costs(base, levels)  # type: ignore[arg-type]
            if not self._fits(costs):
                break
            attempt = solve_flow(net, costs, self.seed, share=share)
            if all(np.array_equal(a, b) for a, b in zip(self._counts(attempt), targets, strict=True)):
                self.mode = f"certified (constants x{factor})"
                return attempt
        if exact_fits:
            self.mode = "exact constants"
            return solve_flow(net, exact, self.seed, share=share)
        # Only conceivable for absurd sizes: the best found, reported as not proved optimal.
        self.mode = "uncertified"
        self.certified = False
        if attempt is None:
            attempt = solve_flow(net, self._costs(base, _zero_levels(self.periods)), self.seed, share=share)
        return attempt


def _zero_levels(periods: int) -> tuple[I64, I64, I64]:
    zero = np.zeros(periods, dtype=np.int64)
    return zero, zero, zero


def top3_hits(net: Network, outcome: FlowOutcome) -> Bools:
    """Per student: placed (or locked) at one of their first three choices."""
    rank = np.where(net.locked_slot >= 0, net.locked_rank, outcome.rank)
    return np.asarray((rank >= 1) & (rank <= 3), dtype=np.bool_)


def _summarise(net: Network, it: Iterate, dims: tuple[Dimension, ...]) -> Bools:
    hit = top3_hits(net, it.outcome)
    it.top3 = int(hit.sum())
    it.unranked = int(it.outcome.unranked.sum())
    for dim in dims:
        r = rates(dim, hit).rates[list(dim.balanced)]
        r = r[~np.isnan(r)]
        it.worst[dim.name] = float(r.min()) if len(r) else 1.0
        it.spread[dim.name] = float(r.max() - r.min()) if len(r) else 0.0
    return hit


def _key(it: Iterate, position: int) -> tuple[float, ...]:
    """Higher is better among admissible iterates (see docs/allocation.md, "Calibration").

    On a complete tie the earliest weighted iterate wins, and the plain
    reference only when nothing else is admissible or fairer.
    """
    return (
        round(min(it.worst["school"], it.worst["need"]), 6),
        round(it.worst["need"], 6),
        round(it.worst["gender"], 6),
        -round(it.spread["school"], 6),
        it.top3,
        it.multipliers is not None,
        -position,
    )


def optimise(net: Network, method: str, seed: int, deadline: float) -> tuple[FlowOutcome, dict[str, Any], bool]:
    """Solve; returns the outcome, calibration details, and whether it finished in time."""
    instance = net.instance
    fairness = instance.policy.fairness
    reference = CostModel(net, seed, top3=False)
    ones = np.ones(net.n_students, dtype=np.float64)
    plain = Iterate("plain", reference.solve(ones), None)
    if method == "mcf":
        plain_details: dict[str, Any] = {"objective": "plain rank^2", "lexicographic": reference.mode}
        return complete(net, plain.outcome, seed), plain_details, reference.certified
    model = CostModel(net, seed, top3=True)
    dims = dimensions(instance)
    strengths = {"school": fairness.school, "gender": fairness.gender, "need": fairness.need}
    _summarise(net, plain, dims)
    base = need_weights(instance, fairness.need)
    multipliers = {d.name: np.ones(len(d.labels), dtype=np.float64) for d in dims}
    calibrated = [d for d in dims if strengths[d.name] > 0]
    references = {d.name: reference_top3(net, d) for d in calibrated}
    iterations = ITERATIONS if calibrated else 0
    candidates = [plain]
    finished = True
    for step in range(iterations + 1):
        if time.perf_counter() > deadline:
            finished = False
            break
        weights = base.copy()
        for d in dims:
            weights *= multipliers[d.name][d.group_of]
        # A floor keeps one rank step of any pupil (300 x weight) above the jitter (< 16).
        outcome = model.solve(np.maximum(weights, MIN_WEIGHT))
        it = Iterate(f"iteration {step}", outcome, {k: v.copy() for k, v in multipliers.items()})
        hit = _summarise(net, it, dims)
        candidates.append(it)
        for d in calibrated:
            _update(multipliers[d.name], d, hit, references[d.name], strengths[d.name])
    admissible = [(k, c) for k, c in enumerate(candidates) if c.top3 >= plain.top3 and c.unranked <= plain.unranked]
    _, best = max(admissible, key=lambda pair: _key(pair[1], pair[0]))  # plain is always admissible
    logger.info(
        "calibration: %s iterates, chose %s (top3 %s, plain %s)", len(candidates), best.label, best.top3, plain.top3
    )
    details: dict[str, Any] = {
        "objective": "weighted" if best.multipliers is not None else "plain rank^2",
        "selected": best.label,
        "iterates": len(candidates),
        "lexicographic": model.mode,
        "worst_top3_rate": {k: round(v, 4) for k, v in best.worst.items()},
    }
    if best.multipliers is not None:
        details["multipliers"] = {
            d.name: {
                label: round(float(best.multipliers[d.name][g]), 4)
                for g, label in enumerate(d.labels)
                if best.multipliers[d.name][g] != 1.0
            }
            for d in dims
        }
    return complete(net, best.outcome, seed), details, finished and model.certified and reference.certified


def _update(multiplier: F64, dim: Dimension, hit: Bools, reference: I64, strength: float) -> None:
    """One calibration step for one dimension (see docs/allocation.md, "Calibration").

    Each group's top-three count is measured against what its preferences
    allow (``reference``); groups below the pooled ratio get a larger weight
    and groups above it a smaller one, by ``exp(STEP * strength * gap)``
    where ``gap`` is the relative distance to the pooled ratio, damped for
    small groups.
    """
    r = rates(dim, hit)
    groups = np.array([g for g in dim.balanced if reference[g] > 0], dtype=np.int64)
    if not len(groups):
        return
    relative = r.hits[groups] / reference[groups]
    pooled = r.hits[groups].sum() / reference[groups].sum()
    if pooled <= 0:
        return
    gap = np.clip((pooled - relative) / pooled, -1.0, 1.0)
    size = r.counts[groups]
    multiplier[groups] *= np.exp(STEP * strength * gap * size / (size + SHRINK))
    np.clip(multiplier, 1.0 / MAX_MULTIPLIER, MAX_MULTIPLIER, out=multiplier)
