"""E-mail through an outbox: written in the deciding transaction, sent later over SMTP, never twice.

* :func:`enqueue` renders a template (``placement/mail/templates/{kind}.{locale}.txt``)
  and adds a ``queued`` row in the caller's transaction, once per ``dedup_key``:
  a job that runs again, or a second click, queues nothing new.  If the
  transaction rolls back, no mail goes out either (the outbox pattern).
* :func:`deliver_due` sends what is due.  Each message is claimed by a
  conditional update in its own short transaction (``queued`` -> ``sending``),
  so two senders never both claim one; it is then handed to the SMTP server
  and marked ``sent`` in a new transaction.  A temporary failure (server down,
  timeout, a 4xx answer) puts it back in the queue with a back-off
  (:func:`backoff`); a 5xx answer fails it for good with the server's text in
  ``last_error``.  A message left in ``sending`` longer than :data:`LEASE`
  (its sender died mid-send, the outcome is unknown) is failed and never sent
  again automatically; a coordinator may :func:`resend` it.
* :func:`outbox` and :func:`counts` show the queue, failures included.

Message-IDs are fixed when a message is queued, so every attempt of one
message carries the same one.  An SMTP server that accepted a message but
dropped the connection before answering may see it again on the retry; that
is the one duplicate SMTP itself cannot rule out, and the common Message-ID
lets the receiving side recognise it.

This module is longer than most (about 630 lines) because rendering, queueing, sending
with its retries and the calendar attachment are the one path every mail takes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import functools
import logging
import os
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import jinja2
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement.db import utcnow, violated_constraint
from placement.enums import MailKind, MailState
from placement.errors import Conflict, NotFound, ValidationError
from placement.models import OutboxMessage, User

logger = logging.getLogger(__name__)

LOCALES = ("sv", "en")
DEFAULT_LOCALE = "sv"
#: The time zone in which times are written in mail.
DEFAULT_TIMEZONE = "Europe/Stockholm"
#: Attempts after which a message that keeps failing temporarily is failed for good (about a day).
MAX_ATTEMPTS = 12
#: How long a sender may hold a claimed message; after that its outcome is unknown.
LEASE = dt.timedelta(minutes=10)
_BACKOFF = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(minutes=60),
)
_BACKOFF_AFTER = dt.timedelta(hours=3)
_DEDUP_CONSTRAINT = "uq_outbox_message_dedup_key"

#: The context each template needs: a caller must pass exactly these keys.
KINDS: dict[str, frozenset[str]] = {
    MailKind.WINDOW_OPEN: frozenset({"name", "school", "window_name", "closes_at", "max_choices", "url"}),
    MailKind.SCHOOL_REMINDER: frozenset({"name", "school", "window_name", "closes_at", "missing", "classes", "url"}),
    MailKind.EMPLOYER_REMINDER: frozenset({"name", "employer", "deadline", "unanswered", "url"}),
    MailKind.ROUND_PUBLISHED: frozenset({"name", "organisation", "role", "placements", "deadline", "url"}),
    MailKind.PLACEMENT_CONFIRMED: frozenset(
        {"name", "pupil", "school", "class_name", "employer", "title", "address", "start", "end", "supervisor", "url"}
    ),
    MailKind.PLACEMENTS_RELEASED: frozenset({"name", "employer", "released", "deadline"}),
    MailKind.ROUND_AUTO_RUN: frozenset({"name", "round_name", "status", "placed", "pupils", "url"}),
    MailKind.WEEKLY_DIGEST: frozenset({"name", "week", "items", "failed_mail", "failed_jobs", "url"}),
    MailKind.VERIFY_EMAIL: frozenset({"name", "url"}),
    MailKind.ACCOUNT_CREATED: frozenset({"name", "url", "hours"}),
    MailKind.PASSWORD_RESET: frozenset({"name", "url", "hours"}),
    MailKind.INVITATION: frozenset({"name", "inviter", "role", "organisation", "url", "hours"}),
    MailKind.ACCOUNT_EXISTS: frozenset({"name", "login_url", "reset_url"}),
}


# --- settings and values ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server, read from the app's configuration."""

    host: str
    port: int
    #: Upgrade the connection with STARTTLS (port 587); the server's certificate is verified.
    use_tls: bool
    username: str | None
    password: str | None
    #: The From address, e.g. ``"Praktik <praktik@kommun.se>"``.
    sender: str
    timeout_s: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings:
        return cls(
            host=str(config.get("MAIL_HOST", "localhost")),
            port=int(config.get("MAIL_PORT", 25)),
            use_tls=bool(config.get("MAIL_USE_TLS", False)),
            username=config.get("MAIL_USERNAME") or None,
            password=config.get("MAIL_PASSWORD") or None,
            sender=str(config.get("MAIL_SENDER", "praktik@localhost")),
            timeout_s=float(config.get("MAIL_TIMEOUT_S", 30.0)),
        )

    @property
    def envelope_sender(self) -> str:
        """The bare address of :attr:`sender` (the SMTP ``MAIL FROM``)."""
        return email.utils.parseaddr(self.sender)[1] or self.sender


