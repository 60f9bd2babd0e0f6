"""What the season's dates do by themselves: the work of the scheduler's jobs.

Every function here is one sweep: it looks at the database, does what is due
at ``now`` and records that it did it, so that running it again — a minute
later, after a restart, or from a second scheduler started by mistake — does
nothing twice.  Windows carry ``opened_at``/``closed_at``, rounds
``auto_run_at`` and ``deadline_applied_at``, and every e-mail has a
``dedup_key`` in the outbox, so each reminder reaches each person once.

The sweeps write in the caller's transaction and return a line saying what
they did (shown on the coordinator's scheduler page); solving, which takes
longer, is returned as solve jobs for the caller to run after committing.

This module is longer than most (about 550 lines) because it holds every sweep of the
season in one place, so that what the dates do can be read top to bottom; each sweep is short.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, aliased

from placement import audit
from placement.db import utcnow
from placement.enums import (
    ACTIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    EmployerStatus,
    JobRunState,
    MailKind,
    MailState,
    RoundStatus,
    UnansweredRule,
)
from placement.errors import Conflict
from placement.mail import outbox as mail
from placement.mail.recipients import coordinators, employer_contacts, school_staff
from placement.models import (
    AllocationRound,
    Assignment,
    Employer,
    JobRun,
    Offer,
    Preference,
    PreferenceWindow,
    Pupil,
    School,
    SchoolClass,
    User,
)
from placement.organisation import accounts, invitations
from placement.retention import purge as retention
from placement.rounds import answers, jobs

logger = logging.getLogger(__name__)

ACTOR = audit.SCHEDULER
#: The reason written on a placement the deadline released.
RELEASED_REASON = "No answer from the employer by the confirmation deadline"


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the scheduler's jobs need to know, read from the app's configuration."""

    database_url: str
    smtp: mail.SmtpSettings
    timezone: str = "Europe/Stockholm"
    base_url: str = "http://127.0.0.1:5000"
    retention_months: int = 12
    employer_reminder_days: int = 3
    school_reminder_days: int = 3
    #: The job queue's PostgreSQL database (``PRAKTIK_QUEUE_URL``); None runs solves and mail in this process.
    queue_url: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(
            database_url=str(config["DATABASE_URL"]),
            smtp=mail.SmtpSettings.from_config(config),
            timezone=str(config.get("TIMEZONE", "Europe/Stockholm")),
            base_url=str(config.get("BASE_URL", "http://127.0.0.1:5000")).rstrip("/"),
            retention_months=int(config.get("RETENTION_MONTHS", 12)),
            employer_reminder_days=int(config.get("EMPLOYER_REMINDER_DAYS", 3)),
            school_reminder_days=int(config.get("SCHOOL_REMINDER_DAYS", 3)),
            queue_url=config.get("QUEUE_URL") or None,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: dt.datetime) -> str:
        """A time as people read it in mail: local wall-clock time."""
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclasses.dataclass
class SweepResult:
    """What a sweep did, and the solve jobs it queued for the caller to run after commit."""

    lines: list[str] = dataclasses.field(default_factory=list)
    solve_jobs: list[int] = dataclasses.field(default_factory=list)

    def add(self, text: str) -> None:
        self.lines.append(text)

    def __str__(self) -> str:
        return "; ".join(self.lines) if self.lines else "nothing due"


# --- recipients ------------------------------------------------------------------------------------------------------


def _employer_names(session: Session, employer_ids: Iterable[int]) -> dict[int, str]:
    statement = select(Employer.id, Employer.name).where(Employer.id.in_(list(employer_ids)))
    return dict(session.execute(statement).all())


def _send(session: Session, user: User, kind: MailKind, dedup_key: str, context: dict[str, Any]) -> bool:
    assert user.email is not None
    message = mail.enqueue(
        session,
        kind=kind,
        recipient=user.email,
        locale=user.locale,
        context={"name": user.display_name, **context},
        dedup_key=dedup_key,
        user_id=user.id,
    )
    return message is not None


