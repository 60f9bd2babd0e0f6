"""What keeps the season running by itself: outgoing mail, scheduled job runs, purges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from placement.db import Base, created_at, enum_column, intpk
from placement.enums import JobRunState, MailKind, MailState


class OutboxMessage(Base):
    """One e-mail to one recipient, written in the transaction that decided to send it.

    A sender claims due messages (``queued`` and ``next_attempt_at`` passed),
    hands them to the SMTP server and marks them ``sent``; a temporary failure
    puts them back in the queue with a later ``next_attempt_at``.  The unique
    ``dedup_key`` says what the message is about (``reminder:round:3:user:12``),
    so a reminder is queued once however often the job that writes it runs.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_outbox_message_dedup_key"),
        Index("ix_outbox_message_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[intpk]
    #: The template it was written from.
    kind: Mapped[MailKind] = enum_column(MailKind)
    dedup_key: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    locale: Mapped[str] = mapped_column(String(5), default="sv")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attachment_name: Mapped[str | None] = mapped_column(String(100))
    attachment_type: Mapped[str | None] = mapped_column(String(100))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The Message-ID header, fixed when queued so that every attempt carries the same one.
    message_id: Mapped[str] = mapped_column(String(255))
    state: Mapped[MailState] = enum_column(MailState, default=MailState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    #: When a sender claimed it; a claim older than the lease means the sender died mid-send.
    sending_since: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: The message this one sends again, when a coordinator asked for it.
    resend_of_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.state.value}>"


class JobRun(Base):
    """One run of a scheduled job at one scheduled time.

    The unique (job, scheduled time) is the lock that makes a run happen once:
    a scheduler inserts the row before it runs the job, and a second scheduler
    started by mistake fails to insert it and leaves the run alone.
    """

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job_id", "scheduled_for", name="uq_job_run_job_id_scheduled_for"),)

    id: Mapped[intpk]
    job_id: Mapped[str] = mapped_column(String(191), index=True)
    scheduled_for: Mapped[dt.datetime]
    state: Mapped[JobRunState] = enum_column(JobRunState, default=JobRunState.RUNNING)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    #: What the run did, in a line: "2 reminders queued".
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<JobRun {self.id} {self.job_id} {self.scheduled_for:%Y-%m-%d %H:%M} {self.state.value}>"


class RoundStatistics(Base):
    """Anonymous figures of a round, kept when its pupils' personal data is purged."""

    __tablename__ = "round_statistics"

    id: Mapped[intpk]
    round_id: Mapped[int | None] = mapped_column(ForeignKey("allocation_round.id", ondelete="SET NULL"), unique=True)
    round_name: Mapped[str] = mapped_column(String(200))
    #: Period codes of the round, comma separated.
    periods: Mapped[str] = mapped_column(String(300))
    #: Counts only: pupils, placed, by rank, per school, gender and need group.
    figures: Mapped[dict[str, Any]]
    created_at: Mapped[created_at]


class PurgeRecord(Base):
    """A record that personal data was purged: when, up to which date, how much. No personal data."""

    __tablename__ = "purge_record"

    id: Mapped[intpk]
    ran_at: Mapped[dt.datetime]
    #: Pupils whose season ended before this instant were purged.
    cutoff: Mapped[dt.datetime]
    retention_months: Mapped[int]
    #: "scheduler", "cli" or "user:12".
    actor: Mapped[str] = mapped_column(String(120))
    #: Rows removed per kind: {"pupil": 412, "preference": 2980, ...}.
    counts: Mapped[dict[str, Any]]


class StagedUpload(Base):
    """A file waiting between an import's preview and its confirmation (:mod:`placement.uploads`).

    In the database, so that the confirmation may reach another web host than
    the preview did.  Only a hash of the token is kept; the token itself
    travels to the uploader's browser alone.
    """

    __tablename__ = "staged_upload"

    id: Mapped[intpk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    #: The school (cohort import) or municipality scope (school register) the file was uploaded for.
    scope_id: Mapped[int]
    filename: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[created_at] = mapped_column(index=True)
