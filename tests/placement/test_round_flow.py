"""A round after the solver: jobs, review figures, adjustments, publication, answers and changes."""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.db import utcnow
from placement.employers import offers as offer_service
from placement.enums import AssignmentStatus, JobState, Role, RoundStatus
from placement.errors import CapacityExceeded, Conflict, NotEligible, ValidationError
from placement.rounds import answers, assignments, jobs, review
from placement.rounds import changes as round_changes
from placement.rounds.solve_process import SolveFailed
from placement.runtime import worker
from tests import factories as f

CONFIRMED = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
COORDINATOR = audit.Actor("user:1")


@pytest.fixture
def make_session(db_session: Session) -> sessionmaker[Session]:
    return sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)


def _solve(session: Session, make_session: sessionmaker[Session], round_id: int) -> m.SolveJob:
    job = jobs.enqueue(session, round_id, actor=COORDINATOR)
    state = worker.run_job(make_session, job.id, heartbeat_s=None)
    session.expire_all()
    assert state is JobState.SUCCEEDED, session.get(m.SolveJob, job.id).error  # type: ignore[union-attr]
    return job


def _rows(session: Session, round_id: int, *statuses: AssignmentStatus) -> dict[int, m.Assignment]:
    query = select(m.Assignment).where(m.Assignment.round_id == round_id)
    if statuses:
        query = query.where(m.Assignment.status.in_(statuses))
    return {a.pupil_id: a for a in session.scalars(query)}


def test_a_job_solves_the_round_with_baselines_and_artifacts(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, pupils, _ = f.small_round(db_session)
    job = _solve(db_session, make_session, allocation_round.id)
    db_session.refresh(allocation_round)
    assert allocation_round.status is RoundStatus.PROPOSED
    assert set(allocation_round.outcome["comparison"]) == {"optimal", "da-reserves", "mcf", "da", "fcfs"}  # type: ignore[index]
    kinds = sorted(a.kind for a in db_session.scalars(select(m.RoundArtifact).where(m.RoundArtifact.job_id == job.id)))
    assert kinds == ["instance", "result"]
    assert len(_rows(db_session, allocation_round.id, AssignmentStatus.PROPOSED)) == len(pupils)
    done = db_session.get(m.SolveJob, job.id)
    assert done is not None
    assert done.state is JobState.SUCCEEDED
    assert done.finished_at is not None


def test_a_second_solve_while_one_is_live_is_refused(db_session: Session) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR)
    with pytest.raises(Conflict, match="already being solved"):
        jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR)


def test_a_failing_solver_fails_job_and_round_and_writes_nothing(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    job = jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR)

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise SolveFailed("the solver process ended unexpectedly (exit code -9)")

    assert worker.run_job(make_session, job.id, solve=broken, heartbeat_s=None) is JobState.FAILED
    db_session.expire_all()
    assert allocation_round.status is RoundStatus.FAILED
    assert "exit code -9" in (allocation_round.error or "")
    assert _rows(db_session, allocation_round.id) == {}
    failed = db_session.get(m.SolveJob, job.id)
    assert failed is not None
    assert failed.state is JobState.FAILED
    # The coordinator starts again, and it works.
    _solve(db_session, make_session, allocation_round.id)
    assert allocation_round.status is RoundStatus.PROPOSED


def test_a_job_whose_worker_stopped_beating_is_reaped(db_session: Session) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    job = jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR)
    long_ago = utcnow() - dt.timedelta(minutes=5)
    job.state, job.pid, job.host, job.started_at, job.heartbeat_at = (
        JobState.RUNNING,
        None,
        "elsewhere",
        long_ago,
        long_ago,
    )
    allocation_round.status = RoundStatus.SOLVING
    db_session.flush()
    assert jobs.reap(db_session) == [job.id]
    db_session.refresh(job)
    db_session.refresh(allocation_round)
    assert job.state is JobState.FAILED
    assert "no heartbeat" in (job.error or "")
    assert allocation_round.status is RoundStatus.FAILED


