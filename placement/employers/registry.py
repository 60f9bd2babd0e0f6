"""Employers: registering them, reviewing them, and their workplaces.

A new employer is PENDING: its offers stay invisible to pupils until a
coordinator approves it.  Registering also creates the employer's first
contact person, who logs in with an e-mail and a password.

Status changes are single conditional UPDATEs (``... WHERE status IN
(...)``), so two coordinators reviewing the same employer cannot both win.
Functions validate everything first, then write, then flush; the caller
commits.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum import exceptions as stdnum_exceptions
from stdnum.se import orgnr

from placement import audit, codes, validation
from placement.collation import swedish_key
from placement.db import utcnow, violated_constraint
from placement.enums import EmployerStatus, GeoStatus, OfferStatus, Role
from placement.errors import Conflict, ValidationError
from placement.models import Employer, EmployerMembership, Municipality, Offer, User, Workplace
from placement.organisation import accounts

logger = logging.getLogger(__name__)


# --- organisation numbers -------------------------------------------------------------------------------------------


class OrgNumberError(ValidationError):
    """An organisation number that cannot be accepted; ``reason`` is ``format`` or ``check digit``."""

    def __init__(self, raw: str, reason: str) -> None:
        self.reason = reason
        if reason == "format":
            super().__init__(f'organisation number "{raw}": must be 10 digits, written NNNNNN-NNNN')
        else:
            super().__init__(f'organisation number "{raw}": the check digit is wrong (Luhn); check for a typo')


def normalise_org_number(value: str) -> str:
    """A Swedish organisation number as NNNNNN-NNNN, or :class:`OrgNumberError`.

    The one rule, for registration, the employer import and every form.
    Accepts 10 digits with or without the hyphen (spaces ignored), and the
    12-digit form with the century prefix "16" that Skatteverket uses for
    legal persons.  The check digit is validated by ``python-stdnum``
    (``stdnum.se.orgnr``: Luhn over the ten digits).  Sole traders use their
    personal identity number as organisation number, so the third digit is
    not required to be 2 or more.
    """
    raw = str(value).strip()
    digits = raw.replace(" ", "")
    if len(digits) == 13 and digits.startswith("16"):
        digits = digits[2:]
    if len(digits) == 11 and digits[6] == "-":  # the hyphen only where it belongs, so a slip is not read past
        digits = digits[:6] + digits[7:]
    if len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]
    if not (digits.isascii() and digits.isdigit()):
        raise OrgNumberError(raw, "format")
    try:
        orgnr.validate(digits)
    except stdnum_exceptions.InvalidChecksum:
        raise OrgNumberError(raw, "check digit") from None
    except stdnum_exceptions.ValidationError:
        raise OrgNumberError(raw, "format") from None
    return orgnr.format(digits)


# --- employers ------------------------------------------------------------------------------------------------------


def register_employer(
    session: Session,
    *,
    name: str,
    org_number: str,
    contact_email: str,
    contact_name: str,
    password: str,
    phone: str | None = None,
    municipality: Municipality | None = None,
    actor: audit.Actor,
) -> tuple[Employer, User]:
    """Register an employer (PENDING) with its first contact person.

    Raises ValidationError listing every bad field, or Conflict when the
    organisation number or the e-mail address is already registered.
    """
    problems: list[str] = []
    label = f'employer "{name}"'
    clean_name = validation.text(problems, label, "name", name, max_length=200)
    clean_contact = validation.text(problems, label, "contact_name", contact_name, max_length=200)
    clean_phone = validation.optional_text(problems, label, "phone", phone, max_length=40)
    try:
        clean_org = normalise_org_number(org_number)
    except ValidationError as exc:
        problems.extend(f"{label}: {p}" for p in exc.problems)
        clean_org = ""
    email = validation.email(problems, label, "contact_email", contact_email)
    if len(password or "") < accounts.MIN_PASSWORD_LENGTH:
        problems.append(f"{label}: password must have at least {accounts.MIN_PASSWORD_LENGTH} characters")
    if problems:
        raise ValidationError(problems)

    if registered_with(session, clean_org) is not None:
        raise Conflict(f"{label}: organisation number {clean_org} is already registered")
    if _email_taken(session, email):
        raise Conflict(f"{label}: the e-mail address {email} already has an account")

    def build(code: str) -> tuple[Employer, User]:
        employer = Employer(
            code=code,
            name=clean_name,
            org_number=clean_org,
            status=EmployerStatus.PENDING,
            email=email,
            phone=clean_phone,
            municipality=municipality,
        )
        user = User(role=Role.EMPLOYER_CONTACT, email=email, display_name=clean_contact, session_version=1)
        accounts.set_password(user, password)
        session.add(EmployerMembership(user=user, employer=employer))
        return employer, user

    try:
        employer, user = codes.EMPLOYERS.add(session, build)
    except IntegrityError as exc:
        # Lost a race with a concurrent registration of the same number or address.
        constraint = violated_constraint(exc)
        if constraint == "uq_employer_org_number":
            raise Conflict(f"{label}: organisation number {clean_org} is already registered") from exc
        if constraint == "uq_user_account_email":
            raise Conflict(f"{label}: the e-mail address {email} already has an account") from exc
        raise
    audit.record(
        session,
        actor,
        "employer.register",
        "employer",
        employer.id,
        after={
            "code": employer.code,
            "name": employer.name,
            "org_number": employer.org_number,
            "status": employer.status.value,
            "municipality_id": municipality.id if municipality is not None else None,
        },
    )
    audit.record(
        session,
        actor,
        "user.create",
        "user",
        user.id,
        after={"role": user.role.value, "employer": employer.code},
    )
    session.flush()
    logger.info("Employer %s (%s) registered by %s", employer.code, employer.org_number, actor.label)
    return employer, user


def registered() -> ColumnElement[bool]:
    """The condition of registered employers: a school's entry for a self-arranged placement is not one."""
    return Employer.entered_by_school_id.is_(None)


