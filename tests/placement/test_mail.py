"""The e-mail outbox against a real SMTP server on loopback: queued once, sent once, outages lose nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import threading
from collections.abc import Iterator
from typing import Any

import icalendar
import jinja2
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.db import make_engine, utcnow
from placement.enums import AssignmentStatus, JobState, MailKind, MailState, Role
from placement.errors import Conflict, NotFound, ValidationError
from placement.mail import outbox as mail
from placement.rounds import answers, assignments, jobs
from placement.runtime import worker
from tests import factories as f
from tests.smtp_server import SmtpServer

COORDINATOR = audit.Actor("user:1", user_id=None)
SENDER = "Praktik <praktik@kommun.example>"
NOW = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)

#: A context for every template, with exactly the documented keys.
SAMPLES: dict[str, dict[str, Any]] = {
    "verify_email": {"name": "Kristina Wikström", "url": "https://praktik.kommun.example/register/verify/abc"},
    "window_open": {
        "name": "Åsa Öberg",
        "school": "Ängsskolan",
        "window_name": "PRAO hösten 2026",
        "closes_at": "2026-10-01 16:00",
        "max_choices": 5,
        "url": "https://prao.example/",
    },
    "school_reminder": {
        "name": "Åsa Öberg",
        "school": "Ängsskolan",
        "window_name": "PRAO hösten 2026",
        "closes_at": "2026-10-01 16:00",
        "missing": 7,
        "classes": [{"class_name": "8A", "count": 3}, {"class_name": "8B", "count": 4}],
        "url": "https://prao.example/",
    },
    "employer_reminder": {
        "name": "Per Ek",
        "employer": "Bageriet AB",
        "deadline": "2026-10-20 16:00",
        "unanswered": 2,
        "url": "https://prao.example/employer/",
    },
    "round_published": {
        "name": "Per Ek",
        "organisation": "Bageriet AB",
        "role": "employer",
        "placements": 3,
        "deadline": "2026-10-20 16:00",
        "url": "https://prao.example/employer/",
    },
    "placement_confirmed": {
        "name": "Åsa Öberg",
        "pupil": "Lisa Larsson",
        "school": "Ängsskolan",
        "class_name": "8A",
        "employer": "Bageriet AB",
        "title": "Bagare",
        "address": "Storgatan 1, 411 38 Göteborg",
        "start": "2026-11-02",
        "end": "2026-11-13",
        "supervisor": "Per Ek",
        "url": "https://prao.example/",
    },
    "placements_released": {"name": "Per Ek", "employer": "Bageriet AB", "released": 1, "deadline": "2026-10-20"},
    "round_auto_run": {
        "name": "Kim Samordnare",
        "round_name": "Höst",
        "status": "proposed",
        "placed": 410,
        "pupils": 412,
        "url": "https://prao.example/coordinator/rounds/1",
    },
    "weekly_digest": {
        "name": "Kim Samordnare",
        "week": "2026-W48",
        "items": [{"key": "employers_waiting_for_approval", "count": 3}],
        "failed_mail": 1,
        "failed_jobs": 0,
        "url": "https://prao.example/coordinator/",
    },
    "account_created": {"name": "Kim Samordnare", "url": "https://prao.example/auth/set-password/abc", "hours": 48},
    "password_reset": {"name": "Per Ek", "url": "https://prao.example/auth/set-password/abc", "hours": 48},
    "invitation": {
        "name": "Åsa Öberg",
        "inviter": "Kim Samordnare",
        "role": "school_staff",
        "organisation": "Ängsskolan",
        "url": "https://prao.example/auth/invitation/abc",
        "hours": 72,
    },
    "account_exists": {
        "name": "Per Ek",
        "login_url": "https://prao.example/auth/login",
        "reset_url": "https://prao.example/auth/forgot-password",
    },
}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(smtp: SmtpServer) -> mail.SmtpSettings:
    return mail.SmtpSettings(
        host=smtp.host, port=smtp.port, use_tls=False, username=None, password=None, sender=SENDER, timeout_s=5
    )


@pytest.fixture
def make_session(db_session: Session) -> sessionmaker[Session]:
    """Sessions whose transactions are savepoints of the test's rolled-back one."""
    return sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)


