"""What an employer contact may do with the placements at their employers: find them, give feedback once over.

A placement at another employer is :class:`NotFound`, so that ids cannot be
probed.  An employer sees only the pupils placed with it, and of them only
name, school, class and dates (:func:`employer_placements`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from placement import audit
from placement.db import utcnow, violated_constraint
from placement.enums import AssignmentStatus, RoundStatus
from placement.errors import Conflict, NotFound, ValidationError
from placement.models import (
    AllocationRound,
    Assignment,
    EmployerMembership,
    Offer,
    PlacementFeedback,
    Pupil,
    User,
)

logger = logging.getLogger(__name__)

#: The placements an employer sees: published and answered ones, declined ones as history.
_EMPLOYER_VISIBLE = (
    AssignmentStatus.PUBLISHED,
    AssignmentStatus.CONFIRMED,
    AssignmentStatus.LOCKED,
    AssignmentStatus.DECLINED,
)


#: Feedback: the ``rating_range`` constraint of placement_feedback, and the comment's length.
RATING_RANGE = (1, 5)


COMMENT_MAX = 2000


#: Placements that may get feedback once their period has ended: in force, not declined.
FEEDBACK_STATUSES = (AssignmentStatus.CONFIRMED, AssignmentStatus.LOCKED)


LOCAL = ZoneInfo("Europe/Stockholm")


def own_assignment(session: Session, user: User, assignment_id: int) -> Assignment:
    """A published placement at one of the user's employers, or NotFound."""
    assignment = for_employer_user(session, user.id, assignment_id)
    if assignment is None:
        raise NotFound(f"placement {assignment_id} does not exist")
    return assignment


def today_local(now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(LOCAL).date()


def feedback_state(session: Session, user: User, *, today: dt.date | None = None) -> dict[int, str]:
    """Assignment id -> ``"due"`` (feedback can be given) or ``"given"``, for the user's ended placements."""
    today = today or today_local()
    given = set(
        session.scalars(
            select(PlacementFeedback.assignment_id)
            .join(Assignment, PlacementFeedback.assignment_id == Assignment.id)
            .join(Offer, Assignment.offer_id == Offer.id)
            .join(EmployerMembership, EmployerMembership.employer_id == Offer.employer_id)
            .where(EmployerMembership.user_id == user.id)
        )
    )
    state = {}
    for line in employer_placements(session, user.id):
        if line.status in {s.value for s in FEEDBACK_STATUSES} and line.end < today:
            state[line.assignment_id] = "given" if line.assignment_id in given else "due"
    return state


def feedback_target(session: Session, user: User, assignment_id: int, *, today: dt.date | None = None) -> Assignment:
    """The user's placement to give feedback on: in force, its period over, no feedback yet.

    NotFound when it is not the user's; Conflict when it is not over, was not
    taken, or has feedback already.
    """
    assignment = own_assignment(session, user, assignment_id)
    today = today or today_local()
    if assignment.status not in FEEDBACK_STATUSES:
        raise Conflict(f"placement {assignment.id} is {assignment.status.value}; only a confirmed one gets feedback")
    if assignment.period.end_date >= today:
        raise Conflict(f"placement {assignment.id}: feedback can be given after {assignment.period.end_date}")
    if session.scalar(select(PlacementFeedback.id).where(PlacementFeedback.assignment_id == assignment.id)):
        raise Conflict(f"placement {assignment.id}: feedback has already been given")
    return assignment


def give_feedback(
    session: Session,
    user: User,
    assignment_id: int,
    *,
    rating: int,
    comment: str = "",
    today: dt.date | None = None,
) -> PlacementFeedback:
    """Store the employer's feedback on a placement, once."""
    assignment = feedback_target(session, user, assignment_id, today=today)
    low, high = RATING_RANGE  # mirrors the ``rating_range`` constraint
    problems: list[str] = []
    if isinstance(rating, bool) or not isinstance(rating, int) or not low <= rating <= high:
        problems.append(f"placement {assignment.id}: rating must be a whole number {low}..{high}, not {rating!r}")
    clean = (comment or "").strip()
    if len(clean) > COMMENT_MAX:
        problems.append(f"placement {assignment.id}: comment is longer than {COMMENT_MAX} characters")
    if problems:
        raise ValidationError(problems)
    feedback = PlacementFeedback(assignment_id=assignment.id, author_id=user.id, rating=rating, comment=clean)
    try:
        with session.begin_nested():
            session.add(feedback)
            session.flush()
    except IntegrityError as exc:
        if violated_constraint(exc) == "uq_placement_feedback_assignment_id":
            raise Conflict(f"placement {assignment.id}: feedback has already been given") from exc
        raise
    audit.record(
        session,
        audit.Actor.of(user),
        "assignment.feedback",
        "assignment",
        assignment.id,
        after={"rating": rating, "comment_length": len(clean)},
    )
    session.flush()
    logger.info("Placement %s: feedback given by user %s", assignment.id, user.id)
    return feedback


@dataclasses.dataclass(frozen=True)
class EmployerLine:
    """What an employer sees of a pupil placed with it: name, school, class, dates, nothing more."""

    assignment_id: int
    pupil_name: str
    school: str
    class_name: str
    offer_title: str
    start: dt.date
    end: dt.date
    status: str
    deadline: dt.datetime | None
    deadline_passed: bool
    decline_reason: str | None


def _employer_query(user_id: int) -> Select[Any]:
    return (
        select(Assignment)
        .join(Offer, Assignment.offer_id == Offer.id)
        .join(EmployerMembership, EmployerMembership.employer_id == Offer.employer_id)
        .join(AllocationRound, Assignment.round_id == AllocationRound.id)
        .where(
            EmployerMembership.user_id == user_id,
            Assignment.status.in_(_EMPLOYER_VISIBLE),
            AllocationRound.status.in_((RoundStatus.PUBLISHED, RoundStatus.CLOSED)),
        )
    )


def for_employer_user(session: Session, user_id: int, assignment_id: int) -> Assignment | None:
    """The placement if it is at an employer the user belongs to and has been published; else None."""
    return session.scalars(_employer_query(user_id).where(Assignment.id == assignment_id)).first()


def employer_placements(session: Session, user_id: int) -> list[EmployerLine]:
    """The published placements at the user's employers: only pupils assigned to them."""
    now = utcnow()
    lines = []
    found = _employer_query(user_id).options(
        selectinload(Assignment.pupil).selectinload(Pupil.school),
        selectinload(Assignment.pupil).selectinload(Pupil.school_class),
        selectinload(Assignment.offer),
        selectinload(Assignment.period),
        selectinload(Assignment.round),
    )
    for a in session.scalars(found.order_by(Assignment.period_id, Assignment.id)):
        deadline = a.round.confirm_deadline
        lines.append(
            EmployerLine(
                assignment_id=a.id,
                pupil_name=f"{a.pupil.first_name} {a.pupil.last_name}",
                school=a.pupil.school.name,
                class_name=a.pupil.school_class.name,
                offer_title=a.offer.title,
                start=a.period.start_date,
                end=a.period.end_date,
                status=a.status.value,
                deadline=deadline,
                deadline_passed=deadline is not None and now > deadline,
                decline_reason=a.decline_reason,
            )
        )
    return lines
