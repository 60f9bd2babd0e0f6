"""One-time links to set a password: for a new account, and for a forgotten password.

A link carries a signed, timed token (itsdangerous) naming the account and a
fingerprint of its password state (the password hash and the session
version).  Setting the password changes both, so a link works once; it
expires after :data:`MAX_AGE`; a changed or forged token is refused.
Nothing about the link is stored: the account itself decides whether it
still holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import audit, validation
from placement.db import utcnow
from placement.enums import MailKind, Role
from placement.errors import Conflict, NotFound, ValidationError
from placement.mail import outbox as mail
from placement.models import Municipality, User
from placement.organisation import accounts

logger = logging.getLogger(__name__)

#: How long a link to set a password holds.
MAX_AGE = dt.timedelta(hours=48)
#: Where the link leads, after the ``base_url`` a caller passes (the web layer's ``auth.set_password``).
PATH = "/auth/set-password/"
SALT = "set-password"
#: The login page, and the page that asks for a link to set a new password (``auth.login``, ``auth.forgot_password``).
LOGIN_PATH = "/auth/login"
RESET_PATH = "/auth/forgot-password"


def _fingerprint(user: User) -> str:
    state = f"{user.id}:{user.password_hash or ''}:{user.session_version}:{int(user.active)}"
    return hashlib.sha256(state.encode()).hexdigest()[:32]


def token_for(user: User, *, secret_key: str) -> str:
    """A token that lets whoever holds it set ``user``'s password once, within :data:`MAX_AGE`."""
    return str(URLSafeTimedSerializer(secret_key, salt=SALT).dumps({"user": user.id, "state": _fingerprint(user)}))


def link_for(user: User, *, secret_key: str, base_url: str) -> str:
    return base_url.rstrip("/") + PATH + token_for(user, secret_key=secret_key)


def hours_valid() -> int:
    """:data:`MAX_AGE` in whole hours, as pages and mail state it."""
    return int(MAX_AGE.total_seconds() // 3600)


def mail_link(
    session: Session, user: User, kind: MailKind, *, secret_key: str, base_url: str, now: dt.datetime | None = None
) -> None:
    """Queue ``kind`` (a new account's or a reset's mail) with a fresh link to ``user``'s address.

    At most one per account, kind and minute, so a double click sends one.
    """
    if user.email is None:
        raise ValidationError(f"user {user.id}: field email is required to mail a link")
    now = now or utcnow()
    mail.enqueue(
        session,
        kind=kind,
        recipient=user.email,
        locale=user.locale,
        context={
            "name": user.display_name,
            "url": link_for(user, secret_key=secret_key, base_url=base_url),
            "hours": hours_valid(),
        },
        dedup_key=f"user:{user.id}:{kind}:{now:%Y%m%d%H%M}",
        user_id=user.id,
        now=now,
    )


def request_reset(session: Session, email: str, *, secret_key: str, base_url: str) -> bool:
    """Mail a link to set a new password to the account of ``email``, if it is a staff or employer account.

    Answers whether a mail was queued; the page that calls it must not tell
    (it answers the same for every address, so accounts cannot be probed).
    Pupils log in with codes from their school and have no password to reset.
    """
    address = email.strip().lower()
    user = session.scalar(select(User).where(func.lower(User.email) == address)) if address else None
    if user is None or not user.active or user.role is Role.PUPIL:
        logger.info("Password reset asked for an address without a staff account")
        return False
    mail_link(session, user, MailKind.PASSWORD_RESET, secret_key=secret_key, base_url=base_url)
    audit.record(session, audit.Actor.of(user), "user.password_reset.request", "user", user.id)
    logger.info("Password reset link queued for user %s", user.id)
    return True


def user_for(session: Session, token: str, *, secret_key: str, max_age: dt.timedelta = MAX_AGE) -> User:
    """The account a link is for, while it holds.

    ValidationError when it has expired; NotFound when it was changed, forged,
    already used, or its account is gone or deactivated.
    """
    try:
        data = URLSafeTimedSerializer(secret_key, salt=SALT).loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired as exc:
        raise ValidationError("password link: the link has expired; ask for a new one") from exc
    except BadSignature as exc:
        raise NotFound("password link: the link is not valid") from exc
    user = session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or not user.active or data.get("state") != _fingerprint(user):
        raise NotFound("password link: the link is not valid or has been used")
    return user


def set_password(
    session: Session, token: str, password: str, *, secret_key: str, max_age: dt.timedelta = MAX_AGE
) -> User:
    """Set the password of the link's account; the link (and every other one for it) stops working."""
    user = user_for(session, token, secret_key=secret_key, max_age=max_age)
    accounts.set_password(user, password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # the link reached the address: it is the owner's
    session.flush()
    audit.record(session, audit.Actor.of(user), "user.set_password", "user", user.id)
    logger.info("User %s set a password through a one-time link", user.id)
    return user


def create_coordinator(
    session: Session, *, email: str, name: str, actor: audit.Actor, municipality: str | None = None
) -> User:
    """A coordinator account without a password yet (set through :func:`link_for`).

    With ``municipality`` (a name, found whatever its case, or created) the
    coordinator sees and acts on that municipality only; without, on the
    whole region.  ValidationError for a bad address, name or municipality
    name; Conflict when the address has an account already.
    """
    label = "coordinator"
    problems: list[str] = []
    clean_email = validation.email(problems, label, "email", email)
    clean_name = validation.text(problems, label, "name", name, max_length=200)
    place = None
    if municipality is not None:
        place = validation.text(problems, label, "municipality", municipality, max_length=120)
    if problems:
        raise ValidationError(problems)
    if session.scalar(select(User.id).where(func.lower(User.email) == clean_email)) is not None:
        raise Conflict(f"{label}: the e-mail address {clean_email} already has an account")
    user = User(role=Role.COORDINATOR, email=clean_email, display_name=clean_name, session_version=1)
    if place is not None:
        user.municipality = _municipality(session, place, actor=actor)
    session.add(user)
    session.flush()
    after = {"role": user.role.value, "email": clean_email, "municipality": user.municipality_id}
    audit.record(session, actor, "user.create", "user", user.id, after=after)
    logger.info("Coordinator account %s created for %s", user.id, clean_email)
    return user


def _municipality(session: Session, name: str, *, actor: audit.Actor) -> Municipality:
    found = session.scalar(select(Municipality).where(func.lower(Municipality.name) == name.lower()))
    if found is not None:
        return found
    created = Municipality(name=name)
    session.add(created)
    session.flush()
    audit.record(session, actor, "municipality.create", "municipality", created.id, after={"name": name})
    return created
