"""Small builders for test data.  Each takes the session first and flushes."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.enums import EmployerStatus, Gender, GeoStatus, Role, Sector
from placement.rounds.setup import create_round

_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


def municipality(session: Session, **kw: Any) -> m.Municipality:
    n = _next()
    obj = m.Municipality(name=kw.pop("name", f"Kommun {n}"), code=kw.pop("code", f"9{n:03d}"), **kw)
    session.add(obj)
    session.flush()
    return obj


def period(session: Session, **kw: Any) -> m.Period:
    n = _next()
    start = kw.pop("start_date", dt.date(2026, 11, 2))
    obj = m.Period(
        code=kw.pop("code", f"w{n}"),
        name=kw.pop("name", f"Vecka {n}"),
        start_date=start,
        end_date=kw.pop("end_date", start + dt.timedelta(days=11)),
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def school(session: Session, **kw: Any) -> m.School:
    n = _next()
    if "municipality" not in kw and "municipality_id" not in kw:
        kw["municipality"] = municipality(session)
    obj = m.School(
        code=kw.pop("code", f"S{n:03d}"),
        name=kw.pop("name", f"Skola {n}"),
        lat=kw.pop("lat", 57.70),
        lon=kw.pop("lon", 11.97),
        geo_status=kw.pop("geo_status", GeoStatus.MANUAL),
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def school_class(session: Session, **kw: Any) -> m.SchoolClass:
    n = _next()
    if "school" not in kw and "school_id" not in kw:
        kw["school"] = school(session)
    obj = m.SchoolClass(name=kw.pop("name", f"8{chr(65 + n % 26)}{n}"), **kw)
    session.add(obj)
    session.flush()
    return obj


def pupil(session: Session, **kw: Any) -> m.Pupil:
    n = _next()
    if "school_class" not in kw:
        kw["school_class"] = school_class(session, school=kw.get("school") or school(session))
    kw.setdefault("school", kw["school_class"].school)
    obj = m.Pupil(
        first_name=kw.pop("first_name", f"Elev{n}"),
        last_name=kw.pop("last_name", "Testsson"),
        gender=kw.pop("gender", Gender.FEMALE),
        birth_year=kw.pop("birth_year", 2012),
        birth_month=kw.pop("birth_month", 5),
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def employer(session: Session, **kw: Any) -> m.Employer:
    n = _next()
    obj = m.Employer(
        code=kw.pop("code", f"E{n:04d}"),
        name=kw.pop("name", f"Arbetsgivare {n} AB"),
        org_number=kw.pop("org_number", f"55{n % 10000:04d}-{n // 10000:04d}"),  # 11 characters, unique per run
        status=kw.pop("status", EmployerStatus.APPROVED),
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def workplace(session: Session, **kw: Any) -> m.Workplace:
    if "employer" not in kw and "employer_id" not in kw:
        kw["employer"] = employer(session)
    obj = m.Workplace(
        name=kw.pop("name", "Huvudkontoret"),
        address=kw.pop("address", "Storgatan 1, 411 38 Göteborg"),
        lat=kw.pop("lat", 57.705),
        lon=kw.pop("lon", 11.97),
        geo_status=kw.pop("geo_status", GeoStatus.MANUAL),
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def offer(session: Session, *, places: dict[m.Period, int] | None = None, **kw: Any) -> m.Offer:
    n = _next()
    if "workplace" not in kw:
        kw["workplace"] = workplace(session, employer=kw.get("employer") or employer(session))
    kw.setdefault("employer", kw["workplace"].employer)
    obj = m.Offer(
        code=kw.pop("code", f"O{n:05d}"),
        title=kw.pop("title", f"Praktik {n}"),
        sector=kw.pop("sector", Sector.RETAIL),
        **kw,
    )
    for p, count in (places or {}).items():
        obj.capacities.append(m.OfferCapacity(period=p, places=count))
    session.add(obj)
    session.flush()
    return obj


def user(session: Session, role: Role = Role.COORDINATOR, **kw: Any) -> m.User:
    n = _next()
    obj = m.User(
        role=role,
        email=kw.pop("email", None if role is Role.PUPIL else f"user{n}@example.se"),
        display_name=kw.pop("display_name", f"Användare {n}"),
        # Employer contacts log in only with a verified address; test accounts are verified.
        email_verified_at=kw.pop("email_verified_at", RISK_CONFIRMED if role is Role.EMPLOYER_CONTACT else None),
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


RISK_CONFIRMED = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


def small_round(session: Session) -> tuple[m.AllocationRound, list[m.Pupil], list[m.Offer]]:
    """Four pupils of two schools, three offers of two places; everyone ranks all three."""
    w45 = period(session, code="w45", start_date=dt.date(2026, 11, 2))
    schools = [school(session, code="S01", lat=57.70, lon=11.97), school(session, code="S02", lat=57.71, lon=11.96)]
    offers = [
        offer(session, sector=Sector.IT, places={w45: 2}, risk_assessment_confirmed_at=RISK_CONFIRMED, code=f"O{n:04d}")
        for n in range(1, 4)
    ]
    offers[2].min_age = 16  # nobody is old enough: the third offer stays empty
    pupils = []
    for n in range(4):
        klass = school_class(session, school=schools[n % 2], period=w45)
        child = pupil(session, school_class=klass, gender=Gender.FEMALE if n % 2 else Gender.MALE)
        for rank, chosen in enumerate(offers[n % 2 :] + offers[: n % 2], start=1):
            session.add(m.Preference(pupil=child, offer=chosen, rank=rank))
        pupils.append(child)
    session.flush()
    allocation_round = create_round(session, "Höst", ["w45"], actor=audit.CLI, policy={"time_limit_s": 20})
    return allocation_round, pupils, offers
