"""The season's calendar: periods, classes' periods and preference windows."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.enums import AssignmentStatus
from placement.errors import Conflict, ValidationError
from placement.organisation import season
from tests import factories as f

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOV_2 = dt.date(2026, 11, 2)
NOV_13 = dt.date(2026, 11, 13)


def events(session: Session, action: str) -> list[m.AuditEvent]:
    return list(session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action).order_by(m.AuditEvent.id)))


def period(session: Session, **kw: Any) -> m.Period:
    args: dict[str, Any] = {"code": "v45", "name": "Vecka 45-46", "start_date": NOV_2, "end_date": NOV_13}
    args.update(kw)
    return season.create_period(session, actor=audit.CLI, **args)


def window(session: Session, **kw: Any) -> m.PreferenceWindow:
    args: dict[str, Any] = {
        "name": "Höstens val",
        "opens_at": dt.datetime(2026, 9, 14, 8, 0, tzinfo=STOCKHOLM),
        "closes_at": dt.datetime(2026, 10, 2, 23, 59, tzinfo=STOCKHOLM),
    }
    args.update(kw)
    return season.create_preference_window(session, actor=audit.CLI, **args)


# --- periods --------------------------------------------------------------------------------------------------------


def test_creating_a_period(db_session: Session) -> None:
    created = period(db_session, code=" v45 ")
    assert (created.code, created.start_date, created.end_date) == ("v45", NOV_2, NOV_13)
    event = events(db_session, "period.create")[0]
    assert event.entity_id == created.id
    assert event.after == {"code": "v45", "name": "Vecka 45-46", "start_date": "2026-11-02", "end_date": "2026-11-13"}


def test_a_one_day_period_is_accepted(db_session: Session) -> None:
    assert period(db_session, start_date=NOV_2, end_date=NOV_2).end_date == NOV_2


def test_end_before_start_is_refused(db_session: Session) -> None:
    with pytest.raises(ValidationError, match='period "v45": end_date 2026-11-01 is before start_date 2026-11-02'):
        period(db_session, end_date=dt.date(2026, 11, 1))
    assert db_session.scalars(select(m.Period).where(m.Period.code == "v45")).first() is None


def test_dates_must_be_dates(db_session: Session) -> None:
    with pytest.raises(ValidationError, match="start_date must be a date"):
        period(db_session, start_date=dt.datetime(2026, 11, 2, tzinfo=dt.UTC))


def test_duplicate_period_code_is_a_conflict(db_session: Session) -> None:
    period(db_session)
    with pytest.raises(Conflict, match='period "v45": the code is already used'):
        period(db_session, name="Annan")


def test_updating_a_period_checks_the_merged_dates(db_session: Session) -> None:
    created = period(db_session)
    with pytest.raises(ValidationError, match="end_date 2026-11-13 is before start_date 2026-11-16"):
        season.update_period(db_session, created, start_date=dt.date(2026, 11, 16), actor=audit.CLI)
    season.update_period(
        db_session, created, start_date=dt.date(2026, 11, 16), end_date=dt.date(2026, 11, 27), actor=audit.CLI
    )
    event = events(db_session, "period.update")[0]
    assert event.before == {"start_date": "2026-11-02", "end_date": "2026-11-13"}
    assert event.after == {"start_date": "2026-11-16", "end_date": "2026-11-27"}


def test_updating_a_period_to_a_taken_code_is_a_conflict(db_session: Session) -> None:
    period(db_session)
    other = period(db_session, code="v07")
    with pytest.raises(Conflict, match="already used"):
        season.update_period(db_session, other, code="v45", actor=audit.CLI)
    season.update_period(db_session, other, code="v07", name="Vecka 7", actor=audit.CLI)  # its own code is fine
    with pytest.raises(ValidationError, match="cannot change id"):
        season.update_period(db_session, other, id=1, actor=audit.CLI)


# --- classes --------------------------------------------------------------------------------------------------------


def test_setting_a_class_period_is_audited(db_session: Session) -> None:
    school_class = f.school_class(db_session)
    autumn = period(db_session)
    season.set_class_period(db_session, school_class, autumn, actor=audit.CLI)
    assert school_class.period is autumn
    season.set_class_period(db_session, school_class, None, actor=audit.CLI)
    assert school_class.period_id is None
    assert [(e.before, e.after) for e in events(db_session, "school_class.set_period")] == [
        ({"period": None}, {"period": "v45"}),
        ({"period": "v45"}, {"period": None}),
    ]


def test_a_class_with_placements_in_force_keeps_its_period(db_session: Session) -> None:
    autumn, spring = period(db_session), period(db_session, code="v07", start_date=NOV_13, end_date=NOV_13)
    school_class = f.school_class(db_session, period=autumn)
    pupil = f.pupil(db_session, school_class=school_class)
    db_session.add(
        m.Assignment(
            round=m.AllocationRound(name="r"),
            pupil=pupil,
            offer=f.offer(db_session, places={autumn: 1}),
            period=autumn,
            status=AssignmentStatus.CONFIRMED,
        )
    )
    db_session.flush()
    with pytest.raises(Conflict, match="1 pupils hold placements in force in period v45"):
        season.set_class_period(db_session, school_class, spring, actor=audit.CLI)
    assert school_class.period is autumn


# --- preference windows ---------------------------------------------------------------------------------------------


def test_window_times_are_stored_in_utc(db_session: Session) -> None:
    created = window(db_session, max_choices=5)
    db_session.expire(created)
    assert created.opens_at == dt.datetime(2026, 9, 14, 6, 0, tzinfo=dt.UTC)
    assert created.opens_at.utcoffset() == dt.timedelta(0)
    assert created.max_choices == 5
    event = events(db_session, "preference_window.create")[0]
    assert event.after is not None
    assert event.after["opens_at"] == "2026-09-14T06:00:00+00:00"


def test_naive_window_times_are_refused(db_session: Session) -> None:
    with pytest.raises(ValidationError, match="opens_at must be a timezone-aware"):
        window(db_session, opens_at=dt.datetime(2026, 9, 14, 8, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    "closes_at", [dt.datetime(2026, 9, 14, 6, 0, tzinfo=dt.UTC), dt.datetime(2026, 9, 1, tzinfo=dt.UTC)]
)
def test_window_must_close_after_it_opens(db_session: Session, closes_at: dt.datetime) -> None:
    with pytest.raises(ValidationError, match="closes_at must be after opens_at"):
        window(db_session, closes_at=closes_at)


@pytest.mark.parametrize("max_choices", [0, 21, True, 2.5])
def test_max_choices_is_within_1_to_20(db_session: Session, max_choices: Any) -> None:
    with pytest.raises(ValidationError, match=r"max_choices must be a whole number 1\.\.20"):
        window(db_session, max_choices=max_choices)


def test_updating_a_window(db_session: Session) -> None:
    created = window(db_session)
    later = dt.datetime(2026, 10, 9, 22, 0, tzinfo=dt.UTC)
    season.update_preference_window(db_session, created, closes_at=later, max_choices=10, actor=audit.CLI)
    assert (created.closes_at, created.max_choices) == (later, 10)
    event = events(db_session, "preference_window.update")[0]
    assert event.before == {"closes_at": "2026-10-02T21:59:00+00:00", "max_choices": 8}
    assert event.after == {"closes_at": "2026-10-09T22:00:00+00:00", "max_choices": 10}
    with pytest.raises(ValidationError, match="closes_at must be after opens_at"):
        season.update_preference_window(db_session, created, opens_at=later, actor=audit.CLI)
    with pytest.raises(ValidationError, match="cannot change id"):
        season.update_preference_window(db_session, created, id=3, actor=audit.CLI)


def test_the_same_instant_in_another_zone_is_no_change(db_session: Session) -> None:
    created = window(db_session)
    same = dt.datetime(2026, 9, 14, 6, 0, tzinfo=dt.UTC)
    season.update_preference_window(db_session, created, opens_at=same, actor=audit.CLI)
    assert events(db_session, "preference_window.update") == []


def test_current_window(db_session: Session) -> None:
    autumn = window(db_session)
    spring = window(
        db_session,
        name="Vårens val",
        opens_at=dt.datetime(2027, 1, 11, 8, 0, tzinfo=STOCKHOLM),
        closes_at=dt.datetime(2027, 1, 22, 16, 0, tzinfo=STOCKHOLM),
    )
    assert season.current_window(db_session, dt.datetime(2026, 9, 20, tzinfo=dt.UTC)) == autumn
    assert season.current_window(db_session, autumn.opens_at) == autumn
    assert season.current_window(db_session, autumn.closes_at) is None  # closes_at is exclusive
    assert season.current_window(db_session, dt.datetime(2026, 12, 1, tzinfo=dt.UTC)) is None
    assert season.current_window(db_session, dt.datetime(2027, 1, 15, 12, 0, tzinfo=STOCKHOLM)) == spring


def test_of_overlapping_windows_the_latest_opened_is_current(db_session: Session) -> None:
    window(db_session)
    extra = window(db_session, name="Extra", opens_at=dt.datetime(2026, 9, 20, tzinfo=dt.UTC))
    assert season.current_window(db_session, dt.datetime(2026, 9, 25, tzinfo=dt.UTC)) == extra


def test_class_periods_of_a_school_are_set_together_or_not_at_all(db_session: Session) -> None:
    autumn, spring = f.period(db_session, code="h1"), f.period(db_session, code="v1", start_date=dt.date(2027, 3, 8))
    school = f.school(db_session)
    first, second, untouched = (f.school_class(db_session, school=school, period=autumn) for _ in range(3))
    with pytest.raises(ValidationError, match=f"class {second.name}"):
        season.set_class_periods(db_session, school, {first.id: str(spring.id), second.id: "999999"}, actor=audit.CLI)
    assert (first.period, second.period) == (autumn, autumn)  # nothing changed
    changed = season.set_class_periods(
        db_session, school, {first.id: str(spring.id), second.id: "", untouched.id: str(autumn.id)}, actor=audit.CLI
    )
    assert changed == 2
    assert (first.period, second.period, untouched.period) == (spring, None, autumn)
    assert [p.code for p in season.periods(db_session)] == ["h1", "v1"]
