"""Integer arc costs: rank cost, distance, seeded jitter.

All numbers here are documented in ``docs/allocation.md`` ("Precise form").
Hashes use BLAKE2b, never Python's ``hash()``, so that the same file and
seed give the same costs in every process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

RANK_SCALE = 100
"""The cost of a placement at rank r is RANK_SCALE * r^2."""
JITTER = 16
"""Seeded tie-breaking noise per arc is in [0, JITTER)."""
DISTANCE_STEPS = 100
"""The distance term of an unranked arc is round(DISTANCE_STEPS * km / radius), at most DISTANCE_STEPS."""
COST_LIMIT = 10**18
"""Largest arc cost times (nodes + 1) that OR-Tools' min-cost flow accepts with a safe margin."""

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def hash64(seed: int, kind: str, ids: Sequence[str]) -> U64:
    """A 64-bit hash of (seed, kind, id) for each id."""
    prefix = f"{seed}\x1f{kind}\x1f".encode()
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(prefix + ident.encode(), digest_size=8).digest(), "little") for ident in ids),
        dtype=np.uint64,
        count=len(ids),
    )


def mix(a: U64, b: U64) -> U64:
    """SplitMix64 finaliser of ``a`` combined with ``b`` (element-wise, wrapping)."""
    z = a ^ (b * _GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def jitter(a: U64, b: U64) -> I64:
    """Deterministic noise in [0, JITTER) per pair."""
    return (mix(a, b) >> np.uint64(40)).astype(np.int64) % JITTER


def uniform(hashes: U64) -> F64:
    """Map hashes to floats in [0, 1)."""
    return (hashes >> np.uint64(11)).astype(np.float64) / float(2**53)


def rank_cost(ranks: I32) -> I64:
    """``RANK_SCALE * r^2`` per ranked arc: the cost grows with the square of the rank."""
    r = ranks.astype(np.int64)
    return np.asarray(RANK_SCALE * r * r, dtype=np.int64)


def distance_cost(km: F64, radius: F64) -> I64:
    scaled = np.where(radius > 0, km / np.maximum(radius, 1e-9), 0.0)
    return np.minimum(np.rint(DISTANCE_STEPS * scaled), DISTANCE_STEPS).astype(np.int64)
