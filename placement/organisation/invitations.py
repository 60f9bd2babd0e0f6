"""Accounts by invitation: school staff, employer contacts and coordinators.

A coordinator invites staff to a school and other coordinators (of the
region, or of one municipality); a school's staff invite colleagues to their
own school; an employer's contact invites colleagues to their employer.  An
invitation is stored (so that it can be listed, resent and withdrawn) and
mailed as a signed link naming it and its ``nonce``:

* it expires :data:`MAX_AGE` after it was last sent;
* it works once: accepting sets ``accepted_at``;
* a resend makes a new nonce, so only the newest link works; a withdrawal
  ends it; a changed or forged link is refused.

Accepting creates the account with the password the invited person chooses,
or, for an address that already has an account of the same role, adds the
membership to it once its owner is logged in.  Removing a membership ends
every session of its person.

Who may invite to what is decided by the caller's scoping module (the
coordinator's views, :mod:`placement.organisation.for_school`,
:mod:`placement.employers.for_employer`); this module checks the invitation
itself.  Functions flush; the caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
import secrets

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from placement import audit, validation
from placement.db import utcnow
from placement.enums import MailKind, Role
from placement.errors import Conflict, NotFound, ValidationError
from placement.mail import outbox as mail
from placement.models import Employer, EmployerMembership, Invitation, Municipality, School, SchoolMembership, User
from placement.organisation import accounts

logger = logging.getLogger(__name__)

#: How long an invitation's link holds after it was (last) sent.
MAX_AGE = dt.timedelta(days=7)
#: How long an ended invitation (accepted, withdrawn or expired) is listed before it is deleted with its address.
RETENTION = dt.timedelta(days=30)
#: Where the link leads, after the ``base_url`` a caller passes (the web layer's ``auth.invitation``).
PATH = "/auth/invitation/"
SALT = "invitation"


class State(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


def state(invitation: Invitation, now: dt.datetime | None = None) -> State:
    if invitation.accepted_at is not None:
        return State.ACCEPTED
    if invitation.withdrawn_at is not None:
        return State.WITHDRAWN
    if invitation.expires_at <= (now or utcnow()):
        return State.EXPIRED
    return State.PENDING


@dataclasses.dataclass(frozen=True)
class Target:
    """What an invitation leads to: staff of a school, a contact of an employer, or a coordinator."""

    role: Role
    school: School | None = None
    employer: Employer | None = None
    #: For a coordinator: of this municipality only; None is the whole region.
    municipality: Municipality | None = None

    @classmethod
    def school_staff(cls, school: School) -> Target:
        return cls(Role.SCHOOL_STAFF, school=school)

    @classmethod
    def employer_contact(cls, employer: Employer) -> Target:
        return cls(Role.EMPLOYER_CONTACT, employer=employer)

    @classmethod
    def coordinator(cls, municipality: Municipality | None = None) -> Target:
        return cls(Role.COORDINATOR, municipality=municipality)

    @property
    def organisation(self) -> str:
        """The name the invitation mail gives: the school, the employer or the municipality ("" for the region)."""
        if self.school is not None:
            return self.school.name
        if self.employer is not None:
            return self.employer.name
        return self.municipality.name if self.municipality is not None else ""

    def _same(self, invitation: Invitation) -> bool:
        return (
            invitation.role is self.role
            and invitation.school_id == (self.school.id if self.school else None)
            and invitation.employer_id == (self.employer.id if self.employer else None)
            and invitation.municipality_id == (self.municipality.id if self.municipality else None)
        )


def target_of(invitation: Invitation) -> Target:
    return Target(invitation.role, invitation.school, invitation.employer, invitation.municipality)


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def link_for(invitation: Invitation, *, secret_key: str, base_url: str) -> str:
    token = _serializer(secret_key).dumps({"invitation": invitation.id, "nonce": invitation.nonce})
    return base_url.rstrip("/") + PATH + str(token)


def _send(session: Session, invitation: Invitation, *, secret_key: str, base_url: str) -> None:
    inviter = invitation.invited_by.display_name if invitation.invited_by else ""
    mail.enqueue(
        session,
        kind=MailKind.INVITATION,
        recipient=invitation.email,
        locale=invitation.invited_by.locale if invitation.invited_by else mail.DEFAULT_LOCALE,
        context={
            "name": invitation.name,
            "inviter": inviter,
            "role": invitation.role.value,
            "organisation": target_of(invitation).organisation,
            "url": link_for(invitation, secret_key=secret_key, base_url=base_url),
            "hours": int(MAX_AGE.total_seconds() // 3600),
        },
        dedup_key=f"invitation:{invitation.id}:{invitation.nonce}",
    )


def is_member(user: User, target: Target) -> bool:
    if target.school is not None:
        return any(m.school_id == target.school.id for m in user.school_memberships)
    if target.employer is not None:
        return any(m.employer_id == target.employer.id for m in user.employer_memberships)
    return user.role is Role.COORDINATOR


def invite(
    session: Session,
    target: Target,
    *,
    email: str,
    name: str,
    invited_by: User,
    secret_key: str,
    base_url: str,
    now: dt.datetime | None = None,
) -> Invitation:
    """Store an invitation to ``target`` and mail its link.

    ValidationError names a bad address or name; Conflict when the person is
    a member already, or has a pending invitation to the same place (resend
    that one instead).
    """
    label = "invitation"
    problems: list[str] = []
    clean_email = validation.email(problems, label, "email", email)
    clean_name = validation.text(problems, label, "name", name, max_length=200)
    if problems:
        raise ValidationError(problems)
    now = now or utcnow()
    existing = session.scalar(select(User).where(func.lower(User.email) == clean_email))
    if existing is not None and existing.active and is_member(existing, target) and existing.role is target.role:
        raise Conflict(f"{label}: {clean_email} is a member already")
    pending = session.scalars(
        select(Invitation).where(
            Invitation.email == clean_email, Invitation.accepted_at.is_(None), Invitation.withdrawn_at.is_(None)
        )
    )
    if any(target._same(other) and state(other, now) is State.PENDING for other in pending):
        raise Conflict(f"{label}: {clean_email} is invited already; resend that invitation instead")
    invitation = Invitation(
        email=clean_email,
        name=clean_name,
        role=target.role,
        school=target.school,
        employer=target.employer,
        municipality=target.municipality,
        invited_by=invited_by,
        sent_at=now,
        expires_at=now + MAX_AGE,
        nonce=secrets.token_hex(16),
    )
    session.add(invitation)
    session.flush()
    _send(session, invitation, secret_key=secret_key, base_url=base_url)
    audit.record(
        session,
        audit.Actor.of(invited_by),
        "invitation.create",
        "invitation",
        invitation.id,
        after={"role": target.role.value, "school": invitation.school_id, "employer": invitation.employer_id},
    )
    logger.info("Invitation %s (%s) sent by user %s", invitation.id, target.role.value, invited_by.id)
    return invitation


def resend(
    session: Session, invitation: Invitation, *, actor: audit.Actor, secret_key: str, base_url: str
) -> Invitation:
    """Mail a new link (valid :data:`MAX_AGE` from now); the links sent before stop working."""
    if invitation.accepted_at is not None or invitation.withdrawn_at is not None:
        raise Conflict(f"invitation {invitation.id}: is {state(invitation).value} and cannot be resent")
    now = utcnow()
    invitation.nonce = secrets.token_hex(16)
    invitation.sent_at = now
    invitation.expires_at = now + MAX_AGE
    session.flush()
    _send(session, invitation, secret_key=secret_key, base_url=base_url)
    audit.record(session, actor, "invitation.resend", "invitation", invitation.id)
    return invitation


def withdraw(session: Session, invitation: Invitation, *, actor: audit.Actor) -> Invitation:
    """End an invitation that has not been accepted: its link stops working."""
    if invitation.accepted_at is not None:
        raise Conflict(f"invitation {invitation.id}: was accepted; remove the membership instead")
    if invitation.withdrawn_at is None:
        invitation.withdrawn_at = utcnow()
        session.flush()
        audit.record(session, actor, "invitation.withdraw", "invitation", invitation.id)
    return invitation


def invitation_for(session: Session, token: str, *, secret_key: str) -> Invitation:
    """The pending invitation a link is for.

    ValidationError when it has expired; NotFound when the link was changed
    or forged, replaced by a newer one, withdrawn or already used.
    """
    try:
        data = _serializer(secret_key).loads(token)
    except BadSignature as exc:
        raise NotFound("invitation: the link is not valid") from exc
    invitation = session.get(Invitation, data.get("invitation")) if isinstance(data, dict) else None
    if invitation is None or data.get("nonce") != invitation.nonce:
        raise NotFound("invitation: the link is not valid or a newer one was sent")
    current = state(invitation)
    if current is State.EXPIRED:
        raise ValidationError(f"invitation {invitation.id}: the link has expired; ask for a new one")
    if current is not State.PENDING:
        raise NotFound(f"invitation {invitation.id}: is {current.value}")
    return invitation


def account_of(session: Session, invitation: Invitation) -> User | None:
    """The account the invited address has already, if any."""
    return session.scalar(select(User).where(func.lower(User.email) == invitation.email))


def accept_new(session: Session, token: str, *, secret_key: str, name: str, password: str) -> User:
    """Accept for an address without an account: the account is created with ``password``."""
    invitation = invitation_for(session, token, secret_key=secret_key)
    if account_of(session, invitation) is not None:
        raise Conflict(f"invitation {invitation.id}: the address has an account; log in to accept")
    label = f"invitation {invitation.id}"
    problems: list[str] = []
    clean_name = validation.text(problems, label, "name", name, max_length=200)
    if problems:
        raise ValidationError(problems)
    user = User(
        role=invitation.role,
        email=invitation.email,
        display_name=clean_name,
        municipality=invitation.municipality,
        locale=invitation.invited_by.locale if invitation.invited_by else mail.DEFAULT_LOCALE,
        email_verified_at=utcnow(),  # the link reached the address
        session_version=1,
    )
    accounts.set_password(user, password)
    session.add(user)
    session.flush()
    audit.record(session, audit.Actor.of(user), "user.create", "user", user.id, after={"via": "invitation"})
    return _join(session, invitation, user)


def accept_existing(session: Session, token: str, user: User, *, secret_key: str) -> User:
    """Accept for the logged-in owner of the invited address: the membership is added to their account."""
    invitation = invitation_for(session, token, secret_key=secret_key)
    if (user.email or "").lower() != invitation.email:
        raise NotFound(f"invitation {invitation.id}: is for another address")
    if user.role is not invitation.role:
        raise Conflict(
            f"invitation {invitation.id}: the address has an account of another kind ({user.role.value});"
            " ask the coordinator"
        )
    return _join(session, invitation, user)


def _join(session: Session, invitation: Invitation, user: User) -> User:
    if invitation.school is not None and not is_member(user, target_of(invitation)):
        session.add(SchoolMembership(user=user, school=invitation.school))
    if invitation.employer is not None and not is_member(user, target_of(invitation)):
        session.add(EmployerMembership(user=user, employer=invitation.employer))
    invitation.accepted_at = utcnow()
    invitation.user_id = user.id
    session.flush()
    audit.record(session, audit.Actor.of(user), "invitation.accept", "invitation", invitation.id)
    logger.info("Invitation %s accepted by user %s", invitation.id, user.id)
    return user


def invitations_to(session: Session, target: Target) -> list[Invitation]:
    """The invitations to ``target``, newest first (for coordinators: every coordinator invitation)."""
    query = select(Invitation).where(Invitation.role == target.role)
    if target.school is not None:
        query = query.where(Invitation.school_id == target.school.id)
    if target.employer is not None:
        query = query.where(Invitation.employer_id == target.employer.id)
    if target.role is Role.COORDINATOR and target.municipality is not None:
        query = query.where(Invitation.municipality_id == target.municipality.id)
    query = query.options(selectinload(Invitation.invited_by))
    return list(session.scalars(query.order_by(Invitation.sent_at.desc(), Invitation.id.desc())))


def prune(session: Session, now: dt.datetime | None = None) -> int:
    """Delete invitations that ended (accepted, withdrawn or expired) more than :data:`RETENTION` ago.

    An invitation holds a person's address and name: once it has done its
    work, the account (if any) is the record.  Returns how many went.
    """
    limit = (now or utcnow()) - RETENTION
    ended = (
        (Invitation.accepted_at < limit)
        | (Invitation.withdrawn_at < limit)
        | ((Invitation.accepted_at.is_(None)) & (Invitation.withdrawn_at.is_(None)) & (Invitation.expires_at < limit))
    )
    result = session.execute(delete(Invitation).where(ended))
    return int(getattr(result, "rowcount", 0) or 0)


def remove_school_member(session: Session, membership: SchoolMembership, *, actor: audit.Actor) -> None:
    """Take a person off a school: the membership goes and every session of theirs ends."""
    user = membership.user
    school_id = membership.school_id
    session.delete(membership)
    accounts.end_sessions(user)
    session.flush()
    audit.record(session, actor, "school.member.remove", "user", user.id, before={"school": school_id})


def remove_employer_member(session: Session, membership: EmployerMembership, *, actor: audit.Actor) -> None:
    """Take a person off an employer: the membership goes and every session of theirs ends."""
    user = membership.user
    employer_id = membership.employer_id
    session.delete(membership)
    accounts.end_sessions(user)
    session.flush()
    audit.record(session, actor, "employer.member.remove", "user", user.id, before={"employer": employer_id})


def members_of(session: Session, target: Target) -> list[User]:
    """The active people of a school or an employer, or the coordinators (of a municipality, or all), by name."""
    query = select(User).where(User.active.is_(True))
    if target.school is not None:
        query = query.join(SchoolMembership, SchoolMembership.user_id == User.id).where(
            SchoolMembership.school_id == target.school.id
        )
    elif target.employer is not None:
        query = query.join(EmployerMembership, EmployerMembership.user_id == User.id).where(
            EmployerMembership.employer_id == target.employer.id
        )
    else:
        query = query.where(User.role == Role.COORDINATOR)
        if target.municipality is not None:
            query = query.where(User.municipality_id == target.municipality.id)
    return list(session.scalars(query.order_by(User.display_name, User.id)))
