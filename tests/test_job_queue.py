"""The job queue as production runs it: ``praktik worker`` and ``praktik serve`` processes on one PostgreSQL.

The queue is Procrastinate in the test's own PostgreSQL database (the broker
production names with ``PRAKTIK_QUEUE_URL``); nothing is faked.  Workers beat
every second here (``PRAKTIK_QUEUE_HEARTBEAT_S=1``), so a dead worker's jobs
are found stalled after three seconds instead of thirty.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.db import make_engine
from placement.enums import JobState, Role, RoundStatus
from placement.mail import outbox as mail
from placement.organisation import accounts
from placement.rounds import jobs
from placement.runtime import queue
from tests import factories as f
from tests.conftest import POSTGRES_URL, _drop_postgres, postgres_or_skip
from tests.smtp_server import SmtpServer, free_port

pytestmark = pytest.mark.slow
PASSWORD = "samordnarens-långa-lösenord"
EMAIL = "samordnare@kommun.example"


@pytest.fixture
def queue_database_url() -> Iterator[str]:
    """A migrated PostgreSQL database of its own, holding the app's tables and the queue's."""
    from placement.migrate import upgrade

    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/praktik_queue_{os.getpid()}"
    postgres_or_skip(url)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    assert queue.ensure_schema(url) is True
    assert queue.ensure_schema(url) is False  # a second start finds the tables in place
    yield url
    _drop_postgres(url)


@pytest.fixture
def engine(queue_database_url: str) -> Iterator[Engine]:
    engine = make_engine(queue_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_session(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def processes(
    queue_database_url: str, smtp: SmtpServer, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``praktik`` commands with production's environment; every one is stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []
    env = dict(
        os.environ,
        PRAKTIK_DATABASE_URL=queue_database_url,
        PRAKTIK_QUEUE_URL=queue_database_url,
        PRAKTIK_QUEUE_HEARTBEAT_S="1",
        PRAKTIK_SECRET_KEY="the-same-key-on-every-host-" + "x" * 16,
        PRAKTIK_MAIL_HOST=smtp.host,
        PRAKTIK_MAIL_PORT=str(smtp.port),
        PRAKTIK_MAIL_SENDER="praktik@kommun.example",
    )

    def start(*args: str, instance: str = "host") -> subprocess.Popen[bytes]:
        folder = tmp_path / instance
        folder.mkdir(exist_ok=True)
        log = open(tmp_path / f"{instance}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", *args],
            env=dict(env, PRAKTIK_INSTANCE_PATH=str(folder)),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    for log in sorted(tmp_path.glob("*.log")):
        print(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}")


def _until(check: Callable[[], object], timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _workers_alive(engine: Engine, count: int) -> Callable[[], bool]:
    def check() -> bool:
        with engine.connect() as conn:
            alive = conn.scalar(
                text("SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - interval '3 seconds'")
            )
        return (alive or 0) >= count

    return check


def _queue_job(engine: Engine, queue_job_id: int) -> tuple[str, int]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT status::text, attempts FROM procrastinate_jobs WHERE id = :id"), {"id": queue_job_id}
        ).one()
    return str(row[0]), int(row[1])


def test_a_worker_solves_a_round_and_sends_the_outbox(
    engine: Engine,
    make_session: sessionmaker[Session],
    queue_database_url: str,
    smtp: SmtpServer,
    processes: Callable[..., subprocess.Popen[bytes]],
) -> None:
    processes("worker", "--solves", "1")
    _until(_workers_alive(engine, 2), 30, "the worker (its solves and its mail side)")
    with make_session() as session, session.begin():
        round_id = f.small_round(session)[0].id
        job_id = jobs.enqueue(session, round_id, actor=audit.CLI).id
        mail.enqueue(
            session,
            kind="employer_reminder",
            recipient="kontakt@bageriet.example",
            locale="sv",
            context={"name": "Kim", "employer": "Bageriet AB", "deadline": "1 dec", "unanswered": 1, "url": "u"},
            dedup_key="queue-test",
        )
    handle = queue.Queue(queue_database_url)
    try:
        queue_job = handle.solve(make_session, job_id)
        assert handle.mail() is not None
    finally:
        handle.close()

    job = jobs.wait(make_session, job_id, timeout_s=120)
    assert job.state is JobState.SUCCEEDED, job.error
    assert (job.attempt, job.queue_job_id) == (1, queue_job)
    _until(lambda: _queue_job(engine, queue_job)[0] == "succeeded", 10, "the queue job's acknowledgement")
    _until(lambda: smtp.received, 30, "the outbox sent by the worker")
    assert [r.rcpt_tos for r in smtp.received] == [("kontakt@bageriet.example",)]
    with make_session() as session:
        assert session.get_one(m.AllocationRound, round_id).status is RoundStatus.PROPOSED
        assert session.scalar(select(func.count(m.Assignment.id)).where(m.Assignment.round_id == round_id)) == 4


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token"
    return match.group(1)


def test_a_round_run_from_one_web_host_survives_the_death_of_its_worker(
    engine: Engine, make_session: sessionmaker[Session], processes: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """Two web processes and two workers: run on web A, watch on web B, kill the worker that holds the solve."""
    with make_session() as session, session.begin():
        round_id = f.small_round(session)[0].id
        coordinator = f.user(session, Role.COORDINATOR, email=EMAIL)
        accounts.set_password(coordinator, PASSWORD)
    ports = [free_port(), free_port()]
    for n, port in enumerate(ports):
        processes("serve", "--port", str(port), instance=f"web{n}")
    workers = [processes("worker", instance=f"worker{n}") for n in range(2)]
    web_a, web_b = (f"http://127.0.0.1:{port}" for port in ports)

    def up(base: str) -> Callable[[], bool]:
        def check() -> bool:
            try:
                return urllib.request.urlopen(base + "/healthz", timeout=2).status == 200
            except OSError:
                return False

        return check

    for base in (web_a, web_b):
        _until(up(base), 60, f"the web process at {base}")
    _until(_workers_alive(engine, 4), 60, "two workers")

    browser = _logged_in(web_a)
    page = browser.open(f"{web_a}/coordinator/rounds/{round_id}").read().decode()
    run = {"csrf_token": _token(page), "confirmed": "yes"}  # its week has begun: the run is confirmed
    browser.open(f"{web_a}/coordinator/rounds/{round_id}/run", data=urllib.parse.urlencode(run).encode())

    def status() -> dict[str, object]:  # web B, signed in by the session web A made
        answer: dict[str, object] = json.load(browser.open(f"{web_b}/coordinator/rounds/{round_id}/status.json"))
        return answer

    def solving() -> dict[str, object] | None:
        answer = status()
        job = answer["job"]
        if isinstance(job, dict) and job["state"] == "running" and str(job["progress"]).startswith("solving"):
            return job
        assert not (isinstance(job, dict) and job["state"] in ("succeeded", "failed")), f"ended before the kill: {job}"
        return None

    job = _until(solving, 60, "the solve to start on a worker")
    assert isinstance(job, dict)
    with make_session() as session:
        held = session.get_one(m.SolveJob, int(job["id"]))
    holder = next(w for w in workers if w.pid == held.pid)
    other = next(w for w in workers if w is not holder)
    os.kill(holder.pid, signal.SIGKILL)  # the host dies: no goodbye, no acknowledgement
    holder.wait(10)

    def finished() -> dict[str, object] | None:
        answer = status()
        return answer if answer["round"] == "proposed" else None

    done = _until(finished, 90, "the round to be solved on the other worker")
    assert isinstance(done, dict)
    assert isinstance(done["job"], dict)
    assert done["job"]["state"] == "succeeded"
    with make_session() as session:
        solved = session.get_one(m.SolveJob, held.id)
        assert (solved.state, solved.attempt, solved.pid) == (JobState.SUCCEEDED, 2, other.pid)
        assert session.scalar(select(func.count(m.SolveJob.id)).where(m.SolveJob.round_id == round_id)) == 1
        assert session.scalar(select(func.count(m.Assignment.id)).where(m.Assignment.round_id == round_id)) == 4
        finishes = select(func.count(m.AuditEvent.id)).where(
            m.AuditEvent.action == "round.solve.finish", m.AuditEvent.entity_id == round_id
        )
        assert session.scalar(finishes) == 1  # one stored result
        assert session.get_one(m.AllocationRound, round_id).status is RoundStatus.PROPOSED
    assert solved.queue_job_id is not None
    assert _queue_job(engine, solved.queue_job_id) == ("succeeded", 2)  # the killed attempt and the retry
    scheduler_page = browser.open(f"{web_b}/coordinator/scheduler").read().decode()
    row = re.search(
        rf'<tr id="queue-job-{solved.queue_job_id}" data-status="succeeded">(.*?)</tr>', scheduler_page, re.S
    )
    assert row, "the scheduler page lists the job"
    assert "<td>2</td>" in row.group(1), "and its two attempts"
    assert 'id="queue-workers"' in scheduler_page
    assert 'id="queue-no-worker"' not in scheduler_page


def _logged_in(base: str) -> urllib.request.OpenerDirector:
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = {
        "email": EMAIL,
        "password": PASSWORD,
        "csrf_token": _token(browser.open(base + "/auth/login").read().decode()),
    }
    browser.open(base + "/auth/login", data=urllib.parse.urlencode(login).encode())
    return browser


def test_without_a_worker_the_run_waits_in_the_queue_and_the_coordinator_is_told(
    engine: Engine, make_session: sessionmaker[Session], processes: Callable[..., subprocess.Popen[bytes]]
) -> None:
    with make_session() as session, session.begin():
        round_id = f.small_round(session)[0].id
        coordinator = f.user(session, Role.COORDINATOR, email=EMAIL)
        accounts.set_password(coordinator, PASSWORD)
    port = free_port()
    processes("serve", "--port", str(port), instance="web")
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return urllib.request.urlopen(base + "/healthz", timeout=2).status == 200
        except OSError:
            return False

    _until(up, 60, "the web process")
    browser = _logged_in(base)
    page = browser.open(f"{base}/coordinator/rounds/{round_id}").read().decode()
    run = {"csrf_token": _token(page), "confirmed": "yes"}
    page = browser.open(f"{base}/coordinator/rounds/{round_id}/run", data=urllib.parse.urlencode(run).encode()).read()
    assert 'id="no-worker"' in page.decode(), "the round page says that no worker is running"
    assert 'id="queue-no-worker"' in browser.open(f"{base}/coordinator/scheduler").read().decode()
    with make_session() as session:
        job = session.scalars(select(m.SolveJob).where(m.SolveJob.round_id == round_id)).one()
        assert job.state is JobState.QUEUED
        assert job.queue_job_id is not None
    time.sleep(jobs.STALE_AFTER_S / 10)
    with make_session() as session, session.begin():
        assert jobs.reap(session, round_id) == []  # waiting for a worker is not a death

    processes("worker", instance="worker")
    assert jobs.wait(make_session, job.id, timeout_s=120).state is JobState.SUCCEEDED
