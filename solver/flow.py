"""Maximum flow of minimum cost over the eligibility graph (OR-Tools).

``solve_max_flow_with_min_cost`` first finds the largest number of students
that can be placed and then, among all such placements, one of least cost:
"placed first" needs no big-M constant.

Nodes: sink, one per student, slot, profile, hub and cell (see
:mod:`solver.unranked`).  Arcs: student -> slot (ranked, capacity 1),
student -> profile (unranked, capacity 1), profile -> hub, hub -> cell,
hub -> slot, cell -> slot, slot -> sink (capacity = free places), and
optional direct student -> slot arcs that incremental rounds use to keep a
previous unranked placement.  Students have supply 1, the sink absorbs.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import max_flow, min_cost_flow

from solver.costs import COST_LIMIT, JITTER, hash64, jitter
from solver.network import Network

logger = logging.getLogger(__name__)

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

SECTOR_ABSENT = 1000
"""Sector cost of a sector that none of the pupil's ranked offers belongs to."""


class SolverError(RuntimeError):
    """The flow solver failed (it should not: this indicates a bug)."""


@dataclass
class ArcCosts:
    ranked: I64
    """Per ranked arc (network order)."""
    unranked: I64
    """Per student: cost of the student -> profile arc (ignored without a profile)."""
    hub_cell: I64
    hub_slot: I64
    cell_slot: I64
    extra_student: I64
    extra_slot: I64
    extra_cost: I64


@dataclass
class FlowOutcome:
    slot_of: I64
    """Per student: assigned slot, -1 when not placed by the flow (locked students: -1)."""
    unranked: npt.NDArray[np.bool_]
    rank: I64
    """Per student: rank of the placement (0 when unranked or not placed by the flow)."""
    placed: int
    cost: int
    pending: tuple[I64, I64, I64, I64, I64] | None = None
    """Flows through profiles, hubs and cells not yet shared out (see :func:`complete`)."""


@dataclass
class _Layout:
    tails: I32
    heads: I32
    capacities: I64
    sp_student: I64
    supply_nodes: I32
    arc_period: I32
    node_period: I32
    sizes: list[int]
    """Number of arcs of each block, in order: ranked, student-profile, profile-hub,
    hub-cell, hub-slot, cell-slot, slot-sink, extra."""


def _layout(net: Network, extra_student: I64, extra_slot: I64) -> _Layout:
    g = net.unranked
    n, s = net.n_students, net.n_slots
    n_profiles = len(g.profiles)
    p0 = 1 + n + s
    h0 = p0 + n_profiles
    c0 = h0 + g.n_hubs
    free = net.locked_slot < 0
    sp_student = np.flatnonzero(free & (g.profile_of >= 0)).astype(np.int64)
    profile_size = np.bincount(g.profile_of[sp_student], minlength=n_profiles).astype(np.int64)
    hub_demand = np.bincount(g.ph_hub, weights=profile_size[g.ph_profile], minlength=g.n_hubs).astype(np.int64)
    remaining = net.slot_remaining
    cell_capacity = np.bincount(g.cs_cell, weights=remaining[g.cs_slot], minlength=g.n_cells).astype(np.int64)
    blocks = [
        (
            1 + net.r_student.astype(np.int64),
            1 + n + net.r_slot.astype(np.int64),
            np.ones(len(net.r_student), dtype=np.int64),
        ),
        (1 + sp_student, p0 + g.profile_of[sp_student].astype(np.int64), np.ones(len(sp_student), dtype=np.int64)),
        (p0 + g.ph_profile.astype(np.int64), h0 + g.ph_hub.astype(np.int64), profile_size[g.ph_profile]),
        (
            h0 + g.hc_hub.astype(np.int64),
            c0 + g.hc_cell.astype(np.int64),
            np.minimum(hub_demand[g.hc_hub], cell_capacity[g.hc_cell]),
        ),
        (
            h0 + g.hs_hub.astype(np.int64),
            1 + n + g.hs_slot.astype(np.int64),
            np.minimum(hub_demand[g.hs_hub], remaining[g.hs_slot]),
        ),
        (c0 + g.cs_cell.astype(np.int64), 1 + n + g.cs_slot.astype(np.int64), remaining[g.cs_slot]),
        (1 + n + np.arange(s, dtype=np.int64), np.zeros(s, dtype=np.int64), remaining),
        (1 + extra_student, 1 + n + extra_slot, np.ones(len(extra_student), dtype=np.int64)),
    ]
    has_arc = np.zeros(n, dtype=np.bool_)
    has_arc[net.r_student] = True
    has_arc[sp_student] = True
    has_arc[extra_student] = True
    node_period = np.concatenate(
        [
            np.full(1, -1, dtype=np.int32),
            net.student_period,
            net.slot_period_index,
            np.array([net.period_index[p.period] for p in g.profiles], dtype=np.int32),
            g.hub_period,
            g.cell_period,
        ]
    ).astype(np.int32)
    tails = np.concatenate([b[0] for b in blocks]).astype(np.int32)
    return _Layout(
        tails=tails,
        heads=np.concatenate([b[1] for b in blocks]).astype(np.int32),
        capacities=np.concatenate([b[2] for b in blocks]).astype(np.int64),
        sp_student=sp_student,
        supply_nodes=(np.flatnonzero(has_arc) + 1).astype(np.int32),
        arc_period=node_period[tails],
        node_period=node_period,
        sizes=[len(b[0]) for b in blocks],
    )


