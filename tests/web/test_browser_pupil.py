"""A pupil's journey in headless Chromium at phone width, on the demo region, in Swedish and in English.

Log in with a personal code, browse the offers with a filter, rank three,
reorder them, read that ranking honestly is safe; then, once a placement is
published, see it with its map and download the calendar file.  axe-core
checks every page visited (WCAG 2.1 A and AA).
"""

from __future__ import annotations

import datetime as dt
import urllib.request
from collections.abc import Iterator

import icalendar
import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit, demo
from placement import models as m
from placement.cohorts import login_codes
from placement.db import make_engine
from placement.enums import AssignmentStatus
from placement.rounds.setup import create_round
from tests.web.browser import Page, chromium, live_server, require_chromium
from web.app import create_app

pytestmark = pytest.mark.slow
PHONE = (375, 800)


@pytest.fixture
def demo_engine(live_database_url: str) -> Iterator[Engine]:
    require_chromium()
    engine = make_engine(live_database_url)
    with Session(engine) as session, session.begin():
        demo.load_demo_region(session)
        # The window is open now, whatever today's date.
        now = dt.datetime.now(dt.UTC)
        window = session.scalars(select(m.PreferenceWindow)).one()
        window.opens_at = now - dt.timedelta(days=1)
        window.closes_at = now + dt.timedelta(days=14)
    yield engine
    engine.dispose()


def _pupils(make_session: sessionmaker[Session], n: int) -> list[tuple[int, str]]:
    """``n`` demo pupils of classes going out in a later period, their rankings cleared, each with a new code."""
    with make_session() as session, session.begin():
        period = session.scalars(select(m.Period).order_by(m.Period.start_date.desc()).limit(1)).one()
        pupils = session.scalars(
            select(m.Pupil)
            .join(m.SchoolClass, m.Pupil.class_id == m.SchoolClass.id)
            .where(m.SchoolClass.period_id == period.id, m.Pupil.self_arranged_offer_id.is_(None))
            .order_by(m.Pupil.id)
            .limit(n)
        ).all()
        session.execute(delete(m.Preference).where(m.Preference.pupil_id.in_([p.id for p in pupils])))
        return [(p.id, login_codes.issue(session, p, actor=audit.CLI).code) for p in pupils]


def _check(page: Page) -> None:
    """No WCAG 2.1 A/AA violation, and nothing wider than the phone's screen."""
    page.assert_accessible()
    overflow = page.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.driver.current_url}: {overflow} px wider than the screen"


def _order(page: Page) -> list[str]:
    return [str(li.get_attribute("data-offer")) for li in page.all("ol.choices > li")]


def _publish_first_choice(make_session: sessionmaker[Session], pupil_id: int) -> tuple[str, str]:
    """A published placement at the pupil's first choice, set up directly in the database."""
    with make_session() as session, session.begin():
        pupil = session.get(m.Pupil, pupil_id)
        assert pupil is not None
        assert pupil.school_class.period is not None
        first = session.scalars(
            select(m.Preference).where(m.Preference.pupil_id == pupil_id).order_by(m.Preference.rank).limit(1)
        ).one()
        period = pupil.school_class.period
        allocation_round = create_round(session, f"Webbtest {pupil_id}", [period.code], actor=audit.CLI)
        session.add(
            m.Assignment(
                round=allocation_round,
                pupil=pupil,
                offer=first.offer,
                period=period,
                rank=1,
                status=AssignmentStatus.PUBLISHED,
            )
        )
        first.offer.bring = "Oömma kläder"
        return first.offer.title, first.offer.workplace.address


