"""The job queue: solves, incremental rounds and outgoing mail as jobs of Procrastinate, on PostgreSQL.

Without a queue (``PRAKTIK_QUEUE_URL`` unset: the embedded default) a run
starts a worker process on the web host (:func:`placement.runtime.worker.launch`)
and the scheduler sends the outbox.  With a queue, the web hosts and the
scheduler only *defer* jobs, and ``praktik worker`` processes on any number of
hosts take them:

* ``praktik.solve_round`` (queue ``solves``): one solve job of a round
  (:mod:`placement.rounds.jobs`).  A worker runs at most ``--solves`` of them
  at once (a 100,000-pupil round needs 2-3 GB).
* ``praktik.send_outbox`` (queue ``mail``): sends what is due in the outbox;
  one at a time in the whole installation (its lock), one waiting at most.
* ``praktik.recover_stalled`` (queue ``mail``, every 10 s on every worker, run
  once per tick): the jobs of workers that stopped sending their heartbeat are
  retried on another worker, a solve once (:data:`MAX_ATTEMPTS`); after that
  the job and its round are failed, with the reason, for the coordinator to
  start again.

A job is acknowledged when its task returns, which is after the transaction
that stores its result committed.  A worker killed before that leaves the
queue job ``doing``; the retry takes the solve job over with a higher attempt
(:func:`placement.rounds.jobs.claim`), and only the attempt that holds the job
can store a result, so a round is never solved twice into the database.  A
worker killed after the commit but before the acknowledgement is retried too,
and the retry finds the job succeeded and does nothing.

Procrastinate keeps its jobs in PostgreSQL: a municipality that runs
Praktik's PostgreSQL runs its queue, with no broker to install, secure and
back up beside it; deferring is an INSERT, workers are woken by LISTEN/NOTIFY
and keep heartbeats, and a job's states and attempts are rows the
coordinator's scheduler page reads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
from typing import Any

import procrastinate
from procrastinate import exceptions as queue_errors
from procrastinate.job_context import JobContext
from procrastinate.jobs import Status
from sqlalchemy import Engine, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement.db import make_engine, utcnow
from placement.enums import JobKind, JobState
from placement.mail import outbox as mail
from placement.models import SolveJob
from placement.rounds import jobs, solving
from placement.runtime import schedule, worker

logger = logging.getLogger(__name__)

SOLVES = "solves"
MAIL = "mail"
SOLVE_TASK = "praktik.solve_round"
MAIL_TASK = "praktik.send_outbox"
RECOVER_TASK = "praktik.recover_stalled"
#: A solve is tried this often: once, and once more on another worker when its worker died.
MAX_ATTEMPTS = 2
#: How often a worker tells the queue it is alive; three missed beats make its jobs stalled.
HEARTBEAT_S = 10.0
#: Messages sent per batch (one SMTP connection), and how long one send job goes on while batches come full.
MAIL_BATCH = 200
MAIL_BUDGET_S = 50.0
#: How many solves one worker runs at once, unless ``praktik worker --solves`` says otherwise.
DEFAULT_SOLVES = 1


def conninfo(url: str) -> str:
    """The libpq connection string of a ``postgresql[+psycopg]://`` URL (the queue's broker)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"the job queue needs PostgreSQL; {parsed.drivername} cannot hold it")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def heartbeat_s() -> float:
    """The workers' heartbeat (``PRAKTIK_QUEUE_HEARTBEAT_S``; tests make it short)."""
    return float(os.environ.get("PRAKTIK_QUEUE_HEARTBEAT_S", str(HEARTBEAT_S)))


def stalled_after_s() -> float:
    return 3 * heartbeat_s()


# --- the tasks -------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WorkerContext:
    """What the tasks of a worker process need: its database and the scheduler's settings (mail, links)."""

    settings: schedule.Settings
    make_session: sessionmaker[Session]


