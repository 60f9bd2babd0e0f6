"""What the coordinator looks at before a round: pupils, places, demand, and what is missing.

The overview answers the questions coordinators take to employers before a
round: which sectors and weeks have more first choices than places, which
schools still have pupils without choices, which offers nobody chose, and
which offers cannot be used yet because their risk assessment for minors is
not confirmed.

Places count only where pupils can get them: the rule of
:func:`placement.employers.offers.visible_offers` (an ACTIVE catalogue offer
of an APPROVED employer with a confirmed risk assessment), as
:func:`placement.employers.offers.pupil_facing`.  Demand counts the preferences of pupils whose class
has a period and who have no self-arranged placement (those pupils are
locked in every round, so their choices take no place).

Each function runs a fixed number of aggregate queries, whatever the size of
the region; rows are sorted in Python so that SQLite and PostgreSQL agree
whatever their collations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlalchemy.orm import Session

from placement.employers import offers
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

#: The column of pupils whose class has no placement period yet.
NO_PERIOD = "–"


@dataclasses.dataclass(frozen=True)
class SchoolRow:
    """One school's pupils per period."""

    code: str
    name: str
    municipality: str
    #: Pupils per period code (``NO_PERIOD`` for classes without one); periods without pupils are absent.
    counts: dict[str, int]
    total: int


@dataclasses.dataclass(frozen=True)
class PupilTable:
    """Pupils per school and period, with column totals."""

    #: Period codes by start date, then ``NO_PERIOD`` when some pupil's class has no period.
    periods: list[str]
    #: Every school, pupils or not, by name then code.
    rows: list[SchoolRow]
    #: Pupils per entry of ``periods``.
    totals: dict[str, int]
    total: int


@dataclasses.dataclass(frozen=True)
class SectorPeriod:
    """Places against demand for one sector in one period."""

    sector: Sector
    #: The period's code.
    period: str
    #: Places pupils can get (see :func:`placement.employers.offers.pupil_facing`).
    places: int
    #: Pupils of the period whose first choice is in this sector.
    first_choices: int
    #: Choices of any rank of those pupils for this sector.
    choices: int

    @property
    def oversubscribed(self) -> bool:
        """More first choices than places (also when there are no places at all)."""
        return self.first_choices > self.places

    @property
    def ratio(self) -> float | None:
        """First choices per place; None when there are no places."""
        return self.first_choices / self.places if self.places else None

    @property
    def shortfall(self) -> int:
        """How many more places the first choices alone would need."""
        return max(self.first_choices - self.places, 0)


@dataclasses.dataclass(frozen=True)
class SchoolCount:
    """Pupils of one school still without choices."""

    code: str
    name: str
    municipality: str
    #: Pupils in a class with a period who have neither choices nor a self-arranged placement.
    without_preferences: int
    #: All pupils of the school.
    pupils: int


@dataclasses.dataclass(frozen=True)
class OfferLine:
    """One offer in a list for the coordinator."""

    code: str
    employer: str
    title: str
    sector: Sector
    #: Places over all periods.
    places: int


@dataclasses.dataclass(frozen=True)
class PlanningOverview:
    """Everything on the coordinator's planning page."""

    pupils: PupilTable
    #: Every sector in enum order, each with every period by start date.
    demand: list[SectorPeriod]
    #: Schools with pupils still without choices, the most first.
    without_preferences: list[SchoolCount]
    unchosen: list[OfferLine]
    without_risk_assessment: list[OfferLine]

    @property
    def total_places(self) -> int:
        return sum(row.places for row in self.demand)

    @property
    def without_preferences_total(self) -> int:
        return sum(school.without_preferences for school in self.without_preferences)

    @property
    def without_preferences_by_code(self) -> dict[str, int]:
        """School code -> pupils without choices (schools with none are absent)."""
        return {school.code: school.without_preferences for school in self.without_preferences}

    @property
    def sectors(self) -> list[Sector]:
        return list(Sector)

    @property
    def max_bar(self) -> int:
        """The largest figure of the chart: places or first choices of one sector and period."""
        return max((max(row.places, row.first_choices) for row in self.demand), default=0)

    def oversubscribed(self) -> list[SectorPeriod]:
        """Sector-periods with more first choices than places, the worst first."""
        return oversubscribed(self.demand)