def test_an_attempt_that_was_taken_over_stores_nothing_and_the_retry_stores_once(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    """The job queue retried a job whose worker seemed dead; the first worker comes back too late."""
    allocation_round, pupils, _ = f.small_round(db_session)
    job = jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR)
    first = jobs.claim(make_session, job.id)
    assert isinstance(first, jobs.Claimed)
    assert first.attempt == 1
    retry = jobs.claim(make_session, job.id, attempt=2)  # takes the running job over
    assert isinstance(retry, jobs.Claimed)
    assert jobs.claim(make_session, job.id, attempt=2) is JobState.RUNNING  # the same attempt twice: no
    with pytest.raises(jobs.Superseded):
        jobs.execute(make_session, first)
    db_session.expire_all()
    assert _rows(db_session, allocation_round.id) == {}  # the late first attempt wrote nothing
    assert allocation_round.status is RoundStatus.SOLVING  # and did not end the round the retry holds

    assert jobs.execute(make_session, retry) is JobState.SUCCEEDED
    db_session.expire_all()
    assert len(_rows(db_session, allocation_round.id)) == len(pupils)
    assert allocation_round.status is RoundStatus.PROPOSED
    finished = select(func.count(m.AuditEvent.id)).where(
        m.AuditEvent.action == "round.solve.finish", m.AuditEvent.entity_id == allocation_round.id
    )
    assert db_session.scalar(finished) == 1
    # A retry after the result was committed (the acknowledgement was lost) finds the job done.
    assert jobs.claim(make_session, job.id, attempt=3) is JobState.SUCCEEDED


def test_a_job_on_the_queue_waits_for_a_worker_and_is_failed_only_when_nobody_took_it_over(
    db_session: Session,
) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    job = jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR)
    job.queue_job_id = 41
    job.created_at = utcnow() - dt.timedelta(hours=2)  # every worker busy, or none running yet
    db_session.flush()
    assert jobs.reap(db_session) == []
    silent = utcnow() - dt.timedelta(seconds=jobs.STALE_AFTER_S + 60)
    job.state, job.pid, job.host, job.started_at, job.heartbeat_at = (
        JobState.RUNNING,
        2**22 + 1,  # a process of this host that is gone: on the queue, the queue's retry decides, not this host
        socket.gethostname(),
        silent,
        silent,
    )
    allocation_round.status = RoundStatus.SOLVING
    db_session.flush()
    assert jobs.reap(db_session) == []
    gone = utcnow() - dt.timedelta(seconds=jobs.STALE_AFTER_S + jobs.QUEUE_RECOVERY_S + 1)
    job.heartbeat_at = gone
    db_session.flush()
    assert jobs.reap(db_session) == [job.id]
    db_session.refresh(allocation_round)
    assert allocation_round.status is RoundStatus.FAILED
    assert "no other worker took the job over" in (allocation_round.error or "")