def _context(context: JobContext) -> WorkerContext:
    found = (context.additional_context or {}).get("praktik")
    if not isinstance(found, WorkerContext):  # pragma: no cover  (only `praktik worker` runs these tasks)
        raise RuntimeError("a Praktik task runs only in `praktik worker`")
    return found


def solve_round(context: JobContext, *, solve_job: int, report_auto_run: bool = False) -> str:
    """Run one solve job; the attempt is the queue's (a retry of a dead worker's job is attempt 2)."""
    ctx = _context(context)
    assert context.job is not None
    attempt = context.job.attempts + 1
    try:
        state = worker.run_job(ctx.make_session, solve_job, attempt=attempt)
    except jobs.Superseded:
        return f"solve job {solve_job}: attempt {attempt} was taken over; nothing stored"
    if report_auto_run and state in (JobState.SUCCEEDED, JobState.FAILED):
        with ctx.make_session() as session, session.begin():
            round_id = session.get_one(SolveJob, solve_job).round_id
            schedule.report_auto_run(session, ctx.settings, round_id)
    return f"solve job {solve_job} {state.value} (attempt {attempt})"


def send_outbox(context: JobContext) -> str:
    """Send what is due, batch after batch while batches come full, for up to :data:`MAIL_BUDGET_S`."""
    ctx = _context(context)
    total = mail.DeliveryReport()
    deadline = time.monotonic() + MAIL_BUDGET_S
    while True:
        report = mail.deliver_due(ctx.make_session, ctx.settings.smtp, limit=MAIL_BATCH)
        total.sent, total.retried, total.failed = (
            total.sent + report.sent,
            total.retried + report.retried,
            total.failed + report.failed,
        )
        if report.sent < MAIL_BATCH or time.monotonic() > deadline:
            return str(total)


async def recover_stalled(context: JobContext, timestamp: int) -> str:
    """Retry the jobs of workers that stopped answering; give up on a solve after :data:`MAX_ATTEMPTS`."""
    ctx = _context(context)
    manager = context.app.job_manager
    lines = []
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_s()):
        assert job.id is not None
        tried = job.attempts + 1
        if job.task_name != SOLVE_TASK or tried < MAX_ATTEMPTS:
            await manager.retry_job(job)
            lines.append(f"{job.task_name} job {job.id}: its worker stopped; retried")
            logger.warning("Queue job %s (%s): its worker stopped; retried", job.id, job.task_name)
            continue
        await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
        solve_job = int(job.task_kwargs["solve_job"])  # type: ignore[arg-type]
        await asyncio.to_thread(_give_up, ctx.make_session, solve_job, tried)
        lines.append(f"{job.task_name} job {job.id}: its worker stopped on attempt {tried}; failed")
    return "; ".join(lines) if lines else "nothing stalled"


def _give_up(make_session: sessionmaker[Session], job_id: int, attempts: int) -> None:
    """Fail a solve job whose every attempt lost its worker, and its round, saying so."""
    with make_session() as session, session.begin():
        job = session.get(SolveJob, job_id)
        if job is None or job.state not in (JobState.QUEUED, JobState.RUNNING):
            return
        reason = f"the worker stopped during: {job.progress or 'start'}, on each of {attempts} attempts"
        session.execute(
            update(SolveJob)
            .where(SolveJob.id == job_id, SolveJob.state == job.state)
            .values(state=JobState.FAILED, error=reason, finished_at=utcnow())
        )
        if job.kind is JobKind.INITIAL:
            solving.fail_solve(session, job.round_id, reason, actor=audit.SYSTEM)
        audit.record(session, audit.SYSTEM, "round.solve.dead", "allocation_round", job.round_id, after={"job": job_id})


