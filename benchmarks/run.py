"""Benchmark the allocation methods on generated rounds: quality, time and memory.

    python -m benchmarks.run [--sizes 1000,5000,25000,100000] [--out benchmarks/out]

For each size a round is generated (``benchmarks.instances``) and written to
the output folder; every method of the solver is run on it as its own process
(``python -m solver solve INSTANCE -o RESULT --method M``), whose wall time
and peak resident memory are measured with ``os.wait4``.  The outcome
measures come from the solver library (``solver.compare.summarise``), the
hard constraints are re-verified with ``solver.check``.  One table per size,
the quality checks and the speed targets are printed and written to
``results.md`` and ``results.json``.  The exit status is 0 whatever the
outcome: this is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.instances import generate, summary, write

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (1000, 5000, 25000, 100000)
PREFERRED_METHODS = ("optimal", "mcf", "da", "fcfs")
SPEED_TARGETS: dict[int, tuple[float, float | None]] = {
    1000: (1.0, None),
    25000: (20.0, 1024.0),
    100000: (120.0, 3072.0),
}
"""Size -> (wall seconds, peak MB) the optimal method must stay under."""
EPS = 1e-9


@dataclass
class Run:
    method: str
    result_path: Path
    exit_code: int
    wall_s: float
    peak_mb: float
    timed_out: bool = False
    log_tail: str = ""
    result: Any = None
    """The solver's Result, when the file could be read."""
    raw: dict[str, Any] | None = None
    summary: Any = None
    """solver.compare.MethodSummary, when the library could compute it."""
    violations: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.raw is not None and not self.error


@dataclass
class Check:
    name: str
    verdict: str
    """PASS, FAIL or SKIP."""
    detail: str

    def line(self) -> str:
        return f"{self.verdict:<4}  {self.name}: {self.detail}"


def _solver_library() -> tuple[Any, str]:
    """The solver package with its compare module, or None and the reason it cannot be imported."""
    try:
        import solver
        import solver.compare
    except Exception as exc:  # the library is optional for the runner: report instead of failing
        return None, f"{type(exc).__name__}: {exc}"
    return solver, ""


def available_methods(lib: Any) -> list[str]:
    """The methods the solver offers, in the order optimal, mcf, da, fcfs."""
    offered: Sequence[str] | None = None
    if lib is not None:
        try:
            from solver.result import METHODS

            offered = METHODS
        except ImportError:
            offered = None
    if offered is None:
        help_text = subprocess.run(
            [sys.executable, "-m", "solver", "solve", "--help"], capture_output=True, text=True, cwd=ROOT, check=False
        ).stdout
        offered = [m for m in PREFERRED_METHODS if m in help_text] or ["optimal", "da", "fcfs"]
    return [m for m in PREFERRED_METHODS if m in offered]


def measure(cmd: Sequence[str], log_path: Path, timeout_s: float) -> tuple[int, float, float, bool]:
    """Run ``cmd``; return exit code, wall seconds, peak RSS in MB of that process alone, timed out."""
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            os.kill(proc.pid, 9)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    return code, wall, usage.ru_maxrss / 1024.0, expired.is_set()


def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def run_method(instance_path: Path, method: str, out: Path, timeout_s: float) -> Run:
    stem = instance_path.stem
    result_path = out / f"{stem}.{method}.result.json"
    log_path = out / f"{stem}.{method}.log"
    result_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "solver", "solve", str(instance_path), "-o", str(result_path), "--method", method]
    code, wall, peak, timed_out = measure(cmd, log_path, timeout_s)
    run = Run(method, result_path, code, wall, peak, timed_out)
    if code != 0 or not result_path.exists():
        run.log_tail = _tail(log_path)
        run.error = "timed out" if timed_out else f"exit status {code}"
        return run
    try:
        run.raw = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        run.error = f"unreadable result: {exc}"
    return run


def analyse(lib: Any, instance_path: Path, runs: list[Run]) -> str:
    """Fill in summaries and violations with the solver library; return a note when it is unavailable."""
    if lib is None:
        return "solver library unavailable"
    from solver.compare import summarise

    instance = lib.read_instance(instance_path)
    for run in runs:
        if run.raw is None:
            continue
        try:
            run.result = lib.result_from_dict(run.raw)
            run.summary = summarise(instance, run.result)
            run.violations = [str(v) for v in lib.check(instance, run.result)]
        except Exception as exc:  # a malformed result is part of the report, not a crash
            run.error = f"{type(exc).__name__}: {exc}"
    return ""


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _group(summary: Any, dim: str, what: str) -> str:
    g = getattr(summary, dim)
    if what == "worst":
        return f"{_pct(g.worst)} ({g.worst_group})"
    return _pct(g.spread)


