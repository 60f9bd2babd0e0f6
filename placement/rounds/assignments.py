"""What happens to a round's placements after the solver: adjust and publish.

* Before publication the coordinator moves pupils (:func:`move`), locks
  placements so that a re-solve keeps them (:func:`lock`, :func:`unlock`) and
  takes pupils out of the solver to place them by hand (:func:`mark_manual`).
  Every move is checked for capacity and eligibility and refused with the
  reason when it fails.
* :func:`publish` makes the proposal visible and sets the employers' deadline;
  the employers' contacts and the schools' staff are told by e-mail.
* Employers then answer (:mod:`placement.rounds.answers`), and changes after
  publication come as pending changes (:mod:`placement.rounds.changes`).

Each function is one unit of work in the caller's transaction; state changes
are conditional so that a second click or a concurrent request is refused or
does nothing, never applied twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from placement import audit
from placement.cohorts.preferences import declined_offers, eligible, ineligibility
from placement.db import utcnow
from placement.employers.offers import places_in
from placement.enums import ACTIVE_ASSIGNMENT_STATUSES, HOLDS_PLACE, AssignmentStatus, MailKind, Role, RoundStatus
from placement.errors import CapacityExceeded, Conflict, NotEligible, NotFound, ValidationError
from placement.mail import outbox as mail
from placement.mail.recipients import reachable
from placement.models import (
    AllocationRound,
    Assignment,
    Employer,
    EmployerMembership,
    ManualPlacement,
    Offer,
    OfferCapacity,
    OutboxMessage,
    Period,
    Preference,
    Pupil,
    School,
    SchoolDistance,
    SchoolMembership,
    User,
)
from placement.organisation import season
from placement.rounds import bridge
from placement.rounds import setup as rounds

logger = logging.getLogger(__name__)

#: Where the links in mail lead, after the ``base_url`` a caller passes.
EMPLOYER_PATH = "/employer/"
SCHOOL_PATH = "/"


def _proposed_round(session: Session, round_id: int, what: str) -> AllocationRound:
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status is not RoundStatus.PROPOSED:
        raise Conflict(
            f"round {round_id} is {allocation_round.status.value}; {what} is possible while the round is proposed"
        )
    return allocation_round


def pupil_in(session: Session, allocation_round: AllocationRound, pupil_id: int) -> tuple[Pupil, Period]:
    pupil = session.get(Pupil, pupil_id)
    if pupil is None:
        raise NotFound(f"pupil {bridge.student_id(pupil_id)} does not exist")
    period = pupil.school_class.period if pupil.school_class is not None else None
    if period is None or period not in allocation_round.periods:
        raise NotFound(f"pupil {bridge.student_id(pupil_id)} is not in round {allocation_round.id}")
    return pupil, period


def current(session: Session, round_id: int, pupil_id: int) -> Assignment | None:
    """The pupil's placement in the round: in force, or proposed when nothing is in force."""
    rows = session.scalars(
        select(Assignment).where(
            Assignment.round_id == round_id, Assignment.pupil_id == pupil_id, Assignment.status.in_(HOLDS_PLACE)
        )
    ).all()
    in_force = [a for a in rows if a.status in ACTIVE_ASSIGNMENT_STATUSES]
    chosen = in_force or list(rows)
    return chosen[0] if chosen else None


def lock_places(session: Session, pairs: Iterable[tuple[int, int]]) -> None:
    """Lock the capacity rows of these (offer id, period id) pairs until the transaction ends.

    Whoever takes a place locks its capacity first and counts after, so two
    takers of the last place queue instead of both seeing it free.  The locks
    are taken in one order, so that two takers of several places cannot wait
    for each other.  On PostgreSQL this is ``SELECT ... FOR UPDATE``; SQLite
    has no row locks, and the first ``FOR UPDATE`` makes the transaction the
    database's one writer (:mod:`placement.db`), which serialises them.
    """
    for offer_id, period_id in sorted(set(pairs)):
        session.execute(
            select(OfferCapacity.id)
            .where(OfferCapacity.offer_id == offer_id, OfferCapacity.period_id == period_id)
            .with_for_update()
        )