def _queue(session: Session, key: str, recipient: str = "asa@skola.example", **kw: Any) -> m.OutboxMessage:
    kind = kw.pop("kind", "window_open")
    message = mail.enqueue(
        session,
        kind=kind,
        recipient=recipient,
        locale=kw.pop("locale", "sv"),
        context=kw.pop("context", SAMPLES[kind]),
        dedup_key=key,
        now=kw.pop("now", NOW),
        sender=SENDER,
        **kw,
    )
    assert message is not None
    session.flush()
    return message


def _reload(session: Session, *messages: m.OutboxMessage) -> None:
    for message in messages:
        session.refresh(message)


# --- queueing and templates ------------------------------------------------------------------------------------------


def test_enqueue_twice_queues_one_message(db_session: Session) -> None:
    first = _queue(db_session, "window:1:user:1", locale="de-DE")
    again = mail.enqueue(
        db_session,
        kind="window_open",
        recipient="asa@skola.example",
        locale="sv",
        context=SAMPLES["window_open"],
        dedup_key="window:1:user:1",
    )
    assert again is None
    assert db_session.scalar(select(func.count(m.OutboxMessage.id))) == 1
    assert first.state is MailState.QUEUED
    assert first.next_attempt_at == NOW
    assert first.attempts == 0
    assert first.locale == "sv"  # unknown languages fall back to Swedish
    assert first.message_id.endswith("@kommun.example>")
    assert first.subject == "Valet av PRAO-platser har öppnat – PRAO hösten 2026"


