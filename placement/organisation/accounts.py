"""Accounts: passwords, logging in and out, and slowing down repeated failures."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from placement.db import take_write_lock, utcnow
from placement.errors import PlacementError, ValidationError
from placement.models import LoginFailure, User

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
#: Password hashing: werkzeug's scrypt (memory-hard), named so a library default cannot change it silently.
HASH_METHOD = "scrypt"
#: A key (``email:<address>``, ``ip:<address>``, ``code:<address>``) with more
#: than MAX_FAILURES failed logins within WINDOW is refused until older failures
#: leave the window: a delay to password guessing, never a permanent lock-out
#: that anyone could inflict on another user by failing on purpose.
MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)
#: Staff logins: wrong passwords for one account from one address (its owner's typos, or one guesser),
#: for one account from anywhere (guessing spread over many addresses), and from one address for any
#: account (an office's staff share one).  The owner is slowed by the first alone, so others' failures
#: elsewhere cannot lock the owner out.
FAILURES_PER_ACCOUNT_AND_ADDRESS = MAX_FAILURES
FAILURES_PER_ACCOUNT = 30
FAILURES_PER_ADDRESS = 30
#: A hash to compare against when the account does not exist, so that the
#: response time does not tell which e-mail addresses have accounts.
_DUMMY_HASH = generate_password_hash("praktik-timing-equaliser", method=HASH_METHOD)


class AuthenticationFailed(PlacementError):
    pass


def hash_secret(secret: str) -> str:
    return generate_password_hash(secret, method=HASH_METHOD)


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"user {user.id}: password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_secret(password)
    user.session_version = (user.session_version or 0) + 1


@dataclass(frozen=True)
class Credentials:
    """The account a login names (None: no such account) and the secret typed for it."""

    user: User | None
    secret_hash: str | None
    typed: str
    #: Compared against when there is no account, so that the time taken does not tell: the kind of hash
    #: the secret would have.
    dummy_hash: str = _DUMMY_HASH


class Throttled(PlacementError):
    """Too many recent failures for one of the attempt's keys: nothing was checked."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after} s")
        self.retry_after = retry_after


def credentials(session: Session, email: str, password: str) -> Credentials:
    """The staff account with this e-mail address, for :func:`check` or :func:`attempt_login`."""
    user = session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()
    return Credentials(user, user.password_hash if user is not None else None, password)


def check(found: Credentials) -> User:
    """The account, if the secret typed is its own and the account is active; AuthenticationFailed otherwise.

    Only CPU: the slow hash is compared without touching the database.  An
    unknown account is compared against a dummy hash, so that the time taken
    does not tell which accounts exist.
    """
    if found.user is None or found.secret_hash is None:
        check_password_hash(found.dummy_hash, found.typed)
        raise AuthenticationFailed("wrong credentials")
    if not check_password_hash(found.secret_hash, found.typed) or not found.user.active:
        raise AuthenticationFailed("wrong credentials")
    return found.user


def logged_in(user: User) -> User:
    user.last_login_at = utcnow()
    logger.info("Account %s logged in", user.id)
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    """The active account with this e-mail and password, or AuthenticationFailed (no throttle: see attempt_login)."""
    return logged_in(check(credentials(session, email, password)))


def attempt_login(session: Session, keys: list[tuple[str, int]], found: Credentials, *, clear: int) -> User:
    """A login checked against its throttles ``keys`` (key, limit) and then its secret; commits the count.

    1. Under the throttles' locks (:func:`hold`): a key over its limit
       refuses with :class:`Throttled` before the secret is looked at, so
       guessing gains nothing (the caller rolls back).  Otherwise the attempt
       is recorded as a failure against every key and committed: counted
       before it is checked, so a limit holds exactly however many attempts
       arrive at once, and the locks are released before the slow hash.
    2. The secret is compared outside any transaction (:func:`check`); a
       wrong one raises AuthenticationFailed, its failures already stored.
    3. A right one takes the attempt's failures back, forgets the failures
       of the first ``clear`` keys (the account's own) and notes the login,
       for the caller to commit.
    """
    hold(session, keys)
    wait = max(retry_after(session, key, limit=limit) for key, limit in keys)
    if wait:
        raise Throttled(wait)
    recorded = [record_failure(session, key).id for key, _limit in keys]
    session.commit()
    try:
        user = check(found)
    except AuthenticationFailed:
        logger.warning("Failed login counted against %s", ", ".join(key for key, _limit in keys))
        raise
    session.execute(delete(LoginFailure).where(LoginFailure.id.in_(recorded)))
    for key, _limit in keys[:clear]:
        clear_failures(session, key)
    return logged_in(user)


