"""Command line: ``python -m solver solve|compare`` (also registered by ``praktik``).

Exit status 0 on a solution, 2 on a bad file (one line per problem on
stderr, nothing written to the output), 1 when the independent checker finds
a violation in the solver's own result (a bug: nothing is written either).
Only ``click`` and the solver are imported: no Flask, no database.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from solver.check import check
from solver.compare import DEFAULT_METHODS, compare
from solver.engine import solve
from solver.load import InstanceError, load_instance, read_json_file
from solver.model import Instance
from solver.result import METHODS, Result, ResultError, result_from_dict

EXIT_OK = 0
EXIT_BUG = 1
EXIT_BAD_FILE = 2

logger = logging.getLogger(__name__)


def _fail(problems: list[str]) -> None:
    for problem in problems:
        click.echo(problem, err=True)
    sys.exit(EXIT_BAD_FILE)


def _read_instance(path: str) -> Instance:
    try:
        return load_instance(read_json_file(path, path))
    except InstanceError as exc:
        _fail(exc.problems)
        raise  # pragma: no cover - _fail exits


def _read_previous(path: str) -> Result:
    try:
        return result_from_dict(read_json_file(path, path))
    except ResultError as exc:
        _fail([f"{path}: {p}" for p in exc.problems])
        raise  # pragma: no cover
    except InstanceError as exc:  # unreadable file or not JSON
        _fail(exc.problems)
        raise  # pragma: no cover


def write_atomically(path: str, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file in the same folder and an atomic rename."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            # dumps, not dump: only the one-shot encoder is the C one (several times faster on a large round).
            out.write(json.dumps(data, ensure_ascii=False))
            out.write("\n")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@click.command("solve")
@click.argument("instance", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Result file (default: standard output).")
@click.option(
    "--method", type=click.Choice(METHODS), help="Allocation method (default: the instance's policy.mechanism)."
)
@click.option("--previous", type=click.Path(dir_okay=False), help="Result of the previous round (incremental).")
@click.option("--seed", type=int, help="Override policy.seed.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Override policy.time_limit_s.")
@click.option("--no-check", is_flag=True, help="Skip the independent check of the result.")
def solve_command(
    *,
    instance: str,
    output: str | None,
    method: str | None,
    previous: str | None,
    seed: int | None,
    time_limit: float | None,
    no_check: bool,
) -> None:
    """Allocate the round in INSTANCE (praktik-instance/1) and write the result (praktik-result/1)."""
    round_ = _read_instance(instance)
    before = _read_previous(previous) if previous else None
    try:
        result = solve(round_, method, before, seed=seed, time_limit_s=time_limit)
    except ValueError as exc:
        _fail([str(exc)])
        raise  # pragma: no cover
    if not no_check:
        violations = check(round_, result)
        if violations:
            for violation in violations:
                click.echo(f"checker: {violation}", err=True)
            sys.exit(EXIT_BUG)
    data = result.to_dict()
    if output:
        write_atomically(output, data)
    else:
        click.echo(json.dumps(data, ensure_ascii=False))
    m = result.metrics
    click.echo(
        f"{result.status}: {m.placed} of {m.students} placed (maximum {result.placed_max}), "
        f"{m.rank_1} first choice, {m.top_3} top three, {m.unranked} unranked, {result.solve_seconds:.1f} s",
        err=True,
    )


@click.command("compare")
@click.argument("instance", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable metrics instead of the table.")
@click.option(
    "--method",
    "methods",
    type=click.Choice(METHODS),
    multiple=True,
    help="Methods to compare (repeatable; default: optimal, da-reserves, mcf, da, fcfs).",
)
def compare_command(instance: str, as_json: bool, methods: tuple[str, ...]) -> None:
    """Solve INSTANCE with every method and print one table side by side, equity measures included."""
    round_ = _read_instance(instance)
    comparison = compare(round_, methods or DEFAULT_METHODS)
    if as_json:
        click.echo(json.dumps(comparison.to_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(comparison.table())


@click.group("solver")
@click.option("-v", "--verbose", is_flag=True, help="Log progress to standard error.")
def cli(verbose: bool) -> None:
    """Praktik's allocation engine."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


cli.add_command(solve_command)
cli.add_command(compare_command)


def main() -> None:
    cli(prog_name="python -m solver")