# --- preference windows ----------------------------------------------------------------------------------------------


def open_windows(session: Session, settings: Settings, now: dt.datetime | None = None) -> SweepResult:
    """Windows whose opening time has come: mark them open and tell every school's staff."""
    now = now or utcnow()
    result = SweepResult()
    due = session.scalars(
        select(PreferenceWindow)
        .where(
            PreferenceWindow.opened_at.is_(None),
            PreferenceWindow.opens_at <= now,
            PreferenceWindow.closes_at > now,
        )
        .order_by(PreferenceWindow.opens_at)
    ).all()
    for window in due:
        window.opened_at = now
        audit.record(
            session, ACTOR, "window.open", "preference_window", window.id, after={"opened_at": now.isoformat()}
        )
        schools = session.execute(select(School.id, School.name).order_by(School.id)).all()
        staff = school_staff(session, [school_id for school_id, _ in schools])
        sent = 0
        for school_id, school_name in schools:
            for user in staff.get(school_id, []):
                sent += _send(
                    session,
                    user,
                    MailKind.WINDOW_OPEN,
                    f"window:{window.id}:open:user:{user.id}",
                    {
                        "school": school_name,
                        "window_name": window.name,
                        "closes_at": settings.local(window.closes_at),
                        "max_choices": window.max_choices,
                        "url": settings.url("/"),
                    },
                )
        result.add(f"window {window.id} opened, {sent} school messages queued")
    return result


def close_windows(session: Session, settings: Settings, now: dt.datetime | None = None) -> SweepResult:
    """Windows whose closing time has passed: mark them closed and queue the rounds set to run by themselves.

    A round runs automatically once: when its window closes, if the
    coordinator chose so and the round can still be started (draft or failed).
    """
    now = now or utcnow()
    result = SweepResult()
    due = session.scalars(
        select(PreferenceWindow)
        .where(PreferenceWindow.closed_at.is_(None), PreferenceWindow.closes_at <= now)
        .order_by(PreferenceWindow.closes_at)
    ).all()
    for window in due:
        window.closed_at = now
        audit.record(
            session, ACTOR, "window.close", "preference_window", window.id, after={"closed_at": now.isoformat()}
        )
        result.add(f"window {window.id} closed")
    closed_ids = select(PreferenceWindow.id).where(PreferenceWindow.closed_at.is_not(None))
    auto = session.scalars(
        select(AllocationRound)
        .where(
            AllocationRound.auto_run.is_(True),
            AllocationRound.auto_run_at.is_(None),
            AllocationRound.preference_window_id.in_(closed_ids),
        )
        .order_by(AllocationRound.id)
    ).all()
    for allocation_round in auto:
        allocation_round.auto_run_at = now
        if allocation_round.status not in (RoundStatus.DRAFT, RoundStatus.FAILED):
            result.add(f"round {allocation_round.id} is {allocation_round.status.value}: not run automatically")
            continue
        try:
            job = jobs.enqueue(session, allocation_round.id, actor=ACTOR)
        except Conflict as exc:
            result.add(f"round {allocation_round.id} not run: {exc}")
            continue
        result.solve_jobs.append(job.id)
        result.add(f"round {allocation_round.id} queued to run (job {job.id})")
    return result


def report_auto_run(session: Session, settings: Settings, round_id: int) -> int:
    """Tell the coordinators how a round that ran by itself came out; returns the messages queued."""
    allocation_round = session.get(AllocationRound, round_id)
    if allocation_round is None:
        return 0
    outcome = allocation_round.outcome or {}
    metrics = outcome.get("metrics") or {}
    sent = 0
    for user in coordinators(session, allocation_round.municipality_id):
        sent += _send(
            session,
            user,
            MailKind.ROUND_AUTO_RUN,
            f"round:{round_id}:auto-run:{allocation_round.auto_run_at:%Y%m%dT%H%M}:user:{user.id}",
            {
                "round_name": allocation_round.name,
                "status": allocation_round.status.value,
                "placed": metrics.get("placed"),
                "pupils": int(metrics.get("students", 0) or 0),
                "url": settings.url(f"/coordinator/rounds/{round_id}"),
            },
        )
    return sent


