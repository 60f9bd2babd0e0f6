"""The employer contact's portal: registering with a verified e-mail, workplaces, offers, demand, feedback.

Every function takes the acting user and works only on the employers that
user is a contact of (:class:`EmployerMembership`).  Anything else, whether it
does not exist or belongs to another employer, is :class:`NotFound`, so that
ids cannot be probed.  An employer sees only the pupils placed with it, and of
them only name, school, class and dates (:func:`assignments.employer_placements`).

Registering creates a PENDING employer and a contact whose e-mail is not yet
verified; the contact gets a ``verify_email`` mail with a signed link
(:func:`verification_token`, valid :data:`VERIFY_MAX_AGE`).  Until the link
is opened the contact cannot log in (the login view checks
``email_verified_at``); until a coordinator approves the employer its offers
stay invisible to pupils (:func:`offers.visibility_problem`).

Functions validate, write, audit and flush; the caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from placement import audit, validation
from placement.db import utcnow, violated_constraint
from placement.employers import offers
from placement.employers import registry as employers
from placement.enums import AssignmentStatus, EmployerStatus, MailKind, OfferKind, OfferStatus, Role, Sector
from placement.errors import Conflict, NotFound, ValidationError
from placement.mail import outbox as mail
from placement.models import (
    Assignment,
    Employer,
    EmployerMembership,
    Offer,
    OfferCapacity,
    PlacementFeedback,
    User,
    Workplace,
)
from placement.organisation import season
from placement.rounds import assignments, planning

logger = logging.getLogger(__name__)

#: The signed link in the ``verify_email`` mail: salt and lifetime.
VERIFY_SALT = "verify-email"
VERIFY_MAX_AGE = dt.timedelta(hours=48)
#: Where the link leads, after the ``base_url`` a caller passes (the web layer's ``employer_signup.verify``).
VERIFY_PATH = "/register/verify/"
#: Who acts when someone registers: nobody is logged in yet.
REGISTRATION = audit.Actor("registration")
#: Offers' free-text fields this module sets itself (``offers.update_offer`` does not take them).
HOURS_MAX = 200
BRING_MAX = 2000
#: Feedback: the ``rating_range`` constraint of placement_feedback, and the comment's length.
RATING_RANGE = (1, 5)
COMMENT_MAX = 2000
#: Placements that may get feedback once their period has ended: in force, not declined.
FEEDBACK_STATUSES = (AssignmentStatus.CONFIRMED, AssignmentStatus.LOCKED)
LOCAL = ZoneInfo("Europe/Stockholm")


class AlreadyRegistered(Conflict):
    """The organisation number or the e-mail address is registered already; ``field`` names which."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# --- registering and verifying ---------------------------------------------------------------------------------------


def register(
    session: Session,
    *,
    name: str,
    org_number: str,
    contact_name: str,
    email: str,
    password: str,
    phone: str | None = None,
    locale: str = "sv",
    secret_key: str,
    base_url: str,
) -> tuple[Employer, User]:
    """Register a PENDING employer and its contact, and queue the ``verify_email`` mail.

    Raises :class:`AlreadyRegistered` (``field`` ``org_number`` or ``email``)
    when either is taken, and ValidationError for bad input.
    """
    clean_email = (email or "").strip()
    try:
        clean_org = employers.normalise_org_number(org_number)
    except ValidationError:
        clean_org = None  # register_employer reports it with the other problems
    if clean_org is not None and session.scalar(select(Employer.id).where(Employer.org_number == clean_org)):
        raise AlreadyRegistered("org_number", f"organisation number {clean_org} is already registered")
    if clean_email and session.scalar(select(User.id).where(func.lower(User.email) == clean_email.lower())):
        raise AlreadyRegistered("email", f"the e-mail address {clean_email} already has an account")
    employer, user = employers.register_employer(
        session,
        name=name,
        org_number=org_number,
        contact_email=clean_email,
        contact_name=contact_name,
        password=password,
        phone=phone,
        actor=REGISTRATION,
    )
    user.locale = mail.normalise_locale(locale)
    send_verification(session, user, secret_key=secret_key, base_url=base_url)
    session.flush()
    return employer, user


def verification_token(user: User, *, secret_key: str) -> str:
    """A signed, timed token naming the user and the address to verify."""
    serializer = URLSafeTimedSerializer(secret_key, salt=VERIFY_SALT)
    return str(serializer.dumps({"user": user.id, "email": (user.email or "").lower()}))


def send_verification(
    session: Session, user: User, *, secret_key: str, base_url: str, now: dt.datetime | None = None
) -> None:
    """Queue a ``verify_email`` mail with a fresh link (at most one per user and minute)."""
    if user.email is None:
        raise ValidationError(f"user {user.id}: field email is required to verify it")
    now = now or utcnow()
    url = base_url.rstrip("/") + VERIFY_PATH + verification_token(user, secret_key=secret_key)
    mail.enqueue(
        session,
        kind=MailKind.VERIFY_EMAIL,
        recipient=user.email,
        locale=user.locale,
        context={"name": user.display_name, "url": url},
        dedup_key=f"user:{user.id}:verify_email:{now:%Y%m%d%H%M}",
        user_id=user.id,
        now=now,
    )