def test_a_duplicate_queued_concurrently_is_caught_by_the_constraint(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queue(db_session, "window:1:user:1")
    monkeypatch.setattr(mail, "_exists", lambda session, key: False)  # as if another transaction won the race
    assert (
        mail.enqueue(
            db_session,
            kind="window_open",
            recipient="asa@skola.example",
            locale="sv",
            context=SAMPLES["window_open"],
            dedup_key="window:1:user:1",
        )
        is None
    )
    _queue(db_session, "window:1:user:2")  # the session is still usable
    assert db_session.scalar(select(func.count(m.OutboxMessage.id))) == 2


def test_a_bad_recipient_is_refused(db_session: Session) -> None:
    with pytest.raises(ValidationError, match="not an e-mail address"):
        _queue(db_session, "k", recipient="asa at skola")


@pytest.mark.parametrize("locale", ["sv", "en"])
@pytest.mark.parametrize("kind", sorted(mail.KINDS))
def test_every_template_renders_in_both_languages(kind: str, locale: str) -> None:
    assert set(SAMPLES[kind]) == mail.KINDS[kind]
    subject, body = mail.render(kind, locale, SAMPLES[kind])
    assert subject
    assert "\n" not in subject
    assert "{" not in subject + body
    assert "Subject:" not in body
    assert body.startswith(("Hej " if locale == "sv" else "Hello ") + SAMPLES[kind]["name"])
    assert ("Med vänliga hälsningar" if locale == "sv" else "Kind regards") in body
    assert body.endswith("\n")
    assert "\n\n\n" not in body
    for key in ("school", "employer", "window_name", "round_name", "week", "url", "organisation", "hours", "reset_url"):
        if key in SAMPLES[kind]:
            assert str(SAMPLES[kind][key]) in subject + body, key


@pytest.mark.parametrize(
    ("locale", "status", "figure"),
    [
        ("sv", "förslag klart att granska", "Arbetsgivare som väntar på godkännande: 3"),
        ("en", "proposal ready for review", "Employers waiting for approval: 3"),
    ],
)
def test_the_words_the_scheduler_sends_are_the_templates_own(locale: str, status: str, figure: str) -> None:
    """A round's status and the digest's figures arrive as codes and are worded by each language's template."""
    subject, body = mail.render(MailKind.ROUND_AUTO_RUN, locale, SAMPLES["round_auto_run"])
    assert subject.endswith(status)
    assert f"Status: {status}." in body
    _subject, digest = mail.render(MailKind.WEEKLY_DIGEST, locale, SAMPLES["weekly_digest"])
    assert figure in digest


def test_templates_show_lists_and_optional_parts() -> None:
    _, body = mail.render("school_reminder", "sv", SAMPLES["school_reminder"])
    assert "  8A: 3\n  8B: 4\n" in body
    _, body = mail.render("placement_confirmed", "en", SAMPLES["placement_confirmed"] | {"supervisor": ""})
    assert "Supervisor" not in body
    assert "Dates: 2026-11-02 – 2026-11-13" in body
    _, body = mail.render("round_auto_run", "sv", SAMPLES["round_auto_run"] | {"placed": None})
    assert "Ingen fördelning gjordes (412 elever i omgången)." in body
    subject, _ = mail.render("employer_reminder", "sv", SAMPLES["employer_reminder"] | {"unanswered": 1})
    assert subject == "Påminnelse: svara på PRAO-placeringar senast 2026-10-20 16:00"
    _, body = mail.render("round_published", "sv", SAMPLES["round_published"] | {"role": "school", "placements": 1})
    assert "1 elev på Bageriet AB har fått en plats" in body


@pytest.mark.parametrize("kind", sorted(mail.KINDS))
def test_a_missing_context_key_raises(kind: str) -> None:
    for key in SAMPLES[kind]:
        context = {k: v for k, v in SAMPLES[kind].items() if k != key}
        with pytest.raises(ValueError, match=f"lacks {key}"):
            mail.render(kind, "sv", context)


def test_an_unknown_kind_or_a_broken_list_item_raises() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        mail.render("newsletter", "sv", {})
    with pytest.raises(jinja2.UndefinedError):
        mail.render("school_reminder", "sv", SAMPLES["school_reminder"] | {"classes": [{"class_name": "8A"}]})


def test_settings_from_config_and_backoff() -> None:
    settings = mail.SmtpSettings.from_config(
        {
            "MAIL_HOST": "smtp.kommun.example",
            "MAIL_PORT": "587",
            "MAIL_USE_TLS": True,
            "MAIL_USERNAME": "praktik",
            "MAIL_PASSWORD": "hemligt",
            "MAIL_SENDER": SENDER,
            "MAIL_TIMEOUT_S": "12.5",
        }
    )
    assert settings == mail.SmtpSettings("smtp.kommun.example", 587, True, "praktik", "hemligt", SENDER, 12.5)
    assert settings.envelope_sender == "praktik@kommun.example"
    assert mail.SmtpSettings.from_config({"MAIL_USERNAME": ""}).username is None
    minutes = [mail.backoff(n) / dt.timedelta(minutes=1) for n in range(1, 8)]
    assert minutes == [1, 5, 15, 60, 180, 180, 180]


def test_the_calendar_is_an_all_day_event_over_the_period() -> None:
    attachment = mail.placement_calendar(
        uid="prao-assignment-7@praktik",
        title="Bagare",
        employer="Bageriet AB",
        address="Storgatan 1, 411 38 Göteborg",
        start=dt.date(2026, 11, 2),
        end=dt.date(2026, 11, 13),
        supervisor="Per Ek",
        supervisor_phone="031-12 34 56",
        supervisor_email="per@bageriet.example",
        pupil="Lisa Larsson",
    )
    assert attachment.filename == "prao.ics"
    assert attachment.content_type == "text/calendar; method=PUBLISH; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(attachment.data)
    assert str(calendar["version"]) == "2.0"
    assert str(calendar["method"]) == "PUBLISH"
    assert calendar["prodid"]
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == dt.date(2026, 11, 2)
    assert event.decoded("dtend") == dt.date(2026, 11, 14)  # exclusive: the last day is included
    assert str(event["summary"]) == "PRAO: Bagare – Bageriet AB"
    assert str(event["location"]) == "Storgatan 1, 411 38 Göteborg"
    assert str(event["uid"]) == "prao-assignment-7@praktik"
    assert "Handledare: Per Ek, 031-12 34 56, per@bageriet.example" in str(event["description"])
    assert event.decoded("dtstamp").tzinfo is not None


# --- delivery --------------------------------------------------------------------------------------------------------


def test_delivery_hands_one_message_to_the_server(
    db_session: Session, make_session: sessionmaker[Session], smtp: SmtpServer, settings: mail.SmtpSettings
) -> None:
    calendar = mail.placement_calendar(
        uid="prao-assignment-1@praktik",
        title="Bagare",
        employer="Bageriet AB",
        address="Storgatan 1, 411 38 Göteborg",
        start=dt.date(2026, 11, 2),
        end=dt.date(2026, 11, 13),
    )
    message = _queue(
        db_session, "assignment:1:confirmed:user:1", kind="placement_confirmed", attachment=calendar, user_id=None
    )
    report = mail.deliver_due(make_session, settings, now=NOW)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    assert str(report) == "1 sent, 0 to retry, 0 failed"
    (received,) = smtp.received
    assert received.mail_from == "praktik@kommun.example"
    assert received.rcpt_tos == ("asa@skola.example",)
    sent = received.message
    assert sent["From"] == SENDER
    assert sent["To"] == "asa@skola.example"
    assert sent["Subject"] == "PRAO-plats bekräftad – 8A, Bageriet AB"
    assert sent["Message-ID"] == message.message_id
    assert sent["Auto-Submitted"] == "auto-generated"
    assert email.utils.parsedate_to_datetime(sent["Date"]) == NOW
    text = sent.get_body(preferencelist=("plain",))
    assert text is not None
    assert "Bageriet AB har bekräftat PRAO-platsen för Lisa Larsson i 8A på Ängsskolan." in text.get_content()
    (part,) = list(sent.iter_attachments())
    assert part.get_filename() == "prao.ics"
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "PUBLISH"
    (event,) = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    assert event.decoded("dtstart") == dt.date(2026, 11, 2)
    assert event.decoded("dtend") == dt.date(2026, 11, 14)
    assert str(event["summary"]) == "PRAO: Bagare – Bageriet AB"

    _reload(db_session, message)
    assert message.state is MailState.SENT
    assert message.sent_at == NOW
    assert message.attempts == 1
    later = mail.deliver_due(make_session, settings, now=NOW + dt.timedelta(hours=1))
    assert (later.sent, later.retried, later.failed) == (0, 0, 0)
    assert len(smtp.received) == 1


def test_an_outage_loses_nothing_and_each_message_goes_once(
    db_session: Session, make_session: sessionmaker[Session], smtp: SmtpServer, settings: mail.SmtpSettings
) -> None:
    messages = [_queue(db_session, f"window:1:user:{n}", recipient=f"user{n}@skola.example") for n in range(3)]
    smtp.stop()
    report = mail.deliver_due(make_session, settings, now=NOW)
    assert (report.sent, report.retried, report.failed) == (0, 3, 0)
    _reload(db_session, *messages)
    for message in messages:
        assert message.state is MailState.QUEUED
        assert message.attempts == 1
        assert message.next_attempt_at == NOW + dt.timedelta(minutes=1)
        assert "not reachable" in (message.last_error or "")
    # Before the back-off has passed nothing is tried, even with the server back.
    smtp.start()
    early = mail.deliver_due(make_session, settings, now=NOW + dt.timedelta(seconds=30))
    assert (early.sent, early.retried) == (0, 0)
    assert smtp.received == []

    report = mail.deliver_due(make_session, settings, now=NOW + dt.timedelta(minutes=2))
    assert report.sent == 3
    assert sorted(msg["Message-ID"] for msg in smtp.messages) == sorted(m_.message_id for m_ in messages)
    _reload(db_session, *messages)
    assert {message.state for message in messages} == {MailState.SENT}
    assert {message.attempts for message in messages} == {2}
    again = mail.deliver_due(make_session, settings, now=NOW + dt.timedelta(days=1))
    assert again.sent == 0
    assert len(smtp.received) == 3


def test_a_refusal_5xx_fails_the_message_with_the_servers_answer(
    db_session: Session, make_session: sessionmaker[Session], smtp: SmtpServer, settings: mail.SmtpSettings
) -> None:
    smtp.answer("gone@skola.example", "550 5.1.1 <gone@skola.example>: Recipient address rejected: User unknown")
    bounced = _queue(db_session, "a", recipient="gone@skola.example")
    fine = _queue(db_session, "b", recipient="here@skola.example")
    report = mail.deliver_due(make_session, settings, now=NOW)
    assert (report.sent, report.retried, report.failed) == (1, 0, 1)
    _reload(db_session, bounced, fine)
    assert fine.state is MailState.SENT  # the same connection went on after the refusal
    assert bounced.state is MailState.FAILED
    assert "550 5.1.1 <gone@skola.example>: Recipient address rejected: User unknown" in (bounced.last_error or "")
    assert [msg["To"] for msg in smtp.messages] == ["here@skola.example"]
    assert mail.counts(db_session) == {
        MailState.QUEUED: 0,
        MailState.SENDING: 0,
        MailState.SENT: 1,
        MailState.FAILED: 1,
    }
    assert mail.outbox(db_session, state=MailState.FAILED) == [bounced]
    assert [x.id for x in mail.outbox(db_session)] == [fine.id, bounced.id]  # newest first
    assert mail.deliver_due(make_session, settings, now=NOW + dt.timedelta(days=2)).sent == 0


def test_a_refusal_4xx_is_retried_later(
    db_session: Session, make_session: sessionmaker[Session], smtp: SmtpServer, settings: mail.SmtpSettings
) -> None:
    smtp.answer("busy@skola.example", "450 4.2.1 Mailbox busy, try again later")
    message = _queue(db_session, "a", recipient="busy@skola.example")
    report = mail.deliver_due(make_session, settings, now=NOW)
    assert (report.sent, report.retried, report.failed) == (0, 1, 0)
    _reload(db_session, message)
    assert message.state is MailState.QUEUED
    assert message.attempts == 1
    assert message.next_attempt_at == NOW + dt.timedelta(minutes=1)
    assert "450 4.2.1 Mailbox busy" in (message.last_error or "")
    smtp.accept("busy@skola.example")
    assert mail.deliver_due(make_session, settings, now=NOW + dt.timedelta(minutes=1)).sent == 1
    assert len(smtp.received) == 1


def test_a_message_that_keeps_failing_fails_after_the_last_attempt(
    db_session: Session, make_session: sessionmaker[Session], smtp: SmtpServer, settings: mail.SmtpSettings
) -> None:
    message = _queue(db_session, "a")
    message.attempts = mail.MAX_ATTEMPTS - 1
    db_session.flush()
    smtp.stop()
    report = mail.deliver_due(make_session, settings, now=NOW)
    assert (report.retried, report.failed) == (0, 1)
    _reload(db_session, message)
    assert message.state is MailState.FAILED
    assert message.attempts == mail.MAX_ATTEMPTS
    assert f"gave up after {mail.MAX_ATTEMPTS} attempts" in (message.last_error or "")


def test_a_message_stuck_in_sending_is_failed_and_never_sent_again(
    db_session: Session, make_session: sessionmaker[Session], smtp: SmtpServer, settings: mail.SmtpSettings
) -> None:
    stale = _queue(db_session, "a")
    recent = _queue(db_session, "b")
    stale.state, stale.sending_since = MailState.SENDING, NOW - mail.LEASE - dt.timedelta(minutes=1)
    recent.state, recent.sending_since = MailState.SENDING, NOW - dt.timedelta(minutes=2)
    db_session.flush()
    report = mail.deliver_due(make_session, settings, now=NOW)
    assert (report.sent, report.retried, report.failed) == (0, 0, 1)
    _reload(db_session, stale, recent)
    assert stale.state is MailState.FAILED
    assert "unknown" in (stale.last_error or "")
    assert "resend" in (stale.last_error or "")
    assert recent.state is MailState.SENDING  # its sender may still be at it
    mail.deliver_due(make_session, settings, now=NOW + dt.timedelta(hours=6))
    _reload(db_session, stale)
    assert stale.state is MailState.FAILED
    assert smtp.received == []


def test_resend_delivers_a_second_copy_and_leaves_the_original(
    db_session: Session, make_session: sessionmaker[Session], smtp: SmtpServer, settings: mail.SmtpSettings
) -> None:
    user = f.user(db_session, Role.SCHOOL_STAFF, email="asa@skola.example")
    original = _queue(db_session, "window:1:user:1", user_id=user.id)
    with pytest.raises(Conflict, match="queued"):
        mail.resend(db_session, original.id, actor=COORDINATOR)
    mail.deliver_due(make_session, settings, now=NOW)
    _reload(db_session, original)
    before = (original.state, original.sent_at, original.message_id, original.dedup_key, original.attempts)

    copy = mail.resend(db_session, original.id, actor=COORDINATOR, now=NOW + dt.timedelta(hours=1))
    assert copy.state is MailState.QUEUED
    assert copy.resend_of_id == original.id
    assert copy.dedup_key == "window:1:user:1#resend-1"
    assert copy.message_id != original.message_id
    assert (copy.subject, copy.body, copy.recipient) == (original.subject, original.body, original.recipient)
    with pytest.raises(Conflict, match="already being resent"):
        mail.resend(db_session, original.id, actor=COORDINATOR)
    with pytest.raises(NotFound):
        mail.resend(db_session, 999_999, actor=COORDINATOR)
    event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "mail.resend")).one()
    assert (event.entity_type, event.entity_id, event.actor) == ("outbox_message", copy.id, "user:1")
    assert event.after == {"resend_of": original.id, "kind": "window_open", "dedup_key": copy.dedup_key}
    db_session.flush()

    assert mail.deliver_due(make_session, settings, now=NOW + dt.timedelta(hours=1)).sent == 1
    assert [msg["Message-ID"] for msg in smtp.messages] == [original.message_id, copy.message_id]
    _reload(db_session, original, copy)
    assert copy in mail.outbox(db_session, state=MailState.SENT)
    assert (original.state, original.sent_at, original.message_id, original.dedup_key, original.attempts) == before

    # A bounce fixed by correcting the address: the next copy goes to the new one.
    user.email = "asa.oberg@skola.example"
    second = mail.resend(db_session, original.id, actor=COORDINATOR, now=NOW + dt.timedelta(hours=2))
    assert second.dedup_key == "window:1:user:1#resend-2"
    assert second.recipient == "asa.oberg@skola.example"


