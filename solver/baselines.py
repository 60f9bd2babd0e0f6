"""Baselines in the same engine: first-come-first-served and deferred acceptance.

Both run on the same eligibility graph as the optimiser (same eligibility,
same locked placements, same radius), so their results are comparable.

* **FCFS**: pupils are served in order of arrival; each takes their best
  eligible ranked offer with a free place.  The arrival order is derived from
  the seed, biased by need: ``arrival = u + FCFS_NEED_BIAS * q`` where ``u`` is
  a seeded uniform number per pupil and ``q`` the need percentile of the
  pupil's school, so pupils of better-resourced schools tend to arrive
  earlier (as they do in practice).
* **DA**: student-proposing deferred acceptance with single tie-breaking:
  one seeded lottery number per pupil, every (offer, period) ranks pupils by
  it and holds at most its free places.

Afterwards, when ``assign_unranked`` is on, pupils still unplaced get the
nearest eligible offer within the radius that has a free place, in the same
order (arrival order for FCFS, lottery order for DA).
"""

from __future__ import annotations

import heapq
from collections import deque

import numpy as np
import numpy.typing as npt

from solver.costs import hash64, uniform
from solver.equity import need_percentile
from solver.flow import FlowOutcome
from solver.network import Network

I64 = npt.NDArray[np.int64]

FCFS_NEED_BIAS = 1.0


def arrival_order(net: Network, seed: int) -> list[int]:
    """FCFS arrival order (student indices, first arrival first)."""
    instance = net.instance
    u = uniform(hash64(seed, "arrival", [s.id for s in instance.students]))
    key = u + FCFS_NEED_BIAS * need_percentile(instance)
    return [int(i) for i in np.lexsort((np.arange(len(key)), key))]


def lottery_order(net: Network, seed: int) -> list[int]:
    """DA lottery order (student indices, best lottery number first)."""
    lottery = hash64(seed, "lottery", [s.id for s in net.instance.students])
    return [int(i) for i in np.lexsort((np.arange(len(lottery)), lottery))]


def _outcome(net: Network, slot_of: I64, rank: I64, unranked: npt.NDArray[np.bool_]) -> FlowOutcome:
    return FlowOutcome(slot_of, unranked, rank, int((slot_of >= 0).sum()), 0)


def first_come_first_served(net: Network, seed: int) -> FlowOutcome:
    order = arrival_order(net, seed)
    n = net.n_students
    slot_of = np.full(n, -1, dtype=np.int64)
    rank = np.zeros(n, dtype=np.int64)
    free = net.slot_remaining.copy()
    for i in order:
        start, end = int(net.r_start[i]), int(net.r_start[i + 1])
        for arc in range(start, end):
            slot = int(net.r_slot[arc])
            if free[slot] > 0:
                free[slot] -= 1
                slot_of[i] = slot
                rank[i] = int(net.r_rank[arc])
                break
    unranked = _unranked_phase(net, order, slot_of, free)
    return _outcome(net, slot_of, rank, unranked)


def deferred_acceptance(net: Network, seed: int) -> FlowOutcome:
    order = lottery_order(net, seed)
    n = net.n_students
    position = np.empty(n, dtype=np.int64)
    position[np.array(order, dtype=np.int64)] = np.arange(n)
    next_arc = net.r_start[:-1].copy()
    held: list[list[tuple[int, int, int]]] = [[] for _ in range(net.n_slots)]
    queue = deque(i for i in order if net.r_start[i] < net.r_start[i + 1])
    while queue:
        i = queue.popleft()
        arc = int(next_arc[i])
        if arc >= net.r_start[i + 1]:
            continue  # rejected by every eligible ranked offer
        next_arc[i] += 1
        slot = int(net.r_slot[arc])
        # Max-heap on lottery position: the worst-placed holder is on top.
        heapq.heappush(held[slot], (-int(position[i]), i, arc))
        if len(held[slot]) > net.slot_remaining[slot]:
            _, rejected, _ = heapq.heappop(held[slot])
            queue.append(rejected)
    slot_of = np.full(n, -1, dtype=np.int64)
    rank = np.zeros(n, dtype=np.int64)
    free = net.slot_remaining.copy()
    for slot, holders in enumerate(held):
        for _, i, arc in holders:
            slot_of[i] = slot
            rank[i] = int(net.r_rank[arc])
            free[slot] -= 1
    unranked = _unranked_phase(net, order, slot_of, free)
    return _outcome(net, slot_of, rank, unranked)


def _ranges(starts: I64, ends: I64) -> I64:
    """Concatenated ``arange(starts[k], ends[k])`` for every k (vectorised)."""
    counts = ends - starts
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return np.asarray(offsets + np.arange(int(counts.sum()), dtype=np.int64), dtype=np.int64)


class _Index:
    """Where each profile's, hub's and cell's arcs start (the arc lists are sorted by their tails)."""

    def __init__(self, net: Network) -> None:
        g = net.unranked

        def starts(tails: npt.NDArray[np.int32], count: int) -> I64:
            return np.searchsorted(tails.astype(np.int64), np.arange(count + 1, dtype=np.int64)).astype(np.int64)

        self.ph = starts(g.ph_profile, len(g.profiles))
        self.hs = starts(g.hs_hub, g.n_hubs)
        self.hc = starts(g.hc_hub, g.n_hubs)
        self.cs = starts(g.cs_cell, g.n_cells)


def profile_candidates(net: Network, profile: int, free: I64 | None = None, index: _Index | None = None) -> I64:
    """Every slot open to a profile's unranked placements (with a free place, if ``free`` is given), nearest first."""
    g = net.unranked
    index = index or _Index(net)
    hubs = g.ph_hub[index.ph[profile] : index.ph[profile + 1]].astype(np.int64)
    direct = _ranges(index.hs[hubs], index.hs[hubs + 1])
    cells = g.hc_cell[_ranges(index.hc[hubs], index.hc[hubs + 1])].astype(np.int64)
    through = _ranges(index.cs[cells], index.cs[cells + 1])
    # Offer types are disjoint and so are a hub's cells and direct slots: no slot appears twice.
    slots = np.concatenate([g.hs_slot[direct], g.cs_slot[through]]).astype(np.int64)
    if free is not None:
        slots = slots[free[slots] > 0]
    km = net.distances.spherical(g.profiles[profile].school)[net.slot_offer[slots]]
    return np.asarray(slots[np.lexsort((slots, km))], dtype=np.int64)


def _unranked_phase(net: Network, order: list[int], slot_of: I64, free: I64) -> npt.NDArray[np.bool_]:
    """Unplaced pupils, in ``order``, take the nearest eligible unranked offer with a free place.

    Places only fill up, so each profile keeps a pointer past the places
    found full; candidate lists hold only the places free when the phase
    starts, as compact arrays.
    """
    unranked = np.zeros(net.n_students, dtype=np.bool_)
    index = _Index(net)
    candidates: dict[int, I64] = {}
    pointer: dict[int, int] = {}
    for i in order:
        profile = int(net.profile_of[i])
        if slot_of[i] >= 0 or profile < 0:
            continue
        if profile not in candidates:
            candidates[profile] = profile_candidates(net, profile, free, index)
            pointer[profile] = 0
        slots = candidates[profile]
        k = pointer[profile]
        open_ = np.flatnonzero(free[slots[k:]] > 0)
        if not len(open_):
            pointer[profile] = len(slots)
            continue
        k += int(open_[0])
        pointer[profile] = k
        slot = int(slots[k])
        free[slot] -= 1
        slot_of[i] = slot
        unranked[i] = True
    return unranked
