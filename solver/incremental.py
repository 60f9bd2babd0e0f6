"""Incremental rounds: keep previous placements, move as few pupils as possible.

Given the previous result, every student whose previous placement is still
allowed (the offer exists, has places in the student's period, the student
is eligible, and an unranked placement is still within the radius) gets a
*stay* arc.  Every other arc costs an extra ``M`` larger than all other costs
together, so the solver first places as many pupils as possible (that is the
maximum flow), then keeps as many previous placements as possible, and only
then optimises preferences.  Confirmed and locked placements come in the
instance as ``locked`` and are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from solver.eligibility import ineligibility
from solver.network import Network
from solver.optimal import Stays
from solver.result import Move, Result

I64 = npt.NDArray[np.int64]


@dataclass
class Plan:
    stays: Stays
    previous: dict[int, str | None] = field(default_factory=dict)
    """Students of the previous result: their previous offer (None when unplaced)."""
    previous_period: dict[int, str] = field(default_factory=dict)
    blocked: dict[int, str] = field(default_factory=dict)
    """Students whose previous placement is no longer allowed, with the reason."""
    stay_slot: dict[int, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def plan(net: Network, previous: Result) -> Plan:
    instance = net.instance
    before = {a.student: a for a in previous.assignments}
    unplaced_before = {u.student for u in previous.unassigned}
    result = Plan(Stays(np.zeros(len(net.r_student), dtype=np.bool_), _empty(), _empty()))
    if previous.instance != instance.name:
        result.warnings.append(f'previous result is for round "{previous.instance}", this round is "{instance.name}"')
    extra_student: list[int] = []
    extra_slot: list[int] = []
    present = set()
    for i, student in enumerate(instance.students):
        present.add(student.id)
        old = before.get(student.id)
        if old is None:
            if student.id in unplaced_before:
                result.previous[i] = None
            continue
        result.previous[i] = old.offer
        result.previous_period[i] = old.period
        if student.locked is not None:
            continue
        offer = instance.offer_by_id.get(old.offer)
        if offer is None:
            result.blocked[i] = f"previous offer {old.offer} withdrawn"
            continue
        if old.period != student.period:
            result.blocked[i] = f"period changed from {old.period} to {student.period}"
            continue
        if offer.places(student.period) <= 0:
            result.blocked[i] = f"previous offer {offer.id} has no place in {student.period} any more"
            continue
        if offer.id in student.excluded_offers:
            result.blocked[i] = f"declined by employer (previous offer {offer.id})"
            continue
        why = ineligibility(student, offer)
        if why is not None:
            result.blocked[i] = f"no longer eligible for previous offer {offer.id} ({why})"
            continue
        slot = net.slot_index[student.period][offer.id]
        start, end = int(net.r_start[i]), int(net.r_start[i + 1])
        ranked = np.flatnonzero(net.r_slot[start:end] == slot)
        if len(ranked):
            result.stays.ranked[start + int(ranked[0])] = True
        elif not instance.policy.assign_unranked:
            result.blocked[i] = f"previous offer {offer.id} is unranked and unranked placements are off"
            continue
        else:
            offer_index = int(net.slot_offer[slot])
            radius = instance.radius_km(student)
            if not net.distances.within(int(net.school_of[i]), np.array([offer_index]), radius)[0]:
                result.blocked[i] = f"previous offer {offer.id} is now outside the {radius:g} km radius"
                continue
            extra_student.append(i)
            extra_slot.append(slot)
        result.stay_slot[i] = slot
    result.stays.extra_student = np.array(extra_student, dtype=np.int64)
    result.stays.extra_slot = np.array(extra_slot, dtype=np.int64)
    gone = sorted((set(before) | unplaced_before) - present)
    if gone:
        shown = ", ".join(gone[:10]) + (f" and {len(gone) - 10} more" if len(gone) > 10 else "")
        result.warnings.append(f"previous result: {len(gone)} students are not in this round ({shown})")
    return result


def _empty() -> I64:
    return np.zeros(0, dtype=np.int64)


def moves(net: Network, plan_: Plan, final_slot: I64) -> list[Move]:
    """Every student whose placement changed, with the reason."""
    instance = net.instance
    wanting = np.bincount(np.array(list(plan_.stay_slot.values()), dtype=np.int64), minlength=net.n_slots)
    out: list[Move] = []
    for i, student in enumerate(instance.students):
        slot = int(final_slot[i])
        now = instance.offers[int(net.slot_offer[slot])].id if slot >= 0 else None
        if i not in plan_.previous:
            if now is not None:
                out.append(Move(student.id, None, now, "new student"))
            continue
        before = plan_.previous[i]
        if before == now and (now is None or plan_.previous_period.get(i) == student.period):
            continue
        if student.locked is not None:
            reason = f"locked to {student.locked}"
        elif before is None:
            reason = "previously unplaced"
        elif i in plan_.blocked:
            reason = plan_.blocked[i]
        else:
            stay = plan_.stay_slot[i]
            if wanting[stay] > net.slot_remaining[stay]:
                reason = (
                    f"previous offer {before} has only {int(net.slot_remaining[stay])} free places "
                    f"in {student.period} now"
                )
            else:
                reason = "moved to place another pupil"
        out.append(Move(student.id, before, now, reason))
    return out