def check_places(session: Session, round_id: int) -> None:
    """Refuse (:class:`CapacityExceeded`) when an offer the round places pupils at holds more than its places.

    Locks the capacity of every (offer, period) the round has placements in
    force at (in the order :func:`lock_places` uses), then counts the
    placements in force of every round there, in one query; the caller's
    transaction then rolls back whatever put them there.
    """
    mine = aliased(Assignment)
    in_round = exists().where(
        mine.round_id == round_id,
        mine.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
        mine.offer_id == OfferCapacity.offer_id,
        mine.period_id == OfferCapacity.period_id,
    )
    session.execute(
        select(OfferCapacity.id)
        .where(in_round)
        .order_by(OfferCapacity.offer_id, OfferCapacity.period_id)
        .with_for_update()
    )
    held = func.count(func.distinct(Assignment.pupil_id))
    over = session.execute(
        select(Offer.code, Period.code, OfferCapacity.places, held)
        .join(Offer, Offer.id == OfferCapacity.offer_id)
        .join(Period, Period.id == OfferCapacity.period_id)
        .join(
            Assignment,
            (Assignment.offer_id == OfferCapacity.offer_id)
            & (Assignment.period_id == OfferCapacity.period_id)
            & Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
        )
        .where(in_round)
        .group_by(Offer.code, Period.code, OfferCapacity.places)
        .having(held > OfferCapacity.places)
        .order_by(Offer.code, Period.code)
    ).all()
    if over:
        problems = [
            f"offer {o}: {n} pupils in force in period {p}, but only {places} places" for o, p, places, n in over
        ]
        raise CapacityExceeded(f"round {round_id}: " + "; ".join(problems))


def free_places(
    session: Session, offer: Offer, period: Period, *, round_id: int, ignore_pupil: int | None = None
) -> int:
    """Places of ``offer`` in ``period`` not held by a placement in force or by this round's proposal.

    Counts as it stands; a caller that then takes a place locks it first (:func:`lock_places`).
    """
    taken = session.scalar(
        select(func.count(func.distinct(Assignment.pupil_id))).where(
            Assignment.offer_id == offer.id, _holds_place(period, round_id, ignore_pupil)
        )
    )
    return places_in(offer, period) - (taken or 0)


def _holds_place(period: Period, round_id: int, ignore_pupil: int | None) -> ColumnElement[bool]:
    """SQL: an assignment that takes a place of ``period``: in force anywhere, or this round's proposal."""
    return (
        (Assignment.period_id == period.id)
        & (Assignment.pupil_id != (ignore_pupil or 0))
        & (
            Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES)
            | ((Assignment.status == AssignmentStatus.PROPOSED) & (Assignment.round_id == round_id))
        )
    )


@dataclasses.dataclass(frozen=True)
class MoveOption:
    """An offer a pupil of a proposed round may be moved to now: eligible, with a free place in their period."""

    code: str
    title: str
    employer: str
    places_left: int
    #: The pupil's rank for it, when they chose it.
    rank: int | None
    distance_km: float | None


def move_options(session: Session, round_id: int, pupil_id: int, *, query: str = "") -> list[MoveOption]:
    """Where the pupil can be moved: their own choices first (by rank), then the nearest offers.

    Eligible by the rule the move checks (:func:`preferences.eligible`),
    with a free place counted as :func:`move` counts it, and not the offer
    the pupil is at.  ``query``: every word in the title, the employer's
    name or the code.  Read as plain rows (the region's every offer may
    qualify); the move itself checks everything again under the capacity's
    lock.
    """
    allocation_round = rounds.get_round(session, round_id)
    pupil, period = pupil_in(session, allocation_round, pupil_id)
    here = current(session, round_id, pupil_id)
    taken = (
        select(Assignment.offer_id, func.count(func.distinct(Assignment.pupil_id)).label("taken"))
        .where(_holds_place(period, round_id, pupil_id))
        .group_by(Assignment.offer_id)
        .subquery()
    )
    left = OfferCapacity.places - func.coalesce(taken.c.taken, 0)
    statement = (
        select(Offer.code, Offer.title, Employer.name, left, Preference.rank, SchoolDistance.km)
        .join(Employer, Employer.id == Offer.employer_id)
        .join(OfferCapacity, (OfferCapacity.offer_id == Offer.id) & (OfferCapacity.period_id == period.id))
        .outerjoin(taken, taken.c.offer_id == Offer.id)
        .outerjoin(Preference, (Preference.offer_id == Offer.id) & (Preference.pupil_id == pupil_id))
        .outerjoin(
            SchoolDistance,
            (SchoolDistance.workplace_id == Offer.workplace_id) & (SchoolDistance.school_id == pupil.school_id),
        )
        .where(
            eligible(session, pupil, period, declined=declined_offers(session, pupil)),
            left > 0,
            Offer.id != (here.offer_id if here is not None else 0),
        )
        .order_by(
            Preference.rank.is_(None), Preference.rank, SchoolDistance.km.is_(None), SchoolDistance.km, Offer.code
        )
    )
    words = query.casefold().split()
    options = [
        MoveOption(code, title, name, int(n), rank, km) for code, title, name, n, rank, km in session.execute(statement)
    ]
    if words:
        options = [o for o in options if all(w in f"{o.title}\n{o.employer}\n{o.code}".casefold() for w in words)]
    return options


