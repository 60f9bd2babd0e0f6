"""Pupils' personal login codes: handed out by their school, no e-mail, no password.

A code reads ``K7QM-4XPA-2HTD``: the first group is the account's public
``login_code_id`` (unique, finds the account without scanning), the whole
code is checked against ``login_code_hash``.  Codes use an alphabet without
look-alikes (no 0/O, 1/I/L), are shown once when issued, and only their hash
is stored.  Staff can revoke a code and issue a new one at any time; issuing
ends every session of the old code.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from placement import audit
from placement.enums import Role
from placement.errors import NotFound
from placement.models import Pupil, User
from placement.organisation import accounts

logger = logging.getLogger(__name__)

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#: A code's secret is eight random characters of 31 (about 2^40), handed out by the school and tried online only
#: through the throttles; it is hashed with scrypt at a quarter of the staff passwords' cost (about 14 ms instead
#: of 80 on this machine's cores), so that a class logging in at once does not queue behind its own hashes.  The
#: parameters travel in each hash, so codes hashed before still verify.
CODE_HASH_METHOD = "scrypt:8192:8:1"
_DUMMY_HASH = generate_password_hash("praktik-code-timing-equaliser", method=CODE_HASH_METHOD)
GROUP = 4
GROUPS = 3


@dataclasses.dataclass(frozen=True)
class IssuedCode:
    """A code just issued: the only moment its plain text exists."""

    pupil_id: int
    pupil_name: str
    class_name: str
    code: str


def _group() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(GROUP))


def normalise(code: str) -> str:
    """What a pupil typed, as stored: upper case, spaces and dashes ignored, groups joined by hyphens."""
    clean = "".join(ch for ch in code.upper() if ch.isalnum())
    return "-".join(clean[i : i + GROUP] for i in range(0, len(clean), GROUP))


def pupil_account(session: Session, pupil: Pupil) -> User:
    """The pupil's account, made on first need (pupils have no e-mail)."""
    user = session.scalars(select(User).where(User.pupil_id == pupil.id)).first()
    if user is None:
        user = User(
            role=Role.PUPIL,
            pupil_id=pupil.id,
            display_name=f"{pupil.first_name} {pupil.last_name}",
            email=None,
        )
        session.add(user)
        session.flush()
    return user


def issue(session: Session, pupil: Pupil, *, actor: audit.Actor) -> IssuedCode:
    """A new code for the pupil; any earlier code stops working and its sessions end."""
    user = pupil_account(session, pupil)
    while True:
        code_id = _group()
        taken = session.scalar(select(User.id).where(User.login_code_id == code_id, User.id != user.id))
        if taken is None:
            break
    code = "-".join([code_id, *(_group() for _ in range(GROUPS - 1))])
    user.login_code_id = code_id
    user.login_code_hash = generate_password_hash(code, method=CODE_HASH_METHOD)
    user.active = True
    user.session_version = (user.session_version or 0) + 1
    session.flush()
    audit.record(session, actor, "pupil.login_code.issue", "pupil", pupil.id)
    return IssuedCode(pupil.id, f"{pupil.first_name} {pupil.last_name}", pupil.school_class.name, code)


def revoke(session: Session, pupil: Pupil, *, actor: audit.Actor) -> None:
    """The pupil's code stops working at once, and every session of it ends."""
    user = session.scalars(select(User).where(User.pupil_id == pupil.id)).first()
    if user is None or user.login_code_hash is None:
        raise NotFound(f"pupil {pupil.id} has no login code")
    user.login_code_id = None
    user.login_code_hash = None
    user.session_version = (user.session_version or 0) + 1
    session.flush()
    audit.record(session, actor, "pupil.login_code.revoke", "pupil", pupil.id)


def has_code(session: Session, pupil_ids: list[int]) -> set[int]:
    """Which of these pupils have a code in force."""
    if not pupil_ids:
        return set()
    return set(
        session.scalars(select(User.pupil_id).where(User.pupil_id.in_(pupil_ids), User.login_code_hash.is_not(None)))
    )


#: Failed logins allowed within ``accounts.WINDOW`` for one code (its id is known, its secret wrong:
#: the pupil's own typos, or someone guessing that pupil's code), and for one class together.
FAILURES_PER_CODE = 5
FAILURES_PER_CLASS = 30
#: Failed logins with codes that name no account, per client address: a whole school may share one
#: address, and with 31^12 possible codes 30 guesses a quarter of an hour gain an attacker nothing.
FAILURES_PER_ADDRESS = 30


def throttle_keys(session: Session, code: str, address: str | None) -> list[tuple[str, int]]:
    """The throttles (key, limit) a login with ``code`` counts against.

    A code whose id names a pupil's account counts against that code and
    that pupil's class, so that one classroom's typos slow down that
    classroom only, never the school or the region behind the same
    address; a code that names no account counts against the client's
    address.  Nothing of this reaches the pupil: every wrong code gets the
    same answer.
    """
    code_id = normalise(code).split("-", 1)[0]
    known = session.execute(
        select(User.login_code_id, Pupil.class_id)
        .join(Pupil, User.pupil_id == Pupil.id)
        .where(User.login_code_id == code_id, User.role == Role.PUPIL)
    ).first()
    if known is None:
        return [(f"code:{address}", FAILURES_PER_ADDRESS)]
    return [(f"code-id:{known[0]}", FAILURES_PER_CODE), (f"class:{known[1]}", FAILURES_PER_CLASS)]


def credentials(session: Session, code: str) -> accounts.Credentials:
    """The pupil account a typed code names, for ``accounts.check`` or ``accounts.attempt_login``."""
    typed = normalise(code)
    code_id = typed.split("-", 1)[0]
    user = session.scalars(select(User).where(User.login_code_id == code_id, User.role == Role.PUPIL)).first()
    return accounts.Credentials(user, user.login_code_hash if user is not None else None, typed, _DUMMY_HASH)


def authenticate(session: Session, code: str) -> User:
    """The pupil account with this code, or AuthenticationFailed (same answer and time for every wrong code)."""
    return accounts.logged_in(accounts.check(credentials(session, code)))
