"""Benchmark the allocation methods on generated rounds: quality, equity, time and memory.

    python -m benchmarks.run [--sizes 1000 5000 25000 100000] [--variants default periphery]
                             [--capacity default scarce] [--out benchmarks/out]

For each size, generator variant and capacity a round is generated
(``benchmarks.instances``) and written to the output folder; every method of
the solver is run on it as its own process (``python -m solver solve
INSTANCE -o RESULT --method M``), whose wall time and peak memory (with its
worker processes, from ``/proc``; see :func:`measure`) are measured.  The outcome and equity measures come from
the solver library (``solver.compare.summarise``, ``solver.measures``), the
results are re-verified with ``solver.check``.  One table per round, the
targets and the speed limits are printed and written to ``results.md`` and
``results.json``.  The exit status is 0 whatever the outcome: this is a
report, not a test.
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

from benchmarks.instances import TIME_LIMIT_S, VARIANTS, generate, summary, write

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (1000, 5000, 25000, 100000)
CAPACITIES = ("default", "scarce")
PREFERRED_METHODS = ("optimal", "da-reserves", "mcf", "da", "fcfs")
"""Column order; only the methods the solver offers are run."""
SPEED_TARGETS: dict[int, tuple[float, float | None]] = {
    1000: (1.0, None),
    25000: (15.0, 1024.0),
    100000: (120.0, 3072.0),
}
"""Size -> (wall seconds, peak MB of all its processes) the optimal method must stay under."""
STATUS_TARGETS = (25000, 100000)
"""Sizes at which the optimal method must finish its calibration (status ``optimal``) within the round's time limit."""
SAMPLE_S = 0.25
"""How often the memory of a run's processes is sampled (sampling costs the runner little CPU at this rate)."""
TREE_S = 1.0
"""How often the list of a run's processes is read again (a scan of all of /proc)."""
EPS = 1e-9
TOP3_SLACK = 0.005
"""Top three may be this much (share of all pupils) below mcf's."""
NEED_SPREAD_SLACK = 0.005
"""The need spread may be this much above the smaller of mcf's and da's."""
POPULAR_RATIO = 0.95
GAP = 0.02
UNPLACED_TOLERANCE = 0.10
"""Each need tercile's share of the unplaced within this relative distance of its share of the pupils ..."""
UNPLACED_MINIMUM = 30
"""... when at least this many pupils are unplaced."""


@dataclass(frozen=True)
class Case:
    size: int
    variant: str
    capacity: str

    @property
    def label(self) -> str:
        return f"{self.size:,} pupils, {self.variant} variant, {self.capacity} capacity"

    @property
    def stem(self) -> str:
        return f"instance-{self.size}-{self.variant}-{self.capacity}"


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


@dataclass
class Check:
    name: str
    verdict: str
    """PASS, FAIL, N/A (the target does not apply to this round) or SKIP (a method is missing)."""
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
    """The methods the solver offers, in the order of PREFERRED_METHODS."""
    if lib is not None:
        from solver.result import METHODS

        offered: Sequence[str] = METHODS
    else:
        help_text = subprocess.run(
            [sys.executable, "-m", "solver", "solve", "--help"], capture_output=True, text=True, cwd=ROOT, check=False
        ).stdout
        offered = [m for m in PREFERRED_METHODS if m in help_text] or ["optimal", "da", "fcfs"]
    return [m for m in PREFERRED_METHODS if m in offered]


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def _pss_mb(pids: Sequence[int]) -> float:
    """Proportional set size of these processes together, in MB: pages shared after a fork are counted once."""
    total = 0
    for member in pids:
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024.0


