"""What the coordinator looks at before a round: pupils, places, demand, and what is missing.

The overview answers the questions coordinators ask employers about before
the round: which sectors and weeks have more first choices than places, which
schools still have pupils without choices, which offers nobody chose, and
which offers cannot be used yet because their risk assessment for minors is
not confirmed.  Every figure is one aggregate query.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from placement.enums import EmployerStatus, OfferKind, OfferStatus, Sector
from placement.models import (
    Employer,
    Municipality,
    Offer,
    OfferCapacity,
    Period,
    Preference,
    Pupil,
    School,
    SchoolClass,
)

NO_PERIOD = "–"


@dataclasses.dataclass(frozen=True)
class SchoolRow:
    code: str
    name: str
    municipality: str
    counts: dict[str, int]
    """Pupils per period code (``NO_PERIOD`` for classes without a period)."""
    total: int


@dataclasses.dataclass(frozen=True)
class PupilTable:
    periods: list[str]
    """Period codes in date order, then ``NO_PERIOD`` when some class has none."""
    rows: list[SchoolRow]
    totals: dict[str, int]
    total: int


@dataclasses.dataclass(frozen=True)
class SectorPeriod:
    sector: Sector
    period: str
    places: int
    first_choices: int
    choices: int

    @property
    def oversubscribed(self) -> bool:
        return self.first_choices > self.places

    @property
    def ratio(self) -> float | None:
        """First choices per place; None when there are no places."""
        return self.first_choices / self.places if self.places else None


@dataclasses.dataclass(frozen=True)
class OfferLine:
    code: str
    employer: str
    title: str
    sector: Sector
    places: int


@dataclasses.dataclass(frozen=True)
class PlanningOverview:
    pupils: PupilTable
    demand: list[SectorPeriod]
    without_preferences_by_code: dict[str, int]
    unchosen: list[OfferLine]
    without_risk_assessment: list[OfferLine]

    @property
    def total_places(self) -> int:
        return sum(row.places for row in self.demand)

    @property
    def without_preferences_total(self) -> int:
        return sum(self.without_preferences_by_code.values())

    @property
    def sectors(self) -> list[Sector]:
        return list(Sector)

    @property
    def max_bar(self) -> int:
        return max((max(row.places, row.first_choices) for row in self.demand), default=0)

    def oversubscribed(self) -> list[SectorPeriod]:
        """Sector-weeks with more first choices than places, the worst first."""
        return sorted(
            (row for row in self.demand if row.oversubscribed),
            key=lambda row: (row.places - row.first_choices, row.sector.value, row.period),
        )


def usable_offer() -> ColumnElement[bool]:
    """Offers pupils can get: active catalogue offers of approved employers with a confirmed risk assessment."""
    return (
        (Offer.kind == OfferKind.CATALOGUE)
        & (Offer.status == OfferStatus.ACTIVE)
        & (Offer.risk_assessment_confirmed_at.is_not(None))
        & Offer.employer_id.in_(select(Employer.id).where(Employer.status == EmployerStatus.APPROVED))
    )


def pupils_per_school_and_period(session: Session) -> PupilTable:
    periods = [code for (code,) in session.execute(select(Period.code).order_by(Period.start_date, Period.code))]
    counts = session.execute(
        select(School.code, School.name, Municipality.name, Period.code, func.count(Pupil.id))
        .join(Municipality, School.municipality_id == Municipality.id)
        .join(Pupil, Pupil.school_id == School.id)
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .outerjoin(Period, SchoolClass.period_id == Period.id)
        .group_by(School.code, School.name, Municipality.name, Period.code)
    ).all()
    by_school: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for code, name, municipality, period, n in counts:
        by_school[(code, name, municipality)][period or NO_PERIOD] = int(n)
    rows = [
        SchoolRow(code, name, municipality, per, sum(per.values()))
        for (code, name, municipality), per in sorted(by_school.items(), key=lambda item: (item[0][1], item[0][0]))
    ]
    if any(NO_PERIOD in row.counts for row in rows):
        periods.append(NO_PERIOD)
    totals = {p: sum(row.counts.get(p, 0) for row in rows) for p in periods}
    return PupilTable(periods, rows, totals, sum(row.total for row in rows))


def supply_and_demand(session: Session) -> list[SectorPeriod]:
    """Places, first choices and all choices per sector and period (every sector, every period)."""
    periods = [code for (code,) in session.execute(select(Period.code).order_by(Period.start_date, Period.code))]
    places = {
        (Sector(sector), period): int(n or 0)
        for sector, period, n in session.execute(
            select(Offer.sector, Period.code, func.sum(OfferCapacity.places))
            .join(OfferCapacity, OfferCapacity.offer_id == Offer.id)
            .join(Period, OfferCapacity.period_id == Period.id)
            .where(usable_offer())
            .group_by(Offer.sector, Period.code)
        )
    }
    demand = (
        select(Offer.sector, Period.code, Preference.rank)
        .join(Preference, Preference.offer_id == Offer.id)
        .join(Pupil, Preference.pupil_id == Pupil.id)
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .join(Period, SchoolClass.period_id == Period.id)
        .subquery()
    )
    first: dict[tuple[Sector, str], int] = {}
    every: dict[tuple[Sector, str], int] = {}
    for sector, period, n_first, n_all in session.execute(
        select(
            demand.c.sector,
            demand.c.code,
            func.sum(case((demand.c.rank == 1, 1), else_=0)),
            func.count(),
        ).group_by(demand.c.sector, demand.c.code)
    ):
        first[(Sector(sector), period)] = int(n_first or 0)
        every[(Sector(sector), period)] = int(n_all or 0)
    return [
        SectorPeriod(
            sector,
            period,
            places.get((sector, period), 0),
            first.get((sector, period), 0),
            every.get((sector, period), 0),
        )
        for period in periods
        for sector in Sector
    ]


def pupils_without_preferences_by_school(session: Session) -> dict[str, int]:
    """School code -> pupils in a class with a period who have neither choices nor a self-arranged placement."""
    return {
        code: int(n)
        for code, n in session.execute(
            select(School.code, func.count(Pupil.id))
            .join(Pupil, Pupil.school_id == School.id)
            .join(SchoolClass, Pupil.class_id == SchoolClass.id)
            .where(
                SchoolClass.period_id.is_not(None),
                Pupil.self_arranged_offer_id.is_(None),
                ~Pupil.id.in_(select(Preference.pupil_id)),
            )
            .group_by(School.code)
        )
    }


def _offer_lines(session: Session, condition: ColumnElement[bool]) -> list[OfferLine]:
    places = (
        select(OfferCapacity.offer_id, func.sum(OfferCapacity.places).label("places"))
        .group_by(OfferCapacity.offer_id)
        .subquery()
    )
    return [
        OfferLine(code, employer, title, Sector(sector), int(n or 0))
        for code, employer, title, sector, n in session.execute(
            select(Offer.code, Employer.name, Offer.title, Offer.sector, places.c.places)
            .join(Employer, Offer.employer_id == Employer.id)
            .outerjoin(places, places.c.offer_id == Offer.id)
            .where(condition)
            .order_by(Employer.name, Offer.code)
        )
    ]


def unchosen_offers(session: Session) -> list[OfferLine]:
    """Offers pupils can get that no pupil ranked."""
    return _offer_lines(session, usable_offer() & ~Offer.id.in_(select(Preference.offer_id)))


def offers_without_risk_assessment(session: Session) -> list[OfferLine]:
    """Active catalogue offers of approved or pending employers whose risk assessment is not confirmed."""
    return _offer_lines(
        session,
        (Offer.kind == OfferKind.CATALOGUE)
        & (Offer.status == OfferStatus.ACTIVE)
        & Offer.risk_assessment_confirmed_at.is_(None)
        & Offer.employer_id.in_(
            select(Employer.id).where(Employer.status.in_((EmployerStatus.APPROVED, EmployerStatus.PENDING)))
        ),
    )


def planning_overview(session: Session) -> PlanningOverview:
    return PlanningOverview(
        pupils=pupils_per_school_and_period(session),
        demand=supply_and_demand(session),
        without_preferences_by_code=pupils_without_preferences_by_school(session),
        unchosen=unchosen_offers(session),
        without_risk_assessment=offers_without_risk_assessment(session),
    )
