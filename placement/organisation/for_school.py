"""What school staff may see in the organisation: their own schools and those schools' classes.

A school, class or pupil that is not one of the user's schools' is
:class:`NotFound`, never a permission error, so that ids cannot be probed:
another school's records are not even shown to exist."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from placement.errors import NotFound
from placement.models import (
    School,
    SchoolClass,
    SchoolMembership,
    User,
)

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