PARALLEL_MIN_ARCS = 400_000
"""Smaller networks solve their periods one after another: starting worker processes would cost more."""


def _solve_period(tails: I32, heads: I32, capacities: I64, costs: I64, supply: I32) -> tuple[I64, int, int]:
    """One period's maximum flow of minimum cost: flows per arc, units placed, cost (a worker process's task)."""
    top = int(costs.max(initial=0))
    n_nodes = int(max(int(tails.max(initial=0)), int(heads.max(initial=0)))) + 1
    if top * (n_nodes + 1) > COST_LIMIT:  # pragma: no cover - CostModel keeps costs in range
        raise SolverError(f"arc costs up to {top} are too large for {n_nodes} nodes")
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    solver.set_nodes_supplies(supply, np.ones(len(supply), dtype=np.int64))
    solver.set_node_supply(0, -len(supply))
    status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:  # pragma: no cover - OR-Tools failure
        raise SolverError(f"min-cost flow failed with status {status}")
    flows = np.asarray(solver.flows(np.arange(len(tails), dtype=np.int32)), dtype=np.int64)
    return flows, int(solver.maximum_flow()), int(solver.optimal_cost())


def _processes(n_arcs: int, n_periods: int) -> int:
    if n_arcs < PARALLEL_MIN_ARCS or n_periods < 2:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), n_periods))


@dataclass
class _Period:
    arcs: I32
    """The period's arcs (network order)."""
    tails: I32
    heads: I32
    supply: I32
    """Compact node numbers (sink 0): they keep OR-Tools' arrays and its cost-range check small."""
    capacities: I64


class PeriodFlows:
    """The flow problem of a network, laid out once and solved for any arc costs.

    Periods do not interact (a student and the places open to them are all
    in the student's period), so each period is its own problem.  On a
    machine with several cores, a large network solves them side by side in
    worker processes (OR-Tools keeps the interpreter lock while it solves);
    the answer is the same either way.  Use as a context manager, or call
    :meth:`close`, to stop the workers.
    """

    def __init__(self, net: Network, extra_student: I64, extra_slot: I64) -> None:
        self.net = net
        self.extra_student = extra_student
        self.extra_slot = extra_slot
        self.layout = layout = _layout(net, extra_student, extra_slot)
        self.periods: list[_Period] = []
        self.nodes = np.zeros(len(net.instance.periods), dtype=np.int64)
        """Number of flow nodes of each period (0 for a period without students)."""
        supply_period = layout.node_period[layout.supply_nodes]
        for period in range(int(layout.node_period.max(initial=-1)) + 1):
            supply = layout.supply_nodes[supply_period == period]
            if not len(supply):
                continue
            arcs = np.flatnonzero(layout.arc_period == period).astype(np.int32)
            nodes = np.unique(np.concatenate([[0], layout.tails[arcs], layout.heads[arcs]]).astype(np.int64))
            self.periods.append(
                _Period(
                    arcs,
                    np.searchsorted(nodes, layout.tails[arcs]).astype(np.int32),
                    np.searchsorted(nodes, layout.heads[arcs]).astype(np.int32),
                    np.searchsorted(nodes, supply).astype(np.int32),
                    layout.capacities[arcs],
                )
            )
            self.nodes[period] = len(nodes)
        self.processes = _processes(len(layout.tails), len(self.periods))
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> PeriodFlows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _run(self, unit: I64) -> list[tuple[I64, int, int]]:
        tasks = [(p.tails, p.heads, p.capacities, unit[p.arcs], p.supply) for p in self.periods]
        if self.processes <= 1:
            return [_solve_period(*task) for task in tasks]
        if self._pool is None:
            # fork: the workers only run OR-Tools on the arrays they are handed, and
            # (unlike spawn) do not import the caller's main module again.
            self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("fork"))
        # The largest periods first, so that no core waits for the last one alone.
        order = sorted(range(len(tasks)), key=lambda k: -len(tasks[k][0]))
        futures = {k: self._pool.submit(_solve_period, *tasks[k]) for k in order}
        return [futures[k].result() for k in range(len(tasks))]

    def solve(self, costs: ArcCosts, seed: int, *, share: bool = True) -> FlowOutcome:
        """Maximum placements at minimum cost, then unranked places shared within profiles.

        ``costs`` must use this layout's extra arcs.  With ``share=False`` the
        unranked places are left to :func:`complete`.
        """
        net = self.net
        layout = self.layout
        sizes = layout.sizes
        unit = np.concatenate(
            [
                costs.ranked,
                costs.unranked[layout.sp_student],
                np.zeros(sizes[2], dtype=np.int64),
                costs.hub_cell,
                costs.hub_slot,
                costs.cell_slot,
                np.zeros(sizes[6], dtype=np.int64),
                costs.extra_cost,
            ]
        )
        flows = np.zeros(len(layout.tails), dtype=np.int64)
        placed = 0
        total = 0
        for period, (period_flows, units, cost) in zip(self.periods, self._run(unit), strict=True):
            flows[period.arcs] = period_flows
            placed += units
            total += cost
        bounds = np.cumsum([0, *sizes])
        part = [flows[bounds[k] : bounds[k + 1]] for k in range(len(sizes))]
        n = net.n_students
        slot_of = np.full(n, -1, dtype=np.int64)
        rank = np.zeros(n, dtype=np.int64)
        unranked = np.zeros(n, dtype=np.bool_)
        chosen = part[0] > 0
        slot_of[net.r_student[chosen]] = net.r_slot[chosen]
        rank[net.r_student[chosen]] = net.r_rank[chosen]
        stay = part[7] > 0
        slot_of[self.extra_student[stay]] = self.extra_slot[stay]
        unranked[self.extra_student[stay]] = True
        in_profile = layout.sp_student[part[1] > 0]
        unranked[in_profile] = True
        logger.debug("flow placed %s students at cost %s", placed, total)
        outcome = FlowOutcome(slot_of, unranked, rank, placed, total, (in_profile, part[2], part[3], part[4], part[5]))
        return complete(net, outcome, seed) if share else outcome


