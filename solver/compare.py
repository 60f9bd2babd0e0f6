"""Side-by-side comparison of the allocation methods on one round.

Efficiency figures are shares of all students of the round; the equity
figures are those of :mod:`solver.measures` (``docs/formats.md``, "Equity
measures"), the same as in the result's ``metrics.equity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solver.engine import solve_methods
from solver.measures import Equity, Worst, equity
from solver.model import Instance
from solver.result import Result

DEFAULT_METHODS = ("optimal", "da-reserves", "mcf", "da", "fcfs")


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
    equity: Equity
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "status": self.status,
            "students": self.students,
            "placed": self.placed,
            "placed_max": self.placed_max,
            "share_first_choice": self.first_choice,
            "share_top3": self.top3,
            "share_unranked": self.unranked,
            "mean_rank_cost": self.mean_rank_cost,
            "equity": self.equity.to_dict(),
            "solve_seconds": round(self.seconds, 3),
        }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _worst(w: Worst | None, *, dimension: bool = False) -> str:
    if w is None:
        return "-"
    return f"{_pct(w.rate)} ({w.dimension} {w.group})" if dimension else f"{_pct(w.rate)} ({w.group})"


def _signed(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.1f} pp"


def rows(methods: Sequence[MethodSummary]) -> list[tuple[str, list[str]]]:
    """The rows of the comparison table: a label and one cell per method."""
    out = [
        ("placed", [str(m.placed) for m in methods]),
        ("maximum placeable", [str(m.placed_max) for m in methods]),
        ("at first choice", [_pct(m.first_choice) for m in methods]),
        ("in top three", [_pct(m.top3) for m in methods]),
        ("unranked", [_pct(m.unranked) for m in methods]),
        ("mean rank cost", [f"{m.mean_rank_cost:.2f}" for m in methods]),
    ]
    for name, label in (("school", "school"), ("gender", "gender"), ("need", "need tercile")):
        out.append((f"top three by {label}: spread", [_pct(m.equity.dimensions[name].spread) for m in methods]))
        out.append((f"top three by {label}: worst", [_worst(m.equity.dimensions[name].worst) for m in methods]))
    out.append(("top three, worst group", [_worst(m.equity.worst, dimension=True) for m in methods]))
    out.append(("top three, female-male gap", [_signed(m.equity.female_male_gap) for m in methods]))
    if methods:
        for label, u in methods[0].equity.unplaced.items():
            out.append(
                (f"unplaced, {label} ({u.students} pupils)", [str(m.equity.unplaced[label].unplaced) for m in methods])
            )
        for label in methods[0].equity.popular.groups:
            out.append((f"popular-offer access, {label}", [_access(m.equity, label) for m in methods]))
    out.append(("popular-offer access, high/low", [_ratio(m.equity.popular.high_low_ratio) for m in methods]))
    out.append(("solve seconds", [f"{m.seconds:.2f}" for m in methods]))
    return out


def _access(e: Equity, group: str) -> str:
    a = e.popular.groups[group]
    return f"{_pct(a.share)} ({a.placed}/{a.rankers})"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


@dataclass(frozen=True)
class Comparison:
    instance: str
    methods: tuple[MethodSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"instance": self.instance, "methods": {m.method: m.to_dict() for m in self.methods}}

    def table(self) -> str:
        table = rows(self.methods)
        width = max(len(label) for label, _ in table)
        cols = [max(len(m.method), *(len(cells[k]) for _, cells in table)) for k, m in enumerate(self.methods)]
        lines = [
            f"{self.instance}",
            " " * width + "".join(f"  {m.method:>{c}}" for m, c in zip(self.methods, cols, strict=True)),
        ]
        for label, values in table:
            lines.append(f"{label:<{width}}" + "".join(f"  {v:>{c}}" for v, c in zip(values, cols, strict=True)))
        return "\n".join(lines)


def summarise(instance: Instance, result: Result, seconds: float | None = None) -> MethodSummary:
    """Outcome measures of one result: shares over all students, equity as :func:`solver.measures.equity`.

    The equity measures the result carries are used; a result without them
    (written by an older version) is measured here.
    """
    n = len(instance.students)
    got = result.assignment_map()
    cost = 0.0
    counted = 0
    for s in instance.students:
        a = got.get(s.id)
        if a is not None and not a.locked:
            rank = a.rank if a.rank is not None else len(s.preferences) + 1
            cost += rank * rank
            counted += 1
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
        equity=m.equity if m.equity is not None else equity(instance, result.assignments),
        seconds=result.solve_seconds if seconds is None else seconds,
    )


def compare(instance: Instance, methods: Sequence[str] = DEFAULT_METHODS) -> Comparison:
    """Solve with each method (``ValueError`` for one the solver does not offer) and summarise side by side."""
    summaries = [summarise(instance, result) for result in solve_methods(instance, methods)]
    return Comparison(instance.name, tuple(summaries))