def test_a_failed_message_with_attachment_can_be_resent(
    db_session: Session, make_session: sessionmaker[Session], smtp: SmtpServer, settings: mail.SmtpSettings
) -> None:
    smtp.answer("gone@skola.example", "554 5.7.1 Relay access denied")
    attachment = mail.Attachment("plan.txt", "text/plain; charset=utf-8", "Plan för veckan".encode())
    original = _queue(db_session, "a", recipient="gone@skola.example", attachment=attachment)
    mail.deliver_due(make_session, settings, now=NOW)
    _reload(db_session, original)
    assert original.state is MailState.FAILED
    smtp.accept("gone@skola.example")
    copy = mail.resend(db_session, original.id, actor=COORDINATOR, now=NOW)
    db_session.flush()
    assert mail.deliver_due(make_session, settings, now=NOW).sent == 1
    (part,) = list(smtp.messages[0].iter_attachments())
    assert part.get_filename() == "plan.txt"
    assert part.get_content() == "Plan för veckan"
    _reload(db_session, original)
    assert original.state is MailState.FAILED
    assert copy.resend_of_id == original.id


def test_the_sender_logs_in_when_configured(db_session: Session, make_session: sessionmaker[Session]) -> None:
    server = SmtpServer(logins={"praktik": "hemligt"})
    server.start()
    try:
        settings = mail.SmtpSettings(server.host, server.port, False, "praktik", "fel", SENDER, timeout_s=5)
        message = _queue(db_session, "a")
        report = mail.deliver_due(make_session, settings, now=NOW)
        assert report.retried == 1  # a wrong password loses nothing: it waits for the configuration to be fixed
        _reload(db_session, message)
        assert "535" in (message.last_error or "")
        right = dataclasses.replace(settings, password="hemligt")
        assert mail.deliver_due(make_session, right, now=NOW + dt.timedelta(minutes=1)).sent == 1
        (received,) = server.received
        assert received.authenticated
    finally:
        server.stop()


