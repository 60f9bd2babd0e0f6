"""Employers registering themselves: a PENDING employer and a contact with a verified e-mail.

Registering creates a PENDING employer and a contact whose e-mail is not yet
verified; the contact gets a ``verify_email`` mail with a signed link
(:func:`verification_token`, valid :data:`VERIFY_MAX_AGE`).  Until the link
is opened the contact cannot log in (the login view asks :func:`may_log_in`);
until a coordinator approves the employer its offers stay invisible to pupils
(:func:`placement.employers.offers.visibility_problem`)."""

from __future__ import annotations

import datetime as dt
import logging

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import audit
from placement.db import utcnow
from placement.employers import registry as employers
from placement.enums import MailKind, Role
from placement.errors import Conflict, NotFound, ValidationError
from placement.mail import outbox as mail
from placement.models import Employer, User
from placement.organisation import accounts, password_links

logger = logging.getLogger(__name__)


#: The signed link in the ``verify_email`` mail: salt and lifetime.
VERIFY_SALT = "verify-email"


VERIFY_MAX_AGE = dt.timedelta(hours=48)


#: Where the link leads, after the ``base_url`` a caller passes (the web layer's ``employer_signup.verify``).
VERIFY_PATH = "/register/verify/"


#: Who acts when someone registers: nobody is logged in yet.
REGISTRATION = audit.Actor("registration")


class AlreadyRegistered(Conflict):
    """The organisation number is registered already (organisations are public; addresses are not told)."""


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
) -> tuple[Employer, User] | None:
    """Register a PENDING employer and its contact, and queue the ``verify_email`` mail.

    Raises :class:`AlreadyRegistered` when the organisation number is taken
    (organisation numbers are public), and ValidationError for bad input.

    An address that has an account already is not told apart: nothing is
    registered, the account's owner gets an ``account_exists`` mail (log in,
    or choose a new password), the password is hashed all the same so the
    answer takes as long, and None is returned for the caller to answer
    exactly as for a new registration.
    """
    clean_email = (email or "").strip()
    try:
        clean_org = employers.normalise_org_number(org_number)
    except ValidationError:
        clean_org = None  # register_employer reports it with the other problems
    if clean_org is not None and employers.registered_with(session, clean_org) is not None:
        raise AlreadyRegistered(f"organisation number {clean_org} is already registered")
    owner = session.scalar(select(User).where(func.lower(User.email) == clean_email.lower())) if clean_email else None
    if owner is not None and clean_org is not None:
        accounts.hash_secret(password)  # as long as a registration takes
        _tell_owner(session, owner, base_url=base_url)
        return None
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


def _tell_owner(session: Session, owner: User, *, base_url: str, now: dt.datetime | None = None) -> None:
    """Mail the owner of an address that somebody tried to register again (at most once an hour)."""
    now = now or utcnow()
    root = base_url.rstrip("/")
    mail.enqueue(
        session,
        kind=MailKind.ACCOUNT_EXISTS,
        recipient=owner.email or "",
        locale=owner.locale,
        context={
            "name": owner.display_name,
            "login_url": root + password_links.LOGIN_PATH,
            "reset_url": root + password_links.RESET_PATH,
        },
        dedup_key=f"user:{owner.id}:account_exists:{now:%Y%m%d%H}",
        user_id=owner.id,
        now=now,
    )
    audit.record(session, REGISTRATION, "user.registration_attempt", "user", owner.id)
    logger.info("Registration with the address of user %s: the owner is told", owner.id)


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