def maximum_placements(net: Network) -> int:
    """Size of a maximum flow through the eligibility graph (free students only)."""
    empty = np.zeros(0, dtype=np.int64)
    layout = _layout(net, empty, empty)
    source = 1 + net.n_students + net.n_slots + len(net.unranked.profiles) + net.unranked.n_hubs
    source += net.unranked.n_cells
    starts = layout.supply_nodes
    solver = max_flow.SimpleMaxFlow()
    solver.add_arcs_with_capacity(
        np.concatenate([layout.tails, np.full(len(starts), source, dtype=np.int32)]),
        np.concatenate([layout.heads, starts]),
        np.concatenate([layout.capacities, np.ones(len(starts), dtype=np.int64)]),
    )
    status = solver.solve(source, 0)
    if status != solver.OPTIMAL:  # pragma: no cover - OR-Tools failure
        raise SolverError(f"max flow failed with status {status}")
    return int(solver.optimal_flow())


def complete(net: Network, outcome: FlowOutcome, seed: int) -> FlowOutcome:
    """Share the unranked places of each profile among its students (once)."""
    if outcome.pending is not None:
        in_profile, ph, hc, hs, cs = outcome.pending
        outcome.pending = None
        if len(in_profile):
            _distribute(net, in_profile, _decompose(net, ph, hc, hs, cs), outcome.slot_of, seed)
    return outcome


def _decompose(net: Network, ph_flow: I64, hc_flow: I64, hs_flow: I64, cs_flow: I64) -> dict[int, list[int]]:
    """Slots received by each profile (one entry per place), from the flows through hubs and cells.

    Every slot reached through a cell or hub is open to every profile feeding
    it, so any decomposition of the flow is valid; this one is deterministic.
    """
    g = net.unranked
    cell_out: defaultdict[int, list[int]] = defaultdict(list)
    for arc in np.flatnonzero(cs_flow).tolist():
        cell_out[int(g.cs_cell[arc])].extend([int(g.cs_slot[arc])] * int(cs_flow[arc]))
    hub_slots: defaultdict[int, list[int]] = defaultdict(list)
    for arc in np.flatnonzero(hs_flow).tolist():
        hub_slots[int(g.hs_hub[arc])].extend([int(g.hs_slot[arc])] * int(hs_flow[arc]))
    cell_used: defaultdict[int, int] = defaultdict(int)
    for arc in np.flatnonzero(hc_flow).tolist():
        cell = int(g.hc_cell[arc])
        units = int(hc_flow[arc])
        start = cell_used[cell]
        hub_slots[int(g.hc_hub[arc])].extend(cell_out[cell][start : start + units])
        cell_used[cell] = start + units
    received: defaultdict[int, list[int]] = defaultdict(list)
    hub_used: defaultdict[int, int] = defaultdict(int)
    for arc in np.flatnonzero(ph_flow).tolist():
        hub = int(g.ph_hub[arc])
        units = int(ph_flow[arc])
        start = hub_used[hub]
        received[int(g.ph_profile[arc])].extend(hub_slots[hub][start : start + units])
        hub_used[hub] = start + units
    return received