def registered_with(session: Session, org_number: str) -> Employer | None:
    """The registered employer with this (normalised) organisation number, if any."""
    return session.scalar(select(Employer).where(Employer.org_number == org_number, registered()))


def accept_school_entry(session: Session, entry: Employer, *, actor: audit.Actor) -> Employer:
    """Accept a school's entry for a self-arranged placement: it joins the company's records.

    When a registered employer has the entry's organisation number, the
    entry's workplaces and offers move to it and the entry goes; otherwise
    the entry becomes a registered, approved employer itself.  Returns the
    employer the placement now belongs to.
    """
    if entry.entered_by_school_id is None:
        raise Conflict(f"employer {entry.code}: is not a school's entry")
    school_id = entry.entered_by_school_id
    owner = registered_with(session, entry.org_number)
    if owner is None:
        entry.entered_by_school_id = None
        entry.status = EmployerStatus.APPROVED
        entry.reviewed_at = utcnow()
        entry.reviewed_by_id = actor.user_id
        session.flush()
        audit.record(session, actor, "employer.entry.adopt", "employer", entry.id, before={"school": school_id})
        logger.info("School entry %s became employer %s (%s)", entry.id, entry.code, actor.label)
        return entry
    moved = [offer.code for offer in entry.offers]
    for workplace in list(entry.workplaces):
        workplace.employer = owner
    for offer in list(entry.offers):
        offer.employer = owner
    session.flush()
    audit.record(
        session,
        actor,
        "employer.entry.merge",
        "employer",
        owner.id,
        after={"entry": entry.code, "school": school_id, "offers": moved},
    )
    session.delete(entry)
    session.flush()
    logger.info("School entry %s merged into employer %s (%s)", entry.code, owner.code, actor.label)
    return owner


def approve_employer(session: Session, employer: Employer, *, actor: audit.Actor) -> Employer:
    """Approve a PENDING (or earlier REJECTED) employer: its offers may now be shown.

    Approving a school's entry accepts it (:func:`accept_school_entry`) and returns the employer it joined.
    """
    if employer.entered_by_school_id is not None:
        return accept_school_entry(session, employer, actor=actor)
    _review(
        session,
        employer,
        allowed=(EmployerStatus.PENDING, EmployerStatus.REJECTED),
        status=EmployerStatus.APPROVED,
        reason=None,
        actor=actor,
    )
    return employer


