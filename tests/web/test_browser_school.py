"""A school's work in headless Chromium on the demo region, in Swedish and in English, at desktop and phone width.

Every page visited is checked with axe-core (WCAG 2.1 A and AA).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import Select
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from placement import demo
from placement import models as m
from placement.cohorts import login_codes
from placement.db import make_engine
from placement.enums import Role
from placement.organisation import accounts
from tests.web.browser import Page, chromium, live_server, require_chromium
from web.app import create_app

pytestmark = pytest.mark.slow
STAFF = ("larare@kvarnlundsskolan.example.se", "ett-långt-lösenord")
SCHOOL = "S01"


@pytest.fixture
def demo_engine(live_database_url: str) -> Iterator[Engine]:
    """The demo region with its preference window open now, and a teacher of Kvarnlundsskolan."""
    require_chromium()
    engine = make_engine(live_database_url)
    with Session(engine) as session, session.begin():
        demo.load_demo_region(session)
        window = session.scalars(select(m.PreferenceWindow)).one()
        now = dt.datetime.now(dt.UTC)
        window.opens_at, window.closes_at = now - dt.timedelta(days=1), now + dt.timedelta(days=7)
        teacher = m.User(role=Role.SCHOOL_STAFF, email=STAFF[0], display_name="Lärare Lind")
        accounts.set_password(teacher, STAFF[1])
        school = session.scalars(select(m.School).where(m.School.code == SCHOOL)).one()
        session.add_all([teacher, m.SchoolMembership(user=teacher, school=school)])
    yield engine
    engine.dispose()


def _cohort(path: Path, *, bad: bool) -> Path:
    year = "20x2" if bad else "2012"
    path.write_text(
        "Förnamn;Efternamn;Klass;Födelseår;Kön\n"
        "Webb;Testsson;8W;2012;Flicka\n"
        f"Nätt;Provsson;8W;{year};Pojke\n"
        "Sida;Läsare;8W;2013;Annat\n",
        encoding="utf-8",
    )
    return path


def _accessible(page: Page) -> None:
    page.assert_accessible()
    width = page.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.driver.current_url}: the page is wider than the window {width}"


def test_a_school_in_the_browser(live_database_url: str, demo_engine: Engine, tmp_path: Path) -> None:
    make_session = sessionmaker(bind=demo_engine, expire_on_commit=False)
    app = create_app(
        {
            "DATABASE_URL": live_database_url,
            "SECRET_KEY": "browser-test",
            "TESTING": False,
        }
    )
    with make_session() as session:
        klass = session.scalars(
            select(m.SchoolClass).join(m.School).where(m.School.code == SCHOOL, m.SchoolClass.name == "8A")
        ).one()
        class_id = klass.id
        other_period = session.scalars(select(m.Period).where(m.Period.id != klass.period_id).limit(1)).one()
        pupils_before = session.scalar(select(func.count(m.Pupil.id)).where(m.Pupil.school_id == klass.school_id))

    with live_server(app) as base, chromium("sv") as driver:
        page = Page(driver, base)
        page.login(*STAFF)
        assert driver.current_url.endswith("/school/")
        assert "Kvarnlundsskolan" in page.text()
        assert page.all('tr[data-class="8A"]')
        _accessible(page)

        # A class: its pupils by status, and its period.
        page.click('tr[data-class="8A"] a')
        assert page.all("#class-pupils tbody tr[data-pupil]")
        _accessible(page)
        Select(page.find("#period")).select_by_value(str(other_period.id))
        page.click("#period-form [type=submit]")
        assert "perioden är sparad" in page.text()
        with make_session() as session:
            assert session.get(m.SchoolClass, class_id).period_id == other_period.id  # type: ignore[union-attr]
        _accessible(page)

        # The cohort: a file with a bad row is refused with the row and field named, nothing saved.
        page.open("/school/import")
        _accessible(page)
        page.find("#file").send_keys(str(_cohort(tmp_path / "elever.csv", bad=True)))
        page.click("#upload-form [type=submit]")
        problems = page.find("#import-problems").text
        assert "row 3" in problems
        assert "Födelseår" in problems
        _accessible(page)
        # Fixed and uploaded again: the preview says what would happen; confirmed, every row is imported.
        page.find("#file").send_keys(str(_cohort(tmp_path / "elever-rattad.csv", bad=False)))
        page.click("#upload-form [type=submit]")
        assert page.find("#would-create").text == "3"
        _accessible(page)
        with make_session() as session:
            assert session.scalar(select(func.count(m.Pupil.id)).where(m.Pupil.school_id == klass.school_id)) == (
                pupils_before
            )
        page.click("#confirm-form [type=submit]")
        assert "3 nya elever" in page.text()
        assert page.all('tr[data-class="8W"]')
        with make_session() as session:
            assert session.scalar(select(func.count(m.Pupil.id)).where(m.Pupil.school_id == klass.school_id)) == (
                pupils_before + 3
            )

        # Preferences on a pupil's behalf: picked from the list, then by code, then reordered.
        page.open(f"/school/classes/{class_id}")
        page.click("#class-pupils tbody tr[data-pupil] a")
        pupil_id = int(re.search(r"/pupils/(\d+)", driver.current_url).group(1))  # type: ignore[union-attr]
        _accessible(page)
        with make_session() as session:
            pupil = session.get(m.Pupil, pupil_id)
            assert pupil is not None
            for preference in session.scalars(select(m.Preference).where(m.Preference.pupil_id == pupil_id)):
                session.delete(preference)
            session.commit()
        page.open(f"/school/pupils/{pupil_id}")
        options = [o.get_attribute("value") for o in page.all("#pick option") if o.get_attribute("value")]
        assert len(options) >= 2
        Select(page.find("#pick")).select_by_value(options[0])
        page.click("#add-choice-form [type=submit]")
        assert "Valen är sparade" in page.text()
        page.fill("#code", str(options[1]))
        page.click("#add-choice-form [type=submit]")
        page.click(f'#ranking-form button[value="up:{options[1]}"]')
        ranked = [li.get_attribute("data-offer") for li in page.all("#ranking-form li")]
        assert ranked == [options[1], options[0]]
        _accessible(page)

        # Login sheets for the class: one slip per pupil, each code works.
        page.open(f"/school/classes/{class_id}")
        page.find('input[name="which"][value="all"]').click()
        page.click("#codes-form [type=submit]")
        slips = page.all("li.slip")
        with make_session() as session:
            size = session.scalar(select(func.count(m.Pupil.id)).where(m.Pupil.class_id == class_id))
        assert len(slips) == size
        assert "/pupil-login/" in slips[0].text
        _accessible(page)
        code = slips[0].find_element("css selector", "code").text
        # Printed, only the slips show.
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        assert not page.find("header.site").is_displayed()
        assert not page.find("main h1").is_displayed()
        assert all(slip.is_displayed() for slip in page.all("li.slip"))
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        with make_session() as session:
            assert login_codes.authenticate(session, code).pupil_id == int(slips[0].get_attribute("data-pupil") or 0)

    # In English, on a phone.
    with live_server(app) as base, chromium("en") as driver:
        driver.set_window_size(375, 800)
        page = Page(driver, base)
        page.login(*STAFF)
        page.click('header nav.lang button[lang="en"]')
        assert driver.find_element("css selector", "html").get_attribute("lang") == "en"
        _accessible(page)
        for path in (f"/school/classes/{class_id}", "/school/import", f"/school/pupils/{pupil_id}"):
            page.open(path)
            _accessible(page)
        page.open(f"/school/classes/{class_id}?status=choices")
        assert [r.get_attribute("data-status") for r in page.all("#class-pupils tbody tr[data-pupil]")] == [
            "choices"
        ] * len(page.all("#class-pupils tbody tr[data-pupil]"))
        _accessible(page)
        # A self-arranged placement, entered on the phone.
        page.open(f"/school/pupils/{pupil_id}")
        page.find("#self-arranged summary").click()
        page.fill("#employer_name", "Mormors Bageri AB")
        page.fill("#org_number", "556677-8899")
        page.fill("#address", "Bagargatan 3, 424 85 Angered")
        page.fill("#title", "Bagarlärling")
        page.fill("#supervisor_name", "Greta Mjöl")
        page.fill("#supervisor_phone", "031-12 34 56")
        page.find("#risk_assessed").click()
        page.click("#self-arranged-form [type=submit]")
        assert page.find("#pupil-status").get_attribute("data-status") == "self_arranged"
        _accessible(page)
        page.click("#reissue-code")
        assert len(page.all("li.slip")) == 1
        _accessible(page)
