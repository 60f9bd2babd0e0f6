"""``da-reserves``: strategy-proof deferred acceptance with reserves for high-need pupils, then the fill.

The mechanism (``docs/allocation.md``, "da-reserves") has three steps:

1. **Deferred acceptance with reserves** (Hafalir, Yenmez and Yildirim
   2013), pupil-proposing, over the eligible ranked offers.  A slot with
   ``q`` free places reserves ``r = floor(share * q + 1/2)`` of them (share
   times ``q``, rounded half up) for pupils of the high-need tercile.  Its
   choice among a set of applicants: first the ``r`` best lottery numbers
   among the high-need applicants, then the best lottery numbers among all
   remaining applicants for the remaining places, so reserved places that
   no high-need pupil claims go to the others ("soft" reserves).  The
   lottery is the one of ``da`` (:func:`solver.baselines.lottery_order`:
   same seed, same numbers).
2. **Unranked places**, as in ``da``: pupils still unplaced take, in lottery
   order, the nearest eligible offer within their radius that has a free
   place.
3. **The fill**: if fewer pupils are placed than the maximum, a
   lexicographic min-cost flow (:class:`solver.optimal.CostModel` with the
   placements of steps 1-2 as stays) places the maximum, keeping as many of
   those placements as possible, then with as few unranked placements as
   possible, then by rank^2 (with the seeded jitter).  It never leaves a
   pupil of steps 1-2 unplaced and moves one only when the maximum cannot
   be reached otherwise.

Steps 1-2 are one cumulative offer process in which a slot takes pupils who
ranked it before pupils sent there by step 2.  Those choice functions are
substitutable and size-monotone, so no list gets a pupil a better place in
steps 1-2 (Hatfield and Milgrom 2005).  When the round meets the condition
of :func:`strategy_proof`, steps 1-2 place every pupil whatever anybody
lists, the fill has nothing to do, and the whole mechanism is
strategy-proof: no pupil can get an outcome they prefer by their true list
(a higher-ranked offer; any ranked offer over an unranked placement, that
over none).  Outside the condition a misreport can pay, but only through
the fill or through being left without a place.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from solver.baselines import _Index, _unranked_phase, lottery_order, profile_candidates
from solver.equity import need_terciles
from solver.flow import FlowOutcome, maximum_placements
from solver.model import Instance
from solver.network import Network
from solver.optimal import CostModel, Stays

logger = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

HIGH_NEED = 2
"""The need tercile (:func:`solver.equity.need_terciles`) that the reserves are for."""
SHARE_DENOMINATOR = 10**6
"""The share is used as the nearest fraction with at most this denominator, so reserves are exact integers."""


def high_need(instance: Instance) -> Bools:
    """Per student: in the high-need tercile."""
    return np.asarray(need_terciles(instance) == HIGH_NEED, dtype=np.bool_)


def reserve_share(instance: Instance) -> Fraction:
    """``policy.reserves.high_need_share``, by default the high-need tercile's share of all pupils of the round."""
    share = instance.policy.reserves.high_need_share
    if share is not None:
        exact = Fraction(share)
    elif instance.students:
        exact = Fraction(int(high_need(instance).sum()), len(instance.students))
    else:
        exact = Fraction(0)
    return exact.limit_denominator(SHARE_DENOMINATOR)


