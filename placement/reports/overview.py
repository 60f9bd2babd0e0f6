"""Figures about the region for the start page and the coordinator."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement.enums import EmployerStatus, OfferKind, OfferStatus
from placement.models import Employer, Municipality, Offer, OfferCapacity, Period, Pupil, School, SchoolClass


@dataclasses.dataclass(frozen=True)
class MunicipalityFigures:
    name: str
    schools: int
    pupils: int


@dataclasses.dataclass(frozen=True)
class PeriodFigures:
    code: str
    name: str
    pupils: int
    places: int


@dataclasses.dataclass(frozen=True)
class RegionSummary:
    municipalities: list[MunicipalityFigures]
    periods: list[PeriodFigures]
    schools: int
    pupils: int
    employers_approved: int
    employers_pending: int
    offers: int

    @property
    def empty(self) -> bool:
        return self.schools == 0 and self.employers_approved == 0


def schools(session: Session) -> list[School]:
    """Every school of the region, by name."""
    return list(session.scalars(select(School).order_by(School.name)))


def region_summary(session: Session) -> RegionSummary:
    schools_per = dict(
        session.execute(select(School.municipality_id, func.count(School.id)).group_by(School.municipality_id)).all()
    )
    pupils_per = dict(
        session.execute(
            select(School.municipality_id, func.count(Pupil.id))
            .join(Pupil, Pupil.school_id == School.id)
            .group_by(School.municipality_id)
        ).all()
    )
    municipalities = [
        MunicipalityFigures(m.name, schools_per.get(m.id, 0), pupils_per.get(m.id, 0))
        for m in session.scalars(select(Municipality).order_by(Municipality.name))
    ]
    pupils_in = dict(
        session.execute(
            select(SchoolClass.period_id, func.count(Pupil.id))
            .join(Pupil, Pupil.class_id == SchoolClass.id)
            .group_by(SchoolClass.period_id)
        ).all()
    )
    places_in = dict(
        session.execute(
            select(OfferCapacity.period_id, func.sum(OfferCapacity.places))
            .join(Offer, Offer.id == OfferCapacity.offer_id)
            .join(Employer, Employer.id == Offer.employer_id)
            .where(
                Offer.kind == OfferKind.CATALOGUE,
                Offer.status == OfferStatus.ACTIVE,
                Employer.status == EmployerStatus.APPROVED,
            )
            .group_by(OfferCapacity.period_id)
        ).all()
    )
    periods = [
        PeriodFigures(p.code, p.name, pupils_in.get(p.id, 0), int(places_in.get(p.id) or 0))
        for p in session.scalars(select(Period).order_by(Period.start_date))
    ]
    employers = dict(session.execute(select(Employer.status, func.count(Employer.id)).group_by(Employer.status)).all())
    return RegionSummary(
        municipalities=municipalities,
        periods=periods,
        schools=sum(schools_per.values()),
        pupils=sum(pupils_per.values()),
        employers_approved=employers.get(EmployerStatus.APPROVED, 0),
        employers_pending=employers.get(EmployerStatus.PENDING, 0),
        offers=session.scalar(
            select(func.count(Offer.id)).where(Offer.kind == OfferKind.CATALOGUE, Offer.status == OfferStatus.ACTIVE)
        )
        or 0,
    )