# --- reminders -------------------------------------------------------------------------------------------------------


def school_reminders(session: Session, settings: Settings, now: dt.datetime | None = None) -> SweepResult:
    """Before an open window closes, tell each school's staff which of their pupils have not chosen yet.

    Pupils have no e-mail in Praktik; their school's contact reaches them.
    Each staff member gets one reminder per window.
    """
    now = now or utcnow()
    result = SweepResult()
    horizon = now + dt.timedelta(days=settings.school_reminder_days)
    windows = session.scalars(
        select(PreferenceWindow).where(
            PreferenceWindow.opens_at <= now, PreferenceWindow.closes_at > now, PreferenceWindow.closes_at <= horizon
        )
    ).all()
    if not windows:
        return result
    missing = session.execute(
        select(Pupil.school_id, SchoolClass.name, func.count(Pupil.id))
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .where(
            SchoolClass.period_id.is_not(None),
            Pupil.self_arranged_offer_id.is_(None),
            ~exists().where(Preference.pupil_id == Pupil.id),
        )
        .group_by(Pupil.school_id, SchoolClass.name)
    ).all()
    by_school: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for school_id, class_name, count in missing:
        by_school[school_id].append({"class_name": class_name, "count": int(count)})
    names = dict(session.execute(select(School.id, School.name).where(School.id.in_(list(by_school)))).all())
    staff = school_staff(session, by_school)
    for window in windows:
        sent = 0
        for school_id, classes in sorted(by_school.items()):
            classes.sort(key=lambda c: str(c["class_name"]))
            for user in staff.get(school_id, []):
                sent += _send(
                    session,
                    user,
                    MailKind.SCHOOL_REMINDER,
                    f"window:{window.id}:school-reminder:school:{school_id}:user:{user.id}",
                    {
                        "school": names[school_id],
                        "window_name": window.name,
                        "closes_at": settings.local(window.closes_at),
                        "missing": sum(int(c["count"]) for c in classes),
                        "classes": classes,
                        "url": settings.url("/"),
                    },
                )
        if sent:
            result.add(f"window {window.id}: {sent} school reminders queued")
    return result


def employer_reminders(session: Session, settings: Settings, now: dt.datetime | None = None) -> SweepResult:
    """Before a round's confirmation deadline, remind employers who still have unanswered placements, once."""
    now = now or utcnow()
    result = SweepResult()
    horizon = now + dt.timedelta(days=settings.employer_reminder_days)
    due_rounds = session.scalars(
        select(AllocationRound).where(
            AllocationRound.status == RoundStatus.PUBLISHED,
            AllocationRound.confirm_deadline > now,
            AllocationRound.confirm_deadline <= horizon,
        )
    ).all()
    for allocation_round in due_rounds:
        assert allocation_round.confirm_deadline is not None
        unanswered = dict(
            session.execute(
                select(Offer.employer_id, func.count(Assignment.id))
                .join(Offer, Assignment.offer_id == Offer.id)
                .where(Assignment.round_id == allocation_round.id, Assignment.status == AssignmentStatus.PUBLISHED)
                .group_by(Offer.employer_id)
            ).all()
        )
        names = _employer_names(session, unanswered)
        contacts = employer_contacts(session, unanswered)
        sent = 0
        for employer_id, count in sorted(unanswered.items()):
            for user in contacts.get(employer_id, []):
                sent += _send(
                    session,
                    user,
                    MailKind.EMPLOYER_REMINDER,
                    f"round:{allocation_round.id}:employer-reminder:employer:{employer_id}:user:{user.id}",
                    {
                        "employer": names[employer_id],
                        "deadline": settings.local(allocation_round.confirm_deadline),
                        "unanswered": int(count),
                        "url": settings.url("/employer/placements"),
                    },
                )
        if sent:
            result.add(f"round {allocation_round.id}: {sent} employer reminders queued")
    return result