@dataclasses.dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclasses.dataclass
class DeliveryReport:
    """What one :func:`deliver_due` did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.failed} failed"


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next attempt after ``attempts`` failed ones: 1, 5, 15, 60 minutes, then 3 hours."""
    if attempts < 1:
        return dt.timedelta(0)
    return _BACKOFF[attempts - 1] if attempts <= len(_BACKOFF) else _BACKOFF_AFTER


def normalise_locale(locale: str | None) -> str:
    """``"sv"`` or ``"en"``; ``"en-GB"`` is English, anything unknown Swedish."""
    language = (locale or "").replace("_", "-").split("-")[0].strip().lower()
    return language if language in LOCALES else DEFAULT_LOCALE


def local_time(moment: dt.datetime, timezone: str = DEFAULT_TIMEZONE) -> str:
    """A time as people read it in mail: local wall-clock time, ``2026-11-09 16:00``."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


# --- templates -------------------------------------------------------------------------------------------------------


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("placement.mail", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text mail, never HTML  # noqa: S701
        keep_trailing_newline=True,
    )


def render(kind: MailKind, locale: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """The subject and body of template ``kind`` in ``locale``.

    Raises :class:`ValueError` for an unknown kind or a context that lacks a
    key the template needs.
    """
    needed = KINDS.get(kind)
    if needed is None:
        raise ValueError(f"mail template {kind!r} does not exist; known: {', '.join(sorted(KINDS))}")
    missing = needed - set(context)
    if missing:
        raise ValueError(f"mail template {kind!r}: context lacks {', '.join(sorted(missing))}")
    name = f"{kind}.{normalise_locale(locale)}.txt"
    text = _templates().get_template(name).render(dict(context))
    head, _, body = text.partition("\n\n")
    if not head.startswith("Subject:"):
        raise ValueError(f"mail template {name}: the first line must be 'Subject: ...'")
    subject = " ".join(head.removeprefix("Subject:").split())
    return subject[:300], body.strip("\n") + "\n"


# --- queueing --------------------------------------------------------------------------------------------------------


def _message_domain(sender: str | None) -> str:
    address = email.utils.parseaddr(sender or os.environ.get("PRAKTIK_MAIL_SENDER", ""))[1]
    domain = address.rpartition("@")[2].strip()
    return domain or "praktik.localhost"


def _exists(session: Session, dedup_key: str) -> bool:
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)) is not None


def enqueue(
    session: Session,
    *,
    kind: MailKind,
    recipient: str,
    locale: str,
    context: Mapping[str, Any],
    dedup_key: str,
    user_id: int | None = None,
    attachment: Attachment | None = None,
    now: dt.datetime | None = None,
    sender: str | None = None,
) -> OutboxMessage | None:
    """Queue one message in the caller's transaction, due at once; None when ``dedup_key`` is queued already.

    ``sender`` only chooses the domain of the Message-ID (default: the
    ``PRAKTIK_MAIL_SENDER`` environment variable, as the app's configuration
    reads it).  Nothing is committed here.
    """
    now = now or utcnow()
    address = recipient.strip()
    if "@" not in address or any(c.isspace() for c in address):
        raise ValidationError(f"mail {dedup_key}: field recipient {recipient!r} is not an e-mail address")
    if _exists(session, dedup_key):
        return None
    language = normalise_locale(locale)
    subject, body = render(kind, language, context)
    message = OutboxMessage(
        kind=kind,
        dedup_key=dedup_key,
        recipient=address,
        user_id=user_id,
        locale=language,
        subject=subject,
        body=body,
        attachment_name=attachment.filename if attachment else None,
        attachment_type=attachment.content_type if attachment else None,
        attachment=attachment.data if attachment else None,
        message_id=email.utils.make_msgid(domain=_message_domain(sender)),
        state=MailState.QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    try:
        # A concurrent transaction may have queued the same key since the check above.
        with session.begin_nested():
            session.add(message)
    except IntegrityError as exc:
        if violated_constraint(exc) != _DEDUP_CONSTRAINT:
            raise
        return None
    logger.info("Mail %s queued: %s (%s)", message.id, kind, dedup_key)
    return message


def resend(session: Session, message_id: int, *, actor: audit.Actor, now: dt.datetime | None = None) -> OutboxMessage:
    """Queue a sent or failed message again, as a new message with the same content and attachment.

    The copy goes to the user's current address when the message was for a
    user who still has one (a bounce is often fixed by correcting the
    address), else to the original recipient.  Refused while the message, or
    an earlier copy of it, is still waiting to be sent.
    """
    now = now or utcnow()
    original = session.get(OutboxMessage, message_id)
    if original is None:
        raise NotFound(f"mail message {message_id} does not exist")
    if original.state in (MailState.QUEUED, MailState.SENDING):
        raise Conflict(f"mail message {message_id} is {original.state.value}; only a sent or failed one can be resent")
    pending = session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.resend_of_id == original.id,
            OutboxMessage.state.in_((MailState.QUEUED, MailState.SENDING)),
        )
    )
    if pending is not None:
        raise Conflict(f"mail message {message_id} is already being resent as message {pending}")
    copies = session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.resend_of_id == original.id))
    recipient = original.recipient
    user = session.get(User, original.user_id) if original.user_id is not None else None
    if user is not None and user.email:
        recipient = user.email
    copy = OutboxMessage(
        kind=original.kind,
        dedup_key=f"{original.dedup_key}#resend-{(copies or 0) + 1}",
        recipient=recipient,
        user_id=original.user_id,
        locale=original.locale,
        subject=original.subject,
        body=original.body,
        attachment_name=original.attachment_name,
        attachment_type=original.attachment_type,
        attachment=original.attachment,
        message_id=email.utils.make_msgid(domain=original.message_id.rpartition("@")[2].rstrip(">") or None),
        state=MailState.QUEUED,
        attempts=0,
        next_attempt_at=now,
        resend_of_id=original.id,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(copy)
    except IntegrityError as exc:
        if violated_constraint(exc) != _DEDUP_CONSTRAINT:
            raise
        raise Conflict(f"mail message {message_id} is already being resent") from exc
    after: dict[str, Any] = {"resend_of": original.id, "kind": original.kind, "dedup_key": copy.dedup_key}
    if recipient != original.recipient:
        after["recipient_changed"] = True
    audit.record(session, actor, "mail.resend", "outbox_message", copy.id, after=after)
    logger.info("Mail %s resent as %s by %s", original.id, copy.id, actor.label)
    return copy


# --- views of the queue ----------------------------------------------------------------------------------------------


def outbox(session: Session, *, state: MailState | None = None, limit: int = 200) -> list[OutboxMessage]:
    """The most recent messages, newest first, optionally of one state."""
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    if state is not None:
        query = query.where(OutboxMessage.state == state)
    return list(session.scalars(query))


def counts(session: Session) -> dict[MailState, int]:
    """How many messages are in each state (every state present, zero included)."""
    rows = session.execute(select(OutboxMessage.state, func.count(OutboxMessage.id)).group_by(OutboxMessage.state))
    found: dict[MailState, int] = dict(rows.all())
    return {state: int(found.get(state, 0)) for state in MailState}


# --- delivery --------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Outcome:
    permanent: bool
    #: The connection cannot be used for the next message.
    broken: bool
    error: str


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _classify(exc: Exception) -> _Outcome:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = [f"{address}: {code} {_text(text)}" for address, (code, text) in exc.recipients.items()]
        permanent = all(code >= 500 for code, _ in exc.recipients.values())
        return _Outcome(permanent, False, "recipient refused: " + "; ".join(answers))
    if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, data refused, ...
        code = exc.smtp_code
        what = type(exc).__name__.removeprefix("SMTP")
        return _Outcome(code >= 500, code == 421, f"{what}: {code} {_text(exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _Outcome(False, True, f"server disconnected: {exc}")
    if isinstance(exc, smtplib.SMTPException):  # e.g. SMTPNotSupportedError: the message itself cannot go
        return _Outcome(True, False, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):  # refused, reset, timed out
        return _Outcome(False, True, f"{type(exc).__name__}: {exc}")
    return _Outcome(True, False, f"{type(exc).__name__}: {exc}")


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
    try:
        smtp.ehlo()
        if settings.use_tls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _disconnect(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def _compose(message: OutboxMessage, settings: SmtpSettings) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = email.utils.format_datetime(message.created_at.astimezone(dt.UTC))
    mail["Message-ID"] = message.message_id
    mail["Auto-Submitted"] = "auto-generated"
    mail["Content-Language"] = message.locale
    mail.set_content(message.body, charset="utf-8", cte="quoted-printable")
    if message.attachment is not None:
        content_type, *parameters = [p.strip() for p in (message.attachment_type or "").split(";")]
        maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
        params = dict(p.split("=", 1) for p in parameters if "=" in p)
        mail.add_attachment(
            message.attachment,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=message.attachment_name or "attachment",
            params={key.strip(): value.strip().strip('"') for key, value in params.items()},
        )
    return mail


def _due_ids(make_session: sessionmaker[Session], now: dt.datetime, limit: int) -> list[int]:
    with make_session() as session:
        return list(
            session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.state == MailState.QUEUED, OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            )
        )


def _fail_stale(make_session: sessionmaker[Session], now: dt.datetime) -> int:
    """Fail messages whose sender died mid-send: whether the server got them is unknown, so never send them again."""
    with make_session() as session, session.begin():
        failed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.state == MailState.SENDING, OutboxMessage.sending_since < now - LEASE)
            .values(
                state=MailState.FAILED,
                last_error=(
                    "the sender stopped while handing this message to the mail server, so whether it was "
                    "delivered is unknown; it is not sent again automatically (a coordinator may resend it)"
                ),
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    if failed:
        logger.warning("Mail: %s messages stuck in sending failed (outcome unknown)", failed)
    return int(failed)


def _after_attempt(attempts: int, error: str, now: dt.datetime, *, permanent: bool) -> dict[str, Any]:
    """The new values of a message whose attempt number ``attempts`` failed."""
    values: dict[str, Any] = {"attempts": attempts, "last_error": error[:2000], "sending_since": None}
    if permanent or attempts >= MAX_ATTEMPTS:
        values["state"] = MailState.FAILED
        if not permanent:
            values["last_error"] = f"gave up after {attempts} attempts; last: {error}"[:2000]
    else:
        values["state"] = MailState.QUEUED
        values["next_attempt_at"] = now + backoff(attempts)
    return values


def _postpone(make_session: sessionmaker[Session], ids: list[int], error: str, now: dt.datetime) -> DeliveryReport:
    """The server cannot be reached: every due message waits, one attempt further."""
    report = DeliveryReport()
    with make_session() as session, session.begin():
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.attempts).where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.state == MailState.QUEUED,
                OutboxMessage.next_attempt_at <= now,
            )
        ).all()
        for message_id, attempts in rows:
            values = _after_attempt(attempts + 1, error, now, permanent=False)
            changed = session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.state == MailState.QUEUED,
                    OutboxMessage.attempts == attempts,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if changed == 1:
                if values["state"] is MailState.FAILED:
                    report.failed += 1
                else:
                    report.retried += 1
    return report


def _claim(
    make_session: sessionmaker[Session], message_id: int, settings: SmtpSettings, now: dt.datetime
) -> tuple[EmailMessage, str, int] | None:
    """Claim one due message for this sender; None when another sender has it or it is no longer due."""
    with make_session() as session, session.begin():
        claimed = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.state == MailState.QUEUED,
                OutboxMessage.next_attempt_at <= now,
            )
            .values(state=MailState.SENDING, sending_since=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            return None
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return _compose(message, settings), message.recipient, message.attempts


def _finish(make_session: sessionmaker[Session], message_id: int, values: dict[str, Any]) -> None:
    with make_session() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.state == MailState.SENDING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def deliver_due(
    make_session: sessionmaker[Session], settings: SmtpSettings, *, now: dt.datetime | None = None, limit: int = 200
) -> DeliveryReport:
    """Send the messages that are due over one SMTP connection; see the module's docstring."""
    now = now or utcnow()
    report = DeliveryReport(failed=_fail_stale(make_session, now))
    ids = _due_ids(make_session, now, limit)
    if not ids:
        return report
    try:
        smtp = _connect(settings)
    except (smtplib.SMTPException, OSError) as exc:
        error = f"mail server {settings.host}:{settings.port} not reachable: {_classify(exc).error}"
        logger.warning("Mail: %s; %s messages wait", error, len(ids))
        postponed = _postpone(make_session, ids, error, now)
        report.retried += postponed.retried
        report.failed += postponed.failed
        return report
    try:
        for message_id in ids:
            claimed = _claim(make_session, message_id, settings, now)
            if claimed is None:
                continue
            mail, recipient, attempts = claimed
            try:
                smtp.send_message(mail, from_addr=settings.envelope_sender, to_addrs=[recipient])
            except Exception as exc:  # every failure is recorded on the message; none loses it
                outcome = _classify(exc)
                if not outcome.broken and not isinstance(exc, OSError):
                    try:
                        smtp.rset()
                    except (smtplib.SMTPException, OSError):
                        outcome = dataclasses.replace(outcome, broken=True)
                values = _after_attempt(attempts + 1, outcome.error, now, permanent=outcome.permanent)
                _finish(make_session, message_id, values)
                if values["state"] is MailState.FAILED:
                    report.failed += 1
                    logger.warning("Mail %s failed: %s", message_id, outcome.error)
                else:
                    report.retried += 1
                    logger.info("Mail %s will be retried: %s", message_id, outcome.error)
                if outcome.broken:
                    break  # the rest stay queued and due for the next run
                continue
            _finish(
                make_session,
                message_id,
                {"state": MailState.SENT, "sent_at": now, "attempts": attempts + 1, "last_error": None},
            )
            report.sent += 1
            logger.info("Mail %s sent", message_id)
    finally:
        _disconnect(smtp)
    return report