def make_app(url: str, *, sync: bool) -> procrastinate.App:
    """A Procrastinate app over the queue's database with Praktik's tasks; ``sync`` for deferring from sync code."""
    info = conninfo(url)
    connector: procrastinate.BaseConnector = (
        procrastinate.SyncPsycopgConnector(conninfo=info, min_size=1, max_size=2)
        if sync
        else procrastinate.PsycopgConnector(conninfo=info, min_size=2, max_size=10)
    )
    app = procrastinate.App(connector=connector)
    app.task(name=SOLVE_TASK, queue=SOLVES, pass_context=True)(solve_round)
    app.task(name=MAIL_TASK, queue=MAIL, pass_context=True, lock="outbox", queueing_lock="outbox")(send_outbox)
    recover = app.task(name=RECOVER_TASK, queue=MAIL, pass_context=True)(recover_stalled)
    app.periodic(cron="* * * * * */10", periodic_id="recover")(recover)
    return app


# --- the schema ------------------------------------------------------------------------------------------------------

#: The advisory lock under which one process applies the queue's schema.
_SCHEMA_LOCK = 7_310_016


def ensure_schema(url: str) -> bool:
    """Create the queue's tables in its database unless they are there; whether they were created."""
    app = make_app(url, sync=True)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            if conn.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is not None:
                return False
            with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute(app.schema_manager.get_schema())  # no parameters: its '%' are literal
            logger.info("The job queue's tables were created")
            return True
    finally:
        engine.dispose()


# --- deferring -------------------------------------------------------------------------------------------------------


class Queue:
    """How this process (a web worker, the scheduler) hands jobs to ``praktik worker`` processes.

    The connection pool is opened on first use in each process, so a
    pre-forking server's workers never share one.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._app: procrastinate.App | None = None
        self._engine: Engine | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        """An engine on the queue's database, for reading its tables."""
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.url)
            return self._engine

    def _opened(self) -> procrastinate.App:
        with self._lock:
            if self._app is None or self._pid != os.getpid():
                app = make_app(self.url, sync=True)
                app.open()
                self._app, self._pid = app, os.getpid()
            return self._app

    def close(self) -> None:
        with self._lock:
            if self._app is not None and self._pid == os.getpid():
                self._app.close()
            self._app = None
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None

    def solve(self, make_session: sessionmaker[Session], job_id: int, *, report_auto_run: bool = False) -> int:
        """Defer a committed solve job; the queue job's id, also kept on the solve job."""
        queue_job = self._opened().configure_task(SOLVE_TASK).defer(solve_job=job_id, report_auto_run=report_auto_run)
        with make_session() as session, session.begin():
            session.execute(update(SolveJob).where(SolveJob.id == job_id).values(queue_job_id=queue_job))
        return queue_job

    def mail(self) -> int | None:
        """Ask a worker to send the outbox; None when a send is already waiting."""
        try:
            return self._opened().configure_task(MAIL_TASK).defer()
        except queue_errors.AlreadyEnqueued:
            return None


def dispatch_solve(
    queue: Queue | None, make_session: sessionmaker[Session], job_id: int, *, report_auto_run: bool = False
) -> None:
    """Hand a committed solve job to the queue, failing it at once with the reason when the queue cannot be reached."""
    assert queue is not None
    try:
        queue.solve(make_session, job_id, report_auto_run=report_auto_run)
    except (queue_errors.ConnectorException, OSError) as exc:
        logger.exception("Solve job %s could not be queued", job_id)
        with make_session() as session, session.begin():
            job = session.get_one(SolveJob, job_id)
            reason = f"the job queue could not be reached: {exc}"
            job.state, job.error, job.finished_at = JobState.FAILED, reason, utcnow()
            if job.kind is JobKind.INITIAL:
                solving.fail_solve(session, job.round_id, reason, actor=audit.SYSTEM)


# --- the worker process ----------------------------------------------------------------------------------------------