def test_review_figures_come_from_the_stored_placements(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, pupils, _offers = f.small_round(db_session)
    _solve(db_session, make_session, allocation_round.id)
    figures = review.round_review(db_session, allocation_round.id)
    rows = _rows(db_session, allocation_round.id)
    assert figures.students == 4
    assert figures.placed == len(rows) == figures.placed_max == 4
    by_rank = {r.label: r.count for r in figures.ranks}
    assert by_rank["1"] == sum(1 for a in rows.values() if a.rank == 1)
    assert sum(by_rank.values()) == 4
    assert set(figures.summary.equity.school.groups) == {"S01", "S02"}
    # An adjustment shows at once: move a pupil from their first choice to the second.
    pupil = pupils[0]
    second = next(
        p.offer.code
        for p in db_session.scalars(
            select(m.Preference).where(m.Preference.pupil_id == pupil.id, m.Preference.rank == 2)
        )
    )
    holder = next(a for a in rows.values() if a.offer.code == second)
    assignments.mark_manual(db_session, allocation_round.id, holder.pupil_id, actor=COORDINATOR)
    assignments.move(db_session, allocation_round.id, pupil.id, second, actor=COORDINATOR)
    after = {r.label: r.count for r in review.round_review(db_session, allocation_round.id).ranks}
    assert after["2"] == by_rank["2"] + 1
    assert after["unplaced"] == 1


def test_a_move_is_checked_for_capacity_and_eligibility(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, pupils, offers = f.small_round(db_session)
    _solve(db_session, make_session, allocation_round.id)
    rows = _rows(db_session, allocation_round.id)
    full = rows[pupils[1].id].offer.code
    mover = next(p for p in pupils if rows[p.id].offer.code != full)
    with pytest.raises(CapacityExceeded, match=f"cannot be placed at offer {full}: all 2 places in w45 are taken"):
        assignments.move(db_session, allocation_round.id, mover.id, full, actor=COORDINATOR)
    with pytest.raises(NotEligible, match="requires age 16"):
        assignments.move(db_session, allocation_round.id, mover.id, offers[2].code, actor=COORDINATOR)
    assert _rows(db_session, allocation_round.id)[mover.id].offer.code != full  # nothing changed


def test_locks_survive_a_re_solve(db_session: Session, make_session: sessionmaker[Session]) -> None:
    allocation_round, pupils, _offers = f.small_round(db_session)
    _solve(db_session, make_session, allocation_round.id)
    rows = _rows(db_session, allocation_round.id)
    # Pupil 0 goes to their second choice and is locked there; the re-solve keeps it.
    pupil = pupils[0]
    second = db_session.scalar(
        select(m.Offer.code).join(m.Preference).where(m.Preference.pupil_id == pupil.id, m.Preference.rank == 2)
    )
    assert second is not None
    other = next(a for a in rows.values() if a.offer.code == second and a.pupil_id != pupil.id)
    assignments.mark_manual(db_session, allocation_round.id, other.pupil_id, actor=COORDINATOR)
    assignments.move(db_session, allocation_round.id, pupil.id, second, actor=COORDINATOR, lock=True)
    db_session.commit()
    _solve(db_session, make_session, allocation_round.id)
    again = _rows(db_session, allocation_round.id)
    assert again[pupil.id].offer.code == second
    assert again[pupil.id].status is AssignmentStatus.LOCKED
    assert other.pupil_id not in again  # placed by hand: the solver left the pupil out


def test_publish_answer_and_incremental_changes(db_session: Session, make_session: sessionmaker[Session]) -> None:
    allocation_round, pupils, _offers = f.small_round(db_session)
    _solve(db_session, make_session, allocation_round.id)
    with pytest.raises(ValidationError, match="confirm_deadline must lie in the future"):
        assignments.publish(db_session, allocation_round.id, utcnow() - dt.timedelta(days=1), actor=COORDINATOR)
    deadline = utcnow() + dt.timedelta(days=7)
    assignments.publish(db_session, allocation_round.id, deadline, actor=COORDINATOR)
    assignments.publish(db_session, allocation_round.id, deadline, actor=COORDINATOR)  # a second click: nothing
    assert allocation_round.status is RoundStatus.PUBLISHED
    rows = _rows(db_session, allocation_round.id)
    assert {a.status for a in rows.values()} == {AssignmentStatus.PUBLISHED}
    # Three employers' answers: two confirm, one declines.
    confirmed = [rows[pupils[0].id], rows[pupils[1].id]]
    for a in confirmed:
        answers.confirm(db_session, a, actor=COORDINATOR)
    declined = rows[pupils[2].id]
    with pytest.raises(ValidationError, match="reason is required"):
        answers.decline(db_session, declined, " ", actor=COORDINATOR)
    answers.decline(db_session, declined, "Vi har inte handledare den veckan", actor=COORDINATOR)
    db_session.commit()
    before = {a.pupil_id: a.offer_id for a in confirmed}

    _solve(db_session, make_session, allocation_round.id)
    changes = round_changes.pending_changes(db_session, allocation_round.id)
    moved = {c["pupil"]: c for c in changes}
    assert pupils[2].id in moved
    assert moved[pupils[2].id]["to"] not in (None, declined.offer.code)
    assert "declined" in moved[pupils[2].id]["reason"] or moved[pupils[2].id]["from"] == declined.offer.code
    assert all(p not in moved for p in before)  # confirmed placements are kept
    assert allocation_round.status is RoundStatus.PUBLISHED  # nothing changes before acceptance

    assert round_changes.accept_changes(db_session, allocation_round.id, actor=COORDINATOR) == len(changes)
    live = _rows(db_session, allocation_round.id, AssignmentStatus.PUBLISHED, AssignmentStatus.CONFIRMED)
    assert live[pupils[2].id].offer.code == moved[pupils[2].id]["to"]
    assert {p: live[p].offer_id for p in before} == before
    assert round_changes.pending_changes(db_session, allocation_round.id) == []
    history = db_session.scalar(
        select(func.count(m.Assignment.id)).where(
            m.Assignment.pupil_id == pupils[2].id, m.Assignment.status == AssignmentStatus.DECLINED
        )
    )
    assert history == 1
    actions = set(db_session.scalars(select(m.AuditEvent.action)))
    assert {"round.publish", "assignment.confirmed", "assignment.declined", "assignment.change"} <= actions


def test_answers_after_the_deadline_are_refused(db_session: Session, make_session: sessionmaker[Session]) -> None:
    allocation_round, pupils, _ = f.small_round(db_session)
    _solve(db_session, make_session, allocation_round.id)
    assignments.publish(db_session, allocation_round.id, utcnow() + dt.timedelta(days=1), actor=COORDINATOR)
    allocation_round.confirm_deadline = utcnow() - dt.timedelta(minutes=1)
    row = _rows(db_session, allocation_round.id)[pupils[0].id]
    with pytest.raises(Conflict, match="deadline to confirm passed"):
        answers.confirm(db_session, row, actor=COORDINATOR)


def test_changes_computed_on_an_older_state_are_not_accepted(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, pupils, _ = f.small_round(db_session)
    _solve(db_session, make_session, allocation_round.id)
    assignments.publish(db_session, allocation_round.id, utcnow() + dt.timedelta(days=7), actor=COORDINATOR)
    rows = _rows(db_session, allocation_round.id)
    answers.decline(db_session, rows[pupils[0].id], "Sjukdom", actor=COORDINATOR)
    db_session.commit()
    _solve(db_session, make_session, allocation_round.id)
    answers.decline(db_session, rows[pupils[1].id], "Flytt", actor=COORDINATOR)  # after the solve
    with pytest.raises(Conflict, match="changed since the changes were computed"):
        round_changes.accept_changes(db_session, allocation_round.id, actor=COORDINATOR)


def test_a_late_pupil_and_a_withdrawn_offer_are_handled_by_the_incremental_round(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:

    allocation_round, pupils, _ = f.small_round(db_session)
    extra = f.offer(
        db_session, places={allocation_round.periods[0]: 3}, risk_assessment_confirmed_at=f.RISK_CONFIRMED, code="O0009"
    )
    _solve(db_session, make_session, allocation_round.id)
    assignments.publish(db_session, allocation_round.id, utcnow() + dt.timedelta(days=7), actor=COORDINATOR)
    rows = _rows(db_session, allocation_round.id)
    gone = rows[pupils[0].id].offer
    kept = next(p for p in pupils if rows[p.id].offer_id != gone.id)
    answers.confirm(db_session, rows[kept.id], actor=COORDINATOR)
    offer_service.withdraw_offer(db_session, gone, actor=COORDINATOR, reason="Verksamheten flyttar")
    late = f.pupil(db_session, school_class=pupils[1].school_class, first_name="Sen")
    db_session.add(m.Preference(pupil=late, offer=extra, rank=1))
    db_session.commit()

    _solve(db_session, make_session, allocation_round.id)
    moved = {c["pupil"]: c for c in round_changes.pending_changes(db_session, allocation_round.id)}
    assert moved[late.id]["from"] is None
    assert moved[late.id]["to"] == "O0009"
    assert moved[pupils[0].id]["reason"] == f"previous offer {gone.code} withdrawn"
    assert kept.id not in moved
    round_changes.accept_changes(db_session, allocation_round.id, actor=COORDINATOR)
    live = _rows(db_session, allocation_round.id, AssignmentStatus.PUBLISHED, AssignmentStatus.CONFIRMED)
    assert live[late.id].offer.code == "O0009"
    assert live[pupils[0].id].offer_id != gone.id
    assert live[kept.id].status is AssignmentStatus.CONFIRMED


def test_the_preview_of_a_publication_tells_what_publishing_then_does_and_keeps_nothing(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, pupils, offers = f.small_round(db_session)
    _solve(db_session, make_session, allocation_round.id)
    contact = f.user(db_session, Role.EMPLOYER_CONTACT)
    db_session.add(m.EmployerMembership(user=contact, employer=offers[0].employer))
    for pupil in pupils[:2]:
        staff = f.user(db_session, Role.SCHOOL_STAFF)
        db_session.add(m.SchoolMembership(user=staff, school=pupil.school))
    db_session.flush()
    with pytest.raises(ValidationError, match="confirm_deadline must lie in the future"):  # refused before confirming
        assignments.preview_publication(db_session, allocation_round.id, utcnow(), actor=COORDINATOR)

    def kept() -> tuple[int, int, int]:
        return (
            db_session.scalar(select(func.count(m.OutboxMessage.id))) or 0,
            db_session.scalar(select(func.count(m.AuditEvent.id)).where(m.AuditEvent.action == "round.publish")) or 0,
            len(_rows(db_session, allocation_round.id, AssignmentStatus.PUBLISHED)),
        )

    deadline = utcnow() + dt.timedelta(days=7)
    preview = assignments.preview_publication(db_session, allocation_round.id, deadline, actor=COORDINATOR)
    assert kept() == (0, 0, 0)
    db_session.refresh(allocation_round)
    assert allocation_round.status is RoundStatus.PROPOSED
    assert [p.code for p in preview.started] == ["w45"]  # began on 2 November 2026
    assert (preview.employer_contacts, preview.school_staff) == (1, 2)
    assignments.publish(db_session, allocation_round.id, deadline, actor=COORDINATOR)
    mails, audits, published = kept()
    assert (mails, audits) == (preview.mails, 1)
    assert published == preview.placements == len(_rows(db_session, allocation_round.id))


def test_the_offers_to_move_a_pupil_to_are_eligible_with_free_places_their_own_choices_first(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, pupils, offers = f.small_round(db_session)
    w45 = allocation_round.periods[0]
    chosen = f.offer(db_session, title="Bageriet", places={w45: 1}, risk_assessment_confirmed_at=CONFIRMED)
    near = f.offer(db_session, title="Ängens förskola", places={w45: 2}, risk_assessment_confirmed_at=CONFIRMED)
    db_session.add(m.Preference(pupil=pupils[0], offer=chosen, rank=4))
    db_session.flush()
    _solve(db_session, make_session, allocation_round.id)
    # The two original offers are full, the third needs age 16; the pupil's own fourth choice comes first.
    options = assignments.move_options(db_session, allocation_round.id, pupils[0].id)
    assert [(o.code, o.places_left, o.rank) for o in options[:2]] == [(chosen.code, 1, 4), (near.code, 2, None)]
    assert not {o.code for o in options} & {offers[0].code, offers[1].code, offers[2].code}
    assert [
        o.code for o in assignments.move_options(db_session, allocation_round.id, pupils[0].id, query="ÄNGENS")
    ] == [near.code]
    # An option can be taken as listed; then the one-place offer is full, and the place left behind is free.
    held = assignments.current(db_session, allocation_round.id, pupils[0].id)
    assert held is not None
    left_id, left_code = held.offer_id, held.offer.code  # the move changes this row in place
    assignments.move(db_session, allocation_round.id, pupils[0].id, chosen.code, actor=COORDINATOR)

    def at(pupil: m.Pupil) -> int | None:
        now = assignments.current(db_session, allocation_round.id, pupil.id)
        return now.offer_id if now is not None else None

    other = next(p for p in pupils[1:] if at(p) != left_id)
    codes = {o.code for o in assignments.move_options(db_session, allocation_round.id, other.id)}
    assert chosen.code not in codes
    assert left_code in codes
