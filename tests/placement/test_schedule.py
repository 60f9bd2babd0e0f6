"""The scheduler's sweeps: each does what is due once, for exactly the right people."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.db import utcnow
from placement.enums import AssignmentStatus, JobRunState, JobState, Role, RoundStatus, UnansweredRule
from placement.mail import outbox as mail
from placement.rounds import answers, assignments, jobs
from placement.rounds import changes as round_changes
from placement.rounds.setup import create_round
from placement.runtime import schedule, worker
from placement.runtime.scheduler import job_specs
from tests import factories as f

COORDINATOR = audit.Actor("user:1")
SETTINGS = schedule.Settings(
    database_url="sqlite://",
    smtp=mail.SmtpSettings(
        host="127.0.0.1", port=25, use_tls=False, username=None, password=None, sender="praktik@kommun.example"
    ),
    base_url="https://praktik.kommun.example",
)
STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.fixture
def make_session(db_session: Session) -> sessionmaker[Session]:
    return sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)


def staff(session: Session, school: m.School, **kw: object) -> m.User:
    user = f.user(session, Role.SCHOOL_STAFF, **kw)
    session.add(m.SchoolMembership(user=user, school=school))
    session.flush()
    return user


def contact(session: Session, employer: m.Employer, **kw: object) -> m.User:
    user = f.user(session, Role.EMPLOYER_CONTACT, **kw)
    session.add(m.EmployerMembership(user=user, employer=employer))
    session.flush()
    return user


def outbox(session: Session, kind: str) -> list[m.OutboxMessage]:
    return list(
        session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == kind).order_by(m.OutboxMessage.id))
    )


def window(session: Session, opens: dt.datetime, closes: dt.datetime) -> m.PreferenceWindow:
    obj = m.PreferenceWindow(name="Val hösten 2026", opens_at=opens, closes_at=closes, max_choices=5)
    session.add(obj)
    session.flush()
    return obj


def solve(session: Session, make_session: sessionmaker[Session], job_id: int) -> None:
    assert worker.run_job(make_session, job_id, heartbeat_s=None) is JobState.SUCCEEDED
    session.expire_all()


# --- windows ---------------------------------------------------------------------------------------------------------


def test_a_window_opens_once_and_every_schools_staff_hears_of_it(db_session: Session) -> None:
    now = utcnow()
    school_a, school_b = f.school(db_session), f.school(db_session)
    a1, a2, b1 = staff(db_session, school_a), staff(db_session, school_a, locale="en"), staff(db_session, school_b)
    staff(db_session, school_b, active=False)
    staff(db_session, school_b, email=None)
    later = window(db_session, now + dt.timedelta(days=1), now + dt.timedelta(days=8))
    opened = window(db_session, now - dt.timedelta(minutes=1), now + dt.timedelta(days=7))

    result = schedule.open_windows(db_session, SETTINGS, now)

    assert opened.opened_at == now
    assert later.opened_at is None
    sent = outbox(db_session, "window_open")
    assert sorted(message.user_id for message in sent) == sorted([a1.id, a2.id, b1.id])
    english = next(message for message in sent if message.user_id == a2.id)
    assert english.locale == "en"
    assert str(result) == f"window {opened.id} opened, 3 school messages queued"
    # The next minute, and after a restart: nothing again.
    assert str(schedule.open_windows(db_session, SETTINGS, now + dt.timedelta(minutes=1))) == "nothing due"
    assert len(outbox(db_session, "window_open")) == 3


def test_a_window_closes_once_at_its_time_and_queues_the_round_set_to_run(db_session: Session) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    closes = utcnow() + dt.timedelta(minutes=5)
    win = window(db_session, closes - dt.timedelta(days=7), closes)
    allocation_round.preference_window_id = win.id
    allocation_round.auto_run = True
    manual_round = create_round(db_session, "Extra", ["w45"], actor=COORDINATOR)
    manual_round.preference_window_id = win.id  # auto_run off: the coordinator runs it

    early = schedule.close_windows(db_session, SETTINGS, closes - dt.timedelta(seconds=1))
    assert early.solve_jobs == []
    assert win.closed_at is None

    result = schedule.close_windows(db_session, SETTINGS, closes)
    assert win.closed_at == closes
    assert allocation_round.auto_run_at == closes
    assert len(result.solve_jobs) == 1
    job = db_session.get(m.SolveJob, result.solve_jobs[0])
    assert job is not None
    assert job.round_id == allocation_round.id
    assert jobs.live_job(db_session, manual_round.id) is None

    again = schedule.close_windows(db_session, SETTINGS, closes + dt.timedelta(minutes=1))
    assert again.solve_jobs == []
    assert db_session.scalar(select(func.count(m.SolveJob.id))) == 1


def test_a_round_set_to_run_is_left_alone_when_it_was_already_run(db_session: Session) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    closes = utcnow() - dt.timedelta(minutes=1)
    allocation_round.preference_window_id = window(db_session, closes - dt.timedelta(days=7), closes).id
    allocation_round.auto_run = True
    allocation_round.status = RoundStatus.PROPOSED  # the coordinator ran it by hand already

    result = schedule.close_windows(db_session, SETTINGS)

    assert result.solve_jobs == []
    assert "not run automatically" in str(result)
    assert allocation_round.auto_run_at is not None


def test_coordinators_hear_how_an_automatic_run_came_out(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    coordinator = f.user(db_session, Role.COORDINATOR)
    allocation_round, _pupils, _ = f.small_round(db_session)
    closes = utcnow() - dt.timedelta(minutes=1)
    allocation_round.preference_window_id = window(db_session, closes - dt.timedelta(days=7), closes).id
    allocation_round.auto_run = True
    result = schedule.close_windows(db_session, SETTINGS)
    solve(db_session, make_session, result.solve_jobs[0])

    assert schedule.report_auto_run(db_session, SETTINGS, allocation_round.id) == 1
    assert schedule.report_auto_run(db_session, SETTINGS, allocation_round.id) == 0
    (message,) = outbox(db_session, "round_auto_run")
    assert message.user_id == coordinator.id
    assert allocation_round.name in message.body
    assert f"/coordinator/rounds/{allocation_round.id}" in message.body


# --- reminders -------------------------------------------------------------------------------------------------------


def test_schools_with_pupils_without_choices_are_reminded_once_before_the_window_closes(db_session: Session) -> None:
    w45 = f.period(db_session)
    behind, done = f.school(db_session, name="Bergskolan"), f.school(db_session, name="Dalskolan")
    for klass_name, count in (("8A", 2), ("8B", 1)):
        klass = f.school_class(db_session, school=behind, period=w45, name=klass_name)
        for _ in range(count):
            f.pupil(db_session, school_class=klass)
    chosen = f.offer(db_session, places={w45: 3})
    ready = f.pupil(db_session, school_class=f.school_class(db_session, school=done, period=w45))
    db_session.add(m.Preference(pupil=ready, offer=chosen, rank=1))
    teacher, other_teacher = staff(db_session, behind), staff(db_session, done)
    now = utcnow()
    win = window(db_session, now - dt.timedelta(days=10), now + dt.timedelta(days=5))

    assert str(schedule.school_reminders(db_session, SETTINGS, now)) == "nothing due"  # five days left: not yet

    schedule.school_reminders(db_session, SETTINGS, now + dt.timedelta(days=3))
    schedule.school_reminders(db_session, SETTINGS, now + dt.timedelta(days=4))

    (message,) = outbox(db_session, "school_reminder")
    assert message.user_id == teacher.id != other_teacher.id
    assert message.dedup_key == f"window:{win.id}:school-reminder:school:{behind.id}:user:{teacher.id}"
    assert "8A" in message.body
    assert "8B" in message.body
    assert "3" in message.body


def test_employers_with_unanswered_placements_are_reminded_once(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, _, offers = f.small_round(db_session)
    solve(db_session, make_session, jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR).id)
    deadline = utcnow() + dt.timedelta(days=10)
    assignments.publish(db_session, allocation_round.id, deadline, actor=COORDINATOR)
    waiting, answered = offers[0].employer, offers[1].employer
    waiting_contact, answered_contact = contact(db_session, waiting), contact(db_session, answered)
    for placement in db_session.scalars(
        select(m.Assignment).where(m.Assignment.offer_id == offers[1].id, m.Assignment.round_id == allocation_round.id)
    ):
        answers.confirm(db_session, placement, actor=COORDINATOR)

    assert str(schedule.employer_reminders(db_session, SETTINGS)) == "nothing due"  # ten days left
    soon = deadline - dt.timedelta(days=2)
    schedule.employer_reminders(db_session, SETTINGS, soon)
    schedule.employer_reminders(db_session, SETTINGS, soon + dt.timedelta(hours=1))

    (message,) = outbox(db_session, "employer_reminder")
    assert message.user_id == waiting_contact.id != answered_contact.id
    assert waiting.name in message.body
    assert "/employer/placements" in message.body


# --- deadlines -------------------------------------------------------------------------------------------------------


def _published(
    db_session: Session, make_session: sessionmaker[Session], rule: UnansweredRule
) -> tuple[m.AllocationRound, list[m.Assignment]]:
    allocation_round, _, _ = f.small_round(db_session)
    allocation_round.unanswered_rule = rule
    solve(db_session, make_session, jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR).id)
    assignments.publish(db_session, allocation_round.id, utcnow() + dt.timedelta(days=7), actor=COORDINATOR)
    placed = list(
        db_session.scalars(
            select(m.Assignment).where(m.Assignment.round_id == allocation_round.id).order_by(m.Assignment.id)
        )
    )
    return allocation_round, placed


def test_at_the_deadline_silence_confirms_and_a_declined_pupil_is_placed_again(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, placed = _published(db_session, make_session, UnansweredRule.CONFIRM)
    spare = f.offer(db_session, places={allocation_round.periods[0]: 1}, risk_assessment_confirmed_at=f.RISK_CONFIRMED)
    answers.confirm(db_session, placed[0], actor=COORDINATOR)
    answers.decline(db_session, placed[1], "Vi har inte handledare den veckan", actor=COORDINATOR)
    assert allocation_round.confirm_deadline is not None
    after = allocation_round.confirm_deadline + dt.timedelta(seconds=1)

    assert schedule.apply_deadlines(db_session, SETTINGS, after - dt.timedelta(minutes=1)).lines == []
    result = schedule.apply_deadlines(db_session, SETTINGS, after)
    db_session.expire_all()

    statuses = [a.status for a in placed]
    assert statuses == [
        AssignmentStatus.CONFIRMED,
        AssignmentStatus.DECLINED,
        AssignmentStatus.CONFIRMED,
        AssignmentStatus.CONFIRMED,
    ]
    assert placed[1].decline_reason == "Vi har inte handledare den veckan"
    assert len(result.solve_jobs) == 1
    solve(db_session, make_session, result.solve_jobs[0])
    changes = round_changes.pending_changes(db_session, allocation_round.id)
    assert [change["pupil"] for change in changes] == [placed[1].pupil_id]
    assert changes[0]["to"] == spare.code  # the declining employer's offer is out of the question
    # Applied once: a later sweep does nothing.
    assert schedule.apply_deadlines(db_session, SETTINGS, after + dt.timedelta(hours=1)).lines == []


def test_at_the_deadline_release_gives_up_unanswered_places_and_tells_the_employer(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, placed = _published(db_session, make_session, UnansweredRule.RELEASE)
    answers.confirm(db_session, placed[0], actor=COORDINATOR)
    silent_employer = placed[1].offer.employer
    silent_contact = contact(db_session, silent_employer)
    assert allocation_round.confirm_deadline is not None

    result = schedule.apply_deadlines(db_session, SETTINGS, allocation_round.confirm_deadline + dt.timedelta(minutes=1))
    db_session.expire_all()

    assert placed[0].status is AssignmentStatus.CONFIRMED
    for released in placed[1:]:
        assert released.status is AssignmentStatus.DECLINED
        assert released.decline_reason == schedule.RELEASED_REASON
    assert len(result.solve_jobs) == 1
    told = [message.user_id for message in outbox(db_session, "placements_released")]
    assert silent_contact.id in told
    events = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "round.deadline")).all()
    assert [(e.actor, e.after) for e in events] == [("scheduler", {"rule": "release", "placements": 3})]


# --- the weekly digest and the calendar ------------------------------------------------------------------------------


def test_each_coordinator_gets_one_digest_a_week(db_session: Session) -> None:
    first, second = f.user(db_session, Role.COORDINATOR), f.user(db_session, Role.COORDINATOR, locale="en")
    monday = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)  # 07:00 in Stockholm
    schedule.weekly_digest(db_session, SETTINGS, monday)
    schedule.weekly_digest(db_session, SETTINGS, monday + dt.timedelta(hours=2))
    assert sorted(message.user_id for message in outbox(db_session, "weekly_digest")) == [first.id, second.id]
    schedule.weekly_digest(db_session, SETTINGS, monday + dt.timedelta(days=7))
    assert len(outbox(db_session, "weekly_digest")) == 4
    assert "2026-W49" in outbox(db_session, "weekly_digest")[0].body


def _fires(spec_id: str, after: dt.datetime, count: int) -> list[dt.datetime]:
    spec = next(spec for spec in job_specs() if spec.id == spec_id)
    trigger = CronTrigger(timezone=STOCKHOLM, **spec.cron)
    times: list[dt.datetime] = []
    previous = None
    now = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        times.append(fire)
        previous, now = fire, fire + dt.timedelta(seconds=1)
    return times


def test_the_digest_goes_at_seven_local_time_on_both_sides_of_a_daylight_saving_change() -> None:
    autumn = _fires("digest", dt.datetime(2026, 10, 19, tzinfo=STOCKHOLM), 2)  # DST ends 2026-10-25
    spring = _fires("digest", dt.datetime(2027, 3, 22, tzinfo=STOCKHOLM), 2)  # DST starts 2027-03-28
    for fire in autumn + spring:
        assert (fire.astimezone(STOCKHOLM).hour, fire.astimezone(STOCKHOLM).minute) == (7, 0)
    assert [fire.astimezone(dt.UTC).hour for fire in autumn] == [5, 6]
    assert [fire.astimezone(dt.UTC).hour for fire in spring] == [6, 5]


def test_the_purge_runs_once_a_night_also_when_the_clocks_change() -> None:
    nights = _fires("purge", dt.datetime(2027, 3, 27, 12, tzinfo=STOCKHOLM), 3)
    assert [fire.astimezone(STOCKHOLM).date().day for fire in nights] == [28, 29, 30]
    assert {(fire.astimezone(STOCKHOLM).hour, fire.astimezone(STOCKHOLM).minute) for fire in nights} == {(3, 30)}


def test_the_nightly_purge_sweep_keeps_a_month_of_job_runs(db_session: Session) -> None:
    now = utcnow()
    for age in (40, 20):
        db_session.add(
            m.JobRun(
                job_id="mail",
                scheduled_for=now - dt.timedelta(days=age),
                state=JobRunState.SUCCEEDED,
                started_at=now - dt.timedelta(days=age),
                finished_at=now - dt.timedelta(days=age),
                host="h",
                pid=1,
            )
        )
    db_session.flush()

    result = schedule.purge(db_session, SETTINGS, now)

    assert str(result) == "no personal data past its retention; 1 old job runs removed"
    ages = [(now - run.started_at).days for run in db_session.scalars(select(m.JobRun))]
    assert ages == [20]


def test_a_municipalitys_coordinators_hear_of_its_rounds_and_get_no_region_wide_digest(db_session: Session) -> None:
    ale, kungalv = f.municipality(db_session, name="Ale"), f.municipality(db_session, name="Kungälv")
    regional = f.user(db_session, Role.COORDINATOR)
    own = f.user(db_session, Role.COORDINATOR, municipality_id=ale.id)
    f.user(db_session, Role.COORDINATOR, municipality_id=kungalv.id)
    allocation_round, _pupils, _ = f.small_round(db_session)
    allocation_round.municipality_id = ale.id
    allocation_round.auto_run_at = utcnow()
    allocation_round.outcome = {"metrics": {"placed": 2, "students": 3}}
    db_session.flush()
    assert schedule.report_auto_run(db_session, SETTINGS, allocation_round.id) == 2
    assert sorted(message.user_id for message in outbox(db_session, "round_auto_run")) == sorted([regional.id, own.id])
    schedule.weekly_digest(db_session, SETTINGS, dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC))
    assert [message.user_id for message in outbox(db_session, "weekly_digest")] == [regional.id]