def move(
    session: Session, round_id: int, pupil_id: int, offer_code: str, *, actor: audit.Actor, lock: bool = False
) -> Assignment:
    """Place a pupil of a proposed round at another offer (or at one, when unplaced), checked.

    Refused with :class:`CapacityExceeded` when the offer has no free place in
    the pupil's period and :class:`NotEligible` when the pupil may not take it.
    With ``lock`` the placement is locked at once.
    """
    allocation_round = _proposed_round(session, round_id, "moving a pupil")
    pupil, period = pupil_in(session, allocation_round, pupil_id)
    sid = bridge.student_id(pupil_id)
    offer = session.scalar(select(Offer).where(Offer.code == offer_code.strip()))
    if offer is None:
        raise NotFound(f"pupil {sid}: offer {offer_code.strip()!r} does not exist")
    held = _held_elsewhere(session, round_id, pupil_id, period)
    if held is not None:
        raise Conflict(f"pupil {sid}: already placed in force at offer {held.offer.code} (round {held.round_id})")
    why = ineligibility(pupil, offer, period, declined=declined_offers(session, pupil))
    if why is not None:
        raise NotEligible(f"pupil {sid} cannot be placed at offer {offer.code}: {why}")
    lock_places(session, [(offer.id, period.id)])
    free = free_places(session, offer, period, round_id=round_id, ignore_pupil=pupil_id)
    if free <= 0:
        raise CapacityExceeded(
            f"pupil {sid} cannot be placed at offer {offer.code}: all {places_in(offer, period)} places in "
            f"{period.code} are taken"
        )
    rank = session.scalar(
        select(Preference.rank).where(Preference.pupil_id == pupil_id, Preference.offer_id == offer.id)
    )
    assignment = current(session, round_id, pupil_id)
    before: dict[str, Any] = {}
    if assignment is None:
        assignment = Assignment(round_id=round_id, pupil_id=pupil_id, period_id=period.id, offer_id=offer.id)
        session.add(assignment)
    else:
        before = {"offer": assignment.offer.code, "rank": assignment.rank, "status": assignment.status.value}
    assignment.offer_id = offer.id
    assignment.offer = offer
    assignment.rank = rank
    assignment.status = AssignmentStatus.LOCKED if lock else AssignmentStatus.PROPOSED
    session.execute(
        delete(ManualPlacement).where(ManualPlacement.round_id == round_id, ManualPlacement.pupil_id == pupil_id)
    )
    session.flush()
    audit.record(
        session,
        actor,
        "assignment.move",
        "assignment",
        assignment.id,
        before=before or None,
        after={"pupil": sid, "offer": offer.code, "rank": rank, "status": assignment.status.value},
    )
    logger.info("Round %s: %s moved %s to %s", round_id, actor.label, sid, offer.code)
    return assignment


def _held_elsewhere(session: Session, round_id: int, pupil_id: int, period: Period) -> Assignment | None:
    return session.scalars(
        select(Assignment).where(
            Assignment.pupil_id == pupil_id,
            Assignment.period_id == period.id,
            Assignment.round_id != round_id,
            Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
        )
    ).first()


def lock(session: Session, round_id: int, pupil_id: int, *, actor: audit.Actor) -> Assignment:
    """Lock the pupil's proposed placement: a re-solve keeps it."""
    return _set_lock(session, round_id, pupil_id, AssignmentStatus.PROPOSED, AssignmentStatus.LOCKED, actor=actor)


def unlock(session: Session, round_id: int, pupil_id: int, *, actor: audit.Actor) -> Assignment:
    return _set_lock(session, round_id, pupil_id, AssignmentStatus.LOCKED, AssignmentStatus.PROPOSED, actor=actor)