# --- calendar --------------------------------------------------------------------------------------------------------

CALENDAR_TYPE = "text/calendar; method=PUBLISH; charset=utf-8"


def placement_calendar(
    *,
    uid: str,
    title: str,
    employer: str,
    address: str,
    start: dt.date,
    end: dt.date,
    supervisor: str = "",
    supervisor_phone: str = "",
    supervisor_email: str = "",
    pupil: str = "",
    locale: str = "sv",
) -> Attachment:
    """A calendar file (.ics) with the placement as one all-day event from ``start`` to ``end`` inclusive."""
    english = normalise_locale(locale) == "en"
    lines = []
    if pupil:
        lines.append(f"{'Pupil' if english else 'Elev'}: {pupil}")
    lines.append(f"{'Workplace' if english else 'Arbetsplats'}: {employer}, {title}")
    contact = ", ".join(part for part in (supervisor, supervisor_phone, supervisor_email) if part)
    if contact:
        lines.append(f"{'Supervisor' if english else 'Handledare'}: {contact}")
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Praktik//PRAO//SV")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", utcnow().replace(microsecond=0))
    event.add("dtstart", start)
    event.add("dtend", end + dt.timedelta(days=1))
    event.add("summary", f"PRAO: {title} – {employer}")
    if address:
        event.add("location", address)
    event.add("description", "\n".join(lines))
    event.add("transp", "TRANSPARENT")
    calendar.add_component(event)
    return Attachment(filename="prao.ics", content_type=CALENDAR_TYPE, data=calendar.to_ical())
