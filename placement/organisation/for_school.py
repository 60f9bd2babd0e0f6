"""What school staff may see in the organisation: their own schools, those schools' classes and colleagues.

A school, class or pupil that is not one of the user's schools' is
:class:`NotFound`, never a permission error, so that ids cannot be probed:
another school's records are not even shown to exist."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement.enums import Role
from placement.errors import Conflict, NotFound
from placement.models import (
    Invitation,
    School,
    SchoolClass,
    SchoolMembership,
    User,
)
from placement.organisation import invitations

logger = logging.getLogger(__name__)


def schools_of(session: Session, user: User) -> list[School]:
    """The schools the user is staff of, by name."""
    return list(
        session.scalars(
            select(School)
            .join(SchoolMembership, SchoolMembership.school_id == School.id)
            .where(SchoolMembership.user_id == user.id)
            .order_by(School.name, School.id)
        )
    )


def school_ids(session: Session, user: User) -> set[int]:
    return set(session.scalars(select(SchoolMembership.school_id).where(SchoolMembership.user_id == user.id)))


def school_for(session: Session, user: User, school_id: int) -> School:
    """One of the user's schools, or NotFound."""
    school = session.get(School, school_id) if school_id in school_ids(session, user) else None
    if school is None:
        raise NotFound(f"school {school_id}: not found")
    return school


def class_for(session: Session, user: User, class_id: int) -> SchoolClass:
    """A class of one of the user's schools, or NotFound."""
    klass = session.get(SchoolClass, class_id)
    if klass is None or klass.school_id not in school_ids(session, user):
        raise NotFound(f"class {class_id}: not found")
    return klass


# --- colleagues --------------------------------------------------------------------------------------------------


def colleagues(session: Session, user: User, school_id: int) -> tuple[list[User], list[Invitation]]:
    """The staff of one of the user's schools, and the invitations to it (newest first)."""
    target = invitations.Target.school_staff(school_for(session, user, school_id))
    return invitations.members_of(session, target), invitations.invitations_to(session, target)


def invite_colleague(
    session: Session, user: User, school_id: int, *, email: str, name: str, secret_key: str, base_url: str
) -> Invitation:
    """Invite someone to one of the user's schools (mailed at once)."""
    target = invitations.Target.school_staff(school_for(session, user, school_id))
    return invitations.invite(
        session, target, email=email, name=name, invited_by=user, secret_key=secret_key, base_url=base_url
    )


def own_invitation(session: Session, user: User, invitation_id: int) -> Invitation:
    """An invitation to one of the user's schools, or NotFound."""
    invitation = session.get(Invitation, invitation_id)
    if (
        invitation is None
        or invitation.role is not Role.SCHOOL_STAFF
        or invitation.school_id not in school_ids(session, user)
    ):
        raise NotFound(f"invitation {invitation_id}: not found")
    return invitation


def remove_colleague(session: Session, user: User, school_id: int, member_id: int) -> None:
    """Take a colleague off one of the user's schools; their sessions end.  Nobody removes themselves."""
    school_for(session, user, school_id)
    membership = session.scalar(
        select(SchoolMembership).where(SchoolMembership.school_id == school_id, SchoolMembership.user_id == member_id)
    )
    if membership is None:
        raise NotFound(f"school {school_id}: staff member {member_id} not found")
    if member_id == user.id:
        raise Conflict(f"school {school_id}: you cannot remove yourself; ask a colleague or the coordinator")
    invitations.remove_school_member(session, membership, actor=audit.Actor.of(user))