# --- two senders at once, on a database with real commits ------------------------------------------------------------


@pytest.fixture
def live_engine(live_database_url: str) -> Iterator[Engine]:
    engine = make_engine(live_database_url)
    yield engine
    engine.dispose()


def test_two_senders_at_once_never_send_a_message_twice(
    live_engine: Engine, smtp: SmtpServer, settings: mail.SmtpSettings
) -> None:
    make_session = sessionmaker(bind=live_engine, expire_on_commit=False)
    with make_session() as session, session.begin():
        for n in range(30):
            _queue(session, f"k{n}", recipient=f"user{n}@skola.example")
    smtp.slow_down(0.005)
    start = threading.Barrier(2)
    reports: list[mail.DeliveryReport] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            start.wait(10)
            reports.append(mail.deliver_due(make_session, settings, now=NOW))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(report.sent for report in reports) == 30
    ids = [msg["Message-ID"] for msg in smtp.messages]
    assert len(ids) == len(set(ids)) == 30
    with make_session() as session:
        assert mail.counts(session)[MailState.SENT] == 30
        assert session.scalar(select(func.max(m.OutboxMessage.attempts))) == 1


# --- notifications from publication and confirmation -----------------------------------------------------------------


def _solve(session: Session, make_session: sessionmaker[Session], round_id: int) -> None:
    job = jobs.enqueue(session, round_id, actor=COORDINATOR)
    state = worker.run_job(make_session, job.id, heartbeat_s=None)
    session.expire_all()
    assert state is JobState.SUCCEEDED


