"""Offers: the placements employers post, their places per period, and what pupils may see.

An offer is shown to pupils only when it is an ACTIVE catalogue offer of an
APPROVED employer, a risk assessment for minors has been confirmed for it
(AFS 2012:3), and it has places in some period.  :func:`visible_offers` is
the query and :func:`visibility_problem` the same rule for one offer; the
round builder (``bridge.build_instance``) applies the same rule.

Places are changed with one conditional UPDATE that also counts the
assignments in force, so lowering them cannot slip under the number of pupils
already placed, not even by a placement made between a read and a write
(``SELECT ... FOR UPDATE`` would not prevent that: it does nothing on
SQLite).  Functions validate first, then write, then flush; the caller
commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from placement import audit, codes, validation
from placement.db import utcnow, violated_constraint
from placement.enums import ACTIVE_ASSIGNMENT_STATUSES, EmployerStatus, OfferKind, OfferStatus, Sector
from placement.errors import CapacityExceeded, Conflict, ValidationError
from placement.models import Assignment, Employer, Offer, OfferCapacity, Period, Preference, School, Workplace

logger = logging.getLogger(__name__)

#: Bounds of an offer's minimum age, mirrored from the ``min_age_range`` constraint.
MIN_AGE_RANGE = (12, 20)

#: Fields :func:`update_offer` may change.  Places, status and the risk
#: assessment have their own functions.
UPDATABLE_FIELDS = frozenset(
    {
        "title",
        "description",
        "sector",
        "min_age",
        "requirements",
        "supervisor_name",
        "supervisor_phone",
        "supervisor_email",
        "workplace",
        "schools",
    }
)


def create_offer(
    session: Session,
    employer: Employer,
    workplace: Workplace,
    *,
    title: str,
    description: str,
    sector: Sector,
    min_age: int | None = None,
    requirements: Iterable[str] = (),
    places: Mapping[Period, int],
    schools: Iterable[School] = (),
    supervisor_name: str | None = None,
    supervisor_phone: str | None = None,
    supervisor_email: str | None = None,
    actor: audit.Actor,
) -> Offer:
    """Post an ACTIVE catalogue offer with the next free code ``O#####``.

    It is shown to pupils once the employer is approved and the risk
    assessment is confirmed (:func:`confirm_risk_assessment`).
    """
    label = f'offer "{title}" of employer {employer.code}'
    if employer.status is EmployerStatus.REJECTED:
        raise Conflict(f"{label}: the employer was rejected and cannot post offers")
    problems: list[str] = []
    values = _validated(
        problems,
        label,
        employer,
        {
            "title": title,
            "description": description,
            "sector": sector,
            "min_age": min_age,
            "requirements": requirements,
            "supervisor_name": supervisor_name,
            "supervisor_phone": supervisor_phone,
            "supervisor_email": supervisor_email,
            "workplace": workplace,
            "schools": schools,
        },
    )
    for period, count in places.items():
        _check_places(problems, label, period, count)
    if problems:
        raise ValidationError(problems)

    def build(code: str) -> Offer:
        offer = Offer(code=code, employer=employer, kind=OfferKind.CATALOGUE, status=OfferStatus.ACTIVE, **values)
        for period, count in sorted(places.items(), key=lambda item: item[0].start_date):
            offer.capacities.append(OfferCapacity(period=period, places=count))
        session.add(offer)
        return offer

    offer = codes.OFFERS.add(session, build)
    audit.record(
        session,
        actor,
        "offer.create",
        "offer",
        offer.id,
        after={
            "code": offer.code,
            "employer": employer.code,
            "workplace_id": workplace.id,
            "title": offer.title,
            "sector": offer.sector.value,
            "min_age": offer.min_age,
            "requirements": offer.requirements,
            "places": {period.code: count for period, count in places.items()},
            "schools": [school.code for school in offer.schools],
        },
    )
    session.flush()
    logger.info("Offer %s created for employer %s by %s", offer.code, employer.code, actor.label)
    return offer


def update_offer(session: Session, offer: Offer, *, actor: audit.Actor, **fields: Any) -> Offer:
    """Change the fields named in :data:`UPDATABLE_FIELDS`; audited with the before and after of what changed."""
    label = f"offer {offer.code}"
    unknown = sorted(set(fields) - UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError(f"{label}: cannot change {', '.join(unknown)} here")
    if offer.status is OfferStatus.WITHDRAWN:
        raise Conflict(f"{label}: it is withdrawn and can no longer be changed")
    problems: list[str] = []
    values = _validated(problems, label, offer.employer, fields)
    if problems:
        raise ValidationError(problems)

    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if "schools" in values:
        schools: list[School] = values.pop("schools")
        old_codes = [s.code for s in offer.schools]
        new_codes = sorted(s.code for s in schools)
        if sorted(old_codes) != new_codes:
            before["schools"], after["schools"] = sorted(old_codes), new_codes
            offer.schools = schools
    if "workplace" in values:
        new_workplace: Workplace = values.pop("workplace")
        if new_workplace.id != offer.workplace_id:
            before["workplace_id"], after["workplace_id"] = offer.workplace_id, new_workplace.id
            offer.workplace = new_workplace
    if "sector" in values:
        # Compared and recorded by value, so the audit event holds plain strings.
        old_sector, new_sector = offer.sector, values.pop("sector")
        if new_sector is not old_sector:
            before["sector"], after["sector"] = old_sector.value, new_sector.value
            offer.sector = new_sector
    changed_before, changed_after = audit.changes(offer, values)
    before.update(changed_before)
    after.update(changed_after)
    if after:
        session.flush()
        audit.record(session, actor, "offer.update", "offer", offer.id, before=before, after=after)
        session.flush()
        logger.info("Offer %s updated by %s: %s", offer.code, actor.label, sorted(after))
    return offer


def set_places(session: Session, offer: Offer, period: Period, places: int, *, actor: audit.Actor) -> OfferCapacity:
    """Set how many pupils ``offer`` takes in ``period``.

    Refuses (CapacityExceeded) to go below the assignments in force for that
    offer and period.  The check and the write are one conditional UPDATE.
    Note that this guards the lowering side only: code that puts pupils in
    force must itself compare against ``places`` in the same way.
    """
    label = f"offer {offer.code}"
    problems: list[str] = []
    _check_places(problems, label, period, places)
    if problems:
        raise ValidationError(problems)
    if offer.status is OfferStatus.WITHDRAWN:
        raise Conflict(f"{label}: it is withdrawn; its places can no longer be changed")

    capacity = session.scalars(
        select(OfferCapacity).where(OfferCapacity.offer_id == offer.id, OfferCapacity.period_id == period.id)
    ).one_or_none()
    old = capacity.places if capacity is not None else None
    if old == places:
        assert capacity is not None
        return capacity
    if capacity is None:
        in_force = _in_force(session, offer, period)
        if in_force > places:
            raise _too_few(label, period, places, in_force)
        try:
            with session.begin_nested():
                capacity = OfferCapacity(offer=offer, period=period, places=places)
                session.add(capacity)
                session.flush()
        except IntegrityError as exc:
            if violated_constraint(exc) == "uq_offer_capacity_offer_id_period_id":
                raise Conflict(f"{label}: places for period {period.code} were set meanwhile; try again") from exc
            raise
    else:
        in_force_count = (
            select(func.count(Assignment.id))
            .where(
                Assignment.offer_id == offer.id,
                Assignment.period_id == period.id,
                Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
            )
            .scalar_subquery()
        )
        result = session.execute(
            update(OfferCapacity)
            .where(OfferCapacity.id == capacity.id, in_force_count <= places)
            .values(places=places)
            .execution_options(synchronize_session=False)
        )
        session.refresh(capacity, ["places"])
        if cast("CursorResult[Any]", result).rowcount != 1:
            raise _too_few(label, period, places, _in_force(session, offer, period))
    audit.record(
        session,
        actor,
        "offer.set_places",
        "offer",
        offer.id,
        before={"places": {period.code: old}},
        after={"places": {period.code: places}},
    )
    session.flush()
    logger.info("Offer %s: places in %s set from %s to %s by %s", offer.code, period.code, old, places, actor.label)
    return capacity


def confirm_risk_assessment(
    session: Session, offer: Offer, *, actor: audit.Actor, now: dt.datetime | None = None
) -> Offer:
    """Record that the employer confirmed a risk assessment for minors for this offer: when, and by whom."""
    if offer.status is OfferStatus.WITHDRAWN:
        raise Conflict(f"offer {offer.code}: it is withdrawn")
    at = now or utcnow()
    before, after = audit.changes(
        offer, {"risk_assessment_confirmed_at": at, "risk_assessment_confirmed_by_id": actor.user_id}
    )
    session.flush()
    audit.record(session, actor, "offer.confirm_risk_assessment", "offer", offer.id, before=before, after=after)
    session.flush()
    logger.info("Offer %s: risk assessment confirmed by %s", offer.code, actor.label)
    return offer


@dataclasses.dataclass(frozen=True)
class Withdrawal:
    """What withdrawing an offer would touch: the pupils who chose it, and those placed there."""

    #: Pupils with the offer among their choices: it no longer counts in a round once withdrawn.
    chosen_by: int
    #: Placements in force at the offer: they stay until the coordinator moves the pupils.
    placed: int


def withdrawal(session: Session, offer: Offer) -> Withdrawal:
    """What :func:`withdraw_offer` would touch now, for the employer to read before withdrawing."""
    chosen_by = session.scalar(
        select(func.count(func.distinct(Preference.pupil_id))).where(Preference.offer_id == offer.id)
    )
    return Withdrawal(chosen_by=chosen_by or 0, placed=_placed_in_force(session, offer))


def _placed_in_force(session: Session, offer: Offer) -> int:
    return (
        session.scalar(
            select(func.count(Assignment.id)).where(
                Assignment.offer_id == offer.id, Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES)
            )
        )
        or 0
    )


def withdraw_offer(session: Session, offer: Offer, *, actor: audit.Actor, reason: str) -> Offer:
    """Withdraw an offer: pupils no longer see it.  ``reason`` is required and kept in the audit log.

    Assignments already in force are left as they are (their number is
    recorded with the event); moving those pupils is the coordinator's task.
    """
    label = f"offer {offer.code}"
    clean_reason = (reason or "").strip()
    if not clean_reason:
        raise ValidationError(f"{label}: a reason is required to withdraw an offer")
    old_status = offer.status
    result = session.execute(
        update(Offer)
        .where(Offer.id == offer.id, Offer.status != OfferStatus.WITHDRAWN)
        .values(status=OfferStatus.WITHDRAWN)
        .execution_options(synchronize_session=False)
    )
    session.refresh(offer, ["status"])
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise Conflict(f"{label}: it is already withdrawn")
    in_force = _placed_in_force(session, offer)
    audit.record(
        session,
        actor,
        "offer.withdraw",
        "offer",
        offer.id,
        before={"status": old_status.value},
        after={"status": OfferStatus.WITHDRAWN.value, "reason": clean_reason, "assignments_in_force": in_force},
    )
    session.flush()
    if in_force:
        logger.warning("Offer %s withdrawn by %s with %s assignments in force", offer.code, actor.label, in_force)
    else:
        logger.info("Offer %s withdrawn by %s", offer.code, actor.label)
    return offer


# --- what pupils see ------------------------------------------------------------------------------------------------


def by_codes(session: Session, codes: Iterable[str]) -> dict[str, Offer]:
    """The offers with these codes, by code (codes that name no offer are left out)."""
    wanted = sorted(set(codes))
    return {o.code: o for o in session.scalars(select(Offer).where(Offer.code.in_(wanted)))} if wanted else {}


def visible_offers(
    session: Session,
    *,
    period: Period | None = None,
    sector: Sector | None = None,
    query: str | None = None,
    school: School | None = None,
) -> list[Offer]:
    """The offers pupils may see and rank, by title (then code).

    ``period``: only offers with places in that period.  ``sector``: only that
    sector.  ``query``: every word must occur in the title or the description,
    ignoring case (compared in Python, because SQLite's ``lower()`` knows no
    å, ä, ö).  ``school``: leave out offers restricted to other schools;
    without it, restricted offers are listed too (the coordinator's view).
    """
    has_places = OfferCapacity.places > 0
    if period is not None:
        has_places = and_(has_places, OfferCapacity.period_id == period.id)
    statement = (
        select(Offer)
        .where(pupil_facing(), Offer.capacities.any(has_places))
        .options(
            selectinload(Offer.capacities).selectinload(OfferCapacity.period),
            selectinload(Offer.schools),
            selectinload(Offer.workplace),
            selectinload(Offer.employer),
        )
    )
    if sector is not None:
        statement = statement.where(Offer.sector == sector)
    if school is not None:
        statement = statement.where(or_(~Offer.schools.any(), Offer.schools.any(School.id == school.id)))
    offers = list(session.scalars(statement))
    words = (query or "").casefold().split()
    if words:
        offers = [o for o in offers if all(w in f"{o.title}\n{o.description}".casefold() for w in words)]
    # Sorted here, not in SQL, so that both engines give the same order whatever their collation.
    return sorted(offers, key=lambda o: (o.title.casefold(), o.code))


def listed_offer() -> ColumnElement[bool]:
    """SQL: active catalogue offers of approved employers (the rule of :func:`pupil_facing` but the risk assessment)."""
    return and_(
        Offer.kind == OfferKind.CATALOGUE,
        Offer.status == OfferStatus.ACTIVE,
        Offer.employer_id.in_(select(Employer.id).where(Employer.status == EmployerStatus.APPROVED)),
    )


def pupil_facing() -> ColumnElement[bool]:
    """SQL: the offers pupils can see, rank and get, places aside (:func:`visibility_problem` says why not).

    Active catalogue offers of approved employers with a confirmed risk
    assessment for minors.  The pupil's list, the round's instance and the
    coordinator's supply figures all select by it.
    """
    return and_(listed_offer(), Offer.risk_assessment_confirmed_at.is_not(None))


def visibility_problem(offer: Offer) -> str | None:
    """Why pupils cannot see ``offer`` (:func:`pupil_facing`, and some place), or None when they can."""
    if offer.kind is not OfferKind.CATALOGUE:
        return "it is a self-arranged placement, not a catalogue offer"
    if offer.status is not OfferStatus.ACTIVE:
        return f"it is {offer.status.value}"
    if offer.employer.status is not EmployerStatus.APPROVED:
        return f"its employer is {offer.employer.status.value}, not approved"
    if offer.risk_assessment_confirmed_at is None:
        return "no risk assessment for minors has been confirmed"
    if not any(c.places > 0 for c in offer.capacities):
        return "it has no places"
    return None


def offer_is_visible(offer: Offer) -> bool:
    """Whether pupils may see ``offer`` at all (school restrictions aside)."""
    return visibility_problem(offer) is None


def places_in(offer: Offer, period: Period) -> int:
    """The places ``offer`` has in ``period`` (0 when none were set)."""
    return next((c.places for c in offer.capacities if c.period_id == period.id), 0)


# --- helpers --------------------------------------------------------------------------------------------------------


def _in_force(session: Session, offer: Offer, period: Period) -> int:
    return (
        session.scalar(
            select(func.count(Assignment.id)).where(
                Assignment.offer_id == offer.id,
                Assignment.period_id == period.id,
                Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
            )
        )
        or 0
    )


def _too_few(label: str, period: Period, places: int, in_force: int) -> CapacityExceeded:
    return CapacityExceeded(
        f"{label}: cannot set places for period {period.code} to {places}: "
        f"{in_force} assignments are in force for that period"
    )


def _check_places(problems: list[str], label: str, period: Period, count: object) -> None:
    # Mirrors the ``places_not_negative`` constraint of offer_capacity.
    if isinstance(count, bool) or not isinstance(count, int):
        problems.append(f"{label}: places for period {period.code} must be a whole number, not {count!r}")
    elif count < 0:
        problems.append(f"{label}: places for period {period.code} must be 0 or more, not {count}")


def _validated(problems: list[str], label: str, employer: Employer, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned values of ``fields``; problems found are appended to ``problems``."""
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "title":
            values[name] = validation.text(problems, label, name, value, max_length=200)
        elif name == "description":
            if not isinstance(value, str):
                problems.append(f"{label}: description must be text")
            values[name] = value.strip() if isinstance(value, str) else ""
        elif name == "sector":
            try:
                values[name] = Sector(value)
            except ValueError:
                problems.append(f"{label}: sector {value!r} is not one of {', '.join(s.value for s in Sector)}")
        elif name == "min_age":
            low, high = MIN_AGE_RANGE  # mirrors the ``min_age_range`` constraint
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
            ):
                problems.append(f"{label}: min_age must be empty or a whole number {low}..{high}, not {value!r}")
            values[name] = value
        elif name == "requirements":
            values[name] = _requirements(problems, label, value)
        elif name in ("supervisor_name", "supervisor_phone"):
            values[name] = validation.optional_text(
                problems, label, name, value, max_length=200 if name.endswith("name") else 40
            )
        elif name == "supervisor_email":
            values[name] = validation.optional_email(problems, label, name, value)
        elif name == "workplace":
            if not isinstance(value, Workplace):
                problems.append(f"{label}: workplace must be a workplace")
            elif value.employer_id != employer.id:
                problems.append(
                    f'{label}: workplace "{value.name}" (id {value.id}) '
                    f"belongs to another employer than {employer.code}"
                )
            values[name] = value
        elif name == "schools":
            unique: dict[int, School] = {}
            for school in value or ():
                unique.setdefault(school.id, school)
            values[name] = sorted(unique.values(), key=lambda s: s.code)
    return values


def _requirements(problems: list[str], label: str, value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        problems.append(f"{label}: requirements must be a list of tags")
        return []
    tags: list[str] = []
    for tag in value:
        clean = tag.strip().casefold() if isinstance(tag, str) else ""
        if not clean or len(clean) > 40:
            problems.append(f"{label}: requirement {tag!r} must be a tag of 1..40 characters")
        elif clean not in tags:
            tags.append(clean)
    return tags