def _set_lock(
    session: Session,
    round_id: int,
    pupil_id: int,
    old: AssignmentStatus,
    new: AssignmentStatus,
    *,
    actor: audit.Actor,
) -> Assignment:
    _proposed_round(session, round_id, "locking a placement")
    assignment = current(session, round_id, pupil_id)
    sid = bridge.student_id(pupil_id)
    if assignment is None:
        raise NotFound(f"pupil {sid} has no placement in round {round_id}")
    if assignment.status is new:
        return assignment
    if assignment.status is not old:
        raise Conflict(f"pupil {sid}: the placement is {assignment.status.value}")
    assignment.status = new
    session.flush()
    audit.record(
        session,
        actor,
        "assignment.lock" if new is AssignmentStatus.LOCKED else "assignment.unlock",
        "assignment",
        assignment.id,
        before={"status": old.value},
        after={"status": new.value, "pupil": sid},
    )
    return assignment


def mark_manual(session: Session, round_id: int, pupil_id: int, *, actor: audit.Actor, note: str = "") -> None:
    """Take a pupil out of the solver: the coordinator places them by hand (:func:`move`)."""
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status not in (RoundStatus.DRAFT, RoundStatus.PROPOSED, RoundStatus.FAILED):
        raise Conflict(f"round {round_id} is {allocation_round.status.value}; pupils can be marked before publication")
    pupil_in(session, allocation_round, pupil_id)
    if session.get(ManualPlacement, (round_id, pupil_id)) is not None:
        return
    session.add(ManualPlacement(round_id=round_id, pupil_id=pupil_id, note=note.strip()[:500] or None))
    removed = session.execute(
        delete(Assignment).where(
            Assignment.round_id == round_id,
            Assignment.pupil_id == pupil_id,
            Assignment.status == AssignmentStatus.PROPOSED,
        )
    ).rowcount  # type: ignore[attr-defined]
    session.flush()
    audit.record(
        session,
        actor,
        "round.manual.mark",
        "allocation_round",
        round_id,
        after={"pupil": bridge.student_id(pupil_id), "note": note.strip()[:200], "proposal_removed": bool(removed)},
    )


def unmark_manual(session: Session, round_id: int, pupil_id: int, *, actor: audit.Actor) -> None:
    removed = session.execute(
        delete(ManualPlacement).where(ManualPlacement.round_id == round_id, ManualPlacement.pupil_id == pupil_id)
    ).rowcount  # type: ignore[attr-defined]
    if removed:
        audit.record(
            session,
            actor,
            "round.manual.unmark",
            "allocation_round",
            round_id,
            after={"pupil": bridge.student_id(pupil_id)},
        )


def manual_pupils(session: Session, round_id: int) -> list[ManualPlacement]:
    return list(
        session.scalars(
            select(ManualPlacement).where(ManualPlacement.round_id == round_id).order_by(ManualPlacement.created_at)
        )
    )


