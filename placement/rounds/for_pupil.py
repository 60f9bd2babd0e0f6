"""The pupil's own page once rounds run: their status, their published placement, its calendar, their evaluation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from placement import audit
from placement.cohorts import preferences
from placement.cohorts.for_pupil import WindowState, window_state
from placement.db import violated_constraint
from placement.enums import ACTIVE_ASSIGNMENT_STATUSES
from placement.errors import Conflict, NotFound, ValidationError
from placement.mail import outbox as mail
from placement.models import (
    Assignment,
    Offer,
    Period,
    Pupil,
    PupilEvaluation,
)
from placement.organisation import season
from placement.rounds import setup as rounds

logger = logging.getLogger(__name__)


#: Bounds of a rating, mirrored from the ``rating_range`` constraint of pupil_evaluation.
RATING_RANGE = (1, 5)


#: Longest evaluation comment kept.
MAX_COMMENT = 2000


class EvaluationNotOpen(Conflict):
    """The placement has not ended yet, so it cannot be evaluated."""


class AlreadyEvaluated(Conflict):
    """The pupil has already answered the evaluation; it is stored once."""


@dataclasses.dataclass(frozen=True)
class Status:
    """The pupil's home page: the window, their choices so far, and their placement once published."""

    pupil: Pupil
    period: Period | None
    window: WindowState
    ranked: int
    placement: Assignment | None
    ranking: rounds.Ranking
    """How the pupil's ranking will be allocated (:func:`rounds.ranking_for_period`): what the honesty
    box may promise depends on it."""

    @property
    def max_choices(self) -> int:
        return self.window.window.max_choices if self.window.window else 0


@dataclasses.dataclass(frozen=True)
class Placement:
    """The pupil's published placement with what the page and the calendar file show."""

    assignment: Assignment
    offer: Offer
    period: Period
    evaluation: PupilEvaluation | None

    def can_evaluate(self, today: dt.date | None = None) -> bool:
        """From the last day of the period on (a Swedish date)."""
        return (today or season.local_today()) >= self.period.end_date


def status(session: Session, pupil: Pupil, now: dt.datetime | None = None) -> Status:
    return Status(
        pupil=pupil,
        period=pupil.school_class.period,
        window=window_state(session, now),
        ranked=preferences.ranked(session, pupil),
        placement=_active_assignment(session, pupil),
        ranking=rounds.ranking_for_period(session, pupil.school_class.period_id, pupil.school.municipality_id),
    )


def _active_assignment(session: Session, pupil: Pupil) -> Assignment | None:
    """The pupil's placement in force: in their class's period if there is one, else the latest."""
    rows = list(
        session.scalars(
            select(Assignment)
            .where(Assignment.pupil_id == pupil.id, Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES))
            .options(
                selectinload(Assignment.offer).selectinload(Offer.workplace),
                selectinload(Assignment.offer).selectinload(Offer.employer),
                selectinload(Assignment.period),
            )
        )
    )
    if not rows:
        return None
    period_id = pupil.school_class.period_id
    return next(
        (a for a in rows if a.period_id == period_id),
        max(rows, key=lambda a: (a.period.start_date, a.id)),
    )


def has_placement(session: Session, pupil: Pupil) -> bool:
    """Whether the pupil has a published placement (a proposal is not shown before publication)."""
    return _active_assignment(session, pupil) is not None


def placement_of(session: Session, pupil: Pupil) -> Placement:
    """The pupil's published placement; NotFound before publication."""
    assignment = _active_assignment(session, pupil)
    if assignment is None:
        raise NotFound(f"pupil {pupil.id} has no published placement")
    evaluation = session.scalars(select(PupilEvaluation).where(PupilEvaluation.assignment_id == assignment.id)).first()
    return Placement(assignment, assignment.offer, assignment.period, evaluation)


def placement_calendar(session: Session, pupil: Pupil, *, locale: str) -> mail.Attachment:
    """The pupil's placement as a calendar file (``prao.ics``); NotFound before publication."""
    placement = placement_of(session, pupil)
    offer = placement.offer
    return mail.placement_calendar(
        uid=f"prao-assignment-{placement.assignment.id}@praktik",
        title=offer.title,
        employer=offer.employer.name,
        address=offer.workplace.address,
        start=placement.period.start_date,
        end=placement.period.end_date,
        supervisor=offer.supervisor_name or "",
        supervisor_phone=offer.supervisor_phone or "",
        supervisor_email=offer.supervisor_email or "",
        pupil=pupil.full_name,
        locale=locale,
    )


def evaluate(
    session: Session,
    pupil: Pupil,
    *,
    rating: int,
    recommend: bool,
    comment: str = "",
    actor: audit.Actor,
    today: dt.date | None = None,
) -> PupilEvaluation:
    """Store the pupil's evaluation of their placement, once, from the period's last day on.

    A second answer is refused (AlreadyEvaluated): the evaluation is a
    one-off survey that staff may already have read.
    """
    placement = placement_of(session, pupil)
    label = f"pupil {pupil.id}, placement {placement.assignment.id}"
    if not placement.can_evaluate(today):
        raise EvaluationNotOpen(f"{label}: can be evaluated from {placement.period.end_date.isoformat()}")
    if placement.evaluation is not None:
        raise AlreadyEvaluated(f"{label}: already evaluated")
    problems: list[str] = []
    low, high = RATING_RANGE
    if isinstance(rating, bool) or not isinstance(rating, int) or not low <= rating <= high:
        problems.append(f"{label}: rating must be a whole number {low}..{high}, not {rating!r}")
    clean = (comment or "").strip()
    if len(clean) > MAX_COMMENT:
        problems.append(f"{label}: comment has {len(clean)} characters, at most {MAX_COMMENT}")
    if problems:
        raise ValidationError(problems)
    evaluation = PupilEvaluation(
        assignment_id=placement.assignment.id, rating=rating, recommend=bool(recommend), comment=clean
    )
    try:
        with session.begin_nested():
            session.add(evaluation)
            session.flush()
    except IntegrityError as exc:
        # A second tab answered meanwhile.
        if violated_constraint(exc) == "uq_pupil_evaluation_assignment_id":
            raise AlreadyEvaluated(f"{label}: already evaluated") from exc
        raise
    audit.record(
        session,
        actor,
        "pupil_evaluation.create",
        "assignment",
        placement.assignment.id,
        after={"rating": rating, "recommend": bool(recommend), "comment_chars": len(clean)},
    )
    session.flush()
    logger.info("Pupil %s evaluated placement %s (by %s)", pupil.id, placement.assignment.id, actor.label)
    return evaluation
