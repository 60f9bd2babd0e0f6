"""A municipality's first day in headless Chromium, from an empty database, without the demo.

As the README's "Start for real" says: ``praktik init-db`` and
``praktik create-coordinator`` on the command line; the coordinator follows
the printed link, chooses a password, uploads Skolverket's school unit
register and invites a school's study counsellor, who follows the link in
the mail (delivered by a real SMTP server on loopback), chooses a password
and uploads the cohort; an employer registers, confirms its address from
its mail, and the coordinator approves it.  Every new page is checked with
axe-core (WCAG 2.1 A/AA).  Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import email.message
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from placement import models as m
from placement.db import make_engine
from placement.enums import EmployerStatus, Role
from placement.mail import outbox
from tests.smtp_server import SmtpServer
from tests.web.browser import Page, chromium, live_server, require_chromium
from web.app import create_app

pytestmark = pytest.mark.slow
SECRET = "first-day-browser"
COORDINATOR = ("kim@kommun.example", "samordnarens-lösenord")
STAFF = ("asa@angsskolan.example", "syv-ens-lösenord-1")
EMPLOYER = ("per@bageriet.example", "bagarens-lösenord-1")
REGISTER = (
    "Skolenhetskod;Skolenhetsnamn;Kommun;Kommunkod;Besöksadress;Postnummer;Postort;Latitud;Longitud;"
    "Socioekonomiskt index;Rektor\n"
    "12345678;Ängsskolan;Ale;1440;Skolvägen 1;449 30;Nödinge;57,9910;12,0640;112;Rut Rektor\n"
    "23456789;Björkskolan;Ale;1440;Björkvägen 2;449 31;Nol;57,9230;12,0590;94;Sten Rektor\n"
)
COHORT = "Förnamn;Efternamn;Klass;Födelseår;Kön\nAlva;Första;8A;2012;Flicka\nBo;Andra;8A;2012;Pojke\n"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def empty_engine(live_database_url: str) -> Iterator[Engine]:
    require_chromium()
    engine = make_engine(live_database_url)
    yield engine
    engine.dispose()


def _link(message: email.message.EmailMessage, path: str) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)", body.get_content())
    assert found is not None, body.get_content()
    return found[1]


def _mail_to(smtp: SmtpServer, address: str) -> email.message.EmailMessage:
    matching = [message for message in smtp.messages if message["To"] == address]
    assert matching, f"no mail to {address}: {[message['To'] for message in smtp.messages]}"
    return matching[-1]


def _praktik(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``praktik`` command line as an administrator would, in a process of its own."""
    command = [sys.executable, "-c", "from web.cli import main; main()", *args]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, check=False)


