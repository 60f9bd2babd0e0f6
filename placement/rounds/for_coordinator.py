"""What a coordinator may see and act on among rounds: the region's, or one municipality's.

A coordinator of the region reaches every round and pupil.  A coordinator of
one municipality reaches the rounds of that municipality (a round it creates
is one) and its schools' pupils; a region-wide round, another municipality's
round or pupil is :class:`NotFound`, so that ids cannot be probed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from placement.errors import NotFound
from placement.models import AllocationRound, Pupil, School, User
from placement.organisation.for_coordinator import municipality_of


def rounds(session: Session, user: User) -> list[AllocationRound]:
    """The rounds the coordinator reaches, newest first."""
    query = select(AllocationRound).order_by(AllocationRound.created_at.desc(), AllocationRound.id.desc())
    place = municipality_of(user)
    if place is not None:
        query = query.where(AllocationRound.municipality_id == place)
    return list(session.scalars(query))


def round_for(session: Session, user: User, round_id: int) -> AllocationRound:
    """A round the coordinator reaches, or NotFound."""
    found = session.get(AllocationRound, round_id)
    place = municipality_of(user)
    if found is None or (place is not None and found.municipality_id != place):
        raise NotFound(f"allocation round {round_id} does not exist")
    return found


def pupil_for(session: Session, user: User, pupil_id: int) -> Pupil:
    """A pupil of a school the coordinator reaches, or NotFound."""
    place = municipality_of(user)
    query = select(Pupil).where(Pupil.id == pupil_id)
    if place is not None:
        query = query.join(School, Pupil.school_id == School.id).where(School.municipality_id == place)
    found = session.scalar(query)
    if found is None:
        raise NotFound(f"pupil {pupil_id} does not exist")
    return found
