"""The scheduler process: ``praktik scheduler`` keeps the season's dates.

One process, started beside the web server (never inside it: web workers
never run jobs).  It runs APScheduler 3.x with its job store in the app's own
database, so the schedule survives restarts, and an explicit time zone
(Europe/Stockholm by default), so that the weekly digest goes at 07:00 local
time in summer and in winter.

Two rules make it safe to restart and safe to start twice by mistake:

* **Every run is claimed.**  Before a job runs for a scheduled time, the
  executor inserts a ``job_run`` row for (job, scheduled time); the unique
  constraint lets exactly one process win, a second scheduler skips the run,
  and the row records how the run ended.  The triggers are cron triggers, so
  two processes compute the same scheduled times.
* **A missed run runs once.**  Jobs are coalesced and have no misfire grace
  limit: a run due while the process was down happens once when it comes
  back.  The job store is reconciled at start: known jobs keep their next run
  time (so a missed one is still due), jobs whose trigger changed are
  rescheduled, jobs nobody knows any more are removed, and a job whose
  function cannot be imported stops the start loudly instead of vanishing.

The jobs themselves are the sweeps of :mod:`placement.runtime.schedule`:
state-based and idempotent, each in one transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import signal
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.util import ref_to_obj
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from placement import hosts
from placement.db import make_engine, utcnow, violated_constraint
from placement.enums import JobRunState
from placement.mail import outbox as mail
from placement.models import JobRun, SolveJob
from placement.runtime import queue as job_queue
from placement.runtime import schedule, worker

logger = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
JOB_DEFAULTS = {
    # A run missed while the process was down happens once, however late.
    "coalesce": True,
    "misfire_grace_time": None,
    "max_instances": 1,
}


@dataclasses.dataclass(frozen=True)
class JobSpec:
    """A job of the scheduler: its stable id, the function it runs and when."""

    id: str
    func: str
    cron: dict[str, str]
    description: str


def job_specs(sweep_seconds: int = 60) -> list[JobSpec]:
    """The scheduler's jobs.  ``sweep_seconds`` below 60 makes the sweeps run that often (for tests)."""

    def every(offset: int) -> dict[str, str]:
        if sweep_seconds >= 60:
            return {"second": str(offset)}
        return {"second": f"*/{sweep_seconds}"}

    return [
        JobSpec("windows", "placement.runtime.scheduler:windows_job", every(0), "Open and close preference windows"),
        JobSpec("deadlines", "placement.runtime.scheduler:deadlines_job", every(10), "Apply confirmation deadlines"),
        JobSpec("reminders", "placement.runtime.scheduler:reminders_job", every(20), "Remind schools and employers"),
        JobSpec("mail", "placement.runtime.scheduler:mail_job", every(30), "Send the outbox"),
        JobSpec(
            "digest",
            "placement.runtime.scheduler:digest_job",
            {"day_of_week": "mon", "hour": "7", "minute": "0"},
            "Weekly digest to coordinators",
        ),
        # 03:30 local: never in the hour a spring-forward change skips (02:00-03:00).
        JobSpec(
            "purge",
            "placement.runtime.scheduler:purge_job",
            {"hour": "3", "minute": "30"},
            "Purge expired personal data",
        ),
    ]


# --- the context jobs run in -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Context:
    settings: schedule.Settings
    make_session: sessionmaker[Session]
    #: The job queue solves and mail go to; None runs them in this process.
    queue: job_queue.Queue | None = None


#: The context of this process's scheduler (jobs are plain functions APScheduler finds by name).
_current: dict[str, Context] = {}


def context() -> Context:
    try:
        return _current["context"]
    except KeyError:
        raise RuntimeError("the scheduler is not running in this process") from None


@contextmanager
def transaction() -> Iterator[Session]:
    with context().make_session() as session, session.begin():
        yield session


def _sweep(*sweeps: Callable[..., schedule.SweepResult]) -> str:
    """Run sweeps, each in its own transaction, then the solve jobs they queued."""
    ctx = context()
    lines: list[str] = []
    for sweep in sweeps:
        with transaction() as session:
            result = sweep(session, ctx.settings)
        lines.extend(result.lines)
        for job_id in result.solve_jobs:
            if ctx.queue is not None:  # a worker runs it, and reports an automatic run when it ends
                job_queue.dispatch_solve(
                    ctx.queue, ctx.make_session, job_id, report_auto_run=sweep is schedule.close_windows
                )
                lines.append(f"solve job {job_id} handed to the job queue")
                continue
            state = worker.run_job(ctx.make_session, job_id)
            lines.append(f"solve job {job_id} {state.value}")
            if sweep is schedule.close_windows:
                with transaction() as session:
                    round_id = session.get_one(SolveJob, job_id).round_id
                    schedule.report_auto_run(session, ctx.settings, round_id)
    return "; ".join(lines) if lines else "nothing due"