def publish(
    session: Session, round_id: int, deadline: dt.datetime, *, actor: audit.Actor, base_url: str = ""
) -> AllocationRound:
    """Publish a proposed round: pupils, schools and employers see their placements.

    Employers must confirm or decline by ``deadline``.  Publishing a round
    that is already published changes nothing.  The contacts of employers
    with placements and the staff of schools with placed pupils get a
    ``round_published`` mail (queued in this transaction; links start with ``base_url``).
    """
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status is RoundStatus.PUBLISHED:
        return allocation_round
    if deadline.tzinfo is None:
        raise ValidationError(f"round {round_id}: field confirm_deadline needs a time zone")
    if deadline <= utcnow():
        raise ValidationError(f"round {round_id}: field confirm_deadline must lie in the future")
    now = utcnow()
    moved = session.execute(
        update(AllocationRound)
        .where(AllocationRound.id == round_id, AllocationRound.status == RoundStatus.PROPOSED)
        .values(status=RoundStatus.PUBLISHED, published_at=now, confirm_deadline=deadline)
    ).rowcount  # type: ignore[attr-defined]
    if moved != 1:
        session.refresh(allocation_round)
        raise Conflict(f"round {round_id} is {allocation_round.status.value}; only a proposed round can be published")
    published = session.execute(
        update(Assignment)
        .where(Assignment.round_id == round_id, Assignment.status == AssignmentStatus.PROPOSED)
        .values(status=AssignmentStatus.PUBLISHED, updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    check_places(session, round_id)
    session.refresh(allocation_round)
    audit.record(
        session,
        actor,
        "round.publish",
        "allocation_round",
        round_id,
        before={"status": RoundStatus.PROPOSED.value},
        after={"status": RoundStatus.PUBLISHED.value, "confirm_deadline": deadline.isoformat(), "published": published},
    )
    logger.info("Round %s published by %s: %s placements", round_id, actor.label, published)
    _mail_published(session, allocation_round, base_url)
    return allocation_round


@dataclasses.dataclass(frozen=True)
class PublicationPreview:
    """What publishing a round would do: placements shown, people mailed, periods already under way."""

    placements: int
    employer_contacts: int
    school_staff: int
    #: The round's periods whose first day is today or past.
    started: list[Period]

    @property
    def mails(self) -> int:
        return self.employer_contacts + self.school_staff


def preview_publication(
    session: Session, round_id: int, deadline: dt.datetime, *, actor: audit.Actor, base_url: str = ""
) -> PublicationPreview:
    """What :func:`publish` would do now, found by doing it in a savepoint and taking it back.

    The same code decides both, so the coordinator is told exactly what
    happens: the placements that become visible and the mails queued,
    counted by who receives them; and the errors :func:`publish` would
    raise (a past deadline, an over-filled offer, a round not proposed)
    are raised here, before anyone confirms.  Nothing is kept.
    """
    allocation_round = rounds.get_round(session, round_id)
    started = season.started(allocation_round.periods)
    savepoint = session.begin_nested()
    try:
        publish(session, round_id, deadline, actor=actor, base_url=base_url)
        placements = session.scalar(
            select(func.count(Assignment.id)).where(
                Assignment.round_id == round_id, Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES)
            )
        )
        mailed = dict(
            session.execute(
                select(User.role, func.count(OutboxMessage.id))
                .join(User, User.id == OutboxMessage.user_id)
                .where(OutboxMessage.dedup_key.like(f"{_published_key(round_id)}%"))
                .group_by(User.role)
            ).all()
        )
    finally:
        savepoint.rollback()
    return PublicationPreview(
        placements=placements or 0,
        employer_contacts=mailed.get(Role.EMPLOYER_CONTACT, 0),
        school_staff=mailed.get(Role.SCHOOL_STAFF, 0),
        started=started,
    )


def _published_key(round_id: int) -> str:
    """The start of the outbox key of a round's publication mail; the recipient's id ends it."""
    return f"round:{round_id}:published:user:"


def _mail_published(session: Session, allocation_round: AllocationRound, base_url: str) -> None:
    """Tell each employer contact and school staff member how many placements their organisation got.

    Only counts are mailed: no pupil's name reaches anyone before they log in.
    """
    published = (
        select(Assignment)
        .where(Assignment.round_id == allocation_round.id, Assignment.status == AssignmentStatus.PUBLISHED)
        .subquery()
    )
    at_employers = session.execute(
        select(User, Employer.name, func.count(published.c.id))
        .join(EmployerMembership, EmployerMembership.user_id == User.id)
        .join(Employer, Employer.id == EmployerMembership.employer_id)
        .join(Offer, Offer.employer_id == Employer.id)
        .join(published, published.c.offer_id == Offer.id)
        .where(*reachable(Role.EMPLOYER_CONTACT))
        .group_by(User.id, Employer.id, Employer.name)
    ).all()
    at_schools = session.execute(
        select(User, School.name, func.count(published.c.id))
        .join(SchoolMembership, SchoolMembership.user_id == User.id)
        .join(School, School.id == SchoolMembership.school_id)
        .join(Pupil, Pupil.school_id == School.id)
        .join(published, published.c.pupil_id == Pupil.id)
        .where(*reachable(Role.SCHOOL_STAFF))
        .group_by(User.id, School.id, School.name)
    ).all()
    # One mail per person, even for someone who is a contact of two employers.
    per_user: dict[int, tuple[User, str, list[str], int]] = {}
    for rows, role in ((at_employers, "employer"), (at_schools, "school")):
        for user, organisation, count in rows:
            _, first_role, organisations, total = per_user.get(user.id, (user, role, [], 0))
            per_user[user.id] = (user, first_role, [*organisations, organisation], total + int(count))
    deadline = allocation_round.confirm_deadline
    for user, role, orgs, total in per_user.values():
        assert user.email is not None
        mail.enqueue(
            session,
            kind=MailKind.ROUND_PUBLISHED,
            recipient=user.email,
            locale=user.locale,
            context={
                "name": user.display_name,
                "organisation": ", ".join(sorted(orgs)),
                "role": role,
                "placements": total,
                "deadline": mail.local_time(deadline) if deadline is not None else "",
                "url": base_url.rstrip("/") + (EMPLOYER_PATH if role == "employer" else SCHOOL_PATH),
            },
            dedup_key=f"{_published_key(allocation_round.id)}{user.id}",
            user_id=user.id,
        )
