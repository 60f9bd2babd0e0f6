"""Where two equity targets pull apart: the trade-off around the engine's calibrated bonuses.

    python -m benchmarks.frontier INSTANCE [--popular 0 15 30 …] [--placed 0 25 50 …]
                                  [--popular-tercile high] [--placed-tercile middle]

The engine calibrates its equity bonuses (``docs/allocation.md``,
"Calibration") and returns the iterate that misses the fewest targets.
When it still misses one, this shows whether any nearby bonuses meet every
target or whether meeting one costs another: it solves the round with the
calibrated bonuses (``solver.solve(..., bonuses=...)``) moved over a grid —
the popular-offer bonus of one need tercile by each ``--popular`` amount
and the placement bonus of another by each ``--placed`` amount — and
checks every point against the benchmark's own targets
(:func:`benchmarks.run.targets`, the same checks as ``results.md``), with
``mcf`` and ``da`` solved once on the same round for reference.  Prints a
Markdown table, one row per grid point.
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.run import POPULAR_RATIO, Run, targets
from solver import load_instance, solve
from solver.compare import MethodSummary, summarise
from solver.model import Instance

TERCILES = {"low": "low need", "middle": "middle need", "high": "high need"}


def _moved(bonuses: dict[str, Any], kind: str, group: str, amount: float) -> dict[str, Any]:
    out = copy.deepcopy(bonuses)
    table = out.setdefault(kind, {})
    table[group] = max(0.0, float(table.get(group, 0)) + amount)
    return out


def _summary(instance: Instance, method: str, bonuses: dict[str, Any] | None = None) -> MethodSummary:
    return summarise(instance, solve(instance, method, bonuses=bonuses))


def _run(summary: MethodSummary) -> Run:
    run = Run(summary.method, Path(), 0, summary.seconds, 0.0)
    run.summary = summary
    return run


def _unplaced(summary: MethodSummary) -> str:
    groups = summary.equity.unplaced
    left = sum(u.unplaced for u in groups.values())
    pupils = sum(u.students for u in groups.values())
    if not left:
        return "none"
    return " / ".join(f"{100 * u.unplaced / left:.0f}% ({100 * u.students / pupils:.0f}%)" for u in groups.values())


def frontier(
    instance: Instance,
    popular: Sequence[float],
    placed: Sequence[float],
    popular_tercile: str = "high",
    placed_tercile: str = "middle",
) -> str:
    calibrated = solve(instance, "optimal")
    bonuses = dict((calibrated.calibration or {}).get("bonuses") or {})
    references = [_run(_summary(instance, method)) for method in ("mcf", "da")]
    head = (
        f"| {popular_tercile}-need popular bonus | {placed_tercile}-need placement bonus | top three | "
        f"popular access high/low | need spread | unplaced L / M / H (share of pupils) | targets missed |"
    )
    shown = {k: v for k, v in bonuses.items() if k != "top3 school"}
    schools = len(bonuses.get("top3 school", {}))
    lines = [
        f"Calibrated bonuses ({calibrated.calibration['selected']}): `{json.dumps(shown, sort_keys=True)}`"
        + (f" and top-three bonuses for {schools} schools." if schools else "."),
        "",
        head,
        "|" + "---:|" * 5 + "---|---|",
    ]
    for extra_popular in popular:
        for extra_placed in placed:
            moved = _moved(bonuses, "popular", TERCILES[popular_tercile], extra_popular)
            moved = _moved(moved, "placed", TERCILES[placed_tercile], extra_placed)
            s = _summary(instance, "optimal", moved)
            checks = targets("optimal", [_run(s), *references])
            missed = [c.name.removeprefix("optimal: ") for c in checks if c.verdict == "FAIL"]
            ratio = s.equity.popular.high_low_ratio
            need = s.equity.need.spread
            lines.append(
                f"| {extra_popular:+g} | {extra_placed:+g} | {100 * s.top3:.1f}% | "
                f"{'n/a' if ratio is None else f'{ratio:.3f}'} | {'n/a' if need is None else f'{100 * need:.1f}%'} | "
                f"{_unplaced(s)} | {', '.join(missed) or 'none'} |"
            )
    lines += ["", f"Targets as in `results.md`; popular access must reach {POPULAR_RATIO:g}."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.frontier", description=__doc__.split("\n\n")[0])
    parser.add_argument("instance", type=Path, help="a praktik-instance/1 file (as benchmarks.run writes them)")
    parser.add_argument("--popular", type=float, nargs="+", default=[0, 15, 30, 45, 60])
    parser.add_argument("--placed", type=float, nargs="+", default=[0, 25, 50, 100])
    parser.add_argument("--popular-tercile", choices=sorted(TERCILES), default="high")
    parser.add_argument("--placed-tercile", choices=sorted(TERCILES), default="middle")
    args = parser.parse_args(argv)
    instance = load_instance(json.loads(args.instance.read_text(encoding="utf-8")))
    print(frontier(instance, args.popular, args.placed, args.popular_tercile, args.placed_tercile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
