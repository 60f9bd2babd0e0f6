"""The groups whose outcomes are measured and balanced: schools, genders and need terciles.

Three group dimensions are measured: school, gender (``female``/``male`` are
balanced; ``other`` and unknown are reported only) and need tercile (schools
sorted by ``need_index``; every student of a school falls in the same
tercile; terciles hold about a third of the students each).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from solver.model import BALANCED_GENDERS, Instance

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

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


def school_terciles(pupils: Mapping[str, int], need_index: Mapping[str, float]) -> dict[str, int]:
    """Each school's need tercile, 0, 1 or 2 (low, middle, high need), from its pupils and need index.

    Schools are taken in order of need index (then id); a school falls in the
    tercile of the mid-point of its pupils in that order, so that all pupils
    of a school are in one tercile.  The one definition, also for the
    anonymous statistics kept after a round's pupils are purged.
    """
    total = sum(pupils.values())
    tercile: dict[str, int] = {}
    before = 0
    for school in sorted(pupils, key=lambda sid: (need_index[sid], sid)):
        middle = before + pupils[school] / 2
        tercile[school] = min(2, int(3 * middle / total))
        before += pupils[school]
    return tercile


def need_terciles(instance: Instance) -> I32:
    """Per student: 0, 1 or 2 (low, middle, high need); all students of a school together."""
    counts = Counter(s.school for s in instance.students)
    tercile = school_terciles(counts, {sid: instance.school_by_id[sid].need_index for sid in counts})
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