# --- confirmation deadlines ------------------------------------------------------------------------------------------


def apply_deadlines(session: Session, settings: Settings, now: dt.datetime | None = None) -> SweepResult:
    """At a round's confirmation deadline, apply the coordinator's rule to unanswered placements.

    ``confirm``: an unanswered placement stands, as confirmed.  ``release``: it
    is given up (recorded as declined, with :data:`RELEASED_REASON`), the
    employer is told, and the pupil is placed again.  When any pupil of the
    round is left without a placement, an incremental round is queued; its
    changes wait for the coordinator to accept them, as after any decline.
    """
    now = now or utcnow()
    result = SweepResult()
    due = session.scalars(
        select(AllocationRound)
        .where(
            AllocationRound.status == RoundStatus.PUBLISHED,
            AllocationRound.deadline_applied_at.is_(None),
            AllocationRound.confirm_deadline <= now,
        )
        .order_by(AllocationRound.id)
    ).all()
    for allocation_round in due:
        allocation_round.deadline_applied_at = now
        rule = allocation_round.unanswered_rule
        unanswered = session.execute(
            select(Assignment.id, Offer.employer_id)
            .join(Offer, Assignment.offer_id == Offer.id)
            .where(Assignment.round_id == allocation_round.id, Assignment.status == AssignmentStatus.PUBLISHED)
        ).all()
        ids = [assignment_id for assignment_id, _ in unanswered]
        if rule is UnansweredRule.CONFIRM:
            values: dict[str, Any] = {"status": AssignmentStatus.CONFIRMED}
        else:
            values = {"status": AssignmentStatus.DECLINED, "decline_reason": RELEASED_REASON}
        if ids:
            session.execute(
                update(Assignment)
                .where(Assignment.id.in_(ids), Assignment.status == AssignmentStatus.PUBLISHED)
                .values(answered_at=now, updated_at=now, **values)
                .execution_options(synchronize_session=False)
            )
            if rule is UnansweredRule.CONFIRM:
                # Confirmed by silence: the schools hear of it as of any confirmation.
                for assignment in session.scalars(select(Assignment).where(Assignment.id.in_(ids))):
                    session.refresh(assignment)
                    answers.mail_confirmed(session, assignment, settings.base_url)
        audit.record(
            session,
            ACTOR,
            "round.deadline",
            "allocation_round",
            allocation_round.id,
            after={"rule": rule.value, "placements": len(ids)},
        )
        line = f"round {allocation_round.id}: deadline rule {rule.value} applied to {len(ids)} unanswered placements"
        if rule is UnansweredRule.RELEASE and ids:
            released: dict[int, int] = defaultdict(int)
            for _, employer_id in unanswered:
                released[employer_id] += 1
            names = dict(
                session.execute(select(Employer.id, Employer.name).where(Employer.id.in_(list(released)))).all()
            )
            for employer_id, contacts in employer_contacts(session, released).items():
                for user in contacts:
                    _send(
                        session,
                        user,
                        MailKind.PLACEMENTS_RELEASED,
                        f"round:{allocation_round.id}:released:employer:{employer_id}:user:{user.id}",
                        {
                            "employer": names[employer_id],
                            "released": released[employer_id],
                            "deadline": settings.local(allocation_round.confirm_deadline or now),
                        },
                    )
        if _someone_unplaced(session, allocation_round.id):
            try:
                job = jobs.enqueue(session, allocation_round.id, actor=ACTOR)
            except Conflict as exc:
                line += f"; incremental round not started: {exc}"
            else:
                result.solve_jobs.append(job.id)
                line += f"; incremental round queued (job {job.id})"
        result.add(line)
    return result