def _member(session: Session, role: Role, organisation: m.Employer | m.School, **kw: Any) -> m.User:
    user = f.user(session, role, **kw)
    if isinstance(organisation, m.Employer):
        session.add(m.EmployerMembership(user=user, employer=organisation))
    else:
        session.add(m.SchoolMembership(user=user, school=organisation))
    session.flush()
    return user


def test_publication_and_confirmation_mail_only_those_concerned(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, pupils, offers = f.small_round(db_session)
    _solve(db_session, make_session, allocation_round.id)
    placed = {a.pupil_id: a for a in db_session.scalars(select(m.Assignment))}
    employers = [offer.employer for offer in offers]
    schools = [pupils[0].school, pupils[1].school]
    contacts = [
        _member(db_session, Role.EMPLOYER_CONTACT, employers[0]),
        _member(db_session, Role.EMPLOYER_CONTACT, employers[1], locale="en"),
        _member(db_session, Role.EMPLOYER_CONTACT, employers[2]),  # no pupils: no mail
    ]
    staff = [_member(db_session, Role.SCHOOL_STAFF, school) for school in schools]
    _member(db_session, Role.SCHOOL_STAFF, schools[0], active=False)
    _member(db_session, Role.SCHOOL_STAFF, f.school(db_session))  # a school without pupils in the round
    f.user(db_session, Role.COORDINATOR)

    deadline = utcnow() + dt.timedelta(days=7)
    assignments.publish(db_session, allocation_round.id, deadline, actor=COORDINATOR, base_url="https://prao.example/")
    assignments.publish(db_session, allocation_round.id, deadline, actor=COORDINATOR)  # a second click: no more mail
    published = {x.user_id: x for x in db_session.scalars(select(m.OutboxMessage))}
    at = {e.id: sum(1 for a in placed.values() if a.offer.employer_id == e.id) for e in employers}
    assert at[employers[2].id] == 0
    expected = [contacts[0], contacts[1], *staff]
    assert set(published) == {u.id for u in expected}
    for user in expected:
        message = published[user.id]
        assert message.kind == "round_published"
        assert message.dedup_key == f"round:{allocation_round.id}:published:user:{user.id}"
        assert message.recipient == user.email
        assert mail.local_time(deadline) in message.body
        assert all(p.first_name not in message.body for p in pupils)  # counts only, no names
    assert published[contacts[0].id].locale == "sv"
    assert f"{employers[0].name} har fått {at[employers[0].id]} " in published[contacts[0].id].body
    assert "https://prao.example/employer/" in published[contacts[0].id].body
    assert published[contacts[1].id].subject == "Work placements have been published"
    from_school = sum(1 for a in placed.values() if a.pupil.school_id == schools[0].id)
    assert f"{from_school} elever på {schools[0].name} har fått en plats" in published[staff[0].id].body

    pupil = pupils[0]
    assignment = placed[pupil.id]
    assignment.offer.supervisor_name = "Per Ek"
    answers.confirm(db_session, assignment, actor=COORDINATOR, base_url="https://prao.example")
    answers.confirm(db_session, assignment, actor=COORDINATOR)  # again: nothing more
    assert assignment.status is AssignmentStatus.CONFIRMED
    confirmed = db_session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "placement_confirmed")).all()
    (message,) = confirmed  # only the staff of the pupil's own school
    assert message.user_id == staff[0].id
    assert message.dedup_key == f"assignment:{assignment.id}:confirmed:user:{staff[0].id}"
    assert pupil.full_name in message.body
    assert "Handledare: Per Ek" in message.body
    assert message.attachment_name == "prao.ics"
    assert message.attachment is not None
    (event,) = icalendar.Calendar.from_ical(message.attachment).walk("VEVENT")
    assert event.decoded("dtstart") == assignment.period.start_date
    assert event.decoded("dtend") == assignment.period.end_date + dt.timedelta(days=1)
    assert str(event["location"]) == assignment.offer.workplace.address


