"""The coordinator's pages through the test client: access, set-up, run, review, adjust, publish, changes, exports."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Iterator

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import solver
from placement import audit
from placement import models as m
from placement.enums import HOLDS_PLACE, AssignmentStatus, EmployerStatus, Role, RoundStatus
from placement.organisation import accounts
from placement.rounds import assignments as assignments_service
from placement.rounds import changes as round_changes
from placement.rounds import setup as rounds_setup
from placement.runtime import worker
from tests import factories as f
from tests.conftest import csrf_token

PASSWORD = "ett-långt-lösenord"


@pytest.fixture
def inline_solver(app: Flask, db_session: Session) -> None:
    """Runs queued solves at once in the test, on the test's connection (production starts a worker process)."""
    make_session = sessionmaker(
        bind=db_session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    app.config["SOLVE_LAUNCHER"] = lambda job_id: worker.run_job(make_session, job_id, heartbeat_s=None)


def _login(client: FlaskClient, session: Session, role: Role = Role.COORDINATOR, **kw: object) -> m.User:
    user = f.user(session, role, **kw)
    accounts.set_password(user, PASSWORD)
    session.flush()
    token = csrf_token(client)
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return user


def _post(client: FlaskClient, path: str, page: str, data: dict[str, object] | None = None) -> str:
    """Submit a form of ``page`` as the browser would; the test's session then sees what the request stored."""
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, page), **(data or {})},
        headers={"Referer": f"http://localhost{page}"},
        follow_redirects=True,
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    from web.extensions import db

    db.expire_all()
    _SESSIONS[-1].expire_all()
    return response.get_data(as_text=True)


_SESSIONS: list[Session] = []


@pytest.fixture(autouse=True)
def _track_session(db_session: Session) -> Iterator[None]:
    _SESSIONS.append(db_session)
    yield
    _SESSIONS.pop()


def test_only_coordinators_reach_the_pages(client: FlaskClient, db_session: Session) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    paths = [
        "/coordinator/",
        "/coordinator/season",
        "/coordinator/rounds",
        f"/coordinator/rounds/{allocation_round.id}",
    ]
    for path in paths:
        assert client.get(path).status_code == 302  # to the login page
    _login(client, db_session, Role.SCHOOL_STAFF)
    for path in paths:
        assert client.get(path).status_code == 404
    token = csrf_token(client, "/")
    assert client.post(f"/coordinator/rounds/{allocation_round.id}/run", data={"csrf_token": token}).status_code == 404


def test_overview_shows_pending_employers_and_approval_makes_offers_count(
    client: FlaskClient, db_session: Session
) -> None:
    _login(client, db_session)
    pending = f.employer(db_session, status=EmployerStatus.PENDING, name="Nya Verkstaden AB")
    html = client.get("/coordinator/").get_data(as_text=True)
    assert "Nya Verkstaden AB" in html
    _post(client, f"/coordinator/employers/{pending.id}/approve", "/coordinator/")
    assert pending.status is EmployerStatus.APPROVED
    assert db_session.scalar(select(m.AuditEvent).where(m.AuditEvent.action == "employer.approve")) is not None


def test_season_set_up(client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session)
    school = f.school(db_session, name="Kvarnlundsskolan")
    klass = f.school_class(db_session, school=school, name="8A", period=None)
    html = _post(
        client,
        "/coordinator/season/periods",
        "/coordinator/season",
        {"code": "v45", "name": "Vecka 45–46", "start_date": "2026-11-02", "end_date": "2026-11-13"},
    )
    assert "Vecka 45–46" in html
    period = db_session.scalar(select(m.Period).where(m.Period.code == "v45"))
    assert period is not None
    _post(
        client,
        f"/coordinator/season/schools/{school.id}/classes",
        "/coordinator/season",
        {f"class-{klass.id}": period.id},
    )
    assert klass.period_id == period.id
    _post(
        client,
        "/coordinator/season/window",
        "/coordinator/season",
        {"name": "Val hösten 2026", "opens_at": "2026-09-01T08:00", "closes_at": "2026-10-01T16:00", "max_choices": 6},
    )
    window = db_session.scalar(select(m.PreferenceWindow))
    assert window is not None
    assert window.max_choices == 6
    # 16:00 in Stockholm on 1 October (summer time) is 14:00 UTC.
    assert window.closes_at == dt.datetime(2026, 10, 1, 14, 0, tzinfo=dt.UTC)


