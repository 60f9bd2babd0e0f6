"""Placements a pupil arranged themselves, entered by their school.

What the school enters stays the school's: an employer record of its own
(``Employer.entered_by_school_id``, one per school and organisation number)
with the workplace and a one-place SELF_ARRANGED offer, never a record
inside a registered company's organisation, and never one that blocks the
company's own registration.  The company's contact or a coordinator accepts
the entry later (``placement.employers.registry.accept_school_entry``), and
the placement then joins the company's records.  The pupil is locked to the
offer in every round from the start."""

from __future__ import annotations

import dataclasses
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import audit, codes, validation
from placement.db import utcnow
from placement.employers import registry as employers
from placement.enums import (
    ACTIVE_ASSIGNMENT_STATUSES,
    EmployerStatus,
    OfferKind,
    OfferStatus,
    Sector,
)
from placement.errors import Conflict, ValidationError
from placement.models import (
    Assignment,
    Employer,
    Offer,
    OfferCapacity,
    Pupil,
    School,
)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SelfArranged:
    """What a school enters about a placement a pupil found themselves."""

    employer_name: str
    org_number: str
    address: str
    title: str
    sector: Sector
    supervisor_name: str
    supervisor_phone: str | None = None
    supervisor_email: str | None = None
    #: The school has checked that the employer made a risk assessment for minors (AFS 2012:3).
    risk_assessed: bool = False


def register_self_arranged(session: Session, pupil: Pupil, entry: SelfArranged, *, actor: audit.Actor) -> Offer:
    """Record a placement the pupil arranged: a one-place SELF_ARRANGED offer in the class's period.

    The offer belongs to the school's own entry for the organisation number
    (found or made, pending acceptance); its workplace is found by address or
    added (located later by the geocoder).  The pupil is then locked to the
    offer in every round.  Raises ValidationError listing every bad field,
    Conflict when the pupil already has a placement or a coordinator rejected
    the organisation.
    """
    label = f"pupil {pupil.id}: self-arranged placement"
    problems: list[str] = []
    name = validation.text(problems, label, "employer name", entry.employer_name, max_length=200)
    address = validation.text(problems, label, "address", entry.address, max_length=300)
    title = validation.text(problems, label, "title", entry.title, max_length=200)
    supervisor = validation.text(problems, label, "supervisor", entry.supervisor_name, max_length=200)
    phone = validation.optional_text(problems, label, "supervisor phone", entry.supervisor_phone, max_length=40)
    email = validation.optional_email(problems, label, "supervisor e-mail", entry.supervisor_email)
    if phone is None and email is None:
        problems.append(f"{label}: give the supervisor's phone or e-mail")
    org_number = ""
    try:
        org_number = employers.normalise_org_number(entry.org_number)
    except ValidationError as exc:
        problems += [f"{label}: {problem}" for problem in exc.problems]
    if not entry.risk_assessed:
        problems.append(f"{label}: confirm that the employer has made a risk assessment for minors")
    period = pupil.school_class.period
    if period is None:
        problems.append(f"{label}: class {pupil.school_class.name} has no placement period yet")
    if problems:
        raise ValidationError(problems)
    assert period is not None
    if pupil.self_arranged_offer_id is not None:
        raise Conflict(f"{label}: the pupil already has one; remove it first")
    in_force = session.scalar(
        select(func.count(Assignment.id)).where(
            Assignment.pupil_id == pupil.id, Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES)
        )
    )
    if in_force:
        raise Conflict(f"{label}: the pupil holds a placement from a round; the coordinator must withdraw it first")

    registered = employers.registered_with(session, org_number)
    if registered is not None and registered.status is EmployerStatus.REJECTED:
        raise Conflict(f"{label}: employer {registered.code} was rejected by the coordinator")
    employer = session.scalar(
        select(Employer).where(Employer.org_number == org_number, Employer.entered_by_school_id == pupil.school_id)
    )
    if employer is None:
        employer = codes.EMPLOYERS.add(
            session,
            lambda code: _new_entry(session, code, name, org_number, pupil.school),
        )
        audit.record(
            session,
            actor,
            "employer.entry.create",
            "employer",
            employer.id,
            after={"code": employer.code, "school": pupil.school_id},
        )
    workplace = next(
        (w for w in employer.workplaces if w.address.casefold() == address.casefold()), None
    ) or employers.add_workplace(session, employer, name=name, address=address, actor=actor)
    now = utcnow()

    def build(code: str) -> Offer:
        offer = Offer(
            code=code,
            employer=employer,
            workplace=workplace,
            kind=OfferKind.SELF_ARRANGED,
            status=OfferStatus.ACTIVE,
            title=title,
            description="",
            sector=entry.sector,
            supervisor_name=supervisor,
            supervisor_phone=phone,
            supervisor_email=email,
            risk_assessment_confirmed_at=now,
            risk_assessment_confirmed_by_id=actor.user_id,
        )
        offer.capacities.append(OfferCapacity(period=period, places=1))
        session.add(offer)
        return offer

    offer = codes.OFFERS.add(session, build)
    pupil.self_arranged_offer_id = offer.id
    session.flush()
    audit.record(
        session,
        actor,
        "pupil.self_arranged.set",
        "pupil",
        pupil.id,
        after={"offer": offer.code, "employer": employer.code, "period": period.code},
    )
    logger.info("Self-arranged placement %s registered for pupil %s by %s", offer.code, pupil.id, actor.label)
    return offer


def _new_entry(session: Session, code: str, name: str, org_number: str, school: School) -> Employer:
    employer = Employer(
        code=code,
        name=name,
        org_number=org_number,
        municipality_id=school.municipality_id,
        entered_by_school=school,
    )
    session.add(employer)
    return employer


def remove_self_arranged(session: Session, pupil: Pupil, *, actor: audit.Actor) -> None:
    """Undo a self-arranged placement: the offer is withdrawn and the pupil takes part in rounds again."""
    offer = pupil.self_arranged_offer
    if offer is None:
        raise Conflict(f"pupil {pupil.id}: has no self-arranged placement")
    held = session.scalar(
        select(func.count(Assignment.id)).where(
            Assignment.offer_id == offer.id, Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES)
        )
    )
    if held:
        raise Conflict(
            f"pupil {pupil.id}: a round has placed the pupil at {offer.code}; the coordinator must withdraw it first"
        )
    pupil.self_arranged_offer_id = None
    offer.status = OfferStatus.WITHDRAWN
    session.flush()
    audit.record(session, actor, "pupil.self_arranged.remove", "pupil", pupil.id, before={"offer": offer.code})
