"""Solve jobs: what a background solve is, from queueing to its end, and finding jobs whose worker died.

The web request only queues a job (:func:`enqueue`) and starts a worker
process for it (:func:`placement.runtime.worker.launch`); it never solves.
The worker claims the job with one conditional UPDATE (:func:`claim`), writes
a heartbeat while it runs, and runs it here (:func:`execute`): the solve
through :mod:`placement.rounds.solving`, its progress, and the job's end,
``succeeded`` or ``failed``.  A worker that is killed or crashes cannot say so
itself: :func:`reap` finds running jobs whose heartbeat stopped (or whose
process is gone) and fails them, and the round with them, so the coordinator
sees what happened and can start again.  Reaping happens whenever a round's
jobs are read, so a page reload is enough.

On a job queue (:mod:`placement.runtime.queue`) the queue starts the work
instead of a process of the web host, and a job whose worker died is the
queue's to retry on another worker: each attempt claims the job with a higher
``attempt``, every write of a running job names its attempt, and the
transaction that stores the result succeeds the job only where the attempt
still holds it, so a result is stored once whatever retries happen.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

import solver
from placement import audit, hosts
from placement.db import utcnow, violated_constraint
from placement.enums import JobKind, JobState, RoundStatus
from placement.errors import Conflict, PlacementError
from placement.models import SolveJob
from placement.rounds import setup as rounds
from placement.rounds import solve_process, solving
from solver.compare import summarise

logger = logging.getLogger(__name__)

#: A running job whose heartbeat is older than this is considered dead.
STALE_AFTER_S = 20.0
#: A queued job no worker claimed within this time is considered lost.
UNCLAIMED_AFTER_S = 120.0
#: A queued job whose worker stopped is the queue's to retry; after this long without a heartbeat nobody did.
QUEUE_RECOVERY_S = 300.0
#: The reference methods summarised beside the two mechanisms on the review page.
#: ``mcf`` (plain rank-squared min-cost flow) is one min-cost flow: cheap next to the optimisation.
REFERENCES = ("mcf", "da", "fcfs")


def enqueue(session: Session, round_id: int, *, actor: audit.Actor) -> SolveJob:
    """Queue a solve of the round: initial for a draft, proposed or failed round; incremental when published."""
    allocation_round = rounds.get_round(session, round_id)
    reap(session, round_id)
    if allocation_round.status is RoundStatus.PUBLISHED:
        kind = JobKind.INCREMENTAL
    elif allocation_round.status in solving.STARTABLE:
        kind = JobKind.INITIAL
    else:
        raise Conflict(f"round {round_id} is {allocation_round.status.value}; it cannot be solved now")
    live = live_job(session, round_id)
    if live is not None:
        raise Conflict(f"round {round_id} is already being solved (job {live.id}, {live.state.value})")
    job = SolveJob(round_id=round_id, kind=kind, state=JobState.QUEUED, created_by_id=actor.user_id)
    session.add(job)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        if violated_constraint(exc) == "uq_solve_job_live_round":
            raise Conflict(f"round {round_id} is already being solved") from None
        raise
    audit.record(session, actor, "round.solve.queue", "allocation_round", round_id, after={"job": job.id, "kind": kind})
    return job


def live_job(session: Session, round_id: int) -> SolveJob | None:
    return session.scalars(
        select(SolveJob).where(SolveJob.round_id == round_id, SolveJob.state.in_((JobState.QUEUED, JobState.RUNNING)))
    ).first()


def latest_job(session: Session, round_id: int) -> SolveJob | None:
    reap(session, round_id)
    return session.scalars(
        select(SolveJob).where(SolveJob.round_id == round_id).order_by(SolveJob.id.desc()).limit(1)
    ).first()


def reap(session: Session, round_id: int | None = None, *, now: dt.datetime | None = None) -> list[int]:
    """Fail jobs whose worker is gone; returns their ids.  Their rounds leave ``solving`` as ``failed``."""
    now = now or utcnow()
    query = select(SolveJob).where(SolveJob.state.in_((JobState.QUEUED, JobState.RUNNING)))
    if round_id is not None:
        query = query.where(SolveJob.round_id == round_id)
    dead: list[int] = []
    for job in session.scalars(query):
        reason = _death(job, now)
        if reason is None:
            continue
        moved = session.execute(
            update(SolveJob)
            .where(SolveJob.id == job.id, SolveJob.state == job.state)
            .values(state=JobState.FAILED, error=reason, finished_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if moved != 1:
            continue
        session.refresh(job)
        dead.append(job.id)
        if job.kind is JobKind.INITIAL:
            solving.fail_solve(session, job.round_id, reason, actor=audit.SYSTEM)
        audit.record(session, audit.SYSTEM, "round.solve.dead", "allocation_round", job.round_id, after={"job": job.id})
        logger.warning("Solve job %s of round %s: %s", job.id, job.round_id, reason)
    return dead


def _death(job: SolveJob, now: dt.datetime) -> str | None:
    beat = job.heartbeat_at or job.started_at or job.created_at
    if job.queue_job_id is not None:  # on the job queue: waiting is normal, a dead worker is retried
        if job.state is JobState.RUNNING and (now - beat).total_seconds() > STALE_AFTER_S + QUEUE_RECOVERY_S:
            return (
                f"the worker stopped answering during: {job.progress or 'start'}, "
                f"and no other worker took the job over within {QUEUE_RECOVERY_S:.0f} s"
            )
        return None
    if job.state is JobState.QUEUED:
        if (now - job.created_at).total_seconds() > UNCLAIMED_AFTER_S:
            return f"no worker started the solve within {UNCLAIMED_AFTER_S:.0f} s"
        return None
    if job.pid is not None and job.host == socket.gethostname() and not hosts.process_alive(job.pid):
        return f"the worker process (pid {job.pid}) stopped during: {job.progress or 'start'}"
    if (now - beat).total_seconds() > STALE_AFTER_S:
        return (
            f"the worker stopped answering (no heartbeat for {STALE_AFTER_S:.0f} s) during: {job.progress or 'start'}"
        )
    return None


def _actor(session: Session, job: SolveJob) -> audit.Actor:
    if job.created_by_id is None:
        return audit.SYSTEM
    return audit.Actor(label=f"user:{job.created_by_id}", user_id=job.created_by_id)


def _progress(make_session: sessionmaker[Session], claimed: Claimed, text: str) -> None:
    with make_session() as session, session.begin():
        session.execute(
            update(SolveJob)
            .where(SolveJob.id == claimed.job_id, SolveJob.attempt == claimed.attempt)
            .values(progress=text, heartbeat_at=utcnow())
        )


def _run_initial(make_session: sessionmaker[Session], claimed: Claimed, solve: Callable[..., dict[str, Any]]) -> None:
    """Solve the round's mechanism and, in the same child process and network, every method it is compared with.

    The comparison (the review page's trade-off table) holds every method
    summarised on the round's own instance, so that the request that shows
    the page only reads it.  A comparison whose solve fails is stored as
    ``{"method": ..., "error": ...}``: the proposal stands.
    """
    job_id, round_id, actor = claimed.job_id, claimed.round_id, claimed.actor
    with make_session() as session, session.begin():
        # A retry finds the round still solving where the attempt before it stopped.
        build = solving.begin_solve(session, round_id, actor=actor, resume=claimed.attempt > 1)
    mechanism = rounds.mechanism_of(build.instance["policy"])
    students = len(build.instance["students"])
    others = [m for m in (*rounds.MECHANISMS, *REFERENCES) if m != mechanism]
    instance = solver.load_instance(build.instance)
    summaries: dict[str, dict[str, Any]] = {}

    def compared(method: str, result_doc: dict[str, Any] | None, error: str | None) -> None:
        if result_doc is not None:
            try:
                summaries[method] = _summary(instance, method, result_doc)
            except solver.ResultError as exc:
                error = "; ".join(exc.problems[:5])
        if result_doc is None or method not in summaries:
            logger.warning("Solve job %s: the comparison with %s failed: %s", job_id, method, error)
            summaries[method] = {"method": method, "error": str(error)[:500]}
        _progress(make_session, claimed, f"compared with {len(summaries)} of {len(others)} other methods")

    _progress(make_session, claimed, f"solving ({students} pupils, {mechanism}, then {len(others)} comparisons)")
    result_doc = solve(build.instance, method=mechanism, compare=others, on_compared=compared)
    if result_doc.get("method") != mechanism:
        raise solve_process.SolveFailed(
            f"the round is allocated by {mechanism}, but the solver answered with {result_doc.get('method')!r}"
        )
    comparison = {mechanism: _summary(instance, mechanism, result_doc)}
    comparison.update({m: summaries.get(m, {"method": m, "error": "not solved"}) for m in others})
    _progress(make_session, claimed, "storing the proposal")
    with make_session() as session, session.begin():
        solving.finish_solve(
            session, round_id, build.instance, result_doc, actor=actor, comparison=comparison, job_id=job_id
        )
        _succeed(session, claimed)


def _summary(instance: solver.Instance, method: str, result_doc: dict[str, Any]) -> dict[str, Any]:
    """One method's summary as stored: :func:`solver.compare.summarise` plus its equity and strategy-proofness.

    Strategy-proofness is the method's (:data:`rounds.STRATEGY_PROOF`), or for
    ``da-reserves`` whether this round meets its condition, as its result says.
    """
    result = solver.result_from_dict(result_doc)
    summary = summarise(instance, result).to_dict()
    calibration = result_doc.get("calibration") or {}
    summary["strategy_proof"] = (
        calibration.get("strategy_proof") if method == "da-reserves" else rounds.STRATEGY_PROOF.get(method)
    )
    return summary


def _run_incremental(
    make_session: sessionmaker[Session], claimed: Claimed, solve: Callable[..., dict[str, Any]]
) -> None:
    job_id, round_id, actor = claimed.job_id, claimed.round_id, claimed.actor
    with make_session() as session, session.begin():
        build, previous = solving.begin_changes(session, round_id, actor=actor)
    _progress(make_session, claimed, f"solving the changes ({len(build.instance['students'])} pupils)")
    result_doc = solve(build.instance, method="optimal", previous=previous)
    _progress(make_session, claimed, "storing the proposed changes")
    with make_session() as session, session.begin():
        solving.finish_changes(session, round_id, build.instance, result_doc, actor=actor, job_id=job_id)
        _succeed(session, claimed)


class Superseded(Exception):
    """The attempt no longer holds its job (a later attempt took it over): it must store nothing."""


def _succeed(session: Session, claimed: Claimed) -> None:
    """End the job ``succeeded`` in the transaction that stores its result, or undo that transaction."""
    moved = session.execute(
        update(SolveJob)
        .where(SolveJob.id == claimed.job_id, SolveJob.state == JobState.RUNNING, SolveJob.attempt == claimed.attempt)
        .values(state=JobState.SUCCEEDED, progress="done", finished_at=utcnow())
    ).rowcount  # type: ignore[attr-defined]
    if moved != 1:
        raise Superseded(f"solve job {claimed.job_id}: attempt {claimed.attempt} no longer holds the job")


def _fail(make_session: sessionmaker[Session], claimed: Claimed, error: str) -> None:
    round_id, actor = claimed.round_id, claimed.actor
    with make_session() as session, session.begin():
        moved = session.execute(
            update(SolveJob)
            .where(
                SolveJob.id == claimed.job_id,
                SolveJob.state == JobState.RUNNING,
                SolveJob.attempt == claimed.attempt,
            )
            .values(state=JobState.FAILED, error=error[:2000], finished_at=utcnow())
        ).rowcount  # type: ignore[attr-defined]
        if moved != 1:  # a later attempt holds the job: its end is the job's end
            return
        if claimed.kind is JobKind.INITIAL:
            solving.fail_solve(session, round_id, error, actor=actor)
        else:
            audit.record(
                session, actor, "round.changes.fail", "allocation_round", round_id, after={"error": error[:500]}
            )


def wait(make_session: sessionmaker[Session], job_id: int, *, timeout_s: float = 300.0) -> SolveJob:
    """Wait until a job ends (CLI and tests); returns it, reaped if its worker died."""
    deadline = time.monotonic() + timeout_s
    while True:
        with make_session() as session, session.begin():
            job = session.get(SolveJob, job_id)
            if job is None:
                raise Conflict(f"solve job {job_id} does not exist")
            reap(session, job.round_id)
            session.refresh(job)
            if job.state in (JobState.SUCCEEDED, JobState.FAILED) or time.monotonic() > deadline:
                session.expunge(job)
                return job
        time.sleep(0.2)


def round_jobs(session: Session, round_id: int, limit: int = 10) -> list[SolveJob]:
    reap(session, round_id)
    return list(
        session.scalars(select(SolveJob).where(SolveJob.round_id == round_id).order_by(SolveJob.id.desc()).limit(limit))
    )


def job_view(job: SolveJob) -> Mapping[str, Any]:
    """What the progress endpoint answers."""
    return {
        "id": job.id,
        "round": job.round_id,
        "kind": job.kind,
        "state": job.state.value,
        "progress": job.progress,
        "error": job.error,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A job this process has claimed: what running it needs."""

    job_id: int
    round_id: int
    kind: JobKind
    actor: audit.Actor
    #: The attempt that holds the job: 1 for the first, higher for a retry of the queue.
    attempt: int = 1


def claim(make_session: sessionmaker[Session], job_id: int, *, attempt: int = 1) -> Claimed | JobState:
    """Claim a job for this process (one conditional UPDATE), or the state of a job that cannot be claimed.

    The first attempt claims a queued job; a retry of the queue (``attempt``
    above 1) also takes over a job that an earlier attempt left running.
    """
    with make_session() as session, session.begin():
        now = utcnow()
        claimable = SolveJob.state == JobState.QUEUED
        if attempt > 1:
            claimable = or_(claimable, and_(SolveJob.state == JobState.RUNNING, SolveJob.attempt < attempt))
        claimed = session.execute(
            update(SolveJob)
            .where(SolveJob.id == job_id, claimable)
            .values(
                attempt=attempt,
                error=None,
                state=JobState.RUNNING,
                pid=os.getpid(),
                host=socket.gethostname(),
                started_at=now,
                heartbeat_at=now,
                progress="building the instance",
            )
        ).rowcount  # type: ignore[attr-defined]
        job = session.get(SolveJob, job_id)
        if job is None or claimed != 1:
            logger.warning("Solve job %s cannot be claimed by attempt %s; nothing to do", job_id, attempt)
            return job.state if job is not None else JobState.FAILED
        return Claimed(job_id, job.round_id, job.kind, _actor(session, job), attempt)


def execute(
    make_session: sessionmaker[Session],
    claimed: Claimed,
    *,
    solve: Callable[..., dict[str, Any]] = solve_process.solve_out_of_process,
) -> JobState:
    """Run a claimed job to its end: solve, store, and end the job ``succeeded`` or ``failed``."""
    try:
        if claimed.kind is JobKind.INITIAL:
            _run_initial(make_session, claimed, solve)
        else:
            _run_incremental(make_session, claimed, solve)
    except Superseded:
        logger.warning("Solve job %s: attempt %s was taken over; stored nothing", claimed.job_id, claimed.attempt)
        raise
    except (PlacementError, solver.InstanceError, solver.ResultError) as exc:
        _fail(make_session, claimed, str(exc))
        return JobState.FAILED
    except Exception as exc:
        logger.exception("Solve job %s failed", claimed.job_id)
        _fail(make_session, claimed, f"internal error: {type(exc).__name__}: {exc}")
        return JobState.FAILED
    return JobState.SUCCEEDED
