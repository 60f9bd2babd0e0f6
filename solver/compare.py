"""Side-by-side comparison of the optimal method with the baselines."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from solver.engine import solve
from solver.equity import dimensions
from solver.model import Instance
from solver.result import Result


@dataclass(frozen=True)
class GroupSummary:
    """Top-three rate per group of one dimension (school, gender or need tercile)."""

    rates: dict[str, float]
    counts: dict[str, int]
    worst: float
    worst_group: str
    best: float
    spread: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "worst": round(self.worst, 4),
            "worst_group": self.worst_group,
            "best": round(self.best, 4),
            "spread": round(self.spread, 4),
            "rates": {k: round(v, 4) for k, v in self.rates.items()},
            "counts": self.counts,
        }


@dataclass(frozen=True)
class MethodSummary:
    method: str
    status: str
    students: int
    placed: int
    placed_max: int
    first_choice: float
    top3: float
    unranked: float
    mean_rank_cost: float
    school: GroupSummary
    gender: GroupSummary
    need: GroupSummary
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "status": self.status,
            "students": self.students,
            "placed": self.placed,
            "placed_max": self.placed_max,
            "share_first_choice": round(self.first_choice, 4),
            "share_top3": round(self.top3, 4),
            "share_unranked": round(self.unranked, 4),
            "mean_rank_cost": round(self.mean_rank_cost, 4),
            "top3_by_school": self.school.to_dict(),
            "top3_by_gender": self.gender.to_dict(),
            "top3_by_need": self.need.to_dict(),
            "solve_seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Comparison:
    instance: str
    methods: tuple[MethodSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"instance": self.instance, "methods": {m.method: m.to_dict() for m in self.methods}}

    def table(self) -> str:
        def pct(x: float) -> str:
            return f"{100 * x:.1f}%"

        rows: list[tuple[str, list[str]]] = [
            ("placed", [str(m.placed) for m in self.methods]),
            ("maximum placeable", [str(m.placed_max) for m in self.methods]),
            ("at first choice", [pct(m.first_choice) for m in self.methods]),
            ("in top three", [pct(m.top3) for m in self.methods]),
            ("unranked", [pct(m.unranked) for m in self.methods]),
            ("mean rank cost", [f"{m.mean_rank_cost:.2f}" for m in self.methods]),
        ]
        for name, label in (("school", "school"), ("gender", "gender"), ("need", "need tercile")):
            rows.append((f"top three by {label}: worst", [pct(getattr(m, name).worst) for m in self.methods]))
            rows.append((f"top three by {label}: spread", [pct(getattr(m, name).spread) for m in self.methods]))
        rows.append(("solve seconds", [f"{m.seconds:.2f}" for m in self.methods]))
        width = max(len(r[0]) for r in rows)
        cols = [max(len(m.method), *(len(r[1][k]) for r in rows)) for k, m in enumerate(self.methods)]
        lines = [
            f"{self.instance}",
            " " * width + "".join(f"  {m.method:>{c}}" for m, c in zip(self.methods, cols, strict=True)),
        ]
        for label, values in rows:
            lines.append(f"{label:<{width}}" + "".join(f"  {v:>{c}}" for v, c in zip(values, cols, strict=True)))
        return "\n".join(lines)


def summarise(instance: Instance, result: Result, seconds: float | None = None) -> MethodSummary:
    """Outcome measures of one result (shares are over all students of the round)."""
    n = len(instance.students)
    got = result.assignment_map()
    hit = np.zeros(n, dtype=np.bool_)
    cost = 0.0
    counted = 0
    for i, s in enumerate(instance.students):
        a = got.get(s.id)
        if a is None:
            continue
        hit[i] = a.rank is not None and a.rank <= 3
        if not a.locked:
            rank = a.rank if a.rank is not None else len(s.preferences) + 1
            cost += rank * rank
            counted += 1
    groups = []
    for dim in dimensions(instance):
        counts = np.bincount(dim.group_of, minlength=len(dim.labels))
        hits = np.bincount(dim.group_of, weights=hit.astype(np.float64), minlength=len(dim.labels))
        rates = {dim.labels[g]: float(hits[g] / counts[g]) for g in range(len(dim.labels)) if counts[g]}
        balanced = {dim.labels[g]: rates[dim.labels[g]] for g in dim.balanced if counts[g]}
        pool = balanced or {"-": 0.0}
        worst_group = min(pool, key=lambda k: (pool[k], k))
        groups.append(
            GroupSummary(
                rates,
                {dim.labels[g]: int(counts[g]) for g in range(len(dim.labels)) if counts[g]},
                pool[worst_group],
                worst_group,
                max(pool.values()),
                max(pool.values()) - pool[worst_group],
            )
        )
    m = result.metrics
    share = 1.0 / n if n else 0.0
    return MethodSummary(
        method=result.method,
        status=result.status,
        students=n,
        placed=m.placed,
        placed_max=result.placed_max,
        first_choice=m.rank_1 * share,
        top3=m.top_3 * share,
        unranked=m.unranked * share,
        mean_rank_cost=cost / counted if counted else 0.0,
        school=groups[0],
        gender=groups[1],
        need=groups[2],
        seconds=result.solve_seconds if seconds is None else seconds,
    )


def compare(instance: Instance, methods: Sequence[str] = ("optimal", "da", "fcfs")) -> Comparison:
    """Solve with each method and summarise the outcomes side by side."""
    summaries = []
    for method in methods:
        started = time.perf_counter()
        result = solve(instance, method)
        summaries.append(summarise(instance, result, time.perf_counter() - started))
    return Comparison(instance.name, tuple(summaries))