def windows_job() -> str:
    return _sweep(schedule.open_windows, schedule.close_windows)


def deadlines_job() -> str:
    return _sweep(schedule.apply_deadlines)


def reminders_job() -> str:
    return _sweep(schedule.school_reminders, schedule.employer_reminders)


def digest_job() -> str:
    return _sweep(schedule.weekly_digest)


def purge_job() -> str:
    return _sweep(schedule.purge)


def mail_job() -> str:
    ctx = context()
    if ctx.queue is not None:
        queued = ctx.queue.mail()
        return "a send of the outbox is already waiting" if queued is None else f"outbox handed to queue job {queued}"
    return str(mail.deliver_due(ctx.make_session, ctx.settings.smtp))


# --- claiming runs ---------------------------------------------------------------------------------------------------


def claim(make_session: sessionmaker[Session], job_id: str, scheduled_for: Any) -> int | None:
    """Insert the run's row; its id, or None when another process already claimed this run."""
    with make_session() as session:
        run = JobRun(
            job_id=job_id,
            scheduled_for=scheduled_for,
            state=JobRunState.RUNNING,
            started_at=utcnow(),
            host=socket.gethostname()[:255],
            pid=os.getpid(),
        )
        session.add(run)
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            if violated_constraint(exc) == "uq_job_run_job_id_scheduled_for":
                return None
            raise
        return run.id


def finish(make_session: sessionmaker[Session], run_id: int, events: list[JobExecutionEvent]) -> None:
    """Record how a claimed run ended."""
    failed = [event for event in events if event.code == EVENT_JOB_ERROR]
    with make_session() as session, session.begin():
        values: dict[str, Any] = {"finished_at": utcnow()}
        if failed:
            event = failed[0]
            values |= {
                "state": JobRunState.FAILED,
                "error": "".join(traceback.format_exception(event.exception))[-4000:]
                if event.exception is not None
                else "failed",
            }
        else:
            done = [event for event in events if event.code == EVENT_JOB_EXECUTED]
            summary = done[0].retval if done else None
            values |= {"state": JobRunState.SUCCEEDED, "summary": None if summary is None else str(summary)[:4000]}
        session.execute(update(JobRun).where(JobRun.id == run_id).values(**values))


class ClaimingExecutor(ThreadPoolExecutor):
    """A thread pool that runs a job for a scheduled time only after claiming that run in the database."""

    def __init__(self, make_session: sessionmaker[Session], max_workers: int = 4) -> None:
        super().__init__(max_workers)
        self._make_session = make_session

    def _do_submit_job(self, job: Job, run_times: list[Any]) -> None:
        def claimed() -> list[JobExecutionEvent]:
            events: list[JobExecutionEvent] = []
            for run_time in run_times:
                run_id = claim(self._make_session, job.id, run_time)
                if run_id is None:
                    logger.info("Job %s at %s already claimed by another scheduler; skipped", job.id, run_time)
                    continue
                outcome = run_job(job, job._jobstore_alias, [run_time], self._logger.name)
                try:
                    finish(self._make_session, run_id, outcome)
                except Exception:  # the run happened; a lost record must not hide it
                    logger.exception("Job %s: could not record the end of run %s", job.id, run_id)
                events.extend(outcome)
            return events

        def callback(future: Any) -> None:
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        future = self._pool.submit(claimed)
        future.add_done_callback(callback)


# --- building and running the scheduler ------------------------------------------------------------------------------


class UnknownJobFunction(RuntimeError):
    """A job's function cannot be imported: starting would lose the job, so the start stops."""


def build(
    settings: schedule.Settings, engine: Engine, *, specs: list[JobSpec] | None = None
) -> tuple[BackgroundScheduler, sessionmaker[Session]]:
    """A scheduler over the app's database, with its jobs reconciled, not yet running jobs (paused)."""
    make_session = sessionmaker(bind=engine, expire_on_commit=False)
    specs = job_specs() if specs is None else specs
    for spec in specs:
        try:
            ref_to_obj(spec.func)
        except (LookupError, ValueError) as exc:
            raise UnknownJobFunction(f"job {spec.id}: function {spec.func} cannot be imported: {exc}") from exc
    queue = job_queue.Queue(settings.queue_url) if settings.queue_url else None
    _current["context"] = Context(settings=settings, make_session=make_session, queue=queue)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
        executors={"default": ClaimingExecutor(make_session)},
        job_defaults=JOB_DEFAULTS,
        timezone=settings.zone,
    )
    scheduler.start(paused=True)
    reconcile(scheduler, specs)
    return scheduler, make_session