def end_sessions(user: User) -> None:
    """Void every session of ``user``: cookies carrying the old version stop working."""
    user.session_version = (user.session_version or 0) + 1
    logger.info("User %s logged out", user.id)


def login_keys(email: str, address: str | None) -> list[tuple[str, int]]:
    """The throttles (key, limit) a staff login for ``email`` from ``address`` counts against."""
    account = f"email:{email.strip().lower()}"
    return [
        (f"{account}|ip:{address}", FAILURES_PER_ACCOUNT_AND_ADDRESS),
        (account, FAILURES_PER_ACCOUNT),
        (f"ip:{address}", FAILURES_PER_ADDRESS),
    ]


def hold(session: Session, keys: list[tuple[str, int]]) -> None:
    """Take the throttles' locks for this transaction, so that checking and recording an attempt is one step.

    Concurrent attempts against one key then take turns, and a limit holds
    exactly however many arrive at once.  PostgreSQL: a transaction-level
    advisory lock per key (in a fixed order, so two attempts never wait for
    each other); SQLite: the database's write lock (:func:`placement.db.take_write_lock`).
    """
    if session.get_bind().dialect.name != "postgresql":
        take_write_lock(session)
        return
    for lock_id in sorted({_lock_id(key) for key, _limit in keys}):
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def _lock_id(key: str) -> int:
    """A stable signed 64-bit number for a throttle key (PostgreSQL's advisory locks are numbered)."""
    return int.from_bytes(hashlib.blake2b(key[:300].encode(), digest_size=8).digest(), "big", signed=True)


def record_failure(session: Session, key: str, now: dt.datetime | None = None) -> LoginFailure:
    """Note a failed login for ``key``; the caller commits it in the transaction that checked the throttle."""
    failure = LoginFailure(key=key[:300], at=now or utcnow())
    session.add(failure)
    session.flush()
    logger.debug("Attempt recorded against the throttle of %s", key)
    return failure


def _recent(session: Session, key: str, now: dt.datetime | None) -> list[dt.datetime]:
    since = (now or utcnow()) - WINDOW
    query = select(LoginFailure.at).where(LoginFailure.key == key[:300], LoginFailure.at > since)
    return list(session.scalars(query.order_by(LoginFailure.at)))


def throttled(session: Session, key: str, now: dt.datetime | None = None, *, limit: int = MAX_FAILURES) -> bool:
    """Whether ``key`` has more than ``limit`` failed logins within the last WINDOW."""
    return len(_recent(session, key, now)) > limit


def retry_after(session: Session, key: str, now: dt.datetime | None = None, *, limit: int = MAX_FAILURES) -> int:
    """Seconds until ``key`` is no longer throttled (0 if it is not).

    ``limit`` may be raised for keys many people share, such as a school's one
    public address from which a whole class types its codes.
    """
    now = now or utcnow()
    recent = _recent(session, key, now)
    if len(recent) <= limit:
        return 0
    # The key is free once only ``limit`` failures remain in the window.
    frees_at = recent[len(recent) - limit - 1] + WINDOW
    return max(1, int((frees_at - now).total_seconds()) + 1)


def clear_failures(session: Session, key: str) -> None:
    """Forget the failures of ``key`` (after a successful login)."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == key[:300]))


def prune_failures(session: Session, older_than: dt.datetime) -> int:
    """Delete failures recorded before ``older_than``; they no longer count. Returns how many."""
    result = session.execute(delete(LoginFailure).where(LoginFailure.at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