def _period_codes(session: Session) -> dict[int, str]:
    """Period id -> code, in start-date order."""
    statement = select(Period.id, Period.code).order_by(Period.start_date, Period.code)
    return dict(session.execute(statement).all())


def _in(municipality_id: int | None) -> ColumnElement[bool]:
    """Schools of one municipality, or (None) of the whole region."""
    return true() if municipality_id is None else School.municipality_id == municipality_id


def pupils_per_school_and_period(session: Session, municipality_id: int | None = None) -> PupilTable:
    """Pupils per school and period; pupils of classes without a period are counted under ``NO_PERIOD``."""
    codes = _period_codes(session)
    schools: dict[tuple[str, str, str], dict[str, int]] = {}
    for school, name, municipality, period_id, n in session.execute(
        select(School.code, School.name, Municipality.name, SchoolClass.period_id, func.count(Pupil.id))
        .join(Municipality, School.municipality_id == Municipality.id)
        .outerjoin(Pupil, Pupil.school_id == School.id)
        .outerjoin(SchoolClass, Pupil.class_id == SchoolClass.id)
        .where(_in(municipality_id))
        .group_by(School.id, School.code, School.name, Municipality.name, SchoolClass.period_id)
    ):
        counts = schools.setdefault((school, name, municipality), {})
        if n:
            column = NO_PERIOD if period_id is None else codes[period_id]
            counts[column] = int(n)
    rows = sorted(
        (
            SchoolRow(code, name, municipality, counts, sum(counts.values()))
            for (code, name, municipality), counts in schools.items()
        ),
        key=lambda row: (row.name, row.code),
    )
    periods = list(codes.values())
    if any(NO_PERIOD in row.counts for row in rows):
        periods.append(NO_PERIOD)
    totals = {period: sum(row.counts.get(period, 0) for row in rows) for period in periods}
    return PupilTable(periods, rows, totals, sum(row.total for row in rows))


def supply_and_demand(session: Session, municipality_id: int | None = None) -> list[SectorPeriod]:
    """Places, first choices and all choices for every sector (enum order) and period (by start date).

    Places are the region's (every municipality's pupils may choose every
    offer); with ``municipality_id`` the choices are those of its schools' pupils.
    """
    codes = _period_codes(session)
    places: dict[tuple[Sector, int], int] = {
        (Sector(sector), period_id): int(n or 0)
        for sector, period_id, n in session.execute(
            select(Offer.sector, OfferCapacity.period_id, func.sum(OfferCapacity.places))
            .join(OfferCapacity, OfferCapacity.offer_id == Offer.id)
            .where(offers.pupil_facing())
            .group_by(Offer.sector, OfferCapacity.period_id)
        )
    }
    first: dict[tuple[Sector, int | None], int] = {}
    every: dict[tuple[Sector, int | None], int] = {}
    for sector, period_id, n_first, n_all in session.execute(
        select(
            Offer.sector,
            SchoolClass.period_id,
            func.count(case((Preference.rank == 1, Preference.id))),
            func.count(Preference.id),
        )
        .select_from(Preference)
        .join(Offer, Preference.offer_id == Offer.id)
        .join(Pupil, Preference.pupil_id == Pupil.id)
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .join(School, Pupil.school_id == School.id)
        .where(SchoolClass.period_id.is_not(None), Pupil.self_arranged_offer_id.is_(None), _in(municipality_id))
        .group_by(Offer.sector, SchoolClass.period_id)
    ):
        first[(Sector(sector), period_id)] = int(n_first)
        every[(Sector(sector), period_id)] = int(n_all)
    return [
        SectorPeriod(
            sector,
            code,
            places.get((sector, period_id), 0),
            first.get((sector, period_id), 0),
            every.get((sector, period_id), 0),
        )
        for sector in Sector
        for period_id, code in codes.items()
    ]