def resend_verification(session: Session, email: str, *, secret_key: str, base_url: str) -> None:
    """Queue a new link for an unverified employer contact with this address; silently nothing otherwise.

    The caller answers the same whatever happened, so the form tells nobody which addresses have accounts.
    """
    user = session.scalars(select(User).where(func.lower(User.email) == (email or "").strip().lower())).first()
    if user is None or user.role is not Role.EMPLOYER_CONTACT or user.email_verified_at is not None:
        return
    if not user.active:
        return
    send_verification(session, user, secret_key=secret_key, base_url=base_url)


def verify_email(
    session: Session,
    token: str,
    *,
    secret_key: str,
    max_age: dt.timedelta = VERIFY_MAX_AGE,
    now: dt.datetime | None = None,
) -> tuple[User, bool]:
    """The user whose address ``token`` verifies, now marked verified, and whether this use verified it.

    A second use changes nothing and returns False: the caller logs the user
    in only on the first, so the link is not a reusable key to the account.
    Raises ValidationError for an expired link, NotFound for a forged one or
    one for an address the account no longer has.
    """
    serializer = URLSafeTimedSerializer(secret_key, salt=VERIFY_SALT)
    try:
        data = serializer.loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired as exc:
        raise ValidationError("e-mail verification: the link has expired; ask for a new one") from exc
    except BadSignature as exc:
        raise NotFound("e-mail verification: the link is not valid") from exc
    user = session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or not user.active or (user.email or "").lower() != data.get("email"):
        raise NotFound("e-mail verification: the link is not valid")
    if user.email_verified_at is not None:
        return user, False
    user.email_verified_at = now or utcnow()
    audit.record(
        session,
        audit.Actor.of(user),
        "user.verify_email",
        "user",
        user.id,
        after={"email_verified_at": user.email_verified_at.isoformat()},
    )
    session.flush()
    logger.info("User %s verified their e-mail address", user.id)
    return user, True


def may_log_in(user: User) -> bool:
    """Whether ``user`` may log in as far as e-mail verification goes (employer contacts must have verified)."""
    return user.role is not Role.EMPLOYER_CONTACT or user.email_verified_at is not None


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


def own_assignment(session: Session, user: User, assignment_id: int) -> Assignment:
    """A published placement at one of the user's employers, or NotFound."""
    assignment = assignments.for_employer_user(session, user.id, assignment_id)
    if assignment is None:
        raise NotFound(f"placement {assignment_id} does not exist")
    return assignment


# --- workplaces ------------------------------------------------------------------------------------------------------


def add_workplace(
    session: Session,
    user: User,
    employer_id: int,
    *,
    name: str,
    address: str,
    lat: float | None = None,
    lon: float | None = None,
) -> Workplace:
    """Add a workplace to one of the user's employers (located when coordinates are given)."""
    employer = own_employer(session, user, employer_id)
    return employers.add_workplace(
        session, employer, name=name, address=address, lat=lat, lon=lon, actor=audit.Actor.of(user)
    )


def update_workplace(
    session: Session,
    user: User,
    workplace_id: int,
    *,
    name: str,
    address: str,
    lat: float | None = None,
    lon: float | None = None,
) -> Workplace:
    """Change a workplace of the user's.  Without coordinates a changed address waits for the geocoder."""
    workplace = own_workplace(session, user, workplace_id)
    fields: dict[str, Any] = {"name": name, "address": address}
    if lat is not None or lon is not None:
        fields.update(lat=lat, lon=lon)
    return employers.update_workplace(session, workplace, actor=audit.Actor.of(user), **fields)


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


def withdraw_offer(session: Session, user: User, offer_id: int, reason: str) -> Offer:
    offer = own_offer(session, user, offer_id)
    return offers.withdraw_offer(session, offer, actor=audit.Actor.of(user), reason=reason)


# --- demand ----------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DemandRow:
    """Places against first choices in one sector and period, with the employer's own places."""

    row: planning.SectorPeriod
    #: Places of the user's employers' offers in this sector and period (visible to pupils or not).
    own_places: int


@dataclasses.dataclass(frozen=True)
class Demand:
    #: The user's sectors (those of their active offers); every period of each.
    rows: list[DemandRow]
    #: Sector-periods anywhere with more first choices than places, the largest shortfall first.
    shortages: list[planning.SectorPeriod]
    sectors: list[Sector]


def demand(session: Session, user: User, *, shortages: int = 10) -> Demand:
    """Demand against places for the user's sectors and every period, and the worst shortages overall.

    Only counts: no pupil is named.
    """
    own: dict[tuple[Sector, str], int] = {}
    sectors: list[Sector] = []
    for row in offer_rows(session, user):
        if row.offer.status is OfferStatus.WITHDRAWN:
            continue
        if row.offer.sector not in sectors:
            sectors.append(row.offer.sector)
        for code, count in row.places.items():
            own[(row.offer.sector, code)] = own.get((row.offer.sector, code), 0) + count
    every = planning.supply_and_demand(session)
    order = {sector: n for n, sector in enumerate(Sector)}
    sectors.sort(key=order.__getitem__)
    rows = [DemandRow(r, own.get((r.sector, r.period), 0)) for r in every if r.sector in sectors]
    return Demand(rows=rows, shortages=planning.oversubscribed(every)[:shortages], sectors=sectors)


# --- feedback --------------------------------------------------------------------------------------------------------


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
    for line in assignments.employer_placements(session, user.id):
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
