"""What an employer contact may see and do among employers: their own employers, workplaces and offers.

Every function takes the acting user and finds only what belongs to the
employers that user is a contact of (:class:`EmployerMembership`).  Anything
else, whether it does not exist or belongs to another employer, is
:class:`NotFound`, so that ids cannot be probed.  The views then call the
domain's own operations (``registry.add_workplace``, ``offers.withdraw_offer``)
with the record found here; :func:`save_offer` is the employer's offer form,
with the free-text fields only employers give.

Registering an employer is :mod:`placement.employers.registration`; the
placements at an employer are :mod:`placement.rounds.for_employer`.

Functions validate, write, audit and flush; the caller commits.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from placement import audit, validation
from placement.employers import offers
from placement.enums import EmployerStatus, OfferKind, OfferStatus, Sector
from placement.errors import Conflict, NotFound, ValidationError
from placement.models import (
    Employer,
    EmployerMembership,
    Invitation,
    Offer,
    OfferCapacity,
    Pupil,
    User,
    Workplace,
)
from placement.organisation import invitations, season

logger = logging.getLogger(__name__)

#: Offers' free-text fields this module sets itself (``offers.update_offer`` does not take them).
HOURS_MAX = 200
BRING_MAX = 2000


# --- registering and verifying ---------------------------------------------------------------------------------------


# --- ownership -------------------------------------------------------------------------------------------------------


def own_employers(session: Session, user: User) -> list[Employer]:
    """The employers ``user`` is a contact of, by name."""
    return list(
        session.scalars(
            select(Employer)
            .join(EmployerMembership, EmployerMembership.employer_id == Employer.id)
            .where(EmployerMembership.user_id == user.id)
            .options(selectinload(Employer.workplaces))
            .order_by(Employer.name, Employer.id)
        )
    )


def own_employer(session: Session, user: User, employer_id: int) -> Employer:
    employer = next((e for e in own_employers(session, user) if e.id == employer_id), None)
    if employer is None:
        raise NotFound(f"employer {employer_id} does not exist")
    return employer


def _is_member(session: Session, user: User, employer_id: int) -> bool:
    return (
        session.scalar(
            select(EmployerMembership.id).where(
                EmployerMembership.user_id == user.id, EmployerMembership.employer_id == employer_id
            )
        )
        is not None
    )


def own_workplace(session: Session, user: User, workplace_id: int) -> Workplace:
    workplace = session.get(Workplace, workplace_id)
    if workplace is None or not _is_member(session, user, workplace.employer_id):
        raise NotFound(f"workplace {workplace_id} does not exist")
    return workplace


def own_workplaces(session: Session, user: User) -> list[Workplace]:
    return [w for e in own_employers(session, user) for w in sorted(e.workplaces, key=lambda w: (w.name, w.id))]


def own_offer(session: Session, user: User, offer_id: int) -> Offer:
    offer = session.get(Offer, offer_id)
    if offer is None or offer.kind is not OfferKind.CATALOGUE or not _is_member(session, user, offer.employer_id):
        raise NotFound(f"offer {offer_id} does not exist")
    return offer


# --- workplaces ------------------------------------------------------------------------------------------------------


# --- offers ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OfferRow:
    """One of the employer's offers in its list."""

    offer: Offer
    #: Places per period code.
    places: dict[str, int]
    #: Why pupils cannot see it, as a :func:`visibility_code`, or None.
    problem: str | None


def offer_rows(session: Session, user: User) -> list[OfferRow]:
    """The user's employers' catalogue offers, withdrawn last, then by title."""
    rows = []
    for offer in session.scalars(
        select(Offer)
        .join(EmployerMembership, EmployerMembership.employer_id == Offer.employer_id)
        .where(EmployerMembership.user_id == user.id, Offer.kind == OfferKind.CATALOGUE)
        .options(selectinload(Offer.capacities).selectinload(OfferCapacity.period), selectinload(Offer.employer))
    ):
        places = {c.period.code: c.places for c in sorted(offer.capacities, key=lambda c: c.period.start_date)}
        rows.append(OfferRow(offer, places, visibility_code(offer)))
    return sorted(rows, key=lambda r: (r.offer.status is OfferStatus.WITHDRAWN, r.offer.title.casefold(), r.offer.id))


def visibility_code(offer: Offer) -> str | None:
    """Why pupils cannot see ``offer``, as a code the web layer words, or None when they can.

    Whether is decided by :func:`offers.visibility_problem` (the rule of
    ``visible_offers``); this only names the first reason, in its order:
    ``withdrawn``, ``draft``, ``pending``, ``rejected``, ``risk``, ``places``.
    """
    if offers.visibility_problem(offer) is None:
        return None
    if offer.status is not OfferStatus.ACTIVE:
        return "withdrawn" if offer.status is OfferStatus.WITHDRAWN else "draft"
    if offer.employer.status is not EmployerStatus.APPROVED:
        return "rejected" if offer.employer.status is EmployerStatus.REJECTED else "pending"
    if offer.risk_assessment_confirmed_at is None:
        return "risk"
    return "places"


