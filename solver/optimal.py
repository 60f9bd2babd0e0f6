"""The optimal method: lexicographic min-cost flow with equity bonuses and their calibration.

See ``docs/allocation.md`` for the objective in words and in precise form.
Every iterate is an exact optimum of, in this order of priority:

1. placed pupils (the maximum flow);
2. previous placements kept (incremental rounds only);
3. unranked placements (fewest);
4. the sum of ``100 r^2 + jitter`` over ranked placements and ``distance
   term + jitter`` over unranked ones, minus each placed pupil's equity
   bonuses: their need tercile's bonus for any placement, their groups'
   bonuses (school, gender, need tercile) for a top-three placement, and
   their need tercile's bonus for a place at an over-demanded offer they
   listed or one they ranked higher.  Bonuses are never negative and only
   make better ranks cheaper, so a pupil's costs still rise with rank.

A bonus of a group only ever makes outcomes of that kind more attractive
for its own pupils, so raising it can never make the group worse off in
that outcome (the exchange argument in the docs).  With every bonus 0 the
objective is the plain rank^2 flow (``method="mcf"``).  Calibration moves
the bonuses towards parity between groups, one exact solve per step, and
returns the best iterate by the documented targets that gives up at most
0.5 % of the pupils' top-three placements.

This module is longer than most (about 700 lines) because the lexicographic stages and
the calibration of the equity bonuses share one network and must be read together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from solver import measures
from solver.costs import (
    COST_LIMIT,
    DISTANCE_STEPS,
    JITTER,
    distance_cost,
    hash64,
    jitter,
    rank_cost,
)
from solver.equity import Dimension, dimensions
from solver.flow import ArcCosts, FlowOutcome, PeriodFlows, complete
from solver.network import Network

logger = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Counts = tuple[I64, I64]
Levels = tuple[I64, I64]
Base = tuple[I64, I64]
Bonus = tuple[I64, I64, I64]
"""Per pupil, in cost units: bonus for any placement, a top-three one, one at or above their last popular choice."""

ITERATIONS = 12
"""Most calibration solves after the plain one; calibration stops early once every target is met."""
POLISH = 6
"""Most solves that then move one bonus at a time from the best iterate against its largest missed target."""
STEP_TOP3 = 150.0
"""First move of a group's top-three bonus, in cost units (scaled by the dimension's fairness weight)."""
STEP_PLACED = 25.0
"""First move of a need tercile's placement bonus."""
STEP_POPULAR = 60.0
"""First move of a need tercile's bonus at over-demanded places."""
BACK_OFF = 0.7
"""Every bonus is scaled by this after a solve that gave up too many top-three places."""
GROW = 1.5
"""A step grows by this while its shortfall keeps its sign."""
TOLERANCE = 0.002
"""A shortfall smaller than this moves no bonus."""
CAP = 3_000.0
"""Largest bonus either way (a rank step near the top is 300-700)."""
ACCESS = 0.95
"""Calibration aims at a high-need/low-need ratio of success at over-demanded places in [0.95, 1/0.95]."""
NEED_SPREAD = 0.01
"""Calibration aims at need terciles whose top-three rates lie within this of each other."""
SHRINK = 10
"""A group of n rankers moves n / (n + SHRINK) of the full step: small schools are noisy."""
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