def sector_costs(net: Network, student: int) -> dict[str, int]:
    """Position of the first ranked offer of each sector in a student's preferences."""
    offers = net.instance.offer_by_id
    out: dict[str, int] = {}
    for position, offer_id in enumerate(net.instance.students[student].preferences):
        out.setdefault(offers[offer_id].sector, position)
    return out


def _distribute(net: Network, students: I64, received: dict[int, list[int]], slot_of: I64, seed: int) -> None:
    """Give each profile's unranked places to its students, preferred sectors first.

    Within a profile every place is open to every student on the same terms,
    so any sharing keeps the flow optimal; a small min-cost flow picks the one
    that gives most pupils a sector they ranked (earliest-ranked sector first).
    """
    instance = net.instance
    offers = instance.offers
    g = net.unranked
    ids = [instance.students[i].id for i in students.tolist()]
    order_key = hash64(seed, "share", ids)
    by_profile: defaultdict[int, list[int]] = defaultdict(list)
    for position in np.lexsort((students, order_key)).tolist():
        by_profile[int(g.profile_of[students[position]])].append(int(students[position]))
    units: defaultdict[tuple[int, str], list[int]] = defaultdict(list)
    for profile in sorted(received):
        home = g.profiles[profile].school
        km = net.distances.spherical(home)
        places = sorted(received[profile], key=lambda slot: (km[int(net.slot_offer[slot])], slot))
        for slot in places:
            units[(profile, offers[int(net.slot_offer[slot])].sector)].append(slot)
    groups = sorted(units)
    group_index = {grp: k for k, grp in enumerate(groups)}
    sectors_of: defaultdict[int, list[str]] = defaultdict(list)
    for profile, sector in groups:
        sectors_of[profile].append(sector)
    sector_hash = hash64(seed, "sector", [f"{p}\x1f{s}" for p, s in groups])
    tails: list[int] = []
    heads: list[int] = []
    arc_cost: list[int] = []
    arc_student: list[int] = []
    arc_group: list[int] = []
    members = [i for profile in sorted(by_profile) for i in by_profile[profile]]
    node_of = {student: k + 1 for k, student in enumerate(members)}
    first_group = 1 + len(members)
    for profile in sorted(by_profile):
        for student in by_profile[profile]:
            preferred = sector_costs(net, student)
            for sector in sectors_of[profile]:
                k = group_index[(profile, sector)]
                tails.append(node_of[student])
                heads.append(first_group + k)
                arc_cost.append(preferred.get(sector, SECTOR_ABSENT) * JITTER)
                arc_student.append(student)
                arc_group.append(k)
    student_hash = hash64(seed, "sector-pupil", [instance.students[i].id for i in arc_student])
    cost = np.array(arc_cost, dtype=np.int64) + jitter(student_hash, sector_hash[np.array(arc_group, dtype=np.int64)])
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        np.array(tails + [first_group + k for k in range(len(groups))], dtype=np.int32),
        np.array(heads + [0] * len(groups), dtype=np.int32),
        np.array([1] * len(tails) + [len(units[grp]) for grp in groups], dtype=np.int64),
        np.concatenate([cost, np.zeros(len(groups), dtype=np.int64)]),
    )
    solver.set_nodes_supplies(np.arange(1, first_group, dtype=np.int32), np.ones(len(members), dtype=np.int64))
    solver.set_node_supply(0, -len(members))
    status = solver.solve()
    if status != solver.OPTIMAL:  # pragma: no cover - the supplies always balance
        raise SolverError(f"sharing unranked places failed with status {status}")
    flows = np.asarray(solver.flows(np.arange(len(tails), dtype=np.int32)))
    takers: defaultdict[int, list[int]] = defaultdict(list)
    for arc in np.flatnonzero(flows).tolist():
        takers[arc_group[arc]].append(arc_student[arc])
    rank_in_share = {student: k for k, student in enumerate(members)}
    for k, grp in enumerate(groups):
        for student, slot in zip(sorted(takers[k], key=rank_in_share.__getitem__), units[grp], strict=True):
            slot_of[student] = slot