def reject_employer(session: Session, employer: Employer, reason: str, *, actor: audit.Actor) -> Employer:
    """Reject a PENDING employer; ``reason`` is required and kept for the employer to read."""
    clean_reason = (reason or "").strip()
    if not clean_reason:
        raise ValidationError(f"employer {employer.code}: rejection_reason is required to reject an employer")
    _review(
        session,
        employer,
        allowed=(EmployerStatus.PENDING,),
        status=EmployerStatus.REJECTED,
        reason=clean_reason,
        actor=actor,
    )
    return employer


def _review(
    session: Session,
    employer: Employer,
    *,
    allowed: tuple[EmployerStatus, ...],
    status: EmployerStatus,
    reason: str | None,
    actor: audit.Actor,
) -> None:
    before = {"status": employer.status.value, "rejection_reason": employer.rejection_reason}
    result = session.execute(
        update(Employer)
        .where(Employer.id == employer.id, Employer.status.in_(allowed))
        .values(status=status, reviewed_at=utcnow(), reviewed_by_id=actor.user_id, rejection_reason=reason)
        .execution_options(synchronize_session=False)
    )
    # Reload what the UPDATE wrote (or, when it matched nothing, the status it found).
    session.refresh(employer, ["status", "reviewed_at", "reviewed_by_id", "rejection_reason"])
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise Conflict(
            f"employer {employer.code}: status is {employer.status.value}, "
            f"only {' or '.join(s.value for s in allowed)} can become {status.value}"
        )
    after = {"status": status.value, "rejection_reason": reason}
    audit.record(
        session,
        actor,
        f"employer.{'approve' if status is EmployerStatus.APPROVED else 'reject'}",
        "employer",
        employer.id,
        before=before,
        after=after,
    )
    session.flush()
    logger.info("Employer %s %s by %s", employer.code, status.value, actor.label)


def pending_employers(session: Session, municipality_id: int | None = None) -> list[Employer]:
    """Employers waiting for review, oldest first: all, or those of one municipality."""
    query = select(Employer).where(Employer.status == EmployerStatus.PENDING)
    if municipality_id is not None:
        query = query.where(Employer.municipality_id == municipality_id)
    return list(session.scalars(query.order_by(Employer.created_at, Employer.id)))


@dataclasses.dataclass(frozen=True)
class EmployerLine:
    """One employer in the coordinator's list, with how many contacts and active offers it has."""

    employer: Employer
    contacts: int
    offers: int


def employer_lines(session: Session, municipality_id: int | None = None) -> list[EmployerLine]:
    """Every registered employer (of one municipality, or all) with its contacts and active offers, by name."""
    contacts = (
        select(EmployerMembership.employer_id, func.count(EmployerMembership.id).label("n"))
        .group_by(EmployerMembership.employer_id)
        .subquery()
    )
    active = (
        select(Offer.employer_id, func.count(Offer.id).label("n"))
        .where(Offer.status == OfferStatus.ACTIVE)
        .group_by(Offer.employer_id)
        .subquery()
    )
    query = (
        select(Employer, func.coalesce(contacts.c.n, 0), func.coalesce(active.c.n, 0))
        .outerjoin(contacts, contacts.c.employer_id == Employer.id)
        .outerjoin(active, active.c.employer_id == Employer.id)
        .where(registered())
    )
    if municipality_id is not None:
        query = query.where(Employer.municipality_id == municipality_id)
    lines = [
        EmployerLine(employer, int(n_contacts), int(n_offers))
        for employer, n_contacts, n_offers in session.execute(query)
    ]
    return sorted(lines, key=lambda line: (swedish_key(line.employer.name), line.employer.code))


# --- workplaces -----------------------------------------------------------------------------------------------------

WORKPLACE_FIELDS = frozenset({"name", "address", "lat", "lon"})


