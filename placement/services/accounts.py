"""Accounts: passwords, logging in and out."""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from placement.db import utcnow
from placement.errors import PlacementError, ValidationError
from placement.models import User

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
#: A hash to compare against when the account does not exist, so that the
#: response time does not tell which e-mail addresses have accounts.
_DUMMY_HASH = generate_password_hash("praktik-timing-equaliser")


class AuthenticationFailed(PlacementError):
    pass


def hash_secret(secret: str) -> str:
    return generate_password_hash(secret)


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"user {user.id}: password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_secret(password)
    user.session_version = (user.session_version or 0) + 1


def authenticate(session: Session, email: str, password: str) -> User:
    """The active account with this e-mail and password, or AuthenticationFailed."""
    user = session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()
    if user is None or user.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        raise AuthenticationFailed("wrong e-mail or password")
    if not check_password_hash(user.password_hash, password) or not user.active:
        raise AuthenticationFailed("wrong e-mail or password")
    user.last_login_at = utcnow()
    logger.info("User %s logged in", user.id)
    return user


def end_sessions(user: User) -> None:
    """Void every session of ``user``: cookies carrying the old version stop working."""
    user.session_version = (user.session_version or 0) + 1
    logger.info("User %s logged out", user.id)