def reserved_places(free: I64, share: Fraction) -> I64:
    """Per slot with ``q`` free places: ``share * q`` rounded half up, ``floor(share * q + 1/2)``, exactly."""
    numerator, denominator = share.numerator, share.denominator
    return np.asarray((2 * numerator * free + denominator) // (2 * denominator), dtype=np.int64)


def deferred_acceptance_with_reserves(net: Network, order: list[int], high: Bools, reserve: I64) -> I64:
    """Pupil-proposing deferred acceptance over the ranked arcs with every slot's reserve choice function.

    ``order`` is the lottery, best first; ``reserve`` the reserved places
    per slot.  Returns per student the ranked arc (an index into
    ``net.r_*``) they hold at the end, -1 for none.  A slot holds at most its
    free places; of its high-need holders the ``reserve`` best-placed are
    *protected*, and a proposal beyond capacity rejects the worst-placed
    unprotected holder.  That is the choice function of the module docstring
    applied to the holders and the new applicant, which rejects exactly one
    of them; since it is substitutable, a rejected pupil is never chosen
    again and the order of proposals does not change the result.
    """
    n = net.n_students
    position = np.empty(n, dtype=np.int64)
    position[np.array(order, dtype=np.int64)] = np.arange(n)
    rank_of = position.tolist()
    is_high = high.tolist()
    reserved = reserve.tolist()
    capacity = net.slot_remaining.tolist()
    r_slot = net.r_slot.tolist()
    ends = net.r_start[1:].tolist()
    next_arc = net.r_start[:-1].tolist()
    # Max-heaps on lottery position, (-position, student, arc): the worst-placed holder is on top.
    protected: list[list[tuple[int, int, int]]] = [[] for _ in range(net.n_slots)]
    others: list[list[tuple[int, int, int]]] = [[] for _ in range(net.n_slots)]
    queue = deque(i for i in order if next_arc[i] < ends[i])
    while queue:
        i = queue.popleft()
        arc = next_arc[i]
        if arc >= ends[i]:
            continue  # rejected by every eligible ranked offer
        next_arc[i] = arc + 1
        slot = r_slot[arc]
        entry = (-rank_of[i], i, arc)
        if is_high[i] and len(protected[slot]) < reserved[slot]:
            heapq.heappush(protected[slot], entry)
        else:
            if is_high[i] and reserved[slot] and entry > protected[slot][0]:
                entry = heapq.heapreplace(protected[slot], entry)  # the displaced one competes unprotected
            heapq.heappush(others[slot], entry)
        if len(protected[slot]) + len(others[slot]) > capacity[slot]:
            _, rejected, _ = heapq.heappop(others[slot])
            queue.append(rejected)
    held = np.full(n, -1, dtype=np.int64)
    for heap in (*protected, *others):
        for _, i, arc in heap:
            held[i] = arc
    return held


def strategy_proof(net: Network) -> bool:
    """Whether the round meets the condition under which ``da-reserves`` is strategy-proof.

    The condition: unranked placements are on and every free (not locked)
    pupil is eligible for, and within their radius of, at least as many
    free places of their period as the period has free pupils.  Then a
    pupil whom no ranked offer holds finds a free place in step 2 whatever
    anybody lists (the places open to them cannot all be full of other
    pupils), so steps 1-2 place everyone and the fill changes nothing.  The
    condition depends only on eligibility, distances and capacities, never
    on the preferences.  It is sufficient, not necessary.
    """
    free = net.locked_slot < 0
    if bool((net.profile_of[free] < 0).any()):
        return False
    pupils = np.bincount(net.student_period[free], minlength=len(net.instance.periods))
    profiles = net.unranked.profiles
    index = _Index(net)
    for profile in np.unique(net.profile_of[free]).tolist():
        open_places = int(net.slot_remaining[profile_candidates(net, profile, index=index)].sum())
        if open_places < pupils[net.period_index[profiles[profile].period]]:
            return False
    return True


def allocate(net: Network, seed: int) -> tuple[FlowOutcome, dict[str, Any], bool]:
    """Run ``da-reserves`` (the three steps of the module docstring).

    Returns the outcome, the calibration details and whether the outcome is
    complete: always, except when the fill ran and could not be certified as
    the lexicographic optimum (see :class:`solver.optimal.CostModel`).
    """
    instance = net.instance
    n = net.n_students
    share = reserve_share(instance)
    reserve = reserved_places(net.slot_remaining, share)
    order = lottery_order(net, seed)
    arc = deferred_acceptance_with_reserves(net, order, high_need(instance), reserve)
    held = np.flatnonzero(arc >= 0)
    slot_of = np.full(n, -1, dtype=np.int64)
    slot_of[held] = net.r_slot[arc[held]]
    rank = np.zeros(n, dtype=np.int64)
    rank[held] = net.r_rank[arc[held]]
    free = net.slot_remaining - np.bincount(slot_of[held], minlength=net.n_slots)
    unranked = _unranked_phase(net, order, slot_of, free)
    outcome = FlowOutcome(slot_of, unranked, rank, int((slot_of >= 0).sum()), 0)
    details: dict[str, Any] = {
        "mechanism": "da-reserves",
        "high_need_share": round(float(share), 6),
        "reserved_places": int(reserve.sum()),
        "strategy_proof": strategy_proof(net),
        "fill_placed": 0,
        "fill_moved": 0,
        "lexicographic": "fill not needed",
    }
    complete = True
    if outcome.placed < maximum_placements(net):
        stay_ranked = np.zeros(len(net.r_student), dtype=np.bool_)
        stay_ranked[arc[held]] = True
        extra = np.flatnonzero(unranked)
        with CostModel(net, seed, Stays(stay_ranked, extra, slot_of[extra])) as model:
            filled = model.solve(share=True)
        details["fill_placed"] = filled.placed - outcome.placed
        details["fill_moved"] = int(((slot_of >= 0) & (filled.slot_of != slot_of)).sum())
        details["lexicographic"] = model.mode
        outcome, complete = filled, model.certified
    logger.info(
        "da-reserves: %s reserved places (share %s), %s placed by steps 1-2, %s more by the fill (%s moved)",
        details["reserved_places"], details["high_need_share"], len(held) + int(unranked.sum()),
        details["fill_placed"], details["fill_moved"],
    )  # fmt: skip
    return outcome, details, complete
