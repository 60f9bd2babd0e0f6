"""Groups, need weights, group outcome rates and the "what preferences allow" reference.

Three group dimensions are measured: school, gender (``female``/``male`` are
balanced; ``other`` and unknown are reported only) and need tercile (schools
sorted by ``need_index``; every student of a school falls in the same
tercile; terciles hold about a third of the students each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import max_flow

from solver.costs import MIN_WEIGHT
from solver.model import BALANCED_GENDERS, Instance
from solver.network import Network

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

NEED_GAIN = 0.3
"""With fairness.need = 1, pupils' weights run from 0.7 (lowest need) to 1.3 (highest)."""
TERCILES = ("low need", "middle need", "high need")
GENDER_LABELS = ("female", "male", "other", "unknown")


@dataclass(frozen=True)
class Dimension:
    name: str
    labels: tuple[str, ...]
    group_of: I32
    """Per student: group index."""
    balanced: tuple[int, ...]
    """Groups that calibration may reweight."""


def need_percentile(instance: Instance) -> F64:
    """Per student: mid-rank percentile of their school's need_index among all students (0..1)."""
    needs = np.array([instance.school_by_id[s.school].need_index for s in instance.students], dtype=np.float64)
    if not len(needs):
        return needs
    ordered = np.sort(needs)
    below = np.searchsorted(ordered, needs, side="left")
    upto = np.searchsorted(ordered, needs, side="right")
    return np.asarray((below + upto) / (2.0 * len(needs)), dtype=np.float64)


def need_weights(instance: Instance, strength: float) -> F64:
    q = need_percentile(instance)
    return np.maximum(MIN_WEIGHT, 1.0 + NEED_GAIN * strength * (2.0 * q - 1.0))


def need_terciles(instance: Instance) -> I32:
    """Per student: 0, 1 or 2 (low, middle, high need); all students of a school together."""
    counts: dict[str, int] = {}
    for s in instance.students:
        counts[s.school] = counts.get(s.school, 0) + 1
    total = len(instance.students)
    order = sorted(counts, key=lambda sid: (instance.school_by_id[sid].need_index, sid))
    tercile: dict[str, int] = {}
    before = 0
    for sid in order:
        middle = before + counts[sid] / 2
        tercile[sid] = min(2, int(3 * middle / total))
        before += counts[sid]
    return np.array([tercile[s.school] for s in instance.students], dtype=np.int32)


def dimensions(instance: Instance) -> tuple[Dimension, Dimension, Dimension]:
    school_pos = {s.id: i for i, s in enumerate(instance.schools)}
    school = Dimension(
        "school",
        tuple(s.id for s in instance.schools),
        np.array([school_pos[s.school] for s in instance.students], dtype=np.int32),
        tuple(range(len(instance.schools))),
    )
    gender_pos = {g: i for i, g in enumerate(GENDER_LABELS)}
    gender = Dimension(
        "gender",
        GENDER_LABELS,
        np.array([gender_pos[s.gender or "unknown"] for s in instance.students], dtype=np.int32),
        tuple(gender_pos[g] for g in BALANCED_GENDERS),
    )
    need = Dimension("need", TERCILES, need_terciles(instance), (0, 1, 2))
    return school, gender, need


@dataclass(frozen=True)
class Rates:
    counts: I64
    hits: I64

    @property
    def rates(self) -> F64:
        return np.where(self.counts > 0, self.hits / np.maximum(self.counts, 1), np.nan)


def rates(dim: Dimension, hit: npt.NDArray[np.bool_]) -> Rates:
    n = len(dim.labels)
    return Rates(
        np.bincount(dim.group_of, minlength=n).astype(np.int64),
        np.bincount(dim.group_of, weights=hit.astype(np.float64), minlength=n).astype(np.int64),
    )


def reference_top3(net: Network, dim: Dimension) -> I64:
    """Per group: how many of its pupils could be in their top three if the group were alone.

    Locked pupils count when their locked offer is among their first three
    choices; the others are matched by a maximum flow over their eligible
    rank 1-3 arcs into the free places of the round.
    """
    instance = net.instance
    n_groups = len(dim.labels)
    reference = np.zeros(n_groups, dtype=np.int64)
    for i, student in enumerate(instance.students):
        if student.locked is not None:
            rank = student.rank_of(student.locked)
            if rank is not None and rank <= 3:
                reference[dim.group_of[i]] += 1
    mask = net.r_rank <= 3
    students = net.r_student[mask].astype(np.int64)
    slots = net.r_slot[mask].astype(np.int64)
    groups = dim.group_of[students]
    order = np.argsort(groups, kind="stable")
    students, slots, groups = students[order], slots[order], groups[order]
    bounds = np.searchsorted(groups, np.arange(n_groups + 1))
    for g in range(n_groups):
        lo, hi = int(bounds[g]), int(bounds[g + 1])
        if lo == hi:
            continue
        local_students, s_index = np.unique(students[lo:hi], return_inverse=True)
        local_slots, k_index = np.unique(slots[lo:hi], return_inverse=True)
        ns = len(local_students)
        tails = np.concatenate(
            [np.zeros(ns, dtype=np.int64), 2 + s_index, 2 + ns + np.arange(len(local_slots))]
        ).astype(np.int32)
        heads = np.concatenate([2 + np.arange(ns), 2 + ns + k_index, np.ones(len(local_slots), dtype=np.int64)]).astype(
            np.int32
        )
        caps = np.concatenate([np.ones(ns + hi - lo, dtype=np.int64), net.slot_remaining[local_slots].astype(np.int64)])
        solver = max_flow.SimpleMaxFlow()
        solver.add_arcs_with_capacity(tails, heads, caps)
        solver.solve(0, 1)
        reference[g] += int(solver.optimal_flow())
    return reference
