"""Who can be mailed: active accounts with an e-mail address, by role and organisation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from placement.enums import Role
from placement.models import EmployerMembership, SchoolMembership, User


def reachable(role: Role) -> tuple[ColumnElement[bool], ...]:
    """Conditions on :class:`User` for people with ``role`` who can be mailed."""
    return (User.role == role, User.active.is_(True), User.email.is_not(None))


def _members(session: Session, organisation: Any, role: Role, ids: Iterable[int]) -> dict[int, list[User]]:
    wanted = list(set(ids))
    members: dict[int, list[User]] = defaultdict(list)
    if not wanted:
        return members
    membership = organisation.class_
    rows = session.execute(
        select(organisation, User)
        .join(User, membership.user_id == User.id)
        .where(organisation.in_(wanted), *reachable(role))
        .order_by(User.id)
    )
    for organisation_id, user in rows:
        members[organisation_id].append(user)
    return members


def school_staff(session: Session, school_ids: Iterable[int]) -> dict[int, list[User]]:
    """Active staff with an e-mail address, per school."""
    return _members(session, SchoolMembership.school_id, Role.SCHOOL_STAFF, school_ids)


def employer_contacts(session: Session, employer_ids: Iterable[int]) -> dict[int, list[User]]:
    """Active contacts with an e-mail address, per employer."""
    return _members(session, EmployerMembership.employer_id, Role.EMPLOYER_CONTACT, employer_ids)


def coordinators(session: Session, municipality_id: int | None = None) -> list[User]:
    """The coordinators who reach a record of ``municipality_id``: the region's, and that municipality's own.

    ``None`` (a region-wide matter) is the region's coordinators alone.
    """
    scope: ColumnElement[bool] = User.municipality_id.is_(None)
    if municipality_id is not None:
        scope = scope | (User.municipality_id == municipality_id)
    return list(session.scalars(select(User).where(*reachable(Role.COORDINATOR), scope).order_by(User.id)))