def oversubscribed(rows: Iterable[SectorPeriod]) -> list[SectorPeriod]:
    """The rows with more first choices than places, the largest shortfall first (ties keep their order)."""
    return sorted((row for row in rows if row.oversubscribed), key=lambda row: -row.shortfall)


def pupils_without_preferences_by_school(session: Session, municipality_id: int | None = None) -> list[SchoolCount]:
    """Schools with pupils who have a period but neither choices nor a self-arranged placement, the most first."""
    ranked = select(Preference.pupil_id).distinct().subquery()
    waiting = and_(
        SchoolClass.period_id.is_not(None),
        Pupil.self_arranged_offer_id.is_(None),
        ranked.c.pupil_id.is_(None),
    )
    n_waiting = func.count(case((waiting, Pupil.id)))
    rows = [
        SchoolCount(code, name, municipality, int(n), int(total))
        for code, name, municipality, n, total in session.execute(
            select(School.code, School.name, Municipality.name, n_waiting, func.count(Pupil.id))
            .join(Municipality, School.municipality_id == Municipality.id)
            .join(Pupil, Pupil.school_id == School.id)
            .join(SchoolClass, Pupil.class_id == SchoolClass.id)
            .outerjoin(ranked, ranked.c.pupil_id == Pupil.id)
            .where(_in(municipality_id))
            .group_by(School.id, School.code, School.name, Municipality.name)
            .having(n_waiting > 0)
        )
    ]
    return sorted(rows, key=lambda row: (-row.without_preferences, row.name, row.code))


def _offer_lines(session: Session, condition: ColumnElement[bool]) -> list[OfferLine]:
    """The offers meeting ``condition`` with their places over all periods, by employer then code."""
    places = (
        select(OfferCapacity.offer_id, func.sum(OfferCapacity.places).label("places"))
        .group_by(OfferCapacity.offer_id)
        .subquery()
    )
    lines = [
        OfferLine(code, employer, title, Sector(sector), int(n or 0))
        for code, employer, title, sector, n in session.execute(
            select(Offer.code, Employer.name, Offer.title, Offer.sector, places.c.places)
            .join(Employer, Offer.employer_id == Employer.id)
            .outerjoin(places, places.c.offer_id == Offer.id)
            .where(condition)
        )
    ]
    return sorted(lines, key=lambda line: (line.employer, line.code))


def unchosen_offers(session: Session) -> list[OfferLine]:
    """Offers pupils can see (usable, with places in some period) that no pupil ranked."""
    return _offer_lines(
        session,
        and_(
            offers.pupil_facing(),
            Offer.capacities.any(OfferCapacity.places > 0),
            ~select(Preference.id).where(Preference.offer_id == Offer.id).exists(),
        ),
    )


def offers_without_risk_assessment(session: Session) -> list[OfferLine]:
    """Active catalogue offers of approved or pending employers whose risk assessment for minors is not confirmed."""
    return _offer_lines(
        session,
        and_(
            Offer.kind == OfferKind.CATALOGUE,
            Offer.status == OfferStatus.ACTIVE,
            Offer.risk_assessment_confirmed_at.is_(None),
            Employer.status.in_((EmployerStatus.APPROVED, EmployerStatus.PENDING)),
        ),
    )


def planning_overview(session: Session, municipality_id: int | None = None) -> PlanningOverview:
    """Everything the coordinator's planning page shows: of the region, or of one municipality's schools."""
    return PlanningOverview(
        pupils=pupils_per_school_and_period(session, municipality_id),
        demand=supply_and_demand(session, municipality_id),
        without_preferences=pupils_without_preferences_by_school(session, municipality_id),
        unchosen=unchosen_offers(session),
        without_risk_assessment=offers_without_risk_assessment(session),
    )
