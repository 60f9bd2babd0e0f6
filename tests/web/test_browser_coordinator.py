"""The coordinator's whole season in headless Chromium, on the demo region, against a live server.

Set-up, the window closes, run (in a worker process), review (figures checked
against an independent count of the stored placements), adjust, publish, an
employer confirms and declines, and the incremental round keeps every
confirmed placement and places the declined pupil again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit, demo
from placement import models as m
from placement.db import make_engine
from placement.enums import AssignmentStatus, Role, RoundStatus
from placement.organisation import accounts
from placement.rounds import answers
from tests.web.browser import Page, chromium, live_server, require_chromium
from web.app import create_app

pytestmark = pytest.mark.slow
COORDINATOR = ("samordnare@demo.praktik.se", "demo-samordnare-2026")
STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.fixture
def demo_engine(live_database_url: str) -> Iterator[Engine]:
    require_chromium()
    engine = make_engine(live_database_url)
    with Session(engine) as session, session.begin():
        demo.load_demo_region(session)
    yield engine
    engine.dispose()


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M")


def _count_by_rank(session: Session, round_id: int) -> Counter[str]:
    """An independent count of the stored placements, as the review page should show them."""
    rows = session.execute(
        select(m.Assignment.rank, m.Assignment.status).where(
            m.Assignment.round_id == round_id,
            m.Assignment.status.in_((AssignmentStatus.PROPOSED, AssignmentStatus.LOCKED)),
        )
    ).all()
    counts: Counter[str] = Counter()
    for rank, status in rows:
        counts["locked" if status is AssignmentStatus.LOCKED else "unranked" if rank is None else str(rank)] += 1
    return counts


def _figure(page: Page, css: str) -> str:
    return str(page.find(css).text).strip()


def test_coordinator_season_in_the_browser(live_database_url: str, demo_engine: Engine) -> None:
    make_session = sessionmaker(bind=demo_engine, expire_on_commit=False)
    app = create_app({"DATABASE_URL": live_database_url, "SECRET_KEY": "browser-test", "TESTING": False})
    with live_server(app) as base, chromium() as driver:
        page = Page(driver, base)
        page.login(*COORDINATOR)
        page.open("/coordinator/")
        assert "Översikt inför fördelningen" in page.text()
        assert page.all("svg.chart"), "the demand and supply chart is shown"

        # Set-up: the preference window closes now.
        page.open("/coordinator/season")
        now = dt.datetime.now(dt.UTC)
        page.set_value("#closes_at", _local(now - dt.timedelta(minutes=1)))
        page.click("#window-form [type=submit]")
        assert "Valperioden är sparad" in page.text()
        with make_session() as session:
            window = session.scalars(select(m.PreferenceWindow)).one()
            assert not window.is_open()

        # A new round over every period, with the default policy.
        page.open("/coordinator/rounds")
        page.fill("#name", "Webbtest")
        page.click("form.stack [type=submit]")
        round_id = int(re.search(r"/rounds/(\d+)", driver.current_url).group(1))  # type: ignore[union-attr]

        # Run: solved in a worker process, the page follows until the proposal is there.
        page.click("#run-button")
        page.wait_for(
            lambda: page.find("#round-status").get_attribute("data-status") in ("proposed", "failed"),
            what="the solve",
        )
        assert page.find("#round-status").get_attribute("data-status") == "proposed", page.text()[:2000]

        # Review: the figures match an independent count of the stored placements.
        with make_session() as session:
            counts = _count_by_rank(session, round_id)
            pupils = session.scalar(
                select(func.count(m.Pupil.id)).join(m.SchoolClass).where(m.SchoolClass.period_id.is_not(None))
            )
        assert _figure(page, "#fig-placed") == str(sum(counts.values()))
        for label, count in counts.items():
            cells = page.find(f'#rank-table tr[data-rank="{label}"] td').text
            assert cells == str(count), label
        assert f"av {pupils} elever" in page.text()
        assert "Uppskjuten acceptans" in page.find("#compare-table").text
        assert "Först till kvarn" in page.find("#compare-table").text

        # Adjust: a move to a full offer is refused with the reason; a lock is kept.
        with make_session() as session:
            second = session.scalars(
                select(m.Assignment).where(m.Assignment.round_id == round_id, m.Assignment.rank == 2).limit(1)
            ).one()
            first_choice = session.scalar(
                select(m.Offer.code)
                .join(m.Preference, m.Preference.offer_id == m.Offer.id)
                .where(m.Preference.pupil_id == second.pupil_id, m.Preference.rank == 1)
            )
            locked_pupil = second.pupil_id
        page.open(f"/coordinator/rounds/{round_id}/pupils/{locked_pupil}")
        assert page.all("#explanations"), "the pupil's higher choices are explained"
        assert page.all("#move-count"), "the offers the pupil can be moved to are listed (or said to be none)"
        page.assert_accessible()
        page.fill("#offer", str(first_choice))
        page.click("#move-form [type=submit]")
        assert "cannot be placed" in page.text()
        page.click("#lock-button")
        assert page.find("#placement").get_attribute("data-status") == "locked"

        # Publish with a deadline a week ahead.
        page.open(f"/coordinator/rounds/{round_id}")
        page.set_value("#deadline", _local(now + dt.timedelta(days=7)))
        page.click("#publish-button")
        assert "placeringar blir synliga" in page.find("#consequences").text  # what it does, before it does it
        page.assert_accessible()
        page.click("#confirm-button")
        assert page.find("#round-status").get_attribute("data-status") == "published"

        # An employer with at least two pupils confirms one and declines the other.
        with make_session() as session, session.begin():
            employer_id, _n = session.execute(
                select(m.Offer.employer_id, func.count(m.Assignment.id))
                .join(m.Assignment, m.Assignment.offer_id == m.Offer.id)
                .where(m.Assignment.round_id == round_id, m.Assignment.status == AssignmentStatus.PUBLISHED)
                .group_by(m.Offer.employer_id)
                .order_by(func.count(m.Assignment.id).desc(), m.Offer.employer_id)
                .limit(1)
            ).one()
            contact = m.User(
                role=Role.EMPLOYER_CONTACT,
                email="handledare@example.se",
                display_name="Handledare",
                email_verified_at=dt.datetime.now(dt.UTC),
            )
            accounts.set_password(contact, "ett-långt-lösenord")
            session.add(contact)
            session.add(m.EmployerMembership(user=contact, employer_id=employer_id))
            # Most other employers answer too: they confirm.
            others = session.scalars(
                select(m.Assignment)
                .join(m.Offer, m.Assignment.offer_id == m.Offer.id)
                .where(
                    m.Assignment.round_id == round_id,
                    m.Assignment.status == AssignmentStatus.PUBLISHED,
                    m.Offer.employer_id != employer_id,
                )
                .order_by(m.Assignment.id)
                .limit(1500)
            ).all()
            for other in others:
                answers.confirm(session, other, actor=audit.CLI)
        page.logout()
        page.login("handledare@example.se", "ett-långt-lösenord")
        page.open("/employer/")
        rows = page.all("#employer-placements tbody tr")
        assert len(rows) >= 2
        confirmed_id = int(rows[0].get_attribute("data-assignment") or 0)
        declined_id = int(rows[1].get_attribute("data-assignment") or 0)
        page.click(f'tr[data-assignment="{confirmed_id}"] form[action$="/confirm"] button')
        page.find(f'tr[data-assignment="{declined_id}"] details summary').click()  # opens, no page load
        page.fill(f"#reason-{declined_id}", "Vår handledare är sjukskriven den veckan")
        page.click(f'tr[data-assignment="{declined_id}"] details form button')
        assert page.find(f'tr[data-assignment="{declined_id}"]').get_attribute("data-status") == "declined"

        with make_session() as session:
            confirmed_before = dict(
                session.execute(
                    select(m.Assignment.pupil_id, m.Assignment.offer_id).where(
                        m.Assignment.round_id == round_id,
                        m.Assignment.status.in_((AssignmentStatus.CONFIRMED, AssignmentStatus.LOCKED)),
                    )
                ).all()
            )
            declined = session.get(m.Assignment, declined_id)
            assert declined is not None
            assert declined.status is AssignmentStatus.DECLINED
        assert len(confirmed_before) > 1000

        # The incremental round: who would move is shown before anything changes.
        page.logout()
        page.login(*COORDINATOR)
        page.open(f"/coordinator/rounds/{round_id}")
        page.click("#run-button")
        page.wait_for(lambda: page.all("#changes") or page.all('#job-status[data-state="failed"]'), what="the changes")
        assert page.all("#changes"), page.text()[:2000]
        student = f"P{declined.pupil_id:06d}"
        assert student in page.find("#changes").text
        page.click("#accept-changes")
        assert "Bekräftade och låsta placeringar ändras inte" in page.find("#consequences").text
        page.assert_accessible()
        page.click("#confirm-button")
        assert "ändringar är genomförda" in page.text()

    with make_session() as session:
        confirmed_after = dict(
            session.execute(
                select(m.Assignment.pupil_id, m.Assignment.offer_id).where(
                    m.Assignment.round_id == round_id,
                    m.Assignment.status.in_((AssignmentStatus.CONFIRMED, AssignmentStatus.LOCKED)),
                )
            ).all()
        )
        assert confirmed_after == confirmed_before  # every confirmed and locked placement unchanged
        again = session.scalars(
            select(m.Assignment).where(
                m.Assignment.pupil_id == declined.pupil_id, m.Assignment.status == AssignmentStatus.PUBLISHED
            )
        ).one()
        assert again.offer_id != declined.offer_id
        assert session.get(m.AllocationRound, round_id).status is RoundStatus.PUBLISHED  # type: ignore[union-attr]
        actions = set(session.scalars(select(m.AuditEvent.action).where(m.AuditEvent.entity_id == round_id)))
        assert {"round.create", "round.solve.finish", "round.publish", "round.changes.finish"} <= actions
