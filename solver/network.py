"""The eligibility graph of a round, built only over the arcs that are needed.

*Slots* are (offer, period) pairs with places; their remaining capacity is
the capacity minus the locked placements.  *Ranked arcs* join a free
(non-locked) student to each slot of an offer they ranked and are eligible
for.  Unranked options would be dense (students x offers within the radius),
so they are aggregated into profiles, hubs and grid cells
(:mod:`solver.unranked`).  Ineligible ranked offers give a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from solver.eligibility import ineligibility
from solver.geo import Distances
from solver.model import Instance
from solver.unranked import UnrankedGraph, build_unranked

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]


@dataclass
class Network:
    instance: Instance
    distances: Distances
    school_of: I32
    locked_slot: I64
    locked_rank: I64
    """Per student: rank of the locked offer in their preferences (0 when not locked or not ranked)."""
    slot_offer: I32
    slot_period: list[str]
    slot_capacity: I64
    slot_remaining: I64
    slot_index: dict[str, dict[str, int]]
    period_index: dict[str, int]
    student_period: I32
    slot_period_index: I32
    r_student: I32
    r_slot: I32
    r_rank: I32
    r_start: I64
    unranked: UnrankedGraph
    warnings: list[str]

    @property
    def n_students(self) -> int:
        return len(self.instance.students)

    @property
    def n_slots(self) -> int:
        return len(self.slot_offer)

    @property
    def profile_of(self) -> I32:
        return self.unranked.profile_of


def build_network(instance: Instance) -> Network:
    students = instance.students
    offers = instance.offers
    school_pos = {s.id: i for i, s in enumerate(instance.schools)}

    # Slots in offer order, then period order of the instance.
    period_order = [p.id for p in instance.periods]
    period_pos = {p: k for k, p in enumerate(period_order)}
    slot_offer: list[int] = []
    slot_period: list[str] = []
    slot_capacity: list[int] = []
    slot_index: dict[str, dict[str, int]] = {p: {} for p in period_order}
    for oi, offer in enumerate(offers):
        for period in period_order:
            places = offer.places(period)
            if places > 0:
                slot_index[period][offer.id] = len(slot_offer)
                slot_offer.append(oi)
                slot_period.append(period)
                slot_capacity.append(places)
    capacity = np.array(slot_capacity, dtype=np.int64)
    remaining = capacity.copy()
    locked_slot = np.full(len(students), -1, dtype=np.int64)
    locked_rank = np.zeros(len(students), dtype=np.int64)
    for i, student in enumerate(students):
        if student.locked is not None:
            slot = slot_index[student.period][student.locked]
            locked_slot[i] = slot
            locked_rank[i] = student.rank_of(student.locked) or 0
            remaining[slot] -= 1

    # Ranked arcs, in student order and rank order.
    warnings: list[str] = []
    r_student: list[int] = []
    r_slot: list[int] = []
    r_rank: list[int] = []
    r_start = np.zeros(len(students) + 1, dtype=np.int64)
    offer_by_id = instance.offer_by_id
    simple = {o.id: o.min_age is None and not o.requires and o.schools is None for o in offers}
    for i, student in enumerate(students):
        if student.locked is None:
            in_period = slot_index[student.period]
            excluded = student.excluded_offers
            for rank, offer_id in enumerate(student.preferences, start=1):
                target = in_period.get(offer_id)
                reason: str | None = None
                if target is None or not simple[offer_id] or offer_id in excluded:
                    reason = ineligibility(student, offer_by_id[offer_id])
                if reason is None:
                    assert target is not None
                    r_student.append(i)
                    r_slot.append(target)
                    r_rank.append(rank)
                else:
                    warnings.append(
                        f"students[{i}] ({student.id}): not eligible for ranked offer {offer_id} ({reason})"
                    )
        r_start[i + 1] = len(r_student)

    distances = Distances(instance.schools, offers)
    school_of = np.array([school_pos[s.school] for s in students], dtype=np.int32)
    slot_offer_array = np.array(slot_offer, dtype=np.int32)
    graph = build_unranked(
        instance,
        distances=distances,
        slot_index=slot_index,
        slot_offer=slot_offer_array,
        remaining=remaining,
        school_of=school_of,
    )
    return Network(
        instance=instance,
        distances=distances,
        school_of=school_of,
        locked_slot=locked_slot,
        locked_rank=locked_rank,
        slot_offer=slot_offer_array,
        slot_period=slot_period,
        slot_capacity=capacity,
        slot_remaining=remaining,
        slot_index=slot_index,
        period_index=period_pos,
        student_period=np.array([period_pos[s.period] for s in students], dtype=np.int32),
        slot_period_index=np.array([period_pos[p] for p in slot_period], dtype=np.int32),
        r_student=np.array(r_student, dtype=np.int32),
        r_slot=np.array(r_slot, dtype=np.int32),
        r_rank=np.array(r_rank, dtype=np.int32),
        r_start=r_start,
        unranked=graph,
        warnings=warnings,
    )