@pytest.mark.parametrize(
    ("role", "locale", "words"),
    [
        ("school_staff", "sv", "som personal på Ängsskolan"),
        ("school_staff", "en", "as staff of Ängsskolan"),
        ("employer_contact", "sv", "som kontaktperson för Ängsskolan"),
        ("employer_contact", "en", "as a contact person for Ängsskolan"),
        ("coordinator", "sv", "som samordnare för Ängsskolan"),
        ("coordinator", "en", "as a coordinator for Ängsskolan"),
    ],
)
def test_an_invitation_says_what_the_invited_person_will_be(role: str, locale: str, words: str) -> None:
    _subject, body = mail.render("invitation", locale, {**SAMPLES["invitation"], "role": role})
    assert words in body
    assert "Kim Samordnare" in body
    assert ("72 timmar" if locale == "sv" else "72 hours") in body


@pytest.mark.parametrize(
    ("locale", "subject", "words"),
    [
        (
            "sv",
            "Inbjudan till PRAO-samordningen",
            "Samordningen har bjudit in dig till PRAO-samordningen som samordnare för hela regionen.",
        ),
        (
            "en",
            "Invitation to the PRAO coordination",
            "The coordination team has invited you to the PRAO coordination as a coordinator for the whole region.",
        ),
    ],
)
def test_an_invitation_to_coordinate_the_whole_region_without_an_inviter_reads_well(
    locale: str, subject: str, words: str
) -> None:
    context = {**SAMPLES["invitation"], "role": "coordinator", "organisation": "", "inviter": ""}
    rendered_subject, body = mail.render("invitation", locale, context)
    assert rendered_subject == subject
    assert words in body