class CostModel:
    """Arc costs for one network, seed and (optional) set of stays; solves lexicographically.

    The objective is lexicographic.  Above the maximum flow (placed first,
    which OR-Tools guarantees) come, in order: most previous placements kept
    (incremental rounds) and fewest unranked placements, and only then the
    sum of the pupils' weighted regrets (:class:`solver.costs.Regrets`), the
    distance term of unranked placements and the jitter.

    Exact big-M constants for that are huge and slow the solver down, so each
    solve first tries moderate constants and *certifies* the answer: the best
    achievable counts of the levels are known (from the first solve, with the
    exact constants, or from a flow with tiny costs when those do not fit),
    and a solve that reaches them is provably a lexicographic optimum.
    Otherwise the constants grow, up to the exact ones.
    """

    def __init__(self, net: Network, seed: int, stays: Stays | None = None) -> None:
        self.net = net
        instance = net.instance
        g = net.unranked
        self.seed = seed
        self.stays = stays
        over = over_demanded(net)
        last_over = np.zeros(net.n_students, dtype=np.int64)
        np.maximum.at(last_over, net.r_student[over[net.r_slot]], net.r_rank[over[net.r_slot]])
        self.up_to_popular = net.r_rank <= last_over[net.r_student]
        """Per ranked arc: at or above the pupil's last over-demanded choice (where the popular bonus applies)."""
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
        self.flows = PeriodFlows(net, self.extra_student, self.extra_slot)
        self.nodes = self.flows.nodes
        self.stay_ranked = stays.ranked if stays is not None else np.zeros(len(net.r_student), dtype=np.bool_)
        self.stay_slot = np.full(net.n_students, -1, dtype=np.int64)
        self.stay_slot[net.r_student[self.stay_ranked]] = net.r_slot[self.stay_ranked]
        self.stay_slot[self.extra_student] = self.extra_slot
        self.mode = ""
        self.certified = True
        self._targets: Counts | None = None

    def __enter__(self) -> CostModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the flow's worker processes, if it started any."""
        self.flows.close()

    def _counts(self, outcome: FlowOutcome) -> Counts:
        """Per period: kept previous placements and unranked placements."""
        kept = (self.stay_slot >= 0) & (outcome.slot_of == self.stay_slot)
        return (
            np.bincount(self.period[kept], minlength=self.periods).astype(np.int64),
            np.bincount(self.period[outcome.unranked], minlength=self.periods).astype(np.int64),
        )

    def _costs(self, base: Base, levels: Levels) -> ArcCosts:
        """Arc costs: base costs plus, per period, the constants of the two levels (move, unranked)."""
        move, unranked_level = (level[self.period] for level in levels)
        net = self.net
        base_ranked, base_unranked = base
        ranked = base_ranked + np.where(self.stay_ranked, 0, move[net.r_student] if self.stays is not None else 0)
        unranked = base_unranked + unranked_level + self.unranked_jitter
        if self.stays is not None:
            unranked = unranked + move
        extra = self.extra_student
        extra_cost = base_unranked[extra] + unranked_level[extra] + DISTANCE_STEPS + self.unranked_jitter[extra]
        return ArcCosts(
            ranked.astype(np.int64),
            np.where(self.with_profile, unranked, 0).astype(np.int64),
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
        """The best counts of the two levels, from a flow with tiny lexicographic costs."""
        if self._targets is None:
            net = self.net
            zero = np.zeros(self.periods, dtype=np.int64)
            levels = (self.active + 1 if self.stays is not None else zero, np.ones(self.periods, dtype=np.int64))
            base = (np.zeros(len(net.r_student), dtype=np.int64), np.zeros(net.n_students, dtype=np.int64))
            costs = self._costs(base, levels)
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
            self._targets = self._counts(self.flows.solve(costs, self.seed, share=False))
        return self._targets

    def _exact_levels(self, base: Base) -> Levels:
        """Constants larger than every possible difference of all lower levels of a period together."""
        net = self.net
        base_ranked, base_unranked = base
        may_be_unranked = self.with_profile.copy()
        may_be_unranked[self.extra_student] = True
        worst = np.where(may_be_unranked, base_unranked + UNRANKED_EXTRA, 0).astype(np.int64)
        np.maximum.at(worst, net.r_student, base_ranked)

        def above(per_student: I64) -> I64:
            total = np.bincount(self.period, weights=per_student.astype(np.float64), minlength=self.periods)
            return total.astype(np.int64) + 1

        unranked = above(worst)
        worst = np.maximum(worst, np.where(may_be_unranked, unranked[self.period] + worst, 0))
        move = above(worst) if self.stays is not None else np.zeros(self.periods, dtype=np.int64)
        return move, unranked

    def base(self, bonus: Bonus | None) -> Base:
        """Rank costs plus jitter minus the pupils' equity bonuses: ranked arcs, and per pupil the unranked arc.

        Every placed pupil uses exactly one arc and the number placed is
        fixed (maximum flow first), so the common shift that keeps costs
        non-negative changes no decision.
        """
        net = self.net
        ranked = rank_cost(net.r_rank) + self.ranked_jitter
        unranked = np.zeros(net.n_students, dtype=np.int64)
        if bonus is not None:
            place, top3, popular = bonus
            ranked = ranked - place[net.r_student] - np.where(net.r_rank <= 3, top3[net.r_student], 0)
            ranked = ranked - np.where(self.up_to_popular, popular[net.r_student], 0)
            unranked = unranked - place
            shift = max(0, -int(ranked.min(initial=0)), -int(unranked.min(initial=0)))
            ranked, unranked = ranked + shift, unranked + shift
        return ranked, unranked

    def solve(self, bonus: Bonus | None = None, *, share: bool = False) -> FlowOutcome:
        """Lexicographic optimum with these equity bonuses (none: the plain rank^2 objective)."""
        base = self.base(bonus)
        exact = self._costs(base, self._exact_levels(base))
        exact_fits = self._fits(exact)
        if self._targets is None and exact_fits:
            outcome = self.flows.solve(exact, self.seed, share=share)
            self._targets = self._counts(outcome)
            self.mode = "exact constants"
            return outcome
        targets = self.targets()
        dominant = max(int(base[0].max(initial=0)), int(base[1].max(initial=0))) + UNRANKED_EXTRA + 1
        attempt: FlowOutcome | None = None
        for factor in CERTIFY_FACTORS:
            unranked = factor * dominant
            move = factor * (dominant + unranked) if self.stays is not None else 0
            levels = (np.full(self.periods, move, dtype=np.int64), np.full(self.periods, unranked, dtype=np.int64))
            costs = self._costs(base, levels)
            if not self._fits(costs):
                break
            attempt = self.flows.solve(costs, self.seed, share=share)
            if all(np.array_equal(a, b) for a, b in zip(self._counts(attempt), targets, strict=True)):
                self.mode = f"certified (constants x{factor})"
                return attempt
        if exact_fits:
            self.mode = "exact constants"
            return self.flows.solve(exact, self.seed, share=share)
        # Only conceivable for absurd sizes: the best found, reported as not proved optimal.
        self.mode = "uncertified"
        self.certified = False
        if attempt is None:
            zero = np.zeros(self.periods, dtype=np.int64)
            attempt = self.flows.solve(self._costs(base, (zero, zero)), self.seed, share=share)
        return attempt


def top3_hits(net: Network, outcome: FlowOutcome) -> Bools:
    """Per student: placed (or locked) at one of their first three choices."""
    rank = np.where(net.locked_slot >= 0, net.locked_rank, outcome.rank)
    return np.asarray((rank >= 1) & (rank <= 3), dtype=np.bool_)


@dataclass
class Prices:
    """The equity bonuses of the groups, in cost units (see docs/allocation.md, "Fairness")."""

    top3: dict[str, F64]
    """Per dimension, per group: bonus on its pupils' top-three arcs."""
    placed: F64
    """Per need tercile: bonus on every placement of its pupils."""
    popular: F64
    """Per need tercile: bonus on its pupils' arcs to an over-demanded place or one ranked above their last such."""

    @classmethod
    def zero(cls, dims: tuple[Dimension, ...]) -> Prices:
        return cls({d.name: np.zeros(len(d.labels)) for d in dims}, np.zeros(3), np.zeros(3))

    def copy(self) -> Prices:
        return Prices({k: v.copy() for k, v in self.top3.items()}, self.placed.copy(), self.popular.copy())

    def per_student(self, dims: tuple[Dimension, ...]) -> Bonus:
        top3 = np.zeros(len(dims[0].group_of))
        for d in dims:
            top3 += np.rint(self.top3[d.name])[d.group_of]  # whole units per group, as to_dict reports them
        need = dims[2].group_of
        return (
            np.rint(self.placed[need]).astype(np.int64),
            np.rint(top3).astype(np.int64),
            np.rint(self.popular[need]).astype(np.int64),
        )

    @classmethod
    def from_dict(cls, dims: tuple[Dimension, ...], table: Any) -> Prices:
        """The bonuses a result's ``calibration.bonuses`` lists (groups not listed: 0)."""
        prices = cls.zero(dims)
        table = table if isinstance(table, dict) else {}

        def read(values: F64, labels: tuple[str, ...], key: str) -> None:
            given = table.get(key, {})
            for g, label in enumerate(labels):
                if isinstance(given, dict) and isinstance(given.get(label), int | float):
                    values[g] = float(given[label])

        for d in dims:
            read(prices.top3[d.name], d.labels, f"top3 {d.name}")
        read(prices.placed, dims[2].labels, "placed")
        read(prices.popular, dims[2].labels, "popular")
        return prices

    def to_dict(self, dims: tuple[Dimension, ...]) -> dict[str, dict[str, int]]:
        def table(values: F64, labels: tuple[str, ...]) -> dict[str, int]:
            return {label: round(float(v)) for label, v in zip(labels, values, strict=True) if round(float(v))}

        out = {f"top3 {d.name}": table(self.top3[d.name], d.labels) for d in dims}
        out["placed"] = table(self.placed, dims[2].labels)
        out["popular"] = table(self.popular, dims[2].labels)
        return {k: v for k, v in out.items() if v}


@dataclass
class Evaluation:
    """The equity measures of one solve (:mod:`solver.measures`), as the calibration reads them."""

    equity: measures.Equity
    top3: int
    unranked: int

    def rates(self, dim: str) -> F64:
        """Top-three rate of each group of a dimension, in its order (NaN without rankers)."""
        groups = self.equity.dimensions[dim].groups.values()
        return np.array([np.nan if g.rate is None else g.rate for g in groups], dtype=np.float64)

    def counts(self, dim: str) -> I64:
        """Rankers of each group of a dimension, in its order."""
        return np.array([g.rankers for g in self.equity.dimensions[dim].groups.values()], dtype=np.int64)

    @property
    def need_spread(self) -> float:
        return self.equity.need.spread or 0.0

    @property
    def school_spread(self) -> float:
        return self.equity.school.spread or 0.0

    @property
    def worst(self) -> float:
        return 1.0 if self.equity.worst is None else self.equity.worst.rate

    @property
    def gap(self) -> float:
        return self.equity.female_male_gap or 0.0

    @property
    def access_ratio(self) -> float:
        """High-need over low-need popular-offer access; 1 when neither gets any, infinite when only high need does."""
        groups = list(self.equity.popular.groups.values())
        low, high = groups[measures.LOW].share or 0.0, groups[measures.HIGH].share or 0.0
        return high / low if low > 0 else (1.0 if high == 0 else float("inf"))

    @property
    def unplaced(self) -> I64:
        return np.array([u.unplaced for u in self.equity.unplaced.values()], dtype=np.int64)

    @property
    def students(self) -> I64:
        return np.array([u.students for u in self.equity.unplaced.values()], dtype=np.int64)

    @property
    def popular(self) -> I64:
        """Per need tercile: rankers placed at an over-demanded place they listed."""
        return np.array([a.placed for a in self.equity.popular.groups.values()], dtype=np.int64)

    @property
    def listers(self) -> I64:
        """Per need tercile: rankers who list at least one over-demanded place."""
        return np.array([a.rankers for a in self.equity.popular.groups.values()], dtype=np.int64)


def over_demanded(net: Network) -> Bools:
    """Per slot: over-demanded as the equity measures define it (:func:`solver.measures.over_demanded`)."""
    demand = np.bincount(net.r_slot, minlength=net.n_slots).astype(np.int64)
    return measures.over_demanded(demand, net.slot_capacity)


def evaluate(net: Network, outcome: FlowOutcome, dims: tuple[Dimension, ...]) -> Evaluation:
    """The equity measures of a flow outcome, from the network's arrays (fast enough for every iterate).

    A ranker is a free student with an eligible ranked arc; the facts are
    then handed to :func:`solver.measures.from_outcome`, so that the
    calibration steers by exactly the figures a result reports.
    """
    ranker = (net.locked_slot < 0) & (net.r_start[1:] > net.r_start[:-1])
    top = top3_hits(net, outcome) & ranker
    placed = (net.locked_slot >= 0) | (outcome.slot_of >= 0) | outcome.unranked
    over = over_demanded(net)
    wants = np.zeros(net.n_students, dtype=np.bool_)
    wants[net.r_student[over[net.r_slot]]] = True
    wants &= ranker
    got = wants & (outcome.slot_of >= 0) & ~outcome.unranked
    got[got] = over[outcome.slot_of[got]]
    equity = measures.from_outcome(
        dims, rankers=ranker, top=top, placed=placed, wants=wants, got=got, over=int(over.sum())
    )
    return Evaluation(equity, int(top.sum()), int(outcome.unranked.sum()))


@dataclass(frozen=True)
class Miss:
    """One equity target an iterate misses (see docs/allocation.md, "Calibration")."""

    target: str
    """``need spread``, ``access low``, ``access high``, ``worst``, ``school spread``, ``gap`` or ``unplaced``."""
    amount: float
    group: int = -1
    """The need tercile, for ``unplaced``."""


def _misses(ev: Evaluation, plain: Evaluation) -> list[Miss]:
    """The equity targets an iterate misses, and by how much."""
    amounts = [
        Miss("need spread", ev.need_spread - min(plain.need_spread + 0.005, NEED_SPREAD)),
        Miss("access low", ACCESS - ev.access_ratio),
        Miss("access high", min(1.0, ev.access_ratio - 1 / ACCESS)),
        Miss("worst", plain.worst - ev.worst),
        Miss("school spread", ev.school_spread - plain.school_spread),
        Miss("gap", abs(ev.gap) - 0.02),
    ]
    total = int(ev.unplaced.sum())
    if total >= 30:
        expected = ev.students / max(int(ev.students.sum()), 1)
        actual = ev.unplaced / total
        for t in range(len(expected)):
            amounts.append(Miss("unplaced", abs(actual[t] - expected[t]) - 0.1 * expected[t], t))
    return [m for m in amounts if m.amount > 1e-12]


def _violations(ev: Evaluation, plain: Evaluation) -> tuple[int, float]:
    """How many of the equity targets an iterate misses, and by how much in all."""
    misses = _misses(ev, plain)
    return len(misses), float(sum(m.amount for m in misses))


def optimise(
    net: Network, method: str, seed: int, deadline: float, bonuses: Mapping[str, Any] | None = None
) -> tuple[FlowOutcome, dict[str, Any], bool]:
    """Solve; returns the outcome, calibration details, and whether it finished in time.

    With ``bonuses`` (a result's ``calibration.bonuses``), ``optimal`` solves
    once with exactly those equity bonuses instead of calibrating them.
    """
    with CostModel(net, seed) as model:
        if bonuses is not None and method == "optimal":
            dims = dimensions(net.instance)
            given = Prices.from_dict(dims, bonuses)
            model.solve()  # as the calibration does: the same constants, so the same optimum among ties
            outcome = model.solve(given.per_student(dims))
            details: dict[str, Any] = {"objective": "rank^2 with given equity bonuses", "lexicographic": model.mode}
            details["bonuses"] = given.to_dict(dims)
            return complete(net, outcome, seed), details, model.certified
        return _calibrate(net, model, method, seed, deadline)


def _calibrate(
    net: Network, model: CostModel, method: str, seed: int, deadline: float
) -> tuple[FlowOutcome, dict[str, Any], bool]:
    instance = net.instance
    fairness = instance.policy.fairness
    plain_outcome = model.solve()
    if method == "mcf":
        plain_details: dict[str, Any] = {"objective": "plain rank^2", "lexicographic": model.mode}
        return complete(net, plain_outcome, seed), plain_details, model.certified
    dims = dimensions(instance)
    plain = evaluate(net, plain_outcome, dims)
    strengths = {"school": fairness.school, "gender": fairness.gender, "need": fairness.need}
    calibration = _Calibration(dims, strengths)
    slack = int(0.005 * len(instance.students))
    candidates: list[tuple[str, FlowOutcome, Evaluation, Prices | None]] = [("plain", plain_outcome, plain, None)]
    finished = True
    latest = plain
    for step in range(ITERATIONS if any(v > 0 for v in strengths.values()) else 0):
        if _violations(latest, plain)[0] == 0 and latest.top3 >= plain.top3 - slack:
            break
        if time.perf_counter() > deadline:
            finished = False
            break
        calibration.update(latest, over_budget=latest.top3 < plain.top3 - slack)
        outcome = model.solve(calibration.prices.per_student(dims))
        latest = evaluate(net, outcome, dims)
        candidates.append((f"iteration {step + 1}", outcome, latest, calibration.prices.copy()))

    def key(position: int) -> tuple[float, ...]:
        _, _, ev, used = candidates[position]
        count, size = _violations(ev, plain)
        return (-count, -round(size, 6), ev.top3, used is not None, -position)

    def best_admissible() -> int:
        admissible = [k for k, c in enumerate(candidates) if c[2].top3 >= plain.top3 - slack]
        return max(admissible, key=key)  # plain is always admissible

    # Polish: from the best iterate, move the bonus of its largest missed target,
    # keeping a move when it shrinks the misses in all and halving the step when not.
    chosen = best_admissible()
    _, _, base_ev, base_prices = candidates[chosen]
    base_prices = base_prices or Prices.zero(dims)
    scale = 1.0
    for step in range(POLISH if any(v > 0 for v in strengths.values()) else 0):
        misses = _misses(base_ev, plain)
        if not misses or time.perf_counter() > deadline:
            finished = finished and not misses
            break
        trial = _polish_move(base_prices, max(misses, key=lambda m: m.amount), base_ev, strengths, scale)
        outcome = model.solve(trial.per_student(dims))
        latest = evaluate(net, outcome, dims)
        candidates.append((f"polish {step + 1}", outcome, latest, trial))
        if latest.top3 >= plain.top3 - slack and _violations(latest, plain)[1] < _violations(base_ev, plain)[1]:
            base_ev, base_prices = latest, trial
        else:
            scale /= 2
    chosen = best_admissible()
    label, best, ev, used = candidates[chosen]
    logger.info("calibration: %s iterates, chose %s (top3 %s, plain %s)", len(candidates), label, ev.top3, plain.top3)
    details: dict[str, Any] = {
        "objective": "rank^2 with equity bonuses" if used is not None else "plain rank^2",
        "selected": label,
        "iterates": len(candidates),
        "lexicographic": model.mode,
        "targets_missed": _violations(ev, plain)[0],
    }
    if used is not None:
        details["bonuses"] = used.to_dict(dims)
    return complete(net, best, seed), details, finished and model.certified


def _polish_move(prices: Prices, miss: Miss, ev: Evaluation, strengths: dict[str, float], scale: float) -> Prices:
    """The bonuses with one moved against a target they miss.

    Each target has one bonus that helps the group it is short for: the
    popular bonus of the high-need (or, when they are ahead, the low-need)
    tercile; the placement bonus of the tercile most over-represented among
    the unplaced; the top-three bonus of the need tercile, school or gender
    that is behind.  Bonuses stay between 0 and :data:`CAP`.
    """
    trial = prices.copy()
    need = strengths["need"] * scale
    target = miss.target
    if target in ("access low", "access high"):
        trial.popular[measures.HIGH if target == "access low" else measures.LOW] += STEP_POPULAR * need
    elif target == "unplaced":
        excess = ev.unplaced / max(int(ev.unplaced.sum()), 1) - ev.students / max(int(ev.students.sum()), 1)
        trial.placed[int(np.argmax(excess))] += STEP_PLACED * need
    else:
        dim = {"need spread": "need", "school spread": "school", "gap": "gender"}.get(target)
        if dim is None:  # worst: the dimension of the group with the lowest counted rate
            dim = ev.equity.worst.dimension if ev.equity.worst is not None else "school"
        rates = np.where(ev.counts(dim) >= measures.MIN_RANKERS, ev.rates(dim), np.inf)
        if dim == "gender":
            rates[2:] = np.inf  # the gap is female against male
        trial.top3[dim][int(np.argmin(rates))] += STEP_TOP3 * strengths[dim] * scale
    for values in (*trial.top3.values(), trial.placed, trial.popular):
        np.clip(values, 0.0, CAP, out=values)
    return trial


def _from_zero(values: F64, weights: I64) -> F64:
    """Bonuses that start at 0 for the best-off group with any pupils, at most CAP.

    Bonuses are never negative: a negative top-three bonus would make rank 4
    cheaper than rank 3 for a pupil, and could leave them below a free place
    they ranked higher.
    """
    counted = weights > 0
    lowest = float(values[counted].min()) if counted.any() else 0.0
    return np.clip(values - lowest, 0.0, CAP)


@dataclass
class _Steps:
    """Per bonus: its step size and the direction of its last move (halved when the direction turns)."""

    size: F64
    last: F64

    @classmethod
    def start(cls, n: int, size: float) -> _Steps:
        return cls(np.full(n, size), np.zeros(n))

    def move(self, values: F64, shortfall: F64, tolerance: float, damping: F64 | float = 1.0) -> None:
        direction = np.where(np.abs(shortfall) > tolerance, np.sign(shortfall), 0.0)
        turn = direction * self.last
        self.size = np.where(turn < 0, self.size / 2, np.where(turn > 0, self.size * GROW, self.size))
        values += self.size * direction * damping
        self.last = np.where(direction != 0, direction, self.last)


class _Calibration:
    """Moves the bonuses towards parity, one step per solve (see docs/allocation.md, "Calibration").

    Each bonus follows the sign of its group's shortfall against the pooled
    figure of its dimension (top-three rate among rankers; share left
    unplaced; share placed at an over-demanded place it listed), by a step
    that halves whenever the shortfall changes sign: a group's figure only
    moves one way as its bonus grows, so each bonus closes in on its parity
    point.  Bonuses are measured from the best-off group (0) and capped.
    """

    def __init__(self, dims: tuple[Dimension, ...], strengths: dict[str, float]) -> None:
        self.dims = dims
        self.strengths = strengths
        self.prices = Prices.zero(dims)
        self.top3 = {d.name: _Steps.start(len(d.labels), STEP_TOP3 * strengths[d.name]) for d in dims}
        self.placed = _Steps.start(3, STEP_PLACED * strengths["need"])
        self.popular = _Steps.start(3, STEP_POPULAR * strengths["need"])

    def update(self, ev: Evaluation, *, over_budget: bool) -> None:
        """One step from the figures of the last solve; ``over_budget``: it gave up too many top-three places."""
        prices = self.prices
        if over_budget:
            for bonus in (*prices.top3.values(), prices.placed, prices.popular):
                np.multiply(bonus, BACK_OFF, out=bonus)
            return
        for d in self.dims:
            counts = ev.counts(d.name)
            groups = np.array([g for g in d.balanced if counts[g] > 0], dtype=np.int64)
            if self.strengths[d.name] <= 0 or not len(groups):
                continue
            size = counts[groups]
            rate = ev.rates(d.name)[groups]
            pooled = float((rate * size).sum() / size.sum())
            values = prices.top3[d.name][groups]
            steps = _Steps(self.top3[d.name].size[groups], self.top3[d.name].last[groups])
            steps.move(values, pooled - rate, TOLERANCE, size / (size + SHRINK))
            self.top3[d.name].size[groups], self.top3[d.name].last[groups] = steps.size, steps.last
            prices.top3[d.name][groups] = _from_zero(values, size)
        if self.strengths["need"] <= 0:
            return
        students = ev.students
        pooled_unplaced = float(ev.unplaced.sum() / max(int(students.sum()), 1))
        self.placed.move(prices.placed, ev.unplaced / np.maximum(students, 1) - pooled_unplaced, TOLERANCE)
        prices.placed[:] = _from_zero(prices.placed, students)
        listers = ev.listers
        share = ev.popular / np.maximum(listers, 1)
        pooled_share = float(ev.popular.sum() / max(int(listers.sum()), 1))
        self.popular.move(prices.popular, np.where(listers > 0, pooled_share - share, 0.0), TOLERANCE)
        prices.popular[:] = _from_zero(prices.popular, listers)
