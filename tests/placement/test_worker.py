"""The solve worker as a real process: it solves, and killing it leaves the round failed and untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.db import make_engine
from placement.enums import JobState, RoundStatus
from placement.rounds import jobs
from placement.runtime import worker
from tests import factories as f

pytestmark = pytest.mark.slow
COORDINATOR = audit.Actor("cli")


@pytest.fixture
def live_engine(live_database_url: str) -> Iterator[Engine]:
    engine = make_engine(live_database_url)
    yield engine
    engine.dispose()


def _start(make_session: sessionmaker[Session], url: str, round_id: int) -> tuple[int, subprocess.Popen[bytes]]:
    with make_session() as session, session.begin():
        job_id = jobs.enqueue(session, round_id, actor=COORDINATOR).id
    return job_id, worker.launch(job_id, url)


def _wait_until_solving(make_session: sessionmaker[Session], job_id: int, timeout_s: float = 60) -> m.SolveJob:
    """The job once the solver runs (the round is ``solving``), or once it ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with make_session() as session:
            job = session.get(m.SolveJob, job_id)
            assert job is not None
            solving = job.state is JobState.RUNNING and (job.progress or "").startswith("solving")
            if solving or job.state in (JobState.SUCCEEDED, JobState.FAILED):
                return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not start solving")


def test_the_worker_process_solves_the_round(live_database_url: str, live_engine: Engine) -> None:
    make_session = sessionmaker(bind=live_engine, expire_on_commit=False)
    with make_session() as session, session.begin():
        round_id = f.small_round(session)[0].id
    job_id, process = _start(make_session, live_database_url, round_id)
    job = jobs.wait(make_session, job_id, timeout_s=120)
    assert job.state is JobState.SUCCEEDED, job.error
    process.wait(10)
    with make_session() as session:
        assert session.get(m.AllocationRound, round_id).status is RoundStatus.PROPOSED  # type: ignore[union-attr]
        placed = session.scalar(select(func.count(m.Assignment.id)).where(m.Assignment.round_id == round_id))
        assert placed == 4


def test_killing_the_worker_fails_the_round_and_a_new_run_succeeds(live_database_url: str, live_engine: Engine) -> None:
    make_session = sessionmaker(bind=live_engine, expire_on_commit=False)
    with make_session() as session, session.begin():
        round_id = f.small_round(session)[0].id
    job_id, process = _start(make_session, live_database_url, round_id)
    pid = process.pid
    running = _wait_until_solving(make_session, job_id)
    assert running.state is JobState.RUNNING, "the worker finished before it could be killed"
    with make_session() as session:
        assert session.get(m.AllocationRound, round_id).status is RoundStatus.SOLVING  # type: ignore[union-attr]
    os.killpg(pid, signal.SIGKILL)  # the worker and its solver child
    process.wait(10)

    job = jobs.wait(make_session, job_id, timeout_s=30)  # reaps the dead worker
    assert job.state is JobState.FAILED
    assert f"pid {pid}" in (job.error or "")
    with make_session() as session:
        allocation_round = session.get(m.AllocationRound, round_id)
        assert allocation_round is not None
        assert allocation_round.status is RoundStatus.FAILED
        assert "stopped" in (allocation_round.error or "")
        assert session.scalar(select(func.count(m.Assignment.id)).where(m.Assignment.round_id == round_id)) == 0

    job_id, process = _start(make_session, live_database_url, round_id)
    assert jobs.wait(make_session, job_id, timeout_s=120).state is JobState.SUCCEEDED
    process.wait(10)
    with make_session() as session:
        assert session.get(m.AllocationRound, round_id).status is RoundStatus.PROPOSED  # type: ignore[union-attr]