def _someone_unplaced(session: Session, round_id: int) -> bool:
    """Whether a pupil of the round lost a placement and holds none in force in the round."""
    held = aliased(Assignment)
    lost = (
        select(Assignment.id)
        .where(
            Assignment.round_id == round_id,
            Assignment.status.in_((AssignmentStatus.DECLINED, AssignmentStatus.WITHDRAWN)),
            ~exists().where(
                held.round_id == round_id,
                held.pupil_id == Assignment.pupil_id,
                held.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
            ),
        )
        .limit(1)
    )
    return session.scalar(lost) is not None


# --- the weekly digest -----------------------------------------------------------------------------------------------


def weekly_digest(session: Session, settings: Settings, now: dt.datetime | None = None) -> SweepResult:
    """Each week, to each of the region's coordinators: what is waiting and what went wrong, region-wide."""
    now = now or utcnow()
    result = SweepResult()
    year, week, _ = now.astimezone(settings.zone).isocalendar()
    label = f"{year}-W{week:02d}"
    without_choices = session.scalar(
        select(func.count(Pupil.id))
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .where(
            SchoolClass.period_id.is_not(None),
            Pupil.self_arranged_offer_id.is_(None),
            ~exists().where(Preference.pupil_id == Pupil.id),
        )
    )
    published = select(AllocationRound.id).where(AllocationRound.status == RoundStatus.PUBLISHED)
    unanswered = session.scalar(
        select(func.count(Assignment.id)).where(
            Assignment.round_id.in_(published), Assignment.status == AssignmentStatus.PUBLISHED
        )
    )
    declined = session.scalar(
        select(func.count(Assignment.id)).where(
            Assignment.round_id.in_(published),
            Assignment.status == AssignmentStatus.DECLINED,
            Assignment.answered_at >= now - dt.timedelta(days=7),
        )
    )
    pending_employers = session.scalar(select(func.count(Employer.id)).where(Employer.status == EmployerStatus.PENDING))
    failed_mail = mail.counts(session).get(MailState.FAILED, 0)
    failed_jobs = session.scalar(
        select(func.count(JobRun.id)).where(
            JobRun.state == JobRunState.FAILED, JobRun.started_at >= now - dt.timedelta(days=7)
        )
    )
    figures = {
        "pupils_without_choices": int(without_choices or 0),
        "unanswered_placements": int(unanswered or 0),
        "declined_this_week": int(declined or 0),
        "employers_waiting_for_approval": int(pending_employers or 0),
    }
    sent = 0
    for user in coordinators(session):
        sent += _send(
            session,
            user,
            MailKind.WEEKLY_DIGEST,
            f"digest:{label}:user:{user.id}",
            {
                "week": label,
                "items": [{"key": key, "count": n} for key, n in figures.items()],
                "failed_mail": int(failed_mail or 0),
                "failed_jobs": int(failed_jobs or 0),
                "url": settings.url("/coordinator/"),
            },
        )
    result.add(f"digest {label}: {sent} messages queued")
    return result


# --- retention -------------------------------------------------------------------------------------------------------

#: Job runs are kept this long on the scheduler page.
JOB_RUN_RETENTION = dt.timedelta(days=30)


def purge(session: Session, settings: Settings, now: dt.datetime | None = None) -> SweepResult:
    """Purge pupils' personal data past its retention, and old job-run lines."""
    now = now or utcnow()
    result = SweepResult()
    record = retention.purge(session, now=now, retention_months=settings.retention_months, actor=ACTOR)
    if record is None:
        result.add("no personal data past its retention")
    else:
        result.add(f"purged: {', '.join(f'{n} {kind}' for kind, n in sorted(record.counts.items()))}")
    failures = accounts.prune_failures(session, now - accounts.WINDOW)
    if failures:
        result.add(f"{failures} old failed logins removed")
    ended = invitations.prune(session, now)
    if ended:
        result.add(f"{ended} ended invitations removed")
    old = session.execute(
        JobRun.__table__.delete().where(JobRun.finished_at < now - JOB_RUN_RETENTION)  # type: ignore[attr-defined]
    ).rowcount
    if old:
        result.add(f"{old} old job runs removed")
    return result