def run_worker(
    settings: schedule.Settings, *, solves: int = DEFAULT_SOLVES, stop: threading.Event | None = None
) -> None:
    """Run ``praktik worker``: up to ``solves`` solves at once, and mail and recovery beside them, until SIGTERM."""
    if settings.queue_url is None:
        raise ValueError("PRAKTIK_QUEUE_URL is not set: without a job queue the web host starts its own solves")
    ensure_schema(settings.queue_url)
    engine = make_engine(settings.database_url)
    context = {"praktik": WorkerContext(settings, sessionmaker(bind=engine, expire_on_commit=False))}
    app = make_app(settings.queue_url, sync=False)
    name = f"{socket.gethostname()}:{os.getpid()}"
    beat = heartbeat_s()

    async def main() -> None:
        async with app.open_async():
            options: dict[str, Any] = {
                "additional_context": context,
                "install_signal_handlers": False,
                "update_heartbeat_interval": beat,
                "stalled_worker_timeout": 3 * beat,
                "shutdown_graceful_timeout": 30,
            }
            runs = [
                asyncio.create_task(
                    app.run_worker_async(queues=[SOLVES], concurrency=solves, name=f"{name}:solves", **options)
                ),
                asyncio.create_task(app.run_worker_async(queues=[MAIL], concurrency=1, name=f"{name}:mail", **options)),
            ]
            loop = asyncio.get_running_loop()

            def halt() -> None:
                logger.info("Worker %s stopping", name)
                for run in runs:
                    run.cancel()

            if stop is None:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, halt)
            else:
                loop.run_in_executor(None, stop.wait).add_done_callback(lambda _: halt())
            logger.info("Worker %s started: %d solve(s) at once, mail and recovery", name, solves)
            await asyncio.gather(*runs, return_exceptions=True)

    try:
        asyncio.run(main())
    finally:
        engine.dispose()


# --- what the coordinator sees ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class QueueJob:
    id: int
    task: str
    status: str
    attempts: int
    args: dict[str, Any]
    scheduled_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class WorkerLine:
    """A worker (each ``praktik worker`` process runs two: solves, and mail with recovery)."""

    id: int
    last_heartbeat: dt.datetime
    alive: bool
    running: int


@dataclasses.dataclass(frozen=True)
class Overview:
    """The queue on the scheduler page: jobs by state, the latest jobs, and the workers with their heartbeats."""

    counts: dict[str, int]
    recent: list[QueueJob]
    workers: list[WorkerLine]

    @property
    def workers_alive(self) -> int:
        return sum(1 for w in self.workers if w.alive)


def workers_alive(queue: Queue) -> int:
    """How many workers sent their heartbeat lately (each ``praktik worker`` process counts twice)."""
    with queue.engine().connect() as conn:
        alive = conn.scalar(
            text("SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => :s)"),
            {"s": stalled_after_s()},
        )
    return int(alive or 0)


def overview(queue: Queue, *, limit: int = 20, now: dt.datetime | None = None) -> Overview:
    """Read the queue's tables: counts by state, the latest jobs (recovery ticks left out), the workers."""
    now = now or dt.datetime.now(dt.UTC)
    stalled = dt.timedelta(seconds=stalled_after_s())
    with queue.engine().connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                text("SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name <> :r GROUP BY status"),
                {"r": RECOVER_TASK},
            )
            .tuples()
            .all()
        )
        recent = [
            QueueJob(row.id, row.task_name, row.status, row.attempts, dict(row.args or {}), row.scheduled_at)
            for row in conn.execute(
                text(
                    "SELECT id, task_name, status::text AS status, attempts, args, scheduled_at "
                    "FROM procrastinate_jobs WHERE task_name <> :r ORDER BY id DESC LIMIT :limit"
                ),
                {"r": RECOVER_TASK, "limit": limit},
            )
        ]
        workers = [
            WorkerLine(row.id, row.last_heartbeat, now - row.last_heartbeat <= stalled, row.running)
            for row in conn.execute(
                text(
                    "SELECT w.id, w.last_heartbeat, count(j.id) AS running FROM procrastinate_workers w "
                    "LEFT JOIN procrastinate_jobs j ON j.worker_id = w.id AND j.status = 'doing' "
                    "GROUP BY w.id, w.last_heartbeat ORDER BY w.id"
                )
            )
        ]
    return Overview(counts, recent, workers)
