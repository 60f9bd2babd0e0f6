"""``praktik scheduler`` as real processes, against a real SMTP server on loopback.

The sweeps run every second here (``--sweep-seconds 1``) so that a test sees
minutes of scheduling in seconds; everything else — the job store in the
database, the claimed runs, the outbox, SMTP — is what production runs.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.db import make_engine, utcnow
from placement.enums import JobRunState, MailState, Role, RoundStatus
from placement.mail import outbox as mail
from placement.rounds import assignments, jobs
from placement.runtime import schedule, worker
from placement.runtime.scheduler import JobSpec, UnknownJobFunction, build
from tests import factories as f
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.slow
JOB_IDS = {"windows", "deadlines", "reminders", "mail", "digest", "purge"}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_engine(live_database_url: str) -> Iterator[Engine]:
    engine = make_engine(live_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_session(live_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=live_engine, expire_on_commit=False)


class Scheduler:
    """One ``praktik scheduler`` process with its log."""

    def __init__(self, url: str, smtp: SmtpServer, log: Path) -> None:
        self.log = log
        env = dict(
            os.environ,
            PRAKTIK_DATABASE_URL=url,
            PRAKTIK_SECRET_KEY="scheduler-test",
            PRAKTIK_MAIL_HOST=smtp.host,
            PRAKTIK_MAIL_PORT=str(smtp.port),
            PRAKTIK_MAIL_SENDER="praktik@kommun.example",
            PRAKTIK_MAIL_TIMEOUT_S="5",
        )
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from web.cli import main; main()", "scheduler", "--sweep-seconds", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:  # pragma: no cover - only when shutdown hangs
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"the scheduler did not stop on SIGTERM:\n{self.output()}") from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start(live_database_url: str, smtp: SmtpServer, tmp_path: Path) -> Iterator[Callable[[], Scheduler]]:
    started: list[Scheduler] = []

    def _start() -> Scheduler:
        process = Scheduler(live_database_url, smtp, tmp_path / f"scheduler-{len(started)}.log")
        started.append(process)
        return process

    yield _start
    for process in started:
        process.stop()


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 90, *logs: Scheduler) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    output = "\n".join(process.output()[-3000:] for process in logs)
    raise AssertionError(f"timed out waiting for {what}\n{output}")


def stored_jobs(make_session: sessionmaker[Session]) -> dict[str, float]:
    with make_session() as session:
        rows = session.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
        return dict(rows)


def runs(make_session: sessionmaker[Session], job_id: str) -> list[m.JobRun]:
    with make_session() as session:
        return list(session.scalars(select(m.JobRun).where(m.JobRun.job_id == job_id).order_by(m.JobRun.scheduled_for)))


def queue_mail(make_session: sessionmaker[Session], count: int, prefix: str) -> None:
    with make_session() as session, session.begin():
        for n in range(count):
            mail.enqueue(
                session,
                kind="employer_reminder",
                recipient=f"{prefix}{n}@foretag.example",
                locale="sv",
                context={"name": "Kim", "employer": "Bageriet AB", "deadline": "1 dec", "unanswered": 1, "url": "u"},
                dedup_key=f"{prefix}:{n}",
            )


# --- the tests -------------------------------------------------------------------------------------------------------


def test_the_window_closes_on_time_and_the_round_runs_by_itself(
    make_session: sessionmaker[Session], smtp: SmtpServer, start: Callable[[], Scheduler]
) -> None:
    scheduler = start()
    wait_for(lambda: runs(make_session, "windows"), "the scheduler to run", 60, scheduler)
    with make_session() as session, session.begin():
        coordinator = f.user(session, Role.COORDINATOR, email="samordnare@kommun.example")
        allocation_round, _, _ = f.small_round(session)
        closes = utcnow() + dt.timedelta(seconds=3)
        window = m.PreferenceWindow(name="Val", opens_at=closes - dt.timedelta(days=7), closes_at=closes, max_choices=5)
        session.add(window)
        session.flush()
        allocation_round.preference_window_id = window.id
        allocation_round.auto_run = True
        round_id, window_id = allocation_round.id, window.id

    def proposed() -> bool:
        with make_session() as session:
            return session.get_one(m.AllocationRound, round_id).status is RoundStatus.PROPOSED

    wait_for(proposed, "the round to be solved", 120, scheduler)
    with make_session() as session:
        closed_at = session.get_one(m.PreferenceWindow, window_id).closed_at
        assert closed_at is not None
        # The sweep runs every second here (every minute in production); allow for a loaded machine.
        assert dt.timedelta(0) <= closed_at - closes < dt.timedelta(seconds=5), "closed at the sweep after its time"
        jobs_run = session.scalars(select(m.SolveJob).where(m.SolveJob.round_id == round_id)).all()
        assert [(job.state.value, job.kind) for job in jobs_run] == [("succeeded", "initial")]
    wait_for(lambda: smtp.messages, "the coordinator's mail", 30, scheduler)
    (message,) = smtp.messages
    assert message["To"] == coordinator.email
    assert "Höst" in message["Subject"]
    assert set(stored_jobs(make_session)) == JOB_IDS
    assert any(
        run.state is JobRunState.SUCCEEDED and "queued to run" in (run.summary or "")
        for run in runs(make_session, "windows")
    )


def test_a_restart_keeps_every_job_and_runs_a_missed_run_once(
    make_session: sessionmaker[Session], start: Callable[[], Scheduler]
) -> None:
    first = start()
    wait_for(lambda: len(runs(make_session, "windows")) >= 2, "the first runs", 60, first)
    first.stop()
    stored_before = stored_jobs(make_session)
    assert set(stored_before) == JOB_IDS
    stopped = utcnow()
    with make_session() as session, session.begin():
        closes = utcnow() + dt.timedelta(seconds=1)  # closes while no scheduler runs
        window = m.PreferenceWindow(name="Val", opens_at=closes - dt.timedelta(days=7), closes_at=closes)
        session.add(window)
        session.flush()
        window_id = window.id
    time.sleep(4)
    restarted = utcnow()
    second = start()

    def closed() -> dt.datetime | None:
        with make_session() as session:
            return session.get_one(m.PreferenceWindow, window_id).closed_at

    wait_for(closed, "the missed closing", 60, second)
    wait_for(lambda: runs(make_session, "windows")[-1].scheduled_for > restarted, "a regular run", 30, second)
    second.stop()

    assert set(stored_jobs(make_session)) == JOB_IDS
    # The digest and the purge were due in no gap here: they kept their next run time.
    after = stored_jobs(make_session)
    assert after["digest"] == stored_before["digest"]
    assert after["purge"] == stored_before["purge"]
    # The runs missed while down are coalesced into one: the first run after the restart
    # (scheduled for the latest missed second) did the missed closing, and no run was
    # fired for each second of the gap.
    after_restart = [run for run in runs(make_session, "windows") if run.started_at >= restarted]
    assert after_restart[0].state is JobRunState.SUCCEEDED
    assert f"window {window_id} closed" in (after_restart[0].summary or "")
    in_gap = [run for run in runs(make_session, "windows") if stopped < run.scheduled_for < restarted]
    assert len(in_gap) <= 1
    elapsed = (after_restart[-1].started_at - restarted).total_seconds()
    assert len(after_restart) <= elapsed + 2, "one run per second after the restart, none per missed second"
    with make_session() as session:
        closes_recorded = session.scalar(
            select(func.count(m.AuditEvent.id)).where(
                m.AuditEvent.action == "window.close", m.AuditEvent.entity_id == window_id
            )
        )
    assert closes_recorded == 1


def test_two_schedulers_on_one_database_run_each_job_once(
    make_session: sessionmaker[Session], smtp: SmtpServer, start: Callable[[], Scheduler]
) -> None:
    queue_mail(make_session, 20, "kontakt")
    first, second = start(), start()
    wait_for(lambda: len(smtp.received) >= 20, "the mail", 60, first, second)
    began = utcnow()
    time.sleep(5)
    ended = utcnow()
    first.stop()
    second.stop()

    recipients = Counter(rcpt for received in smtp.received for rcpt in received.rcpt_tos)
    assert recipients == Counter({f"kontakt{n}@foretag.example": 1 for n in range(20)})
    with make_session() as session:
        claims = Counter(session.execute(select(m.JobRun.job_id, m.JobRun.scheduled_for)).all())
        pids = set(session.scalars(select(m.JobRun.pid)))
    assert max(claims.values()) == 1
    assert pids == {first.process.pid, second.process.pid} or "already claimed" in first.output() + second.output()
    window_runs = [run for run in runs(make_session, "windows") if began <= run.scheduled_for <= ended]
    assert len(window_runs) <= (ended - began).total_seconds() + 1, "one run per second, not one per process"


def test_an_smtp_outage_delays_mail_but_loses_and_duplicates_none(
    make_session: sessionmaker[Session], smtp: SmtpServer, start: Callable[[], Scheduler]
) -> None:
    scheduler = start()
    wait_for(lambda: runs(make_session, "mail"), "the mail job", 60, scheduler)
    queue_mail(make_session, 3, "fore")
    wait_for(lambda: len(smtp.received) == 3, "the first mail", 30, scheduler)
    smtp.stop()
    queue_mail(make_session, 5, "under")

    def postponed() -> bool:
        with make_session() as session:
            waiting = session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.dedup_key.like("under:%"))).all()
            return all(message.state is MailState.QUEUED and message.attempts >= 1 for message in waiting)

    wait_for(postponed, "the outage to be noticed", 30, scheduler)
    with make_session() as session:
        assert session.scalar(select(func.count()).where(m.OutboxMessage.state == MailState.SENT)) == 3
        error = session.scalars(select(m.OutboxMessage.last_error).where(m.OutboxMessage.dedup_key == "under:0")).one()
    assert error is not None
    assert "not reachable" in error
    smtp.start()
    # Time passes past the back-off (a minute): move the next attempt instead of waiting for it.
    with make_session() as session, session.begin():
        session.execute(
            update(m.OutboxMessage)
            .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
            .where(m.OutboxMessage.state == MailState.QUEUED)
        )
    wait_for(lambda: len(smtp.received) >= 8, "the delayed mail", 30, scheduler)
    time.sleep(3)  # a few more runs: nothing is sent again

    recipients = Counter(rcpt for received in smtp.received for rcpt in received.rcpt_tos)
    expected = [f"fore{n}@foretag.example" for n in range(3)] + [f"under{n}@foretag.example" for n in range(5)]
    assert recipients == Counter(expected)
    with make_session() as session:
        assert session.scalar(select(func.count()).where(m.OutboxMessage.state != MailState.SENT)) == 0


def test_a_job_whose_function_is_gone_stops_the_start(live_engine: Engine) -> None:
    settings = schedule.Settings(
        database_url="unused",
        smtp=mail.SmtpSettings(host="127.0.0.1", port=1, use_tls=False, username=None, password=None, sender="x@y.se"),
    )
    renamed = [JobSpec("windows", "placement.runtime.scheduler:windows_job_renamed", {"second": "0"}, "renamed")]
    with pytest.raises(UnknownJobFunction, match="windows_job_renamed"):
        build(settings, live_engine, specs=renamed)


def test_each_reminder_reaches_exactly_the_right_people_once(
    make_session: sessionmaker[Session], smtp: SmtpServer, start: Callable[[], Scheduler]
) -> None:
    with make_session() as session, session.begin():
        allocation_round, _, offers = f.small_round(session)
        round_id = allocation_round.id
        w45 = allocation_round.periods[0]
        job_id = jobs.enqueue(session, round_id, actor=audit.CLI).id
    assert worker.run_job(make_session, job_id, heartbeat_s=None).value == "succeeded"
    with make_session() as session, session.begin():
        assignments.publish(session, round_id, utcnow() + dt.timedelta(days=2), actor=audit.CLI)
        employers = [session.get_one(m.Offer, offer.id).employer for offer in offers[:2]]
        waiting = [_member(session, Role.EMPLOYER_CONTACT, employer) for employer in employers]
        idle = _member(session, Role.EMPLOYER_CONTACT, f.employer(session))  # no pupils: nothing to answer
        behind = f.school(session, name="Bergskolan")
        f.pupil(session, school_class=f.school_class(session, school=behind, period=w45, name="9C"))
        teacher = _member(session, Role.SCHOOL_STAFF, behind)
        ready = _member(
            session, Role.SCHOOL_STAFF, session.scalars(select(m.School).where(m.School.code == "S01")).one()
        )
        session.add(
            m.PreferenceWindow(
                name="Val", opens_at=utcnow() - dt.timedelta(days=5), closes_at=utcnow() + dt.timedelta(days=2)
            )
        )
        expected = {
            "employer_reminder": {user.email for user in waiting},
            "school_reminder": {teacher.email},
            "window_open": {teacher.email, ready.email},
        }
        assert idle.email not in expected["employer_reminder"]
    scheduler = start()

    def delivered() -> dict[str, Counter[str]]:
        with make_session() as session:
            kinds = dict(session.execute(select(m.OutboxMessage.message_id, m.OutboxMessage.kind)).all())
        by_kind: dict[str, Counter[str]] = {}
        for received in smtp.received:
            kind = kinds[received.message["Message-ID"]]
            by_kind.setdefault(kind, Counter()).update(received.rcpt_tos)
        return by_kind

    wait_for(lambda: all(kind in delivered() for kind in expected), "the reminders", 60, scheduler)
    time.sleep(4)  # several more sweeps: nobody is reminded again
    by_kind = delivered()
    for kind, recipients in expected.items():
        assert by_kind[kind] == Counter(recipients), kind


def _member(session: Session, role: Role, organisation: m.School | m.Employer) -> m.User:
    user = f.user(session, role)
    if isinstance(organisation, m.School):
        session.add(m.SchoolMembership(user=user, school=organisation))
    else:
        session.add(m.EmployerMembership(user=user, employer=organisation))
    session.flush()
    return user
