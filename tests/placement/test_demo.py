"""The demo region: its generator, the committed dataset, and loading it."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from data.generate import DEFAULT_SEED, generate_region, luhn_digit, render
from placement import models as m
from placement.cohorts import login_codes
from placement.demo import default_dataset, laid_on, load_demo_region, school_year
from placement.enums import Gender, OfferKind, Role, Sector
from placement.errors import Conflict, ValidationError
from tests import factories as f

GR_CODES = {"1440", "1489", "1480", "1401", "1384", "1482", "1441", "1462", "1481", "1402", "1415", "1419", "1407"}


@pytest.fixture(scope="module")
def region() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(default_dataset().read_bytes())
    return data


def test_generator_is_deterministic() -> None:
    small = render(generate_region(7, scale=0.1))
    assert small == render(generate_region(7, scale=0.1))
    assert small != render(generate_region(8, scale=0.1))
    assert len(json.loads(small)["municipalities"]) == 13


def test_committed_dataset_is_what_the_generator_makes() -> None:
    committed = default_dataset().read_bytes()
    assert committed == render(generate_region(DEFAULT_SEED)), "regenerate it: python -m data.generate"
    assert len(committed) < 3_000_000


def test_contacts_are_invented(region: dict[str, Any]) -> None:
    employers = region["employers"]
    numbers = [e["org_number"] for e in employers]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert re.fullmatch(r"\d{6}-\d{4}", number)
        digits = number.replace("-", "")
        assert luhn_digit(digits[:9]) == int(digits[9]), number
    supervisors = [o["supervisor"] for e in employers for o in e["offers"]]
    # Phone numbers from the series PTS reserves for fiction; e-mail on example domains.
    for phone in [e["phone"] for e in employers] + [s["phone"] for s in supervisors]:
        assert re.fullmatch(r"070-174 06 (0[5-9]|[1-9]\d)|031-390 06 \d\d", phone), phone
    for user in region["users"]:
        assert user["email"].endswith((".example.se", "demo.praktik.se")), user["email"]


def test_loads_the_demo_region(db_session: Session) -> None:
    summary = load_demo_region(db_session, today=dt.date(2026, 9, 21))  # the season as the dataset holds it
    s = db_session

    assert set(s.scalars(select(m.Municipality.code))) == GR_CODES
    assert [p.code for p in summary.periods] == ["w45", "w07", "w16"]
    assert 38 <= summary.schools <= 42
    pupils_per_school = dict(s.execute(select(m.Pupil.school_id, func.count()).group_by(m.Pupil.school_id)).all())
    assert len(pupils_per_school) == summary.schools
    assert all(40 <= n <= 200 for n in pupils_per_school.values())
    assert 4000 <= summary.pupils <= 5000
    assert f"{summary.pupils} pupils" in str(summary)
    catalogue_employers = s.scalar(
        select(func.count(func.distinct(m.Offer.employer_id))).where(m.Offer.kind == OfferKind.CATALOGUE)
    )
    assert catalogue_employers == 600
    assert summary.pending_employers > 0
    assert s.scalar(select(func.count()).select_from(m.Preference)) == summary.preferences
    assert s.scalar(select(func.count()).select_from(m.User)) == summary.users
    assert s.scalar(select(func.count()).where(m.AuditEvent.action == "demo.load")) == 1

    # 0-8 ranked choices, and some pupils (not only the self-arranged ones) have none.
    choices = s.scalars(select(func.count()).select_from(m.Preference).group_by(m.Preference.pupil_id)).all()
    assert max(choices) == 8
    has_choices = select(m.Preference.id).where(m.Preference.pupil_id == m.Pupil.id).exists()
    without = s.scalar(select(func.count()).where(~has_choices, m.Pupil.self_arranged_offer_id.is_(None)))
    assert 0.02 * summary.pupils < without < 0.08 * summary.pupils

    # Every preference is for an offer with places in the period of the pupil's class.
    without_place = s.scalar(
        select(func.count())
        .select_from(m.Preference)
        .join(m.Pupil, m.Preference.pupil_id == m.Pupil.id)
        .join(m.SchoolClass, m.Pupil.class_id == m.SchoolClass.id)
        .outerjoin(
            m.OfferCapacity,
            and_(
                m.OfferCapacity.offer_id == m.Preference.offer_id,
                m.OfferCapacity.period_id == m.SchoolClass.period_id,
                m.OfferCapacity.places > 0,
            ),
        )
        .where(m.OfferCapacity.id.is_(None))
    )
    assert without_place == 0

    # Popularity is skewed: the 10% most chosen offers get a large share of first choices.
    firsts = sorted(
        s.scalars(select(func.count()).where(m.Preference.rank == 1).group_by(m.Preference.offer_id)), reverse=True
    )
    offers = s.scalar(select(func.count()).where(m.Offer.kind == OfferKind.CATALOGUE))
    assert sum(firsts[: offers // 10]) > 0.4 * sum(firsts)

    # Choices are gender-typical, with overlap.
    by_gender = Counter(
        {
            (gender, sector): n
            for gender, sector, n in s.execute(
                select(m.Pupil.gender, m.Offer.sector, func.count())
                .join(m.Preference, m.Preference.pupil_id == m.Pupil.id)
                .join(m.Offer, m.Preference.offer_id == m.Offer.id)
                .group_by(m.Pupil.gender, m.Offer.sector)
            )
        }
    )

    def share(gender: Gender, sector: Sector) -> float:
        return by_gender[gender, sector] / sum(n for (g, _), n in by_gender.items() if g == gender)

    assert share(Gender.FEMALE, Sector.HEALTH) > 2 * share(Gender.MALE, Sector.HEALTH) > 0
    assert share(Gender.MALE, Sector.VEHICLES) > 2 * share(Gender.FEMALE, Sector.VEHICLES) > 0

    # Self-arranged placements exist, each with its one place in the pupil's period.
    placed = s.execute(
        select(m.Offer.kind, m.OfferCapacity.places)
        .join(m.Pupil, m.Pupil.self_arranged_offer_id == m.Offer.id)
        .join(m.SchoolClass, m.Pupil.class_id == m.SchoolClass.id)
        .join(
            m.OfferCapacity,
            and_(m.OfferCapacity.offer_id == m.Offer.id, m.OfferCapacity.period_id == m.SchoolClass.period_id),
        )
    ).all()
    assert len(placed) == summary.self_arranged > 0.01 * summary.pupils
    assert set(placed) == {(OfferKind.SELF_ARRANGED, 1)}


def test_demo_logins_work_and_a_second_load_is_refused(db_session: Session, tmp_path: Path) -> None:
    dataset = tmp_path / "small.json"
    dataset.write_bytes(render(generate_region(DEFAULT_SEED, scale=0.1)))
    summary = load_demo_region(db_session, dataset)
    assert {login.role for login in summary.logins} == {r.value for r in Role}
    for login in summary.logins:
        if login.role == Role.PUPIL:
            user = db_session.scalars(
                select(m.User).join(m.Pupil, m.User.pupil_id == m.Pupil.id).where(m.Pupil.external_id == login.login)
            ).one()
            assert user.login_code_hash is not None
            assert check_password_hash(user.login_code_hash, login.secret)
        else:
            user = db_session.scalars(select(m.User).where(m.User.email == login.login)).one()
            assert user.password_hash is not None
            assert check_password_hash(user.password_hash, login.secret)
        assert user.role == login.role
    # Nobody else can log in: credentials exist only for the documented logins.
    with_credentials = select(func.count()).where(
        (m.User.password_hash.is_not(None)) | (m.User.login_code_hash.is_not(None))
    )
    assert db_session.scalar(with_credentials) == len(summary.logins)

    with pytest.raises(Conflict, match="empty database"):
        load_demo_region(db_session)


def test_refuses_a_database_that_holds_data(db_session: Session) -> None:
    f.municipality(db_session)
    with pytest.raises(Conflict, match="municipality"):
        load_demo_region(db_session)


def test_refuses_a_file_that_is_not_a_demo_dataset(db_session: Session, tmp_path: Path) -> None:
    dataset = tmp_path / "other.json"
    dataset.write_text('{"format": "praktik-instance/1"}')
    with pytest.raises(ValidationError, match="praktik-demo/1"):
        load_demo_region(db_session, dataset)


def test_the_demo_pupil_logs_in_with_the_printed_code(db_session: Session) -> None:
    summary = load_demo_region(db_session)
    (pupil_login,) = [login for login in summary.logins if login.role == "pupil"]
    user = login_codes.authenticate(db_session, pupil_login.secret.lower().replace("-", " "))
    assert user.pupil is not None
    assert user.pupil.external_id == pupil_login.login


@pytest.mark.parametrize(
    "today", [dt.date(2026, 12, 4), dt.date(2027, 3, 15), dt.date(2027, 8, 1), dt.date(2026, 1, 3)]
)
def test_the_demo_season_is_alive_on_any_day(today: dt.date) -> None:
    """Loaded on any day, the window is open that day and the periods lie ahead, named by their weeks."""
    region = json.loads(default_dataset().read_bytes())
    laid = laid_on(region, today)
    assert laid == laid_on(region, today)  # the same region for every load on one day
    assert laid_on(region, dt.date(2026, 9, 21)) == region  # the dataset's own season, untouched
    window = laid["preference_window"]
    noon = dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)
    opens, closes = dt.datetime.fromisoformat(window["opens_at"]), dt.datetime.fromisoformat(window["closes_at"])
    assert opens <= noon - dt.timedelta(days=7)
    assert closes >= noon + dt.timedelta(days=10)
    assert school_year(dt.date.fromisoformat(laid["periods"][0]["start"])) in window["name"]
    starts = [dt.date.fromisoformat(p["start"]) for p in laid["periods"]]
    assert closes.date() < starts[0] < starts[1] < starts[2]
    for period in laid["periods"]:
        week = dt.date.fromisoformat(period["start"]).isocalendar().week
        assert period["code"] == f"w{week:02d}"
        assert period["name"].startswith(f"Vecka {week}")
    # Every class and offer still refers to a period of the region.
    codes = {p["code"] for p in laid["periods"]}
    assert {c["period"] for s in laid["schools"] for c in s["classes"]} <= codes
    assert {k for e in laid["employers"] for o in e["offers"] for k in o["capacity"]} <= codes

    # Ages on the first day of each pupil's period stay as the dataset made them.
    def ages(r: dict[str, Any]) -> list[int]:
        period_of = {(s["code"], c["name"]): c["period"] for s in r["schools"] for c in s["classes"]}
        start = {p["code"]: dt.date.fromisoformat(p["start"]) for p in r["periods"]}
        return [
            m.Pupil(birth_year=p["birth_year"], birth_month=p["birth_month"]).age_on(
                start[period_of[p["school"], p["class"]]]
            )
            for p in r["pupils"]
        ]

    before, after = ages(region), ages(laid)
    assert before == after
