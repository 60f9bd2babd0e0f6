"""The solve worker: ``python -m placement.runtime.worker JOB_ID`` runs one queued solve job.

Started by :func:`launch` as a process of its own, so that no web request
ever solves.  The worker claims the job, writes a heartbeat every
:data:`HEARTBEAT_S` seconds while it runs the job's work
(:mod:`placement.rounds.jobs`: claim, execute, reap), and ends.  The
database URL comes from ``PRAKTIK_DATABASE_URL``, as for every Praktik
process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from placement.db import make_engine, utcnow
from placement.enums import JobState
from placement.models import SolveJob
from placement.rounds import jobs, solve_process

logger = logging.getLogger(__name__)


#: How often a running job's worker writes its heartbeat (:data:`jobs.STALE_AFTER_S` finds it dead).
HEARTBEAT_S = 2.0


def launch(job_id: int, database_url: str, *, log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a worker process for ``job_id`` in its own session and process group.

    A daemon thread waits for it, so that a finished worker leaves no zombie
    behind in the launching (web) process.
    """
    env = dict(os.environ, PRAKTIK_DATABASE_URL=database_url)
    log = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(  # noqa: S603  (our own interpreter and module, a numeric job id)
            [sys.executable, "-m", "placement.runtime.worker", str(job_id)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        if log_path is not None:
            log.close()  # type: ignore[union-attr]
    threading.Thread(target=process.wait, name=f"praktik-worker-{job_id}", daemon=True).start()
    logger.info("Solve job %s: worker process %s started", job_id, process.pid)
    return process


class Heartbeat(threading.Thread):
    """Writes ``heartbeat_at`` of a running job every ``every_s`` seconds until stopped."""

    def __init__(self, make_session: sessionmaker[Session], job_id: int, every_s: float, attempt: int = 1) -> None:
        super().__init__(name=f"praktik-heartbeat-{job_id}", daemon=True)
        self.make_session = make_session
        self.job_id = job_id
        self.attempt = attempt
        self.every_s = every_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                with self.make_session() as session, session.begin():
                    session.execute(
                        update(SolveJob)
                        .where(
                            SolveJob.id == self.job_id,
                            SolveJob.state == JobState.RUNNING,
                            SolveJob.attempt == self.attempt,
                        )
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # pragma: no cover  (a database hiccup; the next beat tries again)
                logger.exception("heartbeat of job %s failed", self.job_id)


def run_job(
    make_session: sessionmaker[Session],
    job_id: int,
    *,
    solve: Callable[..., dict[str, Any]] = solve_process.solve_out_of_process,
    heartbeat_s: float | None = HEARTBEAT_S,
    attempt: int = 1,
) -> JobState:
    """Run a queued job to its end in this process (the worker's body).  Returns the final state.

    The job is claimed (:func:`jobs.claim`), a heartbeat is written every
    ``heartbeat_s`` seconds from a second thread while it runs
    (:func:`jobs.execute`), and the heartbeat stops with it.  ``heartbeat_s``
    None writes no heartbeat from a second thread (for callers whose sessions
    share one connection); progress updates still beat.  ``attempt`` above 1
    is a retry of the job queue (:func:`jobs.claim`).
    """
    claimed = jobs.claim(make_session, job_id, attempt=attempt)
    if isinstance(claimed, JobState):
        return claimed
    heartbeat = Heartbeat(make_session, job_id, heartbeat_s or HEARTBEAT_S, claimed.attempt)
    if heartbeat_s is not None:
        heartbeat.start()
    try:
        return jobs.execute(make_session, claimed, solve=solve)
    finally:
        heartbeat.stopped.set()
        if heartbeat.is_alive():
            heartbeat.join(5)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m placement.runtime.worker JOB_ID", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    url = os.environ.get("PRAKTIK_DATABASE_URL")
    if not url:
        print("PRAKTIK_DATABASE_URL is not set", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        state = run_job(sessionmaker(bind=engine, expire_on_commit=False), int(args[0]))
    finally:
        engine.dispose()
    return 0 if state is JobState.SUCCEEDED else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