def save_offer(
    session: Session,
    user: User,
    offer_id: int | None,
    *,
    workplace_id: int,
    title: str,
    description: str,
    sector: Sector | str,
    min_age: int | None,
    requirements: Iterable[str],
    hours: str | None,
    bring: str | None,
    supervisor_name: str | None,
    supervisor_phone: str | None,
    supervisor_email: str | None,
    places: Mapping[int, int],
    risk_assessment: bool,
) -> Offer:
    """Create (``offer_id`` None) or change an offer of the user's, with its places per period id.

    Checking ``risk_assessment`` confirms the risk assessment for minors
    (once; a confirmation is never taken back here).  Periods not in
    ``places`` keep their places.
    """
    actor = audit.Actor.of(user)
    workplace = own_workplace(session, user, workplace_id)
    by_id = {p.id: p for p in season.periods(session)}
    unknown = sorted(set(places) - set(by_id))
    if unknown:
        raise ValidationError(f"offer: places for unknown periods {unknown}")
    extra = _extra_fields(title, hours, bring)
    fields: dict[str, Any] = {
        "title": title,
        "description": description,
        "sector": sector,
        "min_age": min_age,
        "requirements": list(requirements),
        "supervisor_name": supervisor_name,
        "supervisor_phone": supervisor_phone,
        "supervisor_email": supervisor_email,
    }
    if offer_id is None:
        offer = offers.create_offer(
            session,
            workplace.employer,
            workplace,
            places={by_id[pid]: count for pid, count in places.items()},
            actor=actor,
            **fields,
        )
    else:
        offer = own_offer(session, user, offer_id)
        if workplace.employer_id != offer.employer_id:
            raise ValidationError(
                f'offer {offer.code}: workplace "{workplace.name}" belongs to another employer than the offer'
            )
        offers.update_offer(session, offer, actor=actor, workplace=workplace, **fields)
        for pid, count in sorted(places.items(), key=lambda item: by_id[item[0]].start_date):
            offers.set_places(session, offer, by_id[pid], count, actor=actor)
    before, after = audit.changes(offer, extra)
    if after:
        session.flush()
        audit.record(session, actor, "offer.update", "offer", offer.id, before=before, after=after)
    if risk_assessment and offer.risk_assessment_confirmed_at is None:
        offers.confirm_risk_assessment(session, offer, actor=actor)
    session.flush()
    return offer


def _extra_fields(title: str, hours: str | None, bring: str | None) -> dict[str, Any]:
    problems: list[str] = []
    label = f'offer "{title}"'
    values = {
        "hours": validation.optional_text(problems, label, "hours", hours, max_length=HOURS_MAX),
        "bring": validation.optional_text(problems, label, "bring", bring, max_length=BRING_MAX),
    }
    if problems:
        raise ValidationError(problems)
    return values


# --- demand ----------------------------------------------------------------------------------------------------------


# --- feedback --------------------------------------------------------------------------------------------------------


# --- colleagues ------------------------------------------------------------------------------------------------------


def colleagues(session: Session, user: User, employer_id: int) -> tuple[list[User], list[Invitation]]:
    """The contacts of one of the user's employers, and the invitations to it (newest first)."""
    target = invitations.Target.employer_contact(own_employer(session, user, employer_id))
    return invitations.members_of(session, target), invitations.invitations_to(session, target)


def invite_colleague(
    session: Session, user: User, employer_id: int, *, email: str, name: str, secret_key: str, base_url: str
) -> Invitation:
    """Invite a colleague to one of the user's employers (mailed at once)."""
    target = invitations.Target.employer_contact(own_employer(session, user, employer_id))
    return invitations.invite(
        session, target, email=email, name=name, invited_by=user, secret_key=secret_key, base_url=base_url
    )


def own_invitation(session: Session, user: User, invitation_id: int) -> Invitation:
    """An invitation to one of the user's employers, or NotFound."""
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.employer_id is None or not _is_member(session, user, invitation.employer_id):
        raise NotFound(f"invitation {invitation_id}: not found")
    return invitation


def remove_colleague(session: Session, user: User, employer_id: int, member_id: int) -> None:
    """Take a colleague off one of the user's employers; their sessions end.  Nobody removes themselves."""
    own_employer(session, user, employer_id)
    membership = session.scalar(
        select(EmployerMembership).where(
            EmployerMembership.employer_id == employer_id, EmployerMembership.user_id == member_id
        )
    )
    if membership is None:
        raise NotFound(f"employer {employer_id}: contact {member_id} not found")
    if member_id == user.id:
        raise Conflict(f"employer {employer_id}: you cannot remove yourself; ask a colleague or the coordinator")
    invitations.remove_employer_member(session, membership, actor=audit.Actor.of(user))


# --- schools' entries ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SchoolEntry:
    """A placement a pupil arranged with the employer, entered by the pupil's school, waiting to be accepted."""

    entry: Employer
    employer: Employer
    offer: Offer
    school: str
    pupils: list[str]


def school_entries(session: Session, user: User) -> list[SchoolEntry]:
    """Schools' entries with the organisation number of one of the user's employers, oldest first."""
    own = {employer.org_number: employer for employer in own_employers(session, user)}
    if not own:
        return []
    entries = session.scalars(
        select(Employer)
        .where(Employer.org_number.in_(list(own)), Employer.entered_by_school_id.is_not(None))
        .options(selectinload(Employer.offers), selectinload(Employer.entered_by_school))
        .order_by(Employer.created_at, Employer.id)
    )
    found = []
    for entry in entries:
        for offer in entry.offers:
            if offer.kind is OfferKind.SELF_ARRANGED and offer.status is OfferStatus.ACTIVE:
                pupils = session.scalars(select(Pupil).where(Pupil.self_arranged_offer_id == offer.id))
                school = entry.entered_by_school.name if entry.entered_by_school else ""
                found.append(SchoolEntry(entry, own[entry.org_number], offer, school, [p.full_name for p in pupils]))
    return found


def own_school_entry(session: Session, user: User, entry_id: int) -> Employer:
    """A school's entry with the organisation number of one of the user's employers, or NotFound."""
    entry = session.get(Employer, entry_id)
    own = {employer.org_number for employer in own_employers(session, user)}
    if entry is None or entry.entered_by_school_id is None or entry.org_number not in own:
        raise NotFound(f"school entry {entry_id}: not found")
    return entry