def _high_water_mb(pid: int) -> float:
    """Peak resident set of a process since it started its program (``VmHWM``), in MB; 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def measure(cmd: Sequence[str], log_path: Path, timeout_s: float) -> tuple[int, float, float, bool]:
    """Run ``cmd``; return exit code, wall seconds, peak memory in MB, timed out.

    Peak memory is the larger of the process's own peak resident set since
    it started its program (``VmHWM``; ``os.wait4``'s ``ru_maxrss`` would
    also count the runner's memory at the fork) and the proportional set
    size of the process and its worker processes together, both read from
    Linux ``/proc`` every :data:`SAMPLE_S` seconds while it runs (its processes every :data:`TREE_S`).
    """
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        expired = threading.Event()
        done = threading.Event()
        peaks = [0.0, 0.0]  # own high-water mark, process tree

        def kill() -> None:
            expired.set()
            os.kill(proc.pid, 9)

        def sample() -> None:
            members, listed = [proc.pid], time.perf_counter()
            while not done.wait(SAMPLE_S):
                if time.perf_counter() - listed >= TREE_S:
                    members, listed = _descendants(proc.pid), time.perf_counter()
                peaks[0] = max(peaks[0], _high_water_mb(proc.pid))
                peaks[1] = max(peaks[1], _pss_mb(members))

        timer = threading.Timer(timeout_s, kill)
        sampler = threading.Thread(target=sample, daemon=True)
        timer.start()
        sampler.start()
        try:
            _, status = os.waitpid(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    return code, wall, max(peaks), expired.is_set()


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


def table(runs: list[Run]) -> str:
    """Markdown table: one column per method, the rows of ``solver.compare.rows`` and the costs of each run."""
    measured = [r for r in runs if r.summary is not None]
    rows: list[tuple[str, list[str]]] = [("status", [r.raw.get("status", "?") if r.raw else "-" for r in runs])]
    if measured:
        from solver.compare import rows as measure_rows

        column = {r.method: k for k, r in enumerate(measured)}
        for label, cells in measure_rows([r.summary for r in measured]):
            rows.append((label, [cells[column[r.method]] if r.method in column else "-" for r in runs]))
    rows += [
        ("constraint violations", [str(len(r.violations)) if r.summary else "-" for r in runs]),
        ("wall time (s)", [f"{r.wall_s:.2f}" for r in runs]),
        ("peak memory (MB)", [f"{r.peak_mb:.0f}" for r in runs]),
    ]
    lines = ["| | " + " | ".join(r.method for r in runs) + " |", "|---|" + "---:|" * len(runs)]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    failures = [f"{r.method}: {r.error}" for r in runs if r.error]
    for r in runs:
        if r.error and r.log_tail:
            failures.append(f"{r.method} output:\n" + "\n".join("    " + line for line in r.log_tail.splitlines()))
    if failures:
        lines += ["", *failures]
    return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _or_na(value: float | None, show: Callable[[float], str] = _pct) -> str:
    return "n/a" if value is None else show(value)


def _at_most(value: float | None, bound: float | None) -> bool | None:
    """``value <= bound`` (within EPS); None (not applicable) when either is undefined."""
    return None if value is None or bound is None else value <= bound + EPS


def _worst(w: Any) -> str:
    return "n/a" if w is None else f"{_pct(w.rate)} ({w.dimension} {w.group})"


def targets(method: str, runs: list[Run]) -> list[Check]:
    """The efficiency and equity targets of ``method``, against mcf and da on the same round."""
    by = {r.method: r.summary for r in runs if r.summary is not None}
    s = by.get(method)
    if s is None:
        run = next((r for r in runs if r.method == method), None)
        return [Check(f"{method} ran", "FAIL" if run else "SKIP", run.error if run else "method not run")]
    e, mcf, da = s.equity, by.get("mcf"), by.get("da")
    out: list[Check] = []

    def add(name: str, ok: bool | None, detail: str) -> None:
        out.append(Check(f"{method}: {name}", "N/A" if ok is None else "PASS" if ok else "FAIL", detail))

    add("placed = maximum", s.placed == s.placed_max, f"{s.placed} of {s.placed_max}")
    vs_mcf = (
        f"top three >= mcf - {100 * TOP3_SLACK:g} pp",
        "unranked <= mcf",
        "worst group's top three >= mcf",
        "school spread <= mcf",
    )
    if mcf is None:
        out += [Check(f"{method}: {name}", "SKIP", "no mcf result") for name in vs_mcf]
    else:
        m = mcf.equity
        add(vs_mcf[0], s.top3 >= mcf.top3 - TOP3_SLACK - EPS, f"{_pct(s.top3)} vs {_pct(mcf.top3)}")
        add(vs_mcf[1], s.unranked <= mcf.unranked + EPS, f"{_pct(s.unranked)} vs {_pct(mcf.unranked)}")
        lowest = None if e.worst is None or m.worst is None else e.worst.rate >= m.worst.rate - EPS
        add(vs_mcf[2], lowest, f"{_worst(e.worst)} vs {_worst(m.worst)}")
        add(
            vs_mcf[3],
            _at_most(e.school.spread, m.school.spread),
            f"{_or_na(e.school.spread)} vs {_or_na(m.school.spread)}",
        )
    name = f"need spread <= min(mcf, da) + {100 * NEED_SPREAD_SLACK:g} pp"
    if mcf is None or da is None:
        out.append(Check(f"{method}: {name}", "SKIP", f"no {'mcf' if mcf is None else 'da'} result"))
    else:
        theirs = [x for x in (mcf.equity.need.spread, da.equity.need.spread) if x is not None]
        bound = min(theirs) + NEED_SPREAD_SLACK if theirs else None
        detail = f"{_or_na(e.need.spread)} vs mcf {_or_na(mcf.equity.need.spread)}, da {_or_na(da.equity.need.spread)}"
        add(name, _at_most(e.need.spread, bound), detail)
    ratio = e.popular.high_low_ratio
    add(
        f"popular-offer access high/low >= {POPULAR_RATIO:g}",
        None if ratio is None else ratio >= POPULAR_RATIO - EPS,
        _or_na(ratio, lambda x: f"{x:.3f}") + f" ({e.popular.over_demanded} over-demanded offer-periods)",
    )
    gap = e.female_male_gap
    add(
        f"|female-male gap| <= {100 * GAP:g} pp",
        _at_most(None if gap is None else abs(gap), GAP),
        _or_na(gap, lambda x: f"{100 * x:+.1f} pp"),
    )
    out.append(_unplaced_check(method, e))
    return out


def _unplaced_check(method: str, e: Any) -> Check:
    name = f"{method}: unplaced by need tercile within ±{100 * UNPLACED_TOLERANCE:g} % of its share of pupils"
    pupils = sum(u.students for u in e.unplaced.values())
    left = sum(u.unplaced for u in e.unplaced.values())
    if left < UNPLACED_MINIMUM:
        return Check(name, "N/A", f"{left} unplaced (< {UNPLACED_MINIMUM})")
    parts, ok = [], True
    for label, u in e.unplaced.items():
        expected, got = u.students / pupils, u.unplaced / left
        ok &= abs(got - expected) <= UNPLACED_TOLERANCE * expected + EPS
        parts.append(f"{label} {_pct(got)} of unplaced vs {_pct(expected)} of pupils")
    return Check(name, "PASS" if ok else "FAIL", f"{left} unplaced: " + ", ".join(parts))


def checks(size: int, runs: list[Run], target_methods: Sequence[str]) -> list[Check]:
    out = [
        Check(f"{r.method}: no constraint violations", "PASS" if not r.violations else "FAIL", str(len(r.violations)))
        for r in runs
        if r.summary is not None
    ]
    for method in target_methods:
        out += targets(method, runs)
    limit = SPEED_TARGETS.get(size)
    if limit is not None:
        seconds, megabytes = limit
        opt = next((r for r in runs if r.method == "optimal"), None)
        if opt is None or opt.exit_code != 0:
            out.append(Check(f"speed: optimal < {seconds:g} s", "FAIL", "no successful run"))
        else:
            reported = opt.raw.get("solve_seconds") if opt.raw else None
            extra = f" (solver reports {reported:.2f} s solving)" if isinstance(reported, int | float) else ""
            verdict = "PASS" if opt.wall_s < seconds else "FAIL"
            out.append(Check(f"speed: optimal < {seconds:g} s wall", verdict, f"{opt.wall_s:.2f} s wall{extra}"))
            if megabytes is not None:
                verdict = "PASS" if opt.peak_mb < megabytes else "FAIL"
                detail = f"{opt.peak_mb:.0f} MB peak, all processes"
                out.append(Check(f"memory: optimal < {megabytes / 1024:g} GB", verdict, detail))
            if size in STATUS_TARGETS and opt.raw is not None:
                status = opt.raw.get("status")
                in_time = isinstance(reported, int | float) and reported <= TIME_LIMIT_S
                verdict = "PASS" if status == "optimal" and in_time else "FAIL"
                name = f"speed: optimal reaches status optimal within the {TIME_LIMIT_S} s limit"
                out.append(Check(name, verdict, f"status {status}{extra}"))
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


def overview(results: list[tuple[Case, list[Run]]]) -> str:
    """One line per round and method with the headline figures (the table of docs/benchmarks.md)."""
    head = (
        "| pupils | variant | capacity | method | placed | max | top 3 | unranked | worst group | school spread"
        " | need spread | F−M gap | unplaced L/M/H | popular access L/M/H | high/low | wall s | peak MB |"
    )
    lines = [head, "| ---: | --- | --- | --- |" + " ---: |" * 13]
    for case, runs in results:
        for r in runs:
            if r.summary is None:
                lines.append(f"| {case.size:,} | {case.variant} | {case.capacity} | {r.method} |" + " – |" * 13)
                continue
            s, e = r.summary, r.summary.equity
            worst = "n/a" if e.worst is None else f"{_pct(e.worst.rate)} ({e.worst.dimension} {e.worst.group})"
            cells = [
                f"{s.placed:,}",
                f"{s.placed_max:,}",
                _pct(s.top3),
                _pct(s.unranked),
                worst,
                _or_na(e.school.spread),
                _or_na(e.need.spread),
                _or_na(e.female_male_gap, lambda x: f"{100 * x:+.1f} pp"),
                " / ".join(str(u.unplaced) for u in e.unplaced.values()),
                " / ".join(_or_na(a.share) for a in e.popular.groups.values()),
                _or_na(e.popular.high_low_ratio, lambda x: f"{x:.3f}"),
                f"{r.wall_s:.2f}",
                f"{r.peak_mb:.0f}",
            ]
            lines.append(
                f"| {case.size:,} | {case.variant} | {case.capacity} | {r.method} | " + " | ".join(cells) + " |"
            )
    return "\n".join(lines)


def verdicts(all_checks: list[tuple[Case, Check]], cases: list[Case]) -> str:
    """Markdown table: one row per check, one column per round, the verdict in each cell."""
    names = list(dict.fromkeys(c.name for _, c in all_checks))
    cell = {(case, c.name): c.verdict for case, c in all_checks}
    header = "| target | " + " | ".join(f"{c.size:,} {c.variant} {c.capacity}" for c in cases) + " |"
    lines = [header, "| --- |" + " --- |" * len(cases)]
    lines += [f"| {n} | " + " | ".join(cell.get((c, n), "") for c in cases) + " |" for n in names]
    return "\n".join(lines)


def _sizes(values: Sequence[str]) -> list[int]:
    return [int(s.replace("_", "")) for v in values for s in v.split(",") if s.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=[str(s) for s in DEFAULT_SIZES], help="pupils per round")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="generator variants")
    parser.add_argument(
        "--capacity",
        nargs="+",
        choices=CAPACITIES,
        default=list(CAPACITIES),
        help="scarce: about 0.95 places per pupil",
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out"), help="folder for instances and results")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument(
        "--methods", nargs="+", help="a subset of the methods (default: every method the solver offers)"
    )
    parser.add_argument("--targets", nargs="+", default=["optimal"], help="methods whose targets are checked")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is killed")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    lib, why = _solver_library()
    if lib is None:
        print(f"NOTE: the solver library cannot be imported ({why}); only exit status, time and memory are reported.")
    methods = args.methods or available_methods(lib)
    target_methods = [m for m in args.targets if m in methods] if lib is not None else []
    cases = [Case(size, v, c) for size in _sizes(args.sizes) for v in args.variants for c in args.capacity]
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "methods": methods,
        "targets_for": target_methods,
        "seed": args.seed,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    report: dict[str, Any] = {"environment": env, "rounds": []}
    intro = [
        "# Solver benchmarks",
        "",
        f"Python {env['python']} on {env['platform']}, {env['cpus']} CPUs; generator seed {args.seed};"
        f" started {env['started']}; `{env['command']}`.",
    ]
    sections: list[str] = []
    results: list[tuple[Case, list[Run]]] = []
    all_checks: list[tuple[Case, Check]] = []
    for case in cases:
        print(f"\n=== {case.label} ===", flush=True)
        started = time.perf_counter()
        doc = generate(case.size, seed=args.seed, scarce=case.capacity == "scarce", variant=case.variant)
        generated = time.perf_counter() - started
        instance_path = out / f"{case.stem}.json"
        write(doc, instance_path)
        described = summary(doc)
        del doc
        print(f"instance {instance_path}: {described} (generated in {generated:.1f} s)", flush=True)
        runs = []
        for method in methods:
            run = run_method(instance_path, method, out, args.timeout)
            state = "ok" if run.exit_code == 0 else run.error
            print(f"  {method:<12} {state:<14} {run.wall_s:8.2f} s  {run.peak_mb:8.0f} MB", flush=True)
            runs.append(run)
        note = analyse(lib, instance_path, runs)
        rendered = table(runs)
        case_checks = checks(case.size, runs, target_methods)
        results.append((case, runs))
        all_checks += [(case, c) for c in case_checks]
        print()
        print(rendered)
        print()
        for c in case_checks:
            print(c.line())
        sections += ["", f"## {case.label}", "", f"{described}; generated in {generated:.1f} s.", ""]
        if note:
            sections += [f"Note: {note}.", ""]
        sections += [rendered, "", "Checks:", "", *[f"- {c.line()}" for c in case_checks]]
        report["rounds"].append(
            {
                "students": case.size,
                "variant": case.variant,
                "capacity": case.capacity,
                "instance": str(instance_path),
                "instance_summary": described,
                "generation_seconds": round(generated, 2),
                "note": note,
                "methods": {r.method: _run_json(r) for r in runs},
                "checks": [{"name": c.name, "verdict": c.verdict, "detail": c.detail} for c in case_checks],
            }
        )
        done = [c for c, _ in results]
        md = [*intro, "", "## Overview", "", overview(results), "", "## Targets", "", verdicts(all_checks, done)]
        (out / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (out / "results.md").write_text("\n".join([*md, *sections]) + "\n", encoding="utf-8")

    failed = [(case, c) for case, c in all_checks if c.verdict == "FAIL"]
    print("\n=== summary ===")
    counts = {v: sum(c.verdict == v for _, c in all_checks) for v in ("PASS", "FAIL", "N/A", "SKIP")}
    print(", ".join(f"{n} {v}" for v, n in counts.items()))
    for case, c in failed:
        print(f"FAIL  {case.label}: {c.name}: {c.detail}")
    print(f"written: {out / 'results.md'}, {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