def add_workplace(
    session: Session,
    employer: Employer,
    *,
    name: str,
    address: str,
    lat: float | None = None,
    lon: float | None = None,
    actor: audit.Actor,
) -> Workplace:
    """Add a workplace.  With coordinates it is located (MANUAL); without, it waits for the geocoder (PENDING)."""
    label = f'workplace "{name}" of employer {employer.code}'
    problems: list[str] = []
    clean_name = validation.text(problems, label, "name", name, max_length=200)
    clean_address = validation.text(problems, label, "address", address, max_length=300)
    coordinates = _coordinates(problems, label, lat, lon)
    if problems:
        raise ValidationError(problems)
    workplace = Workplace(employer=employer, name=clean_name, address=clean_address)
    if coordinates is None:
        workplace.lat, workplace.lon, workplace.geo_status = None, None, GeoStatus.PENDING
    else:
        workplace.lat, workplace.lon = coordinates
        workplace.geo_status = GeoStatus.MANUAL
    session.add(workplace)
    session.flush()
    audit.record(
        session,
        actor,
        "workplace.create",
        "workplace",
        workplace.id,
        after={
            "employer": employer.code,
            "name": workplace.name,
            "address": workplace.address,
            "lat": workplace.lat,
            "lon": workplace.lon,
            "geo_status": workplace.geo_status.value,
        },
    )
    return workplace


def update_workplace(session: Session, workplace: Workplace, *, actor: audit.Actor, **fields: Any) -> Workplace:
    """Change a workplace's ``name``, ``address``, ``lat`` and ``lon``.

    Coordinates given (both) make it MANUAL.  A changed address without
    coordinates clears the old ones and sends it back to the geocoder
    (PENDING); so does giving ``lat=None, lon=None``.
    """
    label = f'workplace "{workplace.name}" (id {workplace.id})'
    unknown = sorted(set(fields) - WORKPLACE_FIELDS)
    if unknown:
        raise ValidationError(f"{label}: cannot change {', '.join(unknown)}")
    problems: list[str] = []
    values: dict[str, Any] = {}
    if "name" in fields:
        values["name"] = validation.text(problems, label, "name", fields["name"], max_length=200)
    if "address" in fields:
        values["address"] = validation.text(problems, label, "address", fields["address"], max_length=300)
    if ("lat" in fields) != ("lon" in fields):
        problems.append(f"{label}: give lat and lon together")
    elif "lat" in fields:
        coordinates = _coordinates(problems, label, fields["lat"], fields["lon"])
        if coordinates is None:
            values.update(lat=None, lon=None, geo_status=GeoStatus.PENDING)
        else:
            values.update(lat=coordinates[0], lon=coordinates[1], geo_status=GeoStatus.MANUAL)
    elif "address" in fields and values.get("address") != workplace.address:
        values.update(lat=None, lon=None, geo_status=GeoStatus.PENDING)
    if problems:
        raise ValidationError(problems)
    before, after = audit.changes(workplace, values)
    if after:
        session.flush()
        audit.record(session, actor, "workplace.update", "workplace", workplace.id, before=before, after=after)
        session.flush()
    return workplace


# --- helpers --------------------------------------------------------------------------------------------------------


def _email_taken(session: Session, email: str) -> bool:
    return session.scalars(select(User.id).where(func.lower(User.email) == email.lower())).first() is not None


def _coordinates(problems: list[str], label: str, lat: object, lon: object) -> tuple[float, float] | None:
    """Both coordinates, checked against the ranges of the ``lat_range``/``lon_range`` constraints, or None."""
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        problems.append(f"{label}: give lat and lon together")
        return None
    values: list[float] = []
    for field, value, limit in (("lat", lat, 90), ("lon", lon, 180)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            problems.append(f"{label}: {field} {value!r} is not a number")
        elif not -limit <= float(value) <= limit:
            problems.append(f"{label}: {field} {value} is outside -{limit}..{limit}")
        else:
            values.append(float(value))
    if len(values) != 2:
        return None
    return values[0], values[1]
