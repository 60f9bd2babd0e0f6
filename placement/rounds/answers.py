"""Employers answering published placements: confirm or decline.

A confirmation is mailed, with a calendar file, to the staff of the pupil's
school; a declined pupil is placed again by an incremental round
(:mod:`placement.rounds.changes`).  Answers are conditional updates, so a
second click or a concurrent request is refused, never applied twice.
"""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.orm import Session

from placement import audit
from placement.db import utcnow
from placement.enums import AssignmentStatus, MailKind, RoundStatus
from placement.errors import Conflict, ValidationError
from placement.mail import outbox as mail
from placement.mail.recipients import school_staff
from placement.models import (
    Assignment,
)
from placement.rounds.assignments import SCHOOL_PATH

logger = logging.getLogger(__name__)


def _answerable(session: Session, assignment: Assignment, what: str) -> None:
    allocation_round = assignment.round
    if allocation_round.status is not RoundStatus.PUBLISHED:
        raise Conflict(f"placement {assignment.id}: round {allocation_round.id} is {allocation_round.status.value}")
    deadline = allocation_round.confirm_deadline
    if deadline is not None and utcnow() > deadline:
        raise Conflict(f"placement {assignment.id}: the deadline to {what} passed on {deadline:%Y-%m-%d %H:%M} UTC")


def confirm(session: Session, assignment: Assignment, *, actor: audit.Actor, base_url: str = "") -> Assignment:
    """The employer confirms a published placement (a second confirmation changes nothing).

    The staff of the pupil's school get a ``placement_confirmed`` mail with a
    calendar file (queued in this transaction).
    """
    if assignment.status is AssignmentStatus.CONFIRMED:
        return assignment
    _answerable(session, assignment, "confirm")
    confirmed = _answer(session, assignment, AssignmentStatus.CONFIRMED, None, actor)
    mail_confirmed(session, confirmed, base_url)
    return confirmed


def mail_confirmed(session: Session, assignment: Assignment, base_url: str) -> None:
    """Tell the staff of the pupil's school, and only them, that the placement is confirmed."""
    pupil, offer, period = assignment.pupil, assignment.offer, assignment.period
    for user in school_staff(session, [pupil.school_id]).get(pupil.school_id, []):
        assert user.email is not None
        calendar = mail.placement_calendar(
            uid=f"prao-assignment-{assignment.id}@praktik",
            title=offer.title,
            employer=offer.employer.name,
            address=offer.workplace.address,
            start=period.start_date,
            end=period.end_date,
            supervisor=offer.supervisor_name or "",
            supervisor_phone=offer.supervisor_phone or "",
            supervisor_email=offer.supervisor_email or "",
            pupil=pupil.full_name,
            locale=user.locale,
        )
        mail.enqueue(
            session,
            kind=MailKind.PLACEMENT_CONFIRMED,
            recipient=user.email,
            locale=user.locale,
            context={
                "name": user.display_name,
                "pupil": pupil.full_name,
                "school": pupil.school.name,
                "class_name": pupil.school_class.name,
                "employer": offer.employer.name,
                "title": offer.title,
                "address": offer.workplace.address,
                "start": period.start_date.isoformat(),
                "end": period.end_date.isoformat(),
                "supervisor": offer.supervisor_name or "",
                "url": base_url.rstrip("/") + SCHOOL_PATH,
            },
            dedup_key=f"assignment:{assignment.id}:confirmed:user:{user.id}",
            user_id=user.id,
            attachment=calendar,
        )


def decline(session: Session, assignment: Assignment, reason: str, *, actor: audit.Actor) -> Assignment:
    """The employer declines a published placement, with a reason; the pupil is placed again by an incremental round."""
    clean = (reason or "").strip()
    if not clean:
        raise ValidationError(f"placement {assignment.id}: field reason is required to decline")
    if assignment.status is AssignmentStatus.DECLINED:
        return assignment
    _answerable(session, assignment, "decline")
    return _answer(session, assignment, AssignmentStatus.DECLINED, clean[:1000], actor)


def _answer(
    session: Session, assignment: Assignment, status: AssignmentStatus, reason: str | None, actor: audit.Actor
) -> Assignment:
    now = utcnow()
    moved = session.execute(
        update(Assignment)
        .where(Assignment.id == assignment.id, Assignment.status == AssignmentStatus.PUBLISHED)
        .values(status=status, decline_reason=reason, answered_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(assignment)
    if moved != 1:
        raise Conflict(
            f"placement {assignment.id} is {assignment.status.value}; only a published placement can be answered"
        )
    audit.record(
        session,
        actor,
        f"assignment.{status.value}",
        "assignment",
        assignment.id,
        before={"status": AssignmentStatus.PUBLISHED.value},
        after={"status": status.value} | ({"reason": reason} if reason else {}),
    )
    return assignment
