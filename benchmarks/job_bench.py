"""Benchmark: a coordinator's "run" of the demo region's round, as the worker does it.

    python -m benchmarks.job_bench [--repeat 3]

Loads the demo region (about 4,700 pupils) into a fresh migrated SQLite
database, creates its round as ``praktik demo`` does, and runs the solve job
in this process exactly as ``python -m placement.runtime.worker`` runs it
(:func:`placement.runtime.worker.run_job`: the instance built from the
database, the solver in a child process, the proposal and every comparison
stored).  Each repetition starts from the round in draft.  For reference it
also times the solver's own work on the same instance in this process: the
round's mechanism and every comparison method, each result checked.  Prints
the seconds of each; the difference is what the job path adds (the child
process, building the instance, storing the proposal).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

import solver
from placement import audit, demo
from placement.db import make_engine
from placement.enums import RoundStatus
from placement.migrate import upgrade
from placement.models import AllocationRound, Assignment, RoundArtifact, SolveJob
from placement.rounds import bridge, jobs
from placement.rounds import setup as rounds
from placement.runtime import worker


def _prepare(database: Path) -> tuple[sessionmaker[Session], int]:
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    make_session = sessionmaker(bind=engine, expire_on_commit=False)
    with make_session() as session, session.begin():
        summary = demo.load_demo_region(session)
        allocation_round = rounds.create_round(
            session, "PRAO åk 8 2026/27", [p.code for p in summary.periods], actor=audit.CLI
        )
        round_id = allocation_round.id
    return make_session, round_id


def _reset(make_session: sessionmaker[Session], round_id: int) -> None:
    with make_session() as session, session.begin():
        session.execute(delete(Assignment).where(Assignment.round_id == round_id))
        session.execute(delete(RoundArtifact).where(RoundArtifact.round_id == round_id))
        session.execute(delete(SolveJob).where(SolveJob.round_id == round_id))
        session.execute(
            update(AllocationRound).where(AllocationRound.id == round_id).values(status=RoundStatus.DRAFT, outcome=None)
        )


def _job(make_session: sessionmaker[Session], round_id: int) -> float:
    _reset(make_session, round_id)
    with make_session() as session, session.begin():
        job_id = jobs.enqueue(session, round_id, actor=audit.CLI).id
    started = time.perf_counter()
    state = worker.run_job(make_session, job_id, heartbeat_s=None)
    seconds = time.perf_counter() - started
    if state.value != "succeeded":
        with make_session() as session:
            job = session.get(SolveJob, job_id)
            raise SystemExit(f"the job failed: {job.error if job else '?'}")
    return seconds


def _in_process(make_session: sessionmaker[Session], round_id: int) -> tuple[float, int, list[str]]:
    with make_session() as session:
        build = bridge.build_instance(session, rounds.get_round(session, round_id))
    instance = solver.load_instance(build.instance)
    mechanism = rounds.mechanism_of(build.instance["policy"])
    methods = [mechanism] + [m for m in (*rounds.MECHANISMS, *jobs.REFERENCES) if m != mechanism]
    methods = list(dict.fromkeys(methods))
    started = time.perf_counter()
    for method in methods:
        result = solver.solve(instance, method)
        if solver.check(instance, result):
            raise SystemExit(f"the checker rejected the {method} result")
    return time.perf_counter() - started, len(instance.students), methods


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.job_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each measurement (the median is shown)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        make_session, round_id = _prepare(Path(folder) / "bench.sqlite")
        job = [_job(make_session, round_id) for _ in range(args.repeat)]
        alone = [_in_process(make_session, round_id) for _ in range(args.repeat)]
    pupils, methods = alone[0][1], alone[0][2]
    print(f"demo region: {pupils} pupils; methods {', '.join(methods)}")
    print(f"job path (build, solve out of process, store): {statistics.median(job):.2f} s  (runs: {job})")
    in_process = [a[0] for a in alone]
    print(f"the same solves in one process, each checked: {statistics.median(in_process):.2f} s  (runs: {in_process})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