def test_a_bad_policy_is_refused_with_the_field_named(client: FlaskClient, db_session: Session) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    _login(client, db_session)
    page = f"/coordinator/rounds/{allocation_round.id}"
    response = client.post(
        f"{page}/policy",
        data={
            "csrf_token": csrf_token(client, page),
            "max_distance_km": "500",
            "fairness_school": "1",
            "fairness_gender": "1",
            "fairness_need": "1",
            "time_limit_s": "60",
            "seed": "0",
        },
        follow_redirects=True,
    )
    assert "Största avstånd" in response.get_data(as_text=True)
    assert allocation_round.policy["max_distance_km"] == 20


@pytest.mark.usefixtures("inline_solver")
def test_run_review_adjust_publish_and_change(client: FlaskClient, db_session: Session) -> None:
    allocation_round, _, offers = f.small_round(db_session)
    _login(client, db_session)
    page = f"/coordinator/rounds/{allocation_round.id}"
    started = _post(client, f"{page}/run", page)  # the small round's period began on 2 November 2026
    assert 'id="started-warning"' in started
    assert allocation_round.status is RoundStatus.DRAFT  # asked first, nothing run
    html = _post(client, f"{page}/run", page, {"confirmed": "yes"})
    assert allocation_round.status is RoundStatus.PROPOSED

    # The review figures are those of the stored placements.
    rows = list(db_session.scalars(select(m.Assignment).where(m.Assignment.round_id == allocation_round.id)))
    ranks = Counter(a.rank for a in rows)
    assert re.search(rf'id="fig-placed">{len(rows)}<', html)
    for rank, count in ranks.items():
        assert re.search(rf'data-rank="{rank}"><th scope="row">[^<]*</th><td>{count}</td>', html)
    assert 'id="compare-table"' in html
    assert "Uppskjuten acceptans" in html

    # The audit files reproduce: the exported instance solved again with its seed gives the exported result.
    instance_doc = json.loads(client.get(f"{page}/export/instance.json").data)
    result_doc = json.loads(client.get(f"{page}/export/result.json").data)
    again_doc = solver.solve(solver.load_instance(instance_doc)).to_dict()
    assert sorted((a["student"], a["offer"]) for a in again_doc["assignments"]) == sorted(
        (a["student"], a["offer"]) for a in result_doc["assignments"]
    )
    status = client.get(f"{page}/status.json").get_json()
    assert status["round"] == "proposed"
    assert status["job"]["state"] == "succeeded"

    # The pupil list filters: those not at their first choice, and a search by name.
    listing = client.get(f"{page}/pupils?show=not_first").get_data(as_text=True)
    shown = set(re.findall(r'data-pupil="(P\d+)"', listing))
    assert shown == {f"P{a.pupil_id:06d}" for a in rows if a.rank != 1}
    named = rows[0].pupil
    found = client.get(f"{page}/pupils", query_string={"q": f"P{named.id:06d}"}).get_data(as_text=True)
    assert set(re.findall(r'data-pupil="(P\d+)"', found)) == {f"P{named.id:06d}"}

    # Explanations: a pupil not at the first choice sees why.
    second = next((a for a in rows if a.rank and a.rank > 1), None)
    if second is not None:
        story = client.get(f"{page}/pupils/{second.pupil_id}").get_data(as_text=True)
        assert "Fullt" in story

    # A refused move names the reason; a good move with a lock is kept.
    mover = rows[0]
    too_young = offers[2].code
    html = _post(
        client, f"{page}/pupils/{mover.pupil_id}/move", f"{page}/pupils/{mover.pupil_id}", {"offer": too_young}
    )
    assert "requires age 16" in html
    assert db_session.get(m.Assignment, mover.id).offer_id == mover.offer_id  # type: ignore[union-attr]
    _post(client, f"{page}/pupils/{mover.pupil_id}/lock", f"{page}/pupils/{mover.pupil_id}")
    assert mover.status is AssignmentStatus.LOCKED

    # Publish with a deadline a week ahead.
    deadline = (dt.datetime.now() + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")  # noqa: DTZ005 (local form time)
    outbox_before = db_session.scalar(select(func.count(m.OutboxMessage.id)))
    preview = _post(client, f"{page}/publish", page, {"deadline": deadline})
    # First what publishing will do (and that its period has begun); nothing has happened yet.
    assert 'id="started-warning"' in preview
    assert "w45" in preview
    assert allocation_round.status is RoundStatus.PROPOSED
    assert db_session.scalar(select(func.count(m.OutboxMessage.id))) == outbox_before
    placements = db_session.scalar(
        select(func.count(m.Assignment.id)).where(
            m.Assignment.round_id == allocation_round.id, m.Assignment.status.in_(HOLDS_PLACE)
        )
    )
    assert f"{placements} placeringar blir synliga" in preview
    mails = re.search(r"Publicera och skicka (\d+) e-postmeddelande", preview)
    assert mails is not None
    _post(client, f"{page}/publish", page, {"deadline": deadline, "confirmed": "yes"})
    assert allocation_round.status is RoundStatus.PUBLISHED
    assert allocation_round.confirm_deadline is not None
    # Exactly the mails the preview announced were queued.
    assert db_session.scalar(select(func.count(m.OutboxMessage.id))) - outbox_before == int(mails[1])

    # The employer of one placement declines it through the employer's page.
    declined = next(a for a in rows if a.id != mover.id)
    contact = f.user(db_session, Role.EMPLOYER_CONTACT)
    db_session.add(m.EmployerMembership(user=contact, employer_id=declined.offer.employer_id))
    accounts.set_password(contact, PASSWORD)
    db_session.flush()
    employer_client = client.application.test_client()
    token = csrf_token(employer_client)
    employer_client.post("/auth/login", data={"email": contact.email, "password": PASSWORD, "csrf_token": token})
    listing = employer_client.get("/employer/").get_data(as_text=True)
    assert declined.pupil.last_name in listing
    others = [a for a in rows if a.offer.employer_id != declined.offer.employer_id]
    assert all(a.pupil.last_name not in listing for a in others if a.pupil.last_name != declined.pupil.last_name)
    _post(employer_client, f"/employer/placements/{declined.id}/decline", "/employer/", {"reason": "Ingen handledare"})
    assert declined.status is AssignmentStatus.DECLINED

    # The incremental round proposes to place the pupil again; nothing changes until accepted.
    html = _post(client, f"{page}/run", page, {"confirmed": "yes"})
    assert 'id="changes"' in html
    assert f"P{declined.pupil_id:06d}" in html
    asked = _post(client, f"{page}/changes/accept", page)  # first what accepting will do
    pending = round_changes.pending_changes(db_session, allocation_round.id)
    placed = re.search(r"(\d+) elev(?:er)? får en ny eller första plats", asked)
    assert placed is not None
    assert int(placed[1]) == sum(1 for change in pending if change["to"]) >= 1
    assert f"Genomför {len(pending)} ändring" in asked
    assert "Inga e-postmeddelanden skickas" in asked
    assert (
        db_session.scalars(
            select(m.Assignment).where(
                m.Assignment.pupil_id == declined.pupil_id, m.Assignment.status == AssignmentStatus.PUBLISHED
            )
        ).all()
        == []
    )  # not yet
    _post(client, f"{page}/changes/accept", page, {"confirmed": "yes"})
    again = db_session.scalars(
        select(m.Assignment).where(
            m.Assignment.pupil_id == declined.pupil_id, m.Assignment.status == AssignmentStatus.PUBLISHED
        )
    ).one()
    assert again.offer_id != declined.offer_id
    assert mover.status is AssignmentStatus.LOCKED  # the locked placement is untouched

    # Exports: the list for the pupil's school and the audit files.
    response = client.get(f"{page}/export/placements.xlsx?school={again.pupil.school.code}")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    names = {str(c.value) for row in sheet.iter_rows() for c in row if c.value}
    assert again.pupil.last_name in names
    instance = json.loads(client.get(f"{page}/export/instance.json").data)
    assert instance["format"] == "praktik-instance/1"
    result = json.loads(client.get(f"{page}/export/result.json").data)
    assert result["format"] == "praktik-result/1"


@pytest.mark.usefixtures("inline_solver")
def test_a_pupil_is_moved_in_two_clicks_from_the_list_of_offers_with_free_places(
    client: FlaskClient, db_session: Session
) -> None:
    allocation_round, pupils, _offers = f.small_round(db_session)
    w45 = allocation_round.periods[0]
    free = f.offer(
        db_session, title="Bageriet Solrosen", places={w45: 2}, risk_assessment_confirmed_at=f.RISK_CONFIRMED
    )
    _login(client, db_session)
    page = f"/coordinator/rounds/{allocation_round.id}"
    _post(client, f"{page}/run", page, {"confirmed": "yes"})
    pupil_page = f"{page}/pupils/{pupils[0].id}"
    html = client.get(pupil_page).get_data(as_text=True)
    assert re.search(rf'<tr data-offer="{free.code}">.*?<td>2</td>', html, re.S)  # two places left
    assert "Flytta hit" in html
    assert f'data-offer="{free.code}"' not in client.get(f"{pupil_page}?q=finns-inte").get_data(as_text=True)
    moved = _post(client, f"{pupil_page}/move", pupil_page, {"offer": free.code})
    assert f"Eleven är flyttad till {free.code}" in moved
    assert assignments_service.current(db_session, allocation_round.id, pupils[0].id).offer_id == free.id  # type: ignore[union-attr]
    assert re.search(
        rf'<tr data-offer="{free.code}">.*?<td>1</td>',
        client.get(f"{page}/pupils/{pupils[1].id}").get_data(as_text=True),
        re.S,
    )


def test_a_round_of_periods_ahead_runs_at_once(client: FlaskClient, db_session: Session) -> None:
    today = dt.datetime.now(dt.UTC).date()
    ahead = f.period(db_session, code="ahead", start_date=today + dt.timedelta(days=30))
    allocation_round = rounds_setup.create_round(db_session, "Vår", [ahead.code], actor=audit.CLI)
    launched: list[int] = []
    client.application.config["SOLVE_LAUNCHER"] = launched.append
    _login(client, db_session)
    page = f"/coordinator/rounds/{allocation_round.id}"
    html = _post(client, f"{page}/run", page)
    assert 'id="started-warning"' not in html
    assert len(launched) == 1  # run at once: nothing has started, nothing to confirm


def test_an_employer_sees_only_its_own_pupils(client: FlaskClient, db_session: Session) -> None:
    contact = _login(client, db_session, Role.EMPLOYER_CONTACT)
    foreign = f.offer(db_session)
    db_session.add(m.EmployerMembership(user=contact, employer=f.employer(db_session)))
    db_session.flush()
    token = csrf_token(client, "/employer/")
    assert client.post("/employer/placements/999999/confirm", data={"csrf_token": token}).status_code == 404
    assert foreign.code not in client.get("/employer/").get_data(as_text=True)
