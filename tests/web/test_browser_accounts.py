"""The account and organisation pages in headless Chromium, each checked with axe-core (WCAG 2.1 A/AA).

The first-day walk-through (``test_browser_first_day.py``) goes through the
main path; this visits the rest of the new pages as their users meet them: a
forgotten password, expired links, an invitation for an address that has an
account, the people pages of school staff, employers and coordinators, the
schools' entries an employer takes in, and the coordinator's forms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.cohorts import self_arranged
from placement.cohorts.self_arranged import SelfArranged
from placement.db import make_engine, utcnow
from placement.enums import Role, Sector
from placement.organisation import accounts, invitations
from placement.organisation.invitations import Target
from tests import factories as f
from tests.web.browser import Page, chromium, live_server, require_chromium
from web.app import create_app

pytestmark = pytest.mark.slow
SECRET = "accounts-browser"
PASSWORD = "ett-långt-lösenord"


@pytest.fixture
def engine(live_database_url: str) -> Iterator[Engine]:
    require_chromium()
    engine = make_engine(live_database_url)
    yield engine
    engine.dispose()


def _world(engine: Engine) -> dict[str, object]:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        ale = f.municipality(session, name="Ale")
        school = f.school(session, name="Ängsskolan", municipality=ale)
        period = f.period(session)
        klass = f.school_class(session, school=school, period=period)
        pupil = f.pupil(session, school_class=klass, first_name="Alva", last_name="Första")
        people = {}
        for key, role, email in (
            ("coordinator", Role.COORDINATOR, "kim@kommun.example"),
            ("staff", Role.SCHOOL_STAFF, "asa@skola.example"),
            ("contact", Role.EMPLOYER_CONTACT, "per@bageriet.example"),
        ):
            user = f.user(session, role, email=email, display_name=key.title(), email_verified_at=utcnow())
            accounts.set_password(user, PASSWORD)
            people[key] = user
        employer = f.employer(session, name="Bageriet AB", org_number="556677-8899", municipality=ale)
        session.add_all(
            [
                m.SchoolMembership(user=people["staff"], school=school),
                m.EmployerMembership(user=people["contact"], employer=employer),
            ]
        )
        session.flush()
        invite: dict[str, Any] = {"invited_by": people["coordinator"], "secret_key": SECRET, "base_url": "http://x"}
        invitations.invite(session, Target.school_staff(school), email="ny@skola.example", name="Ny", **invite)
        invitations.invite(session, Target.employer_contact(employer), email="ny@bageriet.example", name="Ny", **invite)
        invitations.invite(session, Target.coordinator(ale), email="lo@ale.example", name="Lo", **invite)
        other_school = f.school(session, name="Björkskolan", municipality=ale)
        joining = invitations.invite(
            session, Target.school_staff(other_school), email="asa@skola.example", name="Åsa", **invite
        )
        expired = invitations.invite(
            session, Target.school_staff(school), email="sen@skola.example", name="Sen", **invite
        )
        expired.expires_at = utcnow() - dt.timedelta(minutes=1)
        self_arranged.register_self_arranged(
            session,
            pupil,
            SelfArranged(
                employer_name="Bageriet",
                org_number="556677-8899",
                address="Bagargatan 3, 424 85 Angered",
                title="Bagarlärling",
                sector=Sector.HOSPITALITY,
                supervisor_name="Greta Mjöl",
                supervisor_phone="031-12 34 56",
                risk_assessed=True,
            ),
            actor=audit.Actor("skolan"),
        )
        return {
            "school": school.id,
            "employer": employer.id,
            "municipality": ale.id,
            "join": invitations.link_for(joining, secret_key=SECRET, base_url=""),
            "expired": invitations.link_for(expired, secret_key=SECRET, base_url=""),
        }


def test_the_account_and_organisation_pages_are_accessible(live_database_url: str, engine: Engine) -> None:
    ids = _world(engine)
    app = create_app({"DATABASE_URL": live_database_url, "SECRET_KEY": SECRET, "TESTING": False, "MAP_TILES_URL": ""})
    with live_server(app) as base, chromium("sv") as driver:
        page = Page(driver, base)

        page.open("/auth/forgot-password")
        page.assert_accessible()
        page.fill("#email", "okand@example.se")
        page.click("main form [type=submit]")
        assert "Om adressen hör till ett konto" in page.text()
        page.assert_accessible()

        page.open("/auth/set-password/not-a-token")
        assert "Sidan finns inte" in page.text()
        page.open(str(ids["expired"]))
        assert "Inbjudan har gått ut" in page.text()
        page.assert_accessible()

        page.open(str(ids["join"]))
        assert "har redan ett konto" in page.text()
        page.assert_accessible()
        page.login("asa@skola.example", PASSWORD)
        page.open(str(ids["join"]))
        page.assert_accessible()
        page.click("main form [type=submit]")
        assert "Björkskolan" in page.text()
        page.open("/school/staff")
        assert "Björkskolan" in page.text()
        page.assert_accessible()

        page.logout()
        page.login("per@bageriet.example", PASSWORD)
        page.open("/employer/colleagues")
        assert "ny@bageriet.example" in page.text()
        page.assert_accessible()
        page.open("/employer/organisation")
        assert "Alva Första" in page.text()
        page.assert_accessible()

        page.logout()
        page.login("kim@kommun.example", PASSWORD)
        for path in (
            "/coordinator/people",
            "/coordinator/employers",
            f"/coordinator/employers/{ids['employer']}/contacts",
            f"/coordinator/schools/{ids['school']}/staff",
            "/coordinator/schools/new",
            f"/coordinator/organisation?municipality={ids['municipality']}",
            "/coordinator/",
        ):
            page.open(path)
            page.assert_accessible()
        assert "Inlagd av Ängsskolan" in page.text()