def _journey(page: Page, lang: str, pupil_id: int, code: str, make_session: sessionmaker[Session]) -> None:
    driver = page.driver
    driver.set_window_size(*PHONE)
    page.open("/pupil-login/")
    page.click(f'nav.lang button[lang="{lang}"]')
    assert page.find("html").get_attribute("lang") == lang
    _check(page)

    # A wrong code first: refused, nothing revealed.
    page.fill("#code", "AAAA-BBBB-CCCC")
    page.click("main form [type=submit]")
    assert page.all(".flash-error")
    assert driver.current_url.endswith("/pupil-login/")
    _check(page)

    page.fill("#code", code.lower())
    page.click("main form [type=submit]")
    assert driver.current_url.endswith("/pupil/"), driver.current_url
    assert page.find("#window-status").get_attribute("data-state") == "open"
    assert page.all("#honesty")
    _check(page)

    # Browse with a filter: within 15 km of the school, nearest first.
    page.open("/pupil/offers")
    _check(page)
    page.fill("#max_km", "15")
    driver.execute_script("document.getElementById('order').value = 'distance';")
    page.click("#filter-button")
    assert "max_km=15" in driver.current_url
    assert "order=distance" in driver.current_url
    assert page.all("#pupil-period")
    listed = page.all(".offer-list li.offer")
    assert len(listed) >= 3
    page.wait_for(lambda: page.find(".map").get_attribute("data-ready"), what="the map's markers")
    assert int(page.find(".map").get_attribute("data-ready") or 0) >= 1
    _check(page)

    # Rank three: each "add" reloads the filtered list with the choice marked.
    chosen: list[str] = []
    for _ in range(3):
        item = page.find(".offer-list li.offer:has(button.add)")
        chosen.append(str(item.get_attribute("data-offer")))
        page.click(".offer-list li.offer:has(button.add) button.add")
        assert "max_km=15" in driver.current_url
    assert len(page.all(".offer-list p.chosen")) == 3
    _check(page)

    # Reorder: the first choice goes down one.
    page.open("/pupil/choices")
    assert _order(page) == chosen
    if lang == "sv":
        assert "Ta med alla erbjudanden som du kan tänka dig" in page.find("#honesty").text
    assert page.find("#honesty").is_displayed()
    _check(page)
    page.click("ol.choices > li:first-child button.down")
    assert _order(page) == [chosen[1], chosen[0], chosen[2]]
    page.click("ol.choices > li:last-child button.up")
    assert _order(page) == [chosen[1], chosen[2], chosen[0]]
    _check(page)

    # Before publication: not shown.
    page.open("/pupil/placement")
    assert page.all("#not-published")
    _check(page)

    # Published: the placement with its map, and the calendar file.
    title, address = _publish_first_choice(make_session, pupil_id)
    page.open("/pupil/placement")
    assert page.find("#placement").get_attribute("data-status") == "published"
    assert title in page.text()
    assert page.find("#placement-address").text == address
    assert "Oömma kläder" in page.text()
    page.wait_for(lambda: page.find(".map").get_attribute("data-ready") == "1", what="the workplace marker")
    _check(page)
    link = str(page.find("#ics-link").get_attribute("href"))
    cookie = driver.get_cookie("session")
    assert cookie is not None
    request = urllib.request.Request(link, headers={"Cookie": f"session={cookie['value']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers.get_content_type() == "text/calendar"
        assert 'filename="prao.ics"' in response.headers["Content-Disposition"]
        calendar = icalendar.Calendar.from_ical(response.read())
    summaries = [str(c["summary"]) for c in calendar.walk() if c.name == "VEVENT"]
    assert len(summaries) == 1
    assert title in summaries[0]

    page.open("/pupil/")
    assert page.all("#home-placement")
    _check(page)


def test_pupil_journey_in_the_browser(live_database_url: str, demo_engine: Engine) -> None:
    make_session = sessionmaker(bind=demo_engine, expire_on_commit=False)
    app = create_app(
        {"DATABASE_URL": live_database_url, "SECRET_KEY": "browser-test", "TESTING": False, "MAP_TILES_URL": ""}
    )
    pupils = _pupils(make_session, 2)
    with live_server(app) as base:
        for lang, (pupil_id, code) in zip(("sv", "en"), pupils, strict=True):
            with chromium(lang) as driver:
                _journey(Page(driver, base), lang, pupil_id, code, make_session)