def test_a_municipality_starts_from_an_empty_database(
    live_database_url: str, empty_engine: Engine, smtp: SmtpServer, tmp_path: Path
) -> None:
    make_session = sessionmaker(bind=empty_engine, expire_on_commit=False)
    with Session(empty_engine) as session:
        assert session.scalar(select(func.count(m.User.id))) == 0
        assert session.scalar(select(func.count(m.School.id))) == 0
    app = create_app(
        {
            "DATABASE_URL": live_database_url,
            "SECRET_KEY": SECRET,
            "TESTING": False,
            "MAP_TILES_URL": "",
        }
    )
    mail = outbox.SmtpSettings(
        host=smtp.host, port=smtp.port, use_tls=False, username=None, password=None, sender="prao@kommun.example"
    )
    with live_server(app) as base, chromium("sv") as driver:
        app.config["BASE_URL"] = base
        environment = {
            **os.environ,
            "PRAKTIK_DATABASE_URL": live_database_url,
            "PRAKTIK_SECRET_KEY": SECRET,
            "PRAKTIK_BASE_URL": base,
            "PRAKTIK_MAIL_HOST": smtp.host,
        }
        page = Page(driver, base)

        # The command line, in a process of its own as on the server: the schema (again: it is
        # idempotent) and the first coordinator.
        assert _praktik(environment, "init-db").returncode == 0
        created = _praktik(environment, "create-coordinator", "--email", COORDINATOR[0], "--name", "Kim Samordnare")
        assert created.returncode == 0, created.stderr
        printed = re.search(r"(/auth/set-password/\S+)", created.stdout)
        assert printed is not None
        # The same link is mailed (the scheduler's mail job sends it; here the outbox is delivered at once).
        assert outbox.deliver_due(make_session, mail).sent == 1
        assert _link(_mail_to(smtp, COORDINATOR[0]), "/auth/set-password/") == printed[1]

        # The coordinator follows the link and chooses a password.
        page.open(printed[1])
        page.assert_accessible()
        page.fill("#password", COORDINATOR[1])
        page.fill("#password_again", COORDINATOR[1])
        page.click("main form [type=submit]")
        assert "Lösenordet är sparat" in page.text()
        page.login(*COORDINATOR)
        assert driver.current_url.endswith("/coordinator/")

        # Schools from Skolverket's register: a preview, then all rows.
        page.open("/coordinator/organisation")
        page.assert_accessible()
        page.click("#import-schools")
        page.assert_accessible()
        register = tmp_path / "skolenhetsregistret.csv"
        register.write_text(REGISTER, encoding="utf-8")
        page.find("#file").send_keys(str(register))
        page.click("#upload-form [type=submit]")
        assert "Rektor" in page.text()  # the unused column is reported, not stored
        page.assert_accessible()
        page.click("#confirm-form [type=submit]")
        assert "Ängsskolan" in page.text()
        assert "Björkskolan" in page.text()
        with make_session() as session:
            school = session.scalars(select(m.School).where(m.School.code == "12345678")).one()
            assert (school.municipality.name, school.need_index) == ("Ale", pytest.approx(1.12))

        # The coordinator invites the school's study counsellor.
        page.open(f"/coordinator/schools/{school.id}")
        page.assert_accessible()
        page.click(f"a[href='/coordinator/schools/{school.id}/staff']")
        page.assert_accessible()
        page.fill("#name", "Åsa Öberg")
        page.fill("#email", STAFF[0])
        page.click("form[aria-label='Bjud in'] [type=submit]")
        assert STAFF[0] in page.text()
        assert outbox.deliver_due(make_session, mail).sent == 1
        invitation = _link(_mail_to(smtp, STAFF[0]), "/auth/invitation/")

        # The counsellor follows the mailed link, chooses a password and uploads the cohort.
        page.logout()
        page.open(invitation)
        assert "Ängsskolan" in page.text()
        page.assert_accessible()
        page.fill("#password", STAFF[1])
        page.fill("#password_again", STAFF[1])
        page.click("main form [type=submit]")
        assert driver.current_url.endswith("/school/")
        assert "Ängsskolan" in page.text()
        page.open("/school/staff")
        page.assert_accessible()
        page.open("/school/import")
        cohort = tmp_path / "elever.csv"
        cohort.write_text(COHORT, encoding="utf-8")
        page.find("#file").send_keys(str(cohort))
        page.click("#upload-form [type=submit]")
        assert page.find("#would-create").text == "2"
        page.click("#confirm-form [type=submit]")
        assert page.all('tr[data-class="8A"]')
        with make_session() as session:
            assert session.scalar(select(func.count(m.Pupil.id)).where(m.Pupil.school_id == school.id)) == 2
            staff = session.scalars(select(m.User).where(m.User.email == STAFF[0])).one()
            assert staff.role is Role.SCHOOL_STAFF

        # An employer registers and confirms its address from its mail; the coordinator approves it.
        page.logout()
        page.open("/register/")
        for css, value in (
            ("#name", "Bageriet i Nödinge AB"),
            ("#org_number", "556677-8899"),
            ("#contact_name", "Per Bagare"),
            ("#email", EMPLOYER[0]),
            ("#password", EMPLOYER[1]),
            ("#password_again", EMPLOYER[1]),
        ):
            page.fill(css, value)
        page.click("#register-form [type=submit]")
        assert page.all("#sent")
        assert outbox.deliver_due(make_session, mail).sent == 1
        page.open(_link(_mail_to(smtp, EMPLOYER[0]), "/register/verify/"))
        assert driver.current_url.endswith("/employer/organisation")
        page.logout()
        page.login(*COORDINATOR)
        assert "Bageriet i Nödinge AB" in page.text()
        page.click("#pending-h ~ table button.primary")
        assert "Bageriet i Nödinge AB är godkänd" in page.text()
        with make_session() as session:
            employer = session.scalars(select(m.Employer).where(m.Employer.org_number == "556677-8899")).one()
            assert employer.status is EmployerStatus.APPROVED
        page.open("/coordinator/people")
        page.assert_accessible()