def reconcile(scheduler: BackgroundScheduler, specs: list[JobSpec]) -> None:
    """Make the stored jobs match ``specs`` without losing a run that is already due."""
    wanted = {spec.id: spec for spec in specs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            logger.warning("Removing stored job %s: no such job any more", job.id)
            with contextlib.suppress(JobLookupError):  # another scheduler removed it first
                job.remove()
    for spec in specs:
        trigger = CronTrigger(timezone=scheduler.timezone, **spec.cron)
        job = scheduler.get_job(spec.id)
        if job is None:
            try:
                scheduler.add_job(spec.func, trigger, id=spec.id, name=spec.description)
            except ConflictingIdError:  # a second scheduler, started at the same moment, added it first
                logger.info("Job %s was added by another scheduler", spec.id)
            else:
                logger.info("Job %s added: %s", spec.id, trigger)
        elif str(job.trigger) != str(trigger) or job.func_ref != spec.func:
            job.modify(func=spec.func, name=spec.description)
            job.reschedule(trigger)
            logger.info("Job %s rescheduled: %s", spec.id, trigger)


def run(settings: schedule.Settings, *, sweep_seconds: int = 60, stop: threading.Event | None = None) -> None:
    """Run the scheduler until SIGTERM/SIGINT (or ``stop`` is set)."""
    engine = make_engine(settings.database_url)
    stop = stop or threading.Event()
    scheduler, make_session = build(settings, engine, specs=job_specs(sweep_seconds))
    _fail_interrupted_runs(make_session)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    logger.info("Scheduler started (time zone %s, %d jobs)", settings.timezone, len(scheduler.get_jobs()))
    scheduler.resume()
    try:
        stop.wait()
    finally:
        logger.info("Scheduler stopping")
        scheduler.shutdown(wait=True)
        queue = context().queue
        if queue is not None:
            queue.close()
        engine.dispose()


def _fail_interrupted_runs(make_session: sessionmaker[Session]) -> None:
    """Runs this host's earlier scheduler left running were interrupted: say so."""
    with make_session() as session, session.begin():
        for run in session.scalars(
            select(JobRun).where(JobRun.state == JobRunState.RUNNING, JobRun.host == socket.gethostname()[:255])
        ):
            if run.pid != os.getpid() and not hosts.process_alive(run.pid):
                run.state = JobRunState.FAILED
                run.finished_at = utcnow()
                run.error = "the scheduler process stopped during this run"


# --- what the coordinator sees ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class JobLine:
    """One job on the coordinator's scheduler page."""

    spec: JobSpec
    #: Whether the job is in the job store (the scheduler has run at least once with it).
    stored: bool
    next_run_at: dt.datetime | None
    last_run: JobRun | None
    last_failure: JobRun | None
    failures_this_week: int


def job_overview(session: Session, now: dt.datetime | None = None) -> list[JobLine]:
    """Every job with its next run, its last run and its last failure."""
    now = now or utcnow()
    store = sa.table(JOBSTORE_TABLE, sa.column("id"), sa.column("next_run_time"))
    stored: dict[str, Any] = dict(session.execute(sa.select(store.c.id, store.c.next_run_time)).all())
    lines = []
    for spec in job_specs():
        runs = select(JobRun).where(JobRun.job_id == spec.id).order_by(JobRun.started_at.desc(), JobRun.id.desc())
        next_run = stored.get(spec.id)
        lines.append(
            JobLine(
                spec=spec,
                stored=spec.id in stored,
                next_run_at=None if next_run is None else dt.datetime.fromtimestamp(float(next_run), dt.UTC),
                last_run=session.scalars(runs.limit(1)).first(),
                last_failure=session.scalars(runs.where(JobRun.state == JobRunState.FAILED).limit(1)).first(),
                failures_this_week=session.scalar(
                    select(sa.func.count(JobRun.id)).where(
                        JobRun.job_id == spec.id,
                        JobRun.state == JobRunState.FAILED,
                        JobRun.started_at >= now - dt.timedelta(days=7),
                    )
                )
                or 0,
            )
        )
    return lines


#: The sweeps run every minute; no run for this long means no scheduler is running.
SILENT_AFTER = dt.timedelta(minutes=5)


def is_running(session: Session, now: dt.datetime | None = None) -> bool:
    """Whether some scheduler process has started a run recently."""
    now = now or utcnow()
    latest = session.scalar(select(sa.func.max(JobRun.started_at)))
    return latest is not None and latest >= now - SILENT_AFTER


def recent_runs(session: Session, limit: int = 50) -> list[JobRun]:
    return list(session.scalars(select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)))
