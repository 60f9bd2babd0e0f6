"""The coordinator's overview before a round: pupils, places, demand, and what is missing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import models as m
from placement.demo import load_demo_region
from placement.employers import offers
from placement.enums import EmployerStatus, OfferKind, OfferStatus, Sector
from placement.reports import planning
from tests import factories as f

CONFIRMED = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


def test_an_empty_region_has_zeros(db_session: Session) -> None:
    overview = planning.planning_overview(db_session)
    assert overview.pupils.total == 0
    assert overview.total_places == 0
    assert overview.unchosen == []
    assert overview.without_preferences_total == 0


def test_pupils_per_school_and_period_count_classes_without_a_period(db_session: Session) -> None:
    w45 = f.period(db_session, code="w45", start_date=dt.date(2026, 11, 2))
    w07 = f.period(db_session, code="w07", start_date=dt.date(2027, 2, 15))
    school = f.school(db_session, code="S01", name="Ängskolan")
    for period, n in ((w45, 3), (w07, 2), (None, 1)):
        klass = f.school_class(db_session, school=school, period=period)
        for _ in range(n):
            f.pupil(db_session, school_class=klass)
    table = planning.pupils_per_school_and_period(db_session)
    assert table.periods == ["w45", "w07", planning.NO_PERIOD]
    (row,) = table.rows
    assert row.counts == {"w45": 3, "w07": 2, planning.NO_PERIOD: 1}
    assert row.total == table.total == 6


def test_demand_against_supply_per_sector_and_week(db_session: Session) -> None:
    w45 = f.period(db_session, code="w45", start_date=dt.date(2026, 11, 2))
    w07 = f.period(db_session, code="w07", start_date=dt.date(2027, 2, 15))
    health = f.offer(db_session, sector=Sector.HEALTH, places={w45: 1, w07: 5}, risk_assessment_confirmed_at=CONFIRMED)
    it = f.offer(db_session, sector=Sector.IT, places={w45: 4}, risk_assessment_confirmed_at=CONFIRMED)
    # None of these count as supply.
    f.offer(db_session, sector=Sector.HEALTH, places={w45: 9})  # no risk assessment
    f.offer(
        db_session,
        sector=Sector.HEALTH,
        places={w45: 9},
        risk_assessment_confirmed_at=CONFIRMED,
        employer=f.employer(db_session, status=EmployerStatus.PENDING),
    )
    f.offer(
        db_session,
        sector=Sector.HEALTH,
        places={w45: 9},
        risk_assessment_confirmed_at=CONFIRMED,
        status=OfferStatus.WITHDRAWN,
    )
    f.offer(
        db_session,
        sector=Sector.HEALTH,
        places={w45: 9},
        risk_assessment_confirmed_at=CONFIRMED,
        kind=OfferKind.SELF_ARRANGED,
    )
    klass = f.school_class(db_session, period=w45)
    for first in (health, health, health, it):
        pupil = f.pupil(db_session, school_class=klass)
        db_session.add(m.Preference(pupil=pupil, offer=first, rank=1))
        db_session.add(m.Preference(pupil=pupil, offer=it if first is health else health, rank=2))
    db_session.flush()

    rows = {(r.sector, r.period): r for r in planning.supply_and_demand(db_session)}
    assert len(rows) == len(Sector) * 2
    health_w45 = rows[(Sector.HEALTH, "w45")]
    assert (health_w45.places, health_w45.first_choices, health_w45.choices) == (1, 3, 4)
    assert health_w45.oversubscribed
    assert health_w45.ratio == 3.0
    assert not rows[(Sector.HEALTH, "w07")].oversubscribed  # five places, no pupils that week
    assert (rows[(Sector.IT, "w45")].places, rows[(Sector.IT, "w45")].first_choices) == (4, 1)
    assert rows[(Sector.BEAUTY, "w45")].ratio is None
    overview = planning.planning_overview(db_session)
    assert overview.oversubscribed() == [health_w45]


def test_unchosen_offers_and_missing_risk_assessments(db_session: Session) -> None:
    w45 = f.period(db_session, code="w45", start_date=dt.date(2026, 11, 2))
    chosen = f.offer(db_session, places={w45: 2}, risk_assessment_confirmed_at=CONFIRMED)
    lonely = f.offer(db_session, places={w45: 2}, risk_assessment_confirmed_at=CONFIRMED)
    unassessed = f.offer(db_session, places={w45: 3})
    pupil = f.pupil(db_session, school_class=f.school_class(db_session, period=w45))
    db_session.add(m.Preference(pupil=pupil, offer=chosen, rank=1))
    db_session.flush()
    assert [o.code for o in planning.unchosen_offers(db_session)] == [lonely.code]
    missing = planning.offers_without_risk_assessment(db_session)
    assert [(o.code, o.places) for o in missing] == [(unassessed.code, 3)]


def test_pupils_without_preferences_leave_out_self_arranged_placements(db_session: Session) -> None:
    w45 = f.period(db_session, code="w45", start_date=dt.date(2026, 11, 2))
    school = f.school(db_session, code="S07")
    klass = f.school_class(db_session, school=school, period=w45)
    offer = f.offer(db_session, places={w45: 1}, risk_assessment_confirmed_at=CONFIRMED)
    f.pupil(db_session, school_class=klass)  # no choices
    f.pupil(db_session, school_class=klass, self_arranged_offer=offer)  # has a place of their own
    ranked = f.pupil(db_session, school_class=klass)
    db_session.add(m.Preference(pupil=ranked, offer=offer, rank=1))
    f.pupil(db_session, school_class=f.school_class(db_session, school=school, period=None))  # no period yet
    db_session.flush()
    assert [(s.code, s.without_preferences) for s in planning.pupils_without_preferences_by_school(db_session)] == [
        ("S07", 1)
    ]


def test_the_demo_region_overview_agrees_with_plain_counts(db_session: Session) -> None:
    load_demo_region(db_session)
    overview = planning.planning_overview(db_session)
    assert overview.pupils.total == db_session.scalar(select(func.count(m.Pupil.id)))
    visible_places = db_session.scalar(
        select(func.sum(m.OfferCapacity.places)).join(m.Offer).where(offers.pupil_facing())
    )
    assert overview.total_places == visible_places
    assert overview.oversubscribed(), "the demo region's popular sectors are oversubscribed somewhere"
