"""What a coordinator may see and act on in the organisation: the whole region, or one municipality.

A coordinator without a municipality (``User.municipality_id`` empty) is the
region's and reaches every municipality and school.  A coordinator of one
municipality reaches that municipality and its schools only; anything else is
:class:`NotFound`, never a permission error, so that ids cannot be probed.
The other domains' coordinator scoping builds on :func:`municipality_of` and
:func:`school_ids`.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from placement import audit
from placement.enums import Role
from placement.errors import Conflict, NotFound
from placement.models import (
    Employer,
    EmployerMembership,
    Invitation,
    Municipality,
    School,
    SchoolMembership,
    User,
)
from placement.organisation import accounts, invitations


def municipality_of(user: User) -> int | None:
    """The one municipality a coordinator acts for, or None for the whole region."""
    if user.role is not Role.COORDINATOR:
        raise NotFound(f"user {user.id}: not a coordinator")
    return user.municipality_id


def is_regional(user: User) -> bool:
    return municipality_of(user) is None


def school_condition(user: User) -> ColumnElement[bool]:
    """A condition on :class:`School` rows: those the coordinator reaches."""
    place = municipality_of(user)
    return true() if place is None else School.municipality_id == place


def municipalities(session: Session, user: User) -> list[Municipality]:
    """The municipalities the coordinator reaches, by name."""
    query = select(Municipality).order_by(Municipality.name, Municipality.id)
    place = municipality_of(user)
    if place is not None:
        query = query.where(Municipality.id == place)
    return list(session.scalars(query))


def municipality_for(session: Session, user: User, municipality_id: int) -> Municipality:
    """A municipality the coordinator reaches, or NotFound."""
    place = municipality_of(user)
    found = session.get(Municipality, municipality_id) if place in (None, municipality_id) else None
    if found is None:
        raise NotFound(f"municipality {municipality_id}: not found")
    return found


def schools(session: Session, user: User) -> list[School]:
    """The schools the coordinator reaches, by name."""
    return list(session.scalars(select(School).where(school_condition(user)).order_by(School.name, School.id)))


def school_ids(session: Session, user: User) -> set[int]:
    return set(session.scalars(select(School.id).where(school_condition(user))))


def school_for(session: Session, user: User, school_id: int) -> School:
    """A school the coordinator reaches, or NotFound."""
    school = session.get(School, school_id)
    place = municipality_of(user)
    if school is None or (place is not None and school.municipality_id != place):
        raise NotFound(f"school {school_id}: not found")
    return school


# --- people ----------------------------------------------------------------------------------------------------------


def employer_for(session: Session, user: User, employer_id: int) -> Employer:
    """An employer the coordinator reaches (a municipality's coordinator: those of its municipality), or NotFound."""
    employer = session.get(Employer, employer_id)
    place = municipality_of(user)
    if employer is None or (place is not None and employer.municipality_id != place):
        raise NotFound(f"employer {employer_id}: not found")
    return employer


def coordinator_target(session: Session, user: User, municipality_id: int | None) -> invitations.Target:
    """Coordinators of the region (``None``) or of one municipality, as far as ``user`` reaches.

    A municipality's coordinator may invite coordinators of its own municipality only.
    """
    if municipality_id is None:
        if not is_regional(user):
            raise NotFound("coordinators of the region: not found")
        return invitations.Target.coordinator()
    return invitations.Target.coordinator(municipality_for(session, user, municipality_id))


def coordinators(session: Session, user: User) -> tuple[list[User], list[Invitation]]:
    """The coordinators the user reaches and the invitations to be one (newest first)."""
    place = municipality_of(user)
    target = coordinator_target(session, user, place)
    members = invitations.members_of(session, target)
    sent = invitations.invitations_to(session, target)
    return members, sent


def invitation_for(session: Session, user: User, invitation_id: int) -> Invitation:
    """An invitation to a school, an employer or a coordinator's role the user reaches, or NotFound."""
    invitation = session.get(Invitation, invitation_id)
    place = municipality_of(user)
    reached = invitation is not None and (
        place is None
        or (invitation.school is not None and invitation.school.municipality_id == place)
        or (invitation.employer is not None and invitation.employer.municipality_id == place)
        or (invitation.role is Role.COORDINATOR and invitation.municipality_id == place)
    )
    if invitation is None or not reached:
        raise NotFound(f"invitation {invitation_id}: not found")
    return invitation


def remove_school_member(session: Session, user: User, school_id: int, member_id: int) -> None:
    """Take a person off a school the coordinator reaches; their sessions end."""
    school_for(session, user, school_id)
    membership = session.scalar(
        select(SchoolMembership).where(SchoolMembership.school_id == school_id, SchoolMembership.user_id == member_id)
    )
    if membership is None:
        raise NotFound(f"school {school_id}: staff member {member_id} not found")
    invitations.remove_school_member(session, membership, actor=audit.Actor.of(user))


def remove_employer_member(session: Session, user: User, employer_id: int, member_id: int) -> None:
    """Take a contact off an employer the coordinator reaches; their sessions end."""
    employer_for(session, user, employer_id)
    membership = session.scalar(
        select(EmployerMembership).where(
            EmployerMembership.employer_id == employer_id, EmployerMembership.user_id == member_id
        )
    )
    if membership is None:
        raise NotFound(f"employer {employer_id}: contact {member_id} not found")
    invitations.remove_employer_member(session, membership, actor=audit.Actor.of(user))


def remove_coordinator(session: Session, user: User, member_id: int) -> User:
    """End a coordinator's access (their account is deactivated, their sessions end).  Nobody removes themselves.

    A municipality's coordinator removes only coordinators of its own municipality.
    """
    member = session.get(User, member_id)
    place = municipality_of(user)
    if member is None or member.role is not Role.COORDINATOR or (place is not None and member.municipality_id != place):
        raise NotFound(f"coordinator {member_id}: not found")
    if member.id == user.id:
        raise Conflict(f"coordinator {member_id}: you cannot remove yourself; ask another coordinator")
    member.active = False
    accounts.end_sessions(member)
    session.flush()
    audit.record(session, audit.Actor.of(user), "coordinator.remove", "user", member.id)
    return member