def table(runs: list[Run]) -> str:
    """Markdown table: one column per method."""
    genders = ("female", "male", "other", "unknown")
    rows: list[tuple[str, Callable[[Run], str]]] = [
        ("status", lambda r: r.raw.get("status", "?") if r.raw else "-"),
        ("placed", lambda r: str(r.raw["metrics"]["placed"]) if r.raw else "-"),
        ("maximum placeable", lambda r: str(r.raw.get("bound", {}).get("placed_max", "?")) if r.raw else "-"),
        ("at first choice", lambda r: _pct(r.summary.first_choice) if r.summary else "-"),
        ("in top three", lambda r: _pct(r.summary.top3) if r.summary else "-"),
        ("unranked", lambda r: _pct(r.summary.unranked) if r.summary else "-"),
        ("mean rank cost", lambda r: f"{r.summary.mean_rank_cost:.2f}" if r.summary else "-"),
        ("top three, worst school", lambda r: _group(r.summary, "school", "worst") if r.summary else "-"),
        ("top three, school spread", lambda r: _group(r.summary, "school", "spread") if r.summary else "-"),
        ("top three, worst need tercile", lambda r: _group(r.summary, "need", "worst") if r.summary else "-"),
        ("top three, need spread", lambda r: _group(r.summary, "need", "spread") if r.summary else "-"),
    ]

    def gender_rate(gender: str) -> Callable[[Run], str]:
        def cell(r: Run) -> str:
            rates = r.summary.gender.rates if r.summary else {}
            return _pct(rates[gender]) if gender in rates else "-"

        return cell

    rows += [(f"top three, {g}", gender_rate(g)) for g in genders]
    rows += [
        ("top three, female-male gap", lambda r: _group(r.summary, "gender", "spread") if r.summary else "-"),
        ("constraint violations", lambda r: str(len(r.violations)) if r.summary else "-"),
        ("solve time reported (s)", lambda r: f"{r.raw.get('solve_seconds', 0):.2f}" if r.raw else "-"),
        ("wall time (s)", lambda r: f"{r.wall_s:.2f}"),
        ("peak memory (MB)", lambda r: f"{r.peak_mb:.0f}"),
    ]
    header = "| | " + " | ".join(r.method for r in runs) + " |"
    lines = [header, "|---|" + "---:|" * len(runs)]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in runs) + " |")
    failures = [f"{r.method}: {r.error}" for r in runs if r.error]
    for r in runs:
        if r.error and r.log_tail:
            failures.append(f"{r.method} output:\n" + "\n".join("    " + line for line in r.log_tail.splitlines()))
    if failures:
        lines += ["", *failures]
    return "\n".join(lines)


def _seconds_detail(run: Run) -> str:
    reported = run.raw.get("solve_seconds") if run.raw else None
    extra = f" (solver reports {reported:.2f} s solving)" if isinstance(reported, int | float) else ""
    return f"{run.wall_s:.2f} s wall{extra}"


def checks(size: int, runs: list[Run]) -> list[Check]:
    by = {r.method: r for r in runs}
    out: list[Check] = []

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    opt = by.get("optimal")
    have_opt = opt is not None and opt.summary is not None and opt.result is not None
    if have_opt:
        assert opt is not None
        out.append(Check("optimal has no constraint violations", verdict(not opt.violations), f"{len(opt.violations)}"))
        placed, bound = opt.result.metrics.placed, opt.result.placed_max
        out.append(Check("optimal places the maximum", verdict(placed == bound), f"{placed} of {bound}"))
    else:
        reason = opt.error if opt is not None and opt.error else "no result"
        out.append(Check("optimal method ran", "FAIL", reason))
    for name, base in (("mcf", "optimal vs mcf"), ("da", "optimal vs da")):
        other = by.get(name)
        if not have_opt or other is None or other.summary is None:
            why = "method not offered" if other is None else (other.error or "no result")
            out.append(Check(base, "SKIP", why if have_opt or other is None else "optimal has no result"))
            continue
        assert opt is not None
        a, b = opt.summary, other.summary
        if name == "mcf":
            mo, mb = opt.result.metrics, other.result.metrics
            out.append(Check(f"{base}: no fewer top-3", verdict(mo.top_3 >= mb.top_3), f"{mo.top_3} vs {mb.top_3}"))
            out.append(
                Check(
                    f"{base}: no more unranked", verdict(mo.unranked <= mb.unranked), f"{mo.unranked} vs {mb.unranked}"
                )
            )
        else:
            out.append(
                Check(
                    f"{base}: worst school top-3 >=",
                    verdict(a.school.worst >= b.school.worst - EPS),
                    f"{_pct(a.school.worst)} vs {_pct(b.school.worst)}",
                )
            )
            out.append(
                Check(
                    f"{base}: worst need tercile top-3 >=",
                    verdict(a.need.worst >= b.need.worst - EPS),
                    f"{_pct(a.need.worst)} vs {_pct(b.need.worst)}",
                )
            )
            out.append(
                Check(
                    f"{base}: school spread <=",
                    verdict(a.school.spread <= b.school.spread + EPS),
                    f"{_pct(a.school.spread)} vs {_pct(b.school.spread)}",
                )
            )
    target = SPEED_TARGETS.get(size)
    if target is not None:
        seconds, megabytes = target
        if opt is None or opt.exit_code != 0:
            out.append(Check(f"speed: optimal < {seconds:g} s", "FAIL", "no successful run"))
        else:
            out.append(Check(f"speed: optimal < {seconds:g} s", verdict(opt.wall_s < seconds), _seconds_detail(opt)))
            if megabytes is not None:
                out.append(
                    Check(
                        f"memory: optimal < {megabytes / 1024:g} GB",
                        verdict(opt.peak_mb < megabytes),
                        f"{opt.peak_mb:.0f} MB peak",
                    )
                )
    return out


