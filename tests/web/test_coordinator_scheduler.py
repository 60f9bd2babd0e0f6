"""The coordinator's scheduler page (jobs, runs, outbox, resend) and a round's automation settings."""

from __future__ import annotations

import datetime as dt
import threading

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import models as m
from placement.db import utcnow
from placement.enums import JobRunState, MailState, Role, UnansweredRule
from placement.mail import outbox as mail
from tests import factories as f
from tests.conftest import csrf_token
from tests.web.test_coordinator import _login, _post, _track_session  # noqa: F401  (autouse: _post needs it)
from web.coordinator.forms import to_utc


def _message(session: Session, state: MailState, **kw: object) -> m.OutboxMessage:
    message = mail.enqueue(
        session,
        kind="employer_reminder",
        recipient=str(kw.pop("recipient", "kontakt@foretag.example")),
        locale="sv",
        context={"name": "Kim", "employer": "Bageriet AB", "deadline": "2026-12-01 16:00", "unanswered": 2, "url": "x"},
        dedup_key=str(kw.pop("dedup_key", f"test:{state.value}:{utcnow().timestamp()}")),
    )
    assert message is not None
    message.state = state
    for name, value in kw.items():
        setattr(message, name, value)
    session.flush()
    return message


def test_the_scheduler_page_shows_jobs_runs_failures_and_the_outbox(client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session)
    now = utcnow()
    db_session.add_all(
        [
            m.JobRun(
                job_id="mail",
                scheduled_for=now - dt.timedelta(minutes=1),
                state=JobRunState.SUCCEEDED,
                started_at=now - dt.timedelta(minutes=1),
                finished_at=now,
                host="h",
                pid=1,
                summary="3 sent, 0 to retry, 0 failed",
            ),
            m.JobRun(
                job_id="deadlines",
                scheduled_for=now - dt.timedelta(minutes=2),
                state=JobRunState.FAILED,
                started_at=now - dt.timedelta(minutes=2),
                host="h",
                pid=1,
                error="Traceback ...\nOperationalError: the database is gone",
            ),
        ]
    )
    _message(db_session, MailState.FAILED, recipient="studsar@foretag.example", last_error="550 5.1.1 no such user")
    _message(db_session, MailState.SENT, recipient="nadde@foretag.example", sent_at=now)
    db_session.flush()

    html = client.get("/coordinator/scheduler").get_data(as_text=True)

    assert 'id="scheduler-running"' in html  # runs in the last minutes
    for job_id in ("windows", "deadlines", "reminders", "mail", "digest", "purge"):
        assert f'id="job-{job_id}"' in html
    assert "3 sent, 0 to retry, 0 failed" in html
    assert "OperationalError: the database is gone" in html
    assert "550 5.1.1 no such user" in html
    assert "studsar@foretag.example" in html
    failed_only = client.get("/coordinator/scheduler?state=failed").get_data(as_text=True)
    assert "studsar@foretag.example" in failed_only
    assert "nadde@foretag.example" not in failed_only
    assert client.get("/coordinator/scheduler?state=bogus").status_code == 404


def test_a_silent_scheduler_is_shown_as_such(client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session)
    html = client.get("/coordinator/scheduler").get_data(as_text=True)
    assert 'id="scheduler-silent"' in html


def test_a_coordinator_resends_a_failed_message(client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session)
    failed = _message(db_session, MailState.FAILED, recipient="studsar@foretag.example", last_error="550 no such user")

    _post(client, f"/coordinator/outbox/{failed.id}/resend", "/coordinator/scheduler")

    copies = db_session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.resend_of_id == failed.id)).all()
    assert [(c.state, c.recipient, c.body) for c in copies] == [(MailState.QUEUED, failed.recipient, failed.body)]
    assert failed.state is MailState.FAILED
    event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "mail.resend")).one()
    assert event.entity_id == copies[0].id


def test_only_coordinators_see_the_scheduler_page_and_resend(client: FlaskClient, db_session: Session) -> None:
    message = _message(db_session, MailState.FAILED)
    _login(client, db_session, Role.SCHOOL_STAFF)
    assert client.get("/coordinator/scheduler").status_code == 404  # other roles are not told the page exists
    response = client.post(f"/coordinator/outbox/{message.id}/resend", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 404
    assert db_session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.resend_of_id == message.id)).all() == []


def test_a_round_is_set_to_run_when_its_window_closes_and_its_deadline_rule_chosen(
    client: FlaskClient, db_session: Session
) -> None:
    _login(client, db_session)
    allocation_round, _, _ = f.small_round(db_session)
    window = m.PreferenceWindow(
        name="Val vecka 45", opens_at=utcnow(), closes_at=utcnow() + dt.timedelta(days=7), max_choices=5
    )
    db_session.add(window)
    db_session.flush()
    page = f"/coordinator/rounds/{allocation_round.id}"
    assert 'id="automation"' in client.get(page).get_data(as_text=True)

    _post(
        client,
        f"{page}/automation",
        page,
        {"preference_window": str(window.id), "auto_run": "y", "unanswered_rule": "release"},
    )

    assert allocation_round.auto_run is True
    assert allocation_round.preference_window_id == window.id
    assert allocation_round.unanswered_rule is UnansweredRule.RELEASE
    event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "round.automation")).one()
    assert event.after == {"auto_run": True, "preference_window_id": window.id, "unanswered_rule": "release"}


def test_running_by_itself_needs_a_window(client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session)
    allocation_round, _, _ = f.small_round(db_session)
    page = f"/coordinator/rounds/{allocation_round.id}"
    html = _post(
        client, f"{page}/automation", page, {"preference_window": "0", "auto_run": "y", "unanswered_rule": "confirm"}
    )
    assert "auto_run needs a preference window" in html
    assert allocation_round.auto_run is False


def test_the_web_app_never_starts_a_scheduler(app: Flask, client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session)
    client.get("/coordinator/scheduler")
    names = [thread.name for thread in threading.enumerate()]
    assert not [name for name in names if "APScheduler" in name or "scheduler" in name.lower()]


def test_a_local_time_on_a_daylight_saving_change_is_one_documented_instant() -> None:
    spring = to_utc(dt.datetime.fromisoformat("2027-03-28T02:30"))  # as the form reads it; no such time here
    autumn = to_utc(dt.datetime.fromisoformat("2026-10-25T02:30"))  # this time occurs twice
    assert spring == dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC)  # 03:30 summer time
    assert autumn == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # the first 02:30, summer time
