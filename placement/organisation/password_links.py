"""One-time links to set a password: for a new account, and (later) for a forgotten password.

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
from placement.enums import Role
from placement.errors import Conflict, NotFound, ValidationError
from placement.models import User
from placement.organisation import accounts

logger = logging.getLogger(__name__)

#: How long a link to set a password holds.
MAX_AGE = dt.timedelta(hours=48)
#: Where the link leads, after the ``base_url`` a caller passes (the web layer's ``auth.set_password``).
PATH = "/auth/set-password/"
SALT = "set-password"


def _fingerprint(user: User) -> str:
    state = f"{user.id}:{user.password_hash or ''}:{user.session_version}:{int(user.active)}"
    return hashlib.sha256(state.encode()).hexdigest()[:32]


def token_for(user: User, *, secret_key: str) -> str:
    """A token that lets whoever holds it set ``user``'s password once, within :data:`MAX_AGE`."""
    return str(URLSafeTimedSerializer(secret_key, salt=SALT).dumps({"user": user.id, "state": _fingerprint(user)}))


def link_for(user: User, *, secret_key: str, base_url: str) -> str:
    return base_url.rstrip("/") + PATH + token_for(user, secret_key=secret_key)


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


def create_coordinator(session: Session, *, email: str, name: str, actor: audit.Actor) -> User:
    """A coordinator account without a password yet (set through :func:`link_for`).

    ValidationError for a bad address or name; Conflict when the address has an account already.
    """
    label = "coordinator"
    problems: list[str] = []
    clean_email = validation.email(problems, label, "email", email)
    clean_name = validation.text(problems, label, "name", name, max_length=200)
    if problems:
        raise ValidationError(problems)
    if session.scalar(select(User.id).where(func.lower(User.email) == clean_email)) is not None:
        raise Conflict(f"{label}: the e-mail address {clean_email} already has an account")
    user = User(role=Role.COORDINATOR, email=clean_email, display_name=clean_name, session_version=1)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "user", user.id, after={"role": user.role.value, "email": clean_email})
    logger.info("Coordinator account %s created for %s", user.id, clean_email)
    return user
