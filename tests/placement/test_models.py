"""The invariants that live in the database as named constraints."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from placement import models as m
from placement.db import violated_constraint
from placement.enums import AssignmentStatus
from tests import factories as f


def _fails_with(session: Session, constraint: str) -> None:
    with pytest.raises(IntegrityError) as info:
        session.flush()
    assert violated_constraint(info.value) == constraint
    session.rollback()


def test_one_rank_per_pupil_and_position(db_session: Session) -> None:
    p = f.pupil(db_session)
    a, b = f.offer(db_session), f.offer(db_session)
    db_session.add_all([m.Preference(pupil=p, offer=a, rank=1), m.Preference(pupil=p, offer=b, rank=1)])
    _fails_with(db_session, "uq_preference_pupil_id_rank")


def test_no_offer_ranked_twice_by_one_pupil(db_session: Session) -> None:
    p = f.pupil(db_session)
    a = f.offer(db_session)
    db_session.add_all([m.Preference(pupil=p, offer=a, rank=1), m.Preference(pupil=p, offer=a, rank=2)])
    _fails_with(db_session, "uq_preference_pupil_id_offer_id")


def test_places_never_negative(db_session: Session) -> None:
    w = f.period(db_session)
    db_session.add(m.OfferCapacity(offer=f.offer(db_session), period=w, places=-1))
    _fails_with(db_session, "ck_offer_capacity_places_not_negative")


def test_at_most_one_active_assignment_per_pupil_and_period(db_session: Session) -> None:
    w = f.period(db_session)
    p = f.pupil(db_session)
    o1, o2 = f.offer(db_session, places={w: 1}), f.offer(db_session, places={w: 1})
    r1, r2 = m.AllocationRound(name="A"), m.AllocationRound(name="B")
    db_session.add_all([r1, r2])
    db_session.add(m.Assignment(round=r1, pupil=p, offer=o1, period=w, status=AssignmentStatus.CONFIRMED))
    db_session.flush()
    # A proposal in another round may coexist with the assignment in force ...
    proposal = m.Assignment(round=r2, pupil=p, offer=o2, period=w, status=AssignmentStatus.PROPOSED)
    db_session.add(proposal)
    db_session.flush()
    # ... but it cannot be put in force next to it.
    proposal.status = AssignmentStatus.PUBLISHED
    _fails_with(db_session, "uq_assignment_active_pupil_period")


def test_foreign_keys_are_enforced(db_session: Session) -> None:
    db_session.add(m.Preference(pupil_id=999_999, offer_id=999_999, rank=1))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_audit_log_is_append_only(db_session: Session) -> None:
    event = m.AuditEvent(actor="cli", action="test", entity_type="pupil", entity_id=1)
    db_session.add(event)
    db_session.flush()
    with pytest.raises(DBAPIError) as info:
        db_session.execute(text("UPDATE audit_event SET action = 'forged' WHERE id = :id"), {"id": event.id})
    assert "append-only" in str(info.value)


def test_enum_values_are_checked_by_the_database(db_session: Session) -> None:
    p = f.pupil(db_session)
    with pytest.raises(IntegrityError):
        db_session.execute(text("UPDATE pupil SET gender = 'robot' WHERE id = :id"), {"id": p.id})


def test_naive_datetimes_are_refused(db_session: Session) -> None:
    db_session.add(m.PreferenceWindow(name="x", opens_at=dt.datetime(2026, 1, 1), closes_at=dt.datetime(2026, 2, 1)))  # noqa: DTZ001
    with pytest.raises(Exception, match="naive datetime"):
        db_session.flush()


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        ((2012, 5), dt.date(2026, 11, 2), 14),
        ((2012, 11), dt.date(2026, 11, 2), 13),
        ((2012, 12), dt.date(2027, 1, 10), 14),
    ],
)
def test_age_counts_the_birthday_month_conservatively(birth: tuple[int, int], day: dt.date, age: int) -> None:
    assert m.Pupil(birth_year=birth[0], birth_month=birth[1]).age_on(day) == age
