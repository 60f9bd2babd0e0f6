"""An employer's season in headless Chromium, on the demo region, against a live server.

Registers, verifies the address with the link from the outbox, is approved
(in the database, as a coordinator would), adds a workplace with coordinates
(map preview), an offer with places and a confirmed risk assessment, sees the
demand, then confirms one placed pupil and declines another with a reason,
in Swedish and in English, partly on a 375 px wide screen.  Every page is
checked with axe-core (WCAG 2.1 A/AA).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit, demo
from placement import models as m
from placement.db import make_engine
from placement.employers import registry as employers
from placement.enums import AssignmentStatus, EmployerStatus, OfferStatus, RoundStatus
from tests.web.browser import Page, chromium, live_server, require_chromium
from web.app import create_app

pytestmark = pytest.mark.slow
PASSWORD = "ett-långt-lösenord"
EMAIL = "kim@bageriet.example"


@pytest.fixture
def demo_engine(live_database_url: str) -> Iterator[Engine]:
    require_chromium()
    engine = make_engine(live_database_url)
    with Session(engine) as session, session.begin():
        demo.load_demo_region(session)
    yield engine
    engine.dispose()


def _fits(page: Page) -> bool:
    """Nothing but a table's own scroll box is wider than the window."""
    return bool(page.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"))


def _checked(page: Page) -> None:
    page.assert_accessible()
    assert _fits(page), (page.driver.current_url, _too_wide(page))


def _too_wide(page: Page) -> str:
    """The elements reaching past the window's right edge, for the failure message."""
    return str(
        page.driver.execute_script("""
      var out = [];
      document.querySelectorAll('body *').forEach(function (e) {
        var r = e.getBoundingClientRect();
        if (r.right > window.innerWidth + 1) out.push(e.tagName + '#' + e.id + ' ' + Math.round(r.right));
      });
      return out.slice(0, 15).join(' | ') + ' sw=' + document.documentElement.scrollWidth + ' iw=' + window.innerWidth;
    """)
    )


def test_employer_season_in_the_browser(live_database_url: str, demo_engine: Engine) -> None:
    make_session = sessionmaker(bind=demo_engine, expire_on_commit=False)
    app = create_app(
        {"DATABASE_URL": live_database_url, "SECRET_KEY": "browser-test", "TESTING": False, "MAP_TILES_URL": ""}
    )
    with live_server(app) as base, chromium() as driver:
        page = Page(driver, base)

        # Register: a wrong organisation number first, then the right one.
        page.open("/register/")
        _checked(page)
        for css, value in (
            ("#name", "Bageriet Kanelbullen AB"),
            ("#org_number", "556677-8898"),
            ("#contact_name", "Kim Bagare"),
            ("#email", EMAIL),
            ("#password", PASSWORD),
            ("#password_again", PASSWORD),
        ):
            page.fill(css, value)
        page.click("#register-form [type=submit]")
        assert "Kontrollsiffran stämmer inte" in page.find(".error-summary").text
        _checked(page)
        page.fill("#org_number", "556677-8899")
        page.fill("#password", PASSWORD)
        page.fill("#password_again", PASSWORD)
        page.click("#register-form [type=submit]")
        assert page.all("#sent")
        _checked(page)

        # Logging in before verifying is refused; the link from the mail verifies and logs in.
        page.login(EMAIL, PASSWORD)
        assert "inte bekräftad" in page.text()
        with make_session() as session:
            body = session.scalars(
                select(m.OutboxMessage.body).where(
                    m.OutboxMessage.kind == "verify_email", m.OutboxMessage.recipient == EMAIL
                )
            ).one()
        path = re.search(r"/register/verify/\S+", body).group(0)  # type: ignore[union-attr]
        page.open(path)
        assert driver.current_url.endswith("/employer/organisation")
        assert "Dina erbjudanden syns för elever först när samordnaren har godkänt er" in page.text()
        _checked(page)

        # The coordinator approves the employer.
        with make_session() as session, session.begin():
            employer = session.scalars(select(m.Employer).where(m.Employer.org_number == "556677-8899")).one()
            assert employer.status is EmployerStatus.PENDING
            employers.approve_employer(session, employer, actor=audit.CLI)
        page.open("/employer/organisation")
        assert "Godkänd av samordnaren" in page.text()

        # A workplace with coordinates: the map preview shows its marker.
        page.open("/employer/workplaces/new")
        _checked(page)
        page.fill("#name", "Bageriet på Kungsgatan")
        page.fill("#address", "Kungsgatan 5, 411 19 Göteborg")
        page.fill("#lat", "57.7049")
        page.fill("#lon", "11.9668")
        page.click("#workplace-form [type=submit]")
        page.wait_for(lambda: page.find(".map").get_attribute("data-ready") == "1", timeout_s=30, what="the map")
        assert page.all(".leaflet-marker-icon")
        _checked(page)

        # An offer with places in the first period and a confirmed risk assessment: pupils see it.
        with make_session() as session:
            period = session.scalars(select(m.Period).order_by(m.Period.start_date)).first()
            assert period is not None
        page.open("/employer/offers/new")
        _checked(page)
        page.fill("#title", "Baka och sälja bröd")
        page.fill("#description", "Du bakar bullar och bröd och står i butiken.")
        page.set_value("#sector", "hospitality")
        page.fill("#hours", "07.00–14.00")
        page.fill("#supervisor_name", "Kim Bagare")
        page.fill(f"#places_{period.id}", "3")
        page.find("#risk_assessment").click()
        page.click("#offer-form [type=submit]")
        assert page.find("#visibility").get_attribute("data-visible") == "yes", page.text()[:1500]
        assert page.all("#risk-confirmed")
        _checked(page)
        with make_session() as session:
            offer = session.scalars(select(m.Offer).where(m.Offer.employer_id == employer.id)).one()
            assert offer.status is OfferStatus.ACTIVE
            assert offer.risk_assessment_confirmed_at is not None
        page.open("/employer/offers")
        assert page.find(f'tr[data-offer="{offer.id}"]').get_attribute("data-visible") == "yes"
        _checked(page)

        # Demand in their sector and the periods.
        page.open("/employer/demand")
        assert page.all(f'#own-demand tr[data-sector="hospitality"][data-period="{period.code}"]')
        _checked(page)

        # Published placements: two pupils of the period at the new offer.
        with make_session() as session, session.begin():
            pupils = session.scalars(
                select(m.Pupil)
                .join(m.SchoolClass, m.Pupil.class_id == m.SchoolClass.id)
                .where(m.SchoolClass.period_id == period.id)
                .order_by(m.Pupil.id)
                .limit(2)
            ).all()
            allocation_round = m.AllocationRound(
                name="Webbtest",
                status=RoundStatus.PUBLISHED,
                published_at=dt.datetime.now(dt.UTC),
                confirm_deadline=dt.datetime.now(dt.UTC) + dt.timedelta(days=7),
            )
            session.add(allocation_round)
            placed = [
                m.Assignment(
                    round=allocation_round,
                    pupil_id=p.id,
                    offer_id=offer.id,
                    period_id=period.id,
                    status=AssignmentStatus.PUBLISHED,
                )
                for p in pupils
            ]
            session.add_all(placed)
            session.flush()
            names = [p.full_name for p in pupils]
            confirmed_id, declined_id = (a.id for a in placed)

        # On a phone: confirm one pupil and decline the other with a reason.
        driver.set_window_size(375, 800)
        page.open("/employer/")
        for name in names:
            assert name in page.find("#employer-placements").text
        _checked(page)
        page.click(f'tr[data-assignment="{confirmed_id}"] form[action$="/confirm"] button')
        assert page.find(f'tr[data-assignment="{confirmed_id}"]').get_attribute("data-status") == "confirmed"
        page.find(f'tr[data-assignment="{declined_id}"] details summary').click()  # opens, no page load
        page.fill(f"#reason-{declined_id}", "Vår handledare är sjukskriven den veckan")
        page.click(f'tr[data-assignment="{declined_id}"] details form button')
        assert page.find(f'tr[data-assignment="{declined_id}"]').get_attribute("data-status") == "declined"
        _checked(page)
        for path in ("/employer/organisation", "/employer/offers", f"/employer/offers/{offer.id}", "/employer/demand"):
            page.open(path)
            _checked(page)

        # In English.
        driver.set_window_size(1280, 1000)
        page.click('nav.lang button[lang="en"]')
        assert page.find("html").get_attribute("lang") == "en"
        for path in (
            "/employer/",
            "/employer/organisation",
            "/employer/offers",
            f"/employer/offers/{offer.id}",
            "/employer/workplaces/new",
            "/employer/demand",
        ):
            page.open(path)
            assert page.find("html").get_attribute("lang") == "en"
            _checked(page)
        page.logout()
        page.open("/register/")
        _checked(page)

    with make_session() as session:
        statuses = {
            a.id: a.status for a in session.scalars(select(m.Assignment).where(m.Assignment.offer_id == offer.id))
        }
        assert statuses == {confirmed_id: AssignmentStatus.CONFIRMED, declined_id: AssignmentStatus.DECLINED}
        actions = set(session.scalars(select(m.AuditEvent.action)))
        assert {
            "employer.register",
            "user.verify_email",
            "workplace.create",
            "offer.create",
            "offer.confirm_risk_assessment",
            "assignment.confirmed",
            "assignment.declined",
        } <= actions