def _run_json(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {
        "exit_code": run.exit_code,
        "timed_out": run.timed_out,
        "wall_seconds": round(run.wall_s, 3),
        "peak_memory_mb": round(run.peak_mb, 1),
        "result_file": str(run.result_path),
    }
    if run.raw is not None:
        out["status"] = run.raw.get("status")
        out["result_metrics"] = run.raw.get("metrics")
        out["placed_max"] = run.raw.get("bound", {}).get("placed_max")
        out["solve_seconds"] = run.raw.get("solve_seconds")
    if run.summary is not None:
        out["summary"] = run.summary.to_dict()
        out["violations"] = len(run.violations)
        out["violation_examples"] = run.violations[:5]
    if run.error:
        out["error"] = run.error
        out["log_tail"] = run.log_tail
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="comma-separated pupils")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out"), help="folder for instances and results")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--scarce", action="store_true", help="about 0.95 places per pupil")
    parser.add_argument("--methods", help="comma-separated subset (default: every method the solver offers)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is killed")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    lib, why = _solver_library()
    if lib is None:
        print(f"NOTE: the solver library cannot be imported ({why}); only exit status, time and memory are reported.")
    methods = available_methods(lib)
    if args.methods:
        methods = [m for m in args.methods.split(",") if m]
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "methods": methods,
        "seed": args.seed,
        "scarce": args.scarce,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    report: dict[str, Any] = {"environment": env, "sizes": []}
    md: list[str] = [
        "# Solver benchmarks",
        "",
        f"Python {env['python']} on {env['platform']}, {env['cpus']} CPUs; generator seed {args.seed}"
        + (", scarce capacity" if args.scarce else "")
        + f"; started {env['started']}.",
    ]
    all_checks: list[tuple[int, Check]] = []
    for size in sizes:
        print(f"\n=== {size} pupils ===", flush=True)
        started = time.perf_counter()
        doc = generate(size, seed=args.seed, scarce=args.scarce)
        generated = time.perf_counter() - started
        instance_path = out / f"instance-{size}{'-scarce' if args.scarce else ''}.json"
        write(doc, instance_path)
        described = summary(doc)
        del doc
        print(f"instance {instance_path}: {described} (generated in {generated:.1f} s)", flush=True)
        runs = []
        for method in methods:
            run = run_method(instance_path, method, out, args.timeout)
            state = "ok" if run.exit_code == 0 else run.error
            print(f"  {method:<8} {state:<14} {run.wall_s:8.2f} s  {run.peak_mb:8.0f} MB", flush=True)
            runs.append(run)
        note = analyse(lib, instance_path, runs)
        rendered = table(runs)
        size_checks = checks(size, runs)
        all_checks += [(size, c) for c in size_checks]
        print()
        print(rendered)
        print()
        for c in size_checks:
            print(c.line())
        md += ["", f"## {size} pupils", "", f"{described}; generated in {generated:.1f} s.", ""]
        if note:
            md += [f"Note: {note}.", ""]
        md += [rendered, "", "Checks:", "", *[f"- {c.line()}" for c in size_checks]]
        report["sizes"].append(
            {
                "students": size,
                "instance": str(instance_path),
                "instance_summary": described,
                "generation_seconds": round(generated, 2),
                "note": note,
                "methods": {r.method: _run_json(r) for r in runs},
                "checks": [{"name": c.name, "verdict": c.verdict, "detail": c.detail} for c in size_checks],
            }
        )
        (out / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (out / "results.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    failed = [(s, c) for s, c in all_checks if c.verdict == "FAIL"]
    print("\n=== summary ===")
    print(
        f"{sum(c.verdict == 'PASS' for _, c in all_checks)} PASS, {len(failed)} FAIL, "
        f"{sum(c.verdict == 'SKIP' for _, c in all_checks)} SKIP"
    )
    for s, c in failed:
        print(f"FAIL  {s} pupils: {c.name}: {c.detail}")
    print(f"written: {out / 'results.md'}, {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
