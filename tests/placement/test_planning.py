"""The coordinator's planning overview: the figures taken to employers before a round."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from placement import models as m
from placement.cohorts.preferences import pupils_without_preferences
from placement.demo import load_demo_region
from placement.employers.offers import visible_offers
from placement.enums import EmployerStatus, OfferKind, OfferStatus, Sector
from placement.reports import planning
from tests import factories as f

CONFIRMED = f.RISK_CONFIRMED


def _weeks(session: Session) -> tuple[m.Period, m.Period]:
    """Two periods whose codes sort against their dates: v45 (November) comes before v07 (February)."""
    v07 = f.period(session, code="v07", start_date=dt.date(2027, 2, 15))
    v45 = f.period(session, code="v45", start_date=dt.date(2026, 11, 2))
    return v45, v07


def _rank(session: Session, pupil: m.Pupil, *offers: m.Offer) -> m.Pupil:
    for rank, offer in enumerate(offers, start=1):
        session.add(m.Preference(pupil=pupil, offer=offer, rank=rank))
    session.flush()
    return pupil


def _pupils(session: Session, klass: m.SchoolClass, n: int, **kw: Any) -> list[m.Pupil]:
    return [f.pupil(session, school_class=klass, **kw) for _ in range(n)]


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements run on the session's connection inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", record)


def _by_key(rows: Sequence[planning.SectorPeriod]) -> dict[tuple[Sector, str], planning.SectorPeriod]:
    return {(row.sector, row.period): row for row in rows}


# --- an empty region --------------------------------------------------------------------------------------------------


def test_an_empty_region_gives_zeros_not_errors(db_session: Session) -> None:
    overview = planning.planning_overview(db_session)
    assert overview.pupils == planning.PupilTable(periods=[], rows=[], totals={}, total=0)
    assert overview.demand == []
    assert overview.total_places == overview.max_bar == overview.without_preferences_total == 0
    assert overview.without_preferences == []
    assert overview.unchosen == overview.without_risk_assessment == []
    assert overview.oversubscribed() == []


def test_periods_without_offers_or_pupils_give_a_full_table_of_zeros(db_session: Session) -> None:
    _weeks(db_session)
    f.school(db_session, code="S01", name="Ängskolan")
    overview = planning.planning_overview(db_session)
    assert overview.pupils.periods == ["v45", "v07"]
    assert overview.pupils.totals == {"v45": 0, "v07": 0}
    assert [(row.code, row.counts, row.total) for row in overview.pupils.rows] == [("S01", {}, 0)]
    assert len(overview.demand) == len(Sector) * 2
    assert all((row.places, row.first_choices, row.choices) == (0, 0, 0) for row in overview.demand)
    assert all(row.ratio is None and not row.oversubscribed for row in overview.demand)
    assert overview.oversubscribed() == []


# --- pupils per school and period -------------------------------------------------------------------------------------


def test_pupils_per_school_and_period_with_a_no_period_column(db_session: Session) -> None:
    v45, v07 = _weeks(db_session)
    north = f.municipality(db_session, name="Kungälv")
    south = f.municipality(db_session, name="Mölndal")
    berg = f.school(db_session, code="S02", name="Bergskolan", municipality=south)
    ang = f.school(db_session, code="S01", name="Ängskolan", municipality=north)
    f.school(db_session, code="S03", name="Dalskolan", municipality=north)  # no pupils imported yet
    for school, period, n in ((ang, v45, 3), (ang, v07, 2), (ang, None, 1), (berg, v07, 4)):
        _pupils(db_session, f.school_class(db_session, school=school, period=period), n)

    table = planning.pupils_per_school_and_period(db_session)

    assert table.periods == ["v45", "v07", planning.NO_PERIOD]
    assert [(r.code, r.name, r.municipality, r.counts, r.total) for r in table.rows] == [
        ("S02", "Bergskolan", "Mölndal", {"v07": 4}, 4),
        ("S03", "Dalskolan", "Kungälv", {}, 0),
        ("S01", "Ängskolan", "Kungälv", {"v45": 3, "v07": 2, planning.NO_PERIOD: 1}, 6),
    ]
    assert table.totals == {"v45": 3, "v07": 6, planning.NO_PERIOD: 1}
    assert table.total == 10 == sum(table.totals.values())


def test_the_no_period_column_appears_only_when_needed(db_session: Session) -> None:
    v45, _ = _weeks(db_session)
    _pupils(db_session, f.school_class(db_session, period=v45), 2)
    table = planning.pupils_per_school_and_period(db_session)
    assert table.periods == ["v45", "v07"]
    assert table.totals == {"v45": 2, "v07": 0}


# --- supply and demand per sector and period --------------------------------------------------------------------------


def test_a_sector_oversubscribed_in_one_week_and_not_in_another(db_session: Session) -> None:
    v45, v07 = _weeks(db_session)
    health = f.offer(db_session, sector=Sector.HEALTH, places={v45: 1, v07: 5}, risk_assessment_confirmed_at=CONFIRMED)
    retail = f.offer(db_session, sector=Sector.RETAIL, places={v45: 4, v07: 4}, risk_assessment_confirmed_at=CONFIRMED)
    it_pending = f.offer(  # IT has no usable places: its only offer's employer is still pending
        db_session,
        sector=Sector.IT,
        places={v45: 3},
        risk_assessment_confirmed_at=CONFIRMED,
        employer=f.employer(db_session, status=EmployerStatus.PENDING),
    )
    autumn = f.school_class(db_session, period=v45)
    spring = f.school_class(db_session, period=v07)
    for _ in range(3):
        _rank(db_session, f.pupil(db_session, school_class=autumn), health, retail)
    _rank(db_session, f.pupil(db_session, school_class=autumn), retail, health, it_pending)
    _rank(db_session, f.pupil(db_session, school_class=autumn), it_pending)
    for _ in range(2):
        _rank(db_session, f.pupil(db_session, school_class=spring), health)
    # Neither counts as demand: a class without a period, and a pupil who arranged a place of their own.
    _rank(db_session, f.pupil(db_session, school_class=f.school_class(db_session, period=None)), health)
    own = f.offer(db_session, sector=Sector.HEALTH, places={v45: 1}, kind=OfferKind.SELF_ARRANGED)
    _rank(db_session, f.pupil(db_session, school_class=autumn, self_arranged_offer=own), health)

    rows = planning.supply_and_demand(db_session)

    assert [(row.sector, row.period) for row in rows] == [(s, p) for s in Sector for p in ("v45", "v07")]
    by_key = _by_key(rows)
    health_v45, health_v07 = by_key[Sector.HEALTH, "v45"], by_key[Sector.HEALTH, "v07"]
    assert (health_v45.places, health_v45.first_choices, health_v45.choices) == (1, 3, 4)
    assert health_v45.oversubscribed
    assert (health_v45.ratio, health_v45.shortfall) == (3.0, 2)
    assert (health_v07.places, health_v07.first_choices, health_v07.choices) == (5, 2, 2)
    assert not health_v07.oversubscribed
    assert (health_v07.ratio, health_v07.shortfall) == (0.4, 0)
    retail_v45 = by_key[Sector.RETAIL, "v45"]
    assert (retail_v45.places, retail_v45.first_choices, retail_v45.choices) == (4, 1, 4)
    assert not retail_v45.oversubscribed
    # Demand with no places at all: oversubscribed, and no ratio rather than infinity.
    it_v45 = by_key[Sector.IT, "v45"]
    assert (it_v45.places, it_v45.first_choices, it_v45.choices) == (0, 1, 2)
    assert it_v45.oversubscribed
    assert it_v45.ratio is None
    # Nothing at all: no ratio, not oversubscribed.
    beauty = by_key[Sector.BEAUTY, "v07"]
    assert (beauty.places, beauty.first_choices, beauty.ratio, beauty.oversubscribed) == (0, 0, None, False)

    assert planning.oversubscribed(rows) == [health_v45, it_v45]
    overview = planning.planning_overview(db_session)
    assert overview.oversubscribed() == [health_v45, it_v45]
    assert overview.total_places == 1 + 5 + 4 + 4
    assert overview.max_bar == 5


def test_oversubscribed_puts_the_largest_shortfall_first() -> None:
    def row(sector: Sector, period: str, places: int, first: int) -> planning.SectorPeriod:
        return planning.SectorPeriod(sector, period, places, first, first)

    rows = [
        row(Sector.HEALTH, "v45", 10, 12),
        row(Sector.IT, "v45", 0, 0),
        row(Sector.IT, "v07", 0, 5),
        row(Sector.RETAIL, "v45", 10, 10),
        row(Sector.SPORTS, "v45", 1, 3),
    ]
    assert [(r.sector, r.period) for r in planning.oversubscribed(rows)] == [
        (Sector.IT, "v07"),
        (Sector.HEALTH, "v45"),
        (Sector.SPORTS, "v45"),
    ]


def test_only_places_pupils_can_get_count_as_supply(db_session: Session) -> None:
    v45, v07 = _weeks(db_session)
    visible = f.offer(db_session, sector=Sector.HEALTH, places={v45: 2}, risk_assessment_confirmed_at=CONFIRMED)
    ready: dict[str, Any] = {"sector": Sector.HEALTH, "places": {v45: 7, v07: 7}}
    confirmed = {**ready, "risk_assessment_confirmed_at": CONFIRMED}
    pending = f.offer(db_session, **confirmed, employer=f.employer(db_session, status=EmployerStatus.PENDING))
    rejected = f.offer(db_session, **confirmed, employer=f.employer(db_session, status=EmployerStatus.REJECTED))
    withdrawn = f.offer(db_session, **confirmed, status=OfferStatus.WITHDRAWN)
    draft = f.offer(db_session, **confirmed, status=OfferStatus.DRAFT)
    unassessed = f.offer(db_session, **ready)
    own = f.offer(db_session, **confirmed, kind=OfferKind.SELF_ARRANGED)
    # Pupils ranking them makes no difference to supply.
    klass = f.school_class(db_session, period=v45)
    for offer in (pending, rejected, withdrawn, draft, unassessed, own):
        _rank(db_session, f.pupil(db_session, school_class=klass), offer)

    by_key = _by_key(planning.supply_and_demand(db_session))
    assert by_key[Sector.HEALTH, "v45"].places == 2
    assert by_key[Sector.HEALTH, "v07"].places == 0
    assert by_key[Sector.HEALTH, "v45"].first_choices == 6
    assert planning.planning_overview(db_session).total_places == 2
    assert [o.code for o in visible_offers(db_session)] == [visible.code]  # the rule of the pupils' catalogue


# --- offers nobody chose, offers without a risk assessment ------------------------------------------------------------


def test_unchosen_offers_are_exactly_the_visible_offers_nobody_ranked(db_session: Session) -> None:
    v45, v07 = _weeks(db_session)
    confirmed: dict[str, Any] = {"risk_assessment_confirmed_at": CONFIRMED}
    alpha = f.employer(db_session, name="Alfa Bygg AB")
    beta = f.employer(db_session, name="Beta Vård AB")
    first = f.offer(db_session, employer=alpha, places={v45: 2}, **confirmed)
    second = f.offer(db_session, employer=alpha, places={v07: 1}, **confirmed)
    lonely_beta = f.offer(db_session, employer=beta, places={v45: 2, v07: 3}, sector=Sector.HEALTH, **confirmed)
    lonely_alpha = f.offer(db_session, employer=alpha, places={v07: 1}, title="Snickare", **confirmed)
    f.offer(db_session, employer=alpha, places={v45: 0}, **confirmed)  # no places: pupils cannot see it
    f.offer(db_session, employer=alpha, places={v45: 2})  # no risk assessment
    f.offer(db_session, places={v45: 2}, status=OfferStatus.WITHDRAWN, **confirmed)
    f.offer(db_session, places={v45: 2}, employer=f.employer(db_session, status=EmployerStatus.PENDING), **confirmed)
    f.offer(db_session, places={v45: 2}, kind=OfferKind.SELF_ARRANGED, **confirmed)
    _rank(db_session, f.pupil(db_session, school_class=f.school_class(db_session, period=v45)), first)
    # A choice of second or lower rank, even by a pupil without a period, means somebody chose it.
    _rank(db_session, f.pupil(db_session, school_class=f.school_class(db_session, period=None)), first, second)

    unchosen = planning.unchosen_offers(db_session)

    assert unchosen == [
        planning.OfferLine(lonely_alpha.code, "Alfa Bygg AB", "Snickare", Sector.RETAIL, 1),
        planning.OfferLine(lonely_beta.code, "Beta Vård AB", lonely_beta.title, Sector.HEALTH, 5),
    ]
    ranked = set(db_session.scalars(select(m.Preference.offer_id)))
    assert {o.code for o in unchosen} == {o.code for o in visible_offers(db_session) if o.id not in ranked}


def test_offers_without_risk_assessment_of_approved_and_pending_employers(db_session: Session) -> None:
    v45, v07 = _weeks(db_session)
    approved = f.employer(db_session, name="Alfa AB")
    pending = f.employer(db_session, name="Beta AB", status=EmployerStatus.PENDING)
    rejected = f.employer(db_session, name="Gamma AB", status=EmployerStatus.REJECTED)
    missing_approved = f.offer(db_session, employer=approved, places={v45: 2, v07: 1})
    missing_pending = f.offer(db_session, employer=pending, places={}, sector=Sector.IT)
    assessed = f.offer(db_session, employer=approved, places={v45: 2}, risk_assessment_confirmed_at=CONFIRMED)
    f.offer(db_session, employer=rejected, places={v45: 2})
    f.offer(db_session, employer=approved, places={v45: 2}, status=OfferStatus.WITHDRAWN)
    f.offer(db_session, employer=approved, places={v45: 2}, status=OfferStatus.DRAFT)
    f.offer(db_session, employer=approved, places={v45: 1}, kind=OfferKind.SELF_ARRANGED)

    assert planning.offers_without_risk_assessment(db_session) == [
        planning.OfferLine(missing_approved.code, "Alfa AB", missing_approved.title, Sector.RETAIL, 3),
        planning.OfferLine(missing_pending.code, "Beta AB", missing_pending.title, Sector.IT, 0),
    ]
    # Pupils cannot see them, so they are not among the unchosen offers either.
    assert [o.code for o in planning.unchosen_offers(db_session)] == [assessed.code]


# --- pupils without choices -------------------------------------------------------------------------------------------


def test_pupils_without_preferences_leave_out_self_arranged_placements(db_session: Session) -> None:
    v45, v07 = _weeks(db_session)
    offer = f.offer(db_session, places={v45: 5, v07: 5}, risk_assessment_confirmed_at=CONFIRMED)
    own = f.offer(db_session, kind=OfferKind.SELF_ARRANGED, places={v45: 1})
    ang = f.school(db_session, code="S01", name="Ängskolan")
    berg = f.school(db_session, code="S02", name="Bergskolan")
    f.school(db_session, code="S03", name="Dalskolan")  # nobody without choices: not listed
    ang_8a = f.school_class(db_session, school=ang, period=v45)
    _pupils(db_session, ang_8a, 1)  # no choices
    _pupils(db_session, f.school_class(db_session, school=ang, period=None), 3)  # no period yet: not asked
    _pupils(db_session, ang_8a, 2, self_arranged_offer=own)  # a place of their own
    _rank(db_session, f.pupil(db_session, school_class=ang_8a), offer)
    berg_9b = f.school_class(db_session, school=berg, period=v07)
    _pupils(db_session, berg_9b, 3)
    _rank(db_session, f.pupil(db_session, school_class=berg_9b), offer)

    counts = planning.pupils_without_preferences_by_school(db_session)

    assert counts == [
        planning.SchoolCount("S02", "Bergskolan", berg.municipality.name, without_preferences=3, pupils=4),
        planning.SchoolCount("S01", "Ängskolan", ang.municipality.name, without_preferences=1, pupils=7),
    ]
    overview = planning.planning_overview(db_session)
    assert overview.without_preferences_total == 4
    assert overview.without_preferences_by_code == {"S02": 3, "S01": 1}


# --- the queries ------------------------------------------------------------------------------------------------------


def test_the_overview_runs_the_same_few_queries_whatever_the_size(db_session: Session) -> None:
    v45, v07 = _weeks(db_session)

    def grow(n: int) -> None:
        for _ in range(n):
            offer = f.offer(db_session, places={v45: 2, v07: 1}, risk_assessment_confirmed_at=CONFIRMED)
            f.offer(db_session, places={v45: 1})
            klass = f.school_class(db_session, period=v45)
            _rank(db_session, f.pupil(db_session, school_class=klass), offer)
            f.pupil(db_session, school_class=klass)

    grow(1)
    with _statements(db_session) as small:
        planning.planning_overview(db_session)
    grow(6)
    with _statements(db_session) as large:
        overview = planning.planning_overview(db_session)
    assert overview.pupils.total == 14
    assert len(large) == len(small) <= 10


# --- the demo region --------------------------------------------------------------------------------------------------


def test_the_demo_region_overview_agrees_with_plain_counts(db_session: Session) -> None:
    load_demo_region(db_session)

    overview = planning.planning_overview(db_session)

    pupils = db_session.scalar(select(func.count(m.Pupil.id)))
    assert pupils
    assert overview.pupils.total == pupils == sum(overview.pupils.totals.values())
    assert overview.pupils.total == sum(row.total for row in overview.pupils.rows)
    assert len(overview.pupils.rows) == db_session.scalar(select(func.count(m.School.id)))
    visible = visible_offers(db_session)
    assert overview.total_places == sum(c.places for o in visible for c in o.capacities) > 0
    periods = list(db_session.scalars(select(m.Period).order_by(m.Period.start_date)))
    assert len(overview.demand) == len(Sector) * len(periods)
    for period in periods:
        in_period = [row for row in overview.demand if row.period == period.code]
        places = sum(c.places for o in visible for c in o.capacities if c.period_id == period.id)
        assert sum(row.places for row in in_period) == places
    first_choices = db_session.scalar(
        select(func.count(m.Preference.id))
        .join(m.Pupil, m.Preference.pupil_id == m.Pupil.id)
        .join(m.SchoolClass, m.Pupil.class_id == m.SchoolClass.id)
        .where(m.Preference.rank == 1, m.SchoolClass.period_id.is_not(None), m.Pupil.self_arranged_offer_id.is_(None))
    )
    assert sum(row.first_choices for row in overview.demand) == first_choices
    waiting = [
        p
        for p in pupils_without_preferences(db_session)
        if p.school_class.period_id is not None and p.self_arranged_offer_id is None
    ]
    assert overview.without_preferences_total == len(waiting) > 0
    ranked = set(db_session.scalars(select(m.Preference.offer_id)))
    assert {o.code for o in overview.unchosen} == {o.code for o in visible if o.id not in ranked}
    assert overview.oversubscribed(), "the demo region's popular sectors are oversubscribed somewhere"
