"""Preference windows, ranked preferences, allocation rounds and their assignments."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from placement.db import Base, created_at, enum_column, intpk, utcnow
from placement.enums import ArtifactKind, AssignmentStatus, JobKind, JobState, RoundStatus, UnansweredRule

if TYPE_CHECKING:
    from placement.models.employers import Offer
    from placement.models.organisation import Municipality, Period
    from placement.models.people import Pupil, User


class PreferenceWindow(Base):
    """When pupils may rank offers, and how many they may rank."""

    __tablename__ = "preference_window"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        CheckConstraint("max_choices BETWEEN 1 AND 20", name="max_choices_range"),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200))
    opens_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime]
    max_choices: Mapped[int] = mapped_column(default=8)
    #: When the scheduler saw the window open (and told the schools) and close.
    opened_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]

    def is_open(self, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        return self.opens_at <= now < self.closes_at

    def __repr__(self) -> str:
        return f"<PreferenceWindow {self.id} {self.opens_at:%Y-%m-%d}..{self.closes_at:%Y-%m-%d}>"


class Preference(Base):
    """One ranked choice of a pupil: rank 1 is the pupil's first choice."""

    __tablename__ = "preference"
    __table_args__ = (
        UniqueConstraint("pupil_id", "rank", name="uq_preference_pupil_id_rank"),
        UniqueConstraint("pupil_id", "offer_id", name="uq_preference_pupil_id_offer_id"),
        CheckConstraint("rank >= 1", name="rank_positive"),
    )

    id: Mapped[intpk]
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupil.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int]
    created_at: Mapped[created_at]

    pupil: Mapped[Pupil] = relationship()
    offer: Mapped[Offer] = relationship()

    def __repr__(self) -> str:
        return f"<Preference pupil={self.pupil_id} rank={self.rank} offer={self.offer_id}>"


round_period = Table(
    "round_period",
    Base.metadata,
    Column("round_id", ForeignKey("allocation_round.id", ondelete="CASCADE"), primary_key=True),
    Column("period_id", ForeignKey("period.id", ondelete="RESTRICT"), primary_key=True),
)


class AllocationRound(Base):
    """One run of the allocation engine over some periods, with its policy and outcome."""

    __tablename__ = "allocation_round"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[RoundStatus] = enum_column(RoundStatus, default=RoundStatus.DRAFT)
    #: The ``policy`` object of the praktik-instance/1 format.
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    preference_window_id: Mapped[int | None] = mapped_column(ForeignKey("preference_window.id", ondelete="SET NULL"))
    #: A round of one municipality places its schools' pupils only; without one, the whole region's.
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id", ondelete="RESTRICT"))
    #: SHA-256 of the canonical instance the round was solved from.
    input_hash: Mapped[str | None] = mapped_column(String(64))
    #: The solver's status, metrics and bound (the result file without assignments).
    outcome: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    solved_at: Mapped[dt.datetime | None]
    published_at: Mapped[dt.datetime | None]
    confirm_deadline: Mapped[dt.datetime | None]
    #: Run the round by itself when its preference window closes.
    auto_run: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    #: When the scheduler started the automatic run (so it starts once).
    auto_run_at: Mapped[dt.datetime | None]
    #: What the deadline does to placements the employer has not answered.
    unanswered_rule: Mapped[UnansweredRule] = enum_column(
        UnansweredRule, default=UnansweredRule.CONFIRM, server_default=UnansweredRule.CONFIRM.value
    )
    #: When the scheduler applied the rule at the deadline (so it is applied once).
    deadline_applied_at: Mapped[dt.datetime | None]

    periods: Mapped[list[Period]] = relationship(secondary=round_period, order_by="Period.start_date")
    preference_window: Mapped[PreferenceWindow | None] = relationship()
    municipality: Mapped[Municipality | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AllocationRound {self.id} {self.status.value}>"


_ACTIVE = "status IN ('published', 'confirmed', 'locked')"
_PROPOSAL = "status = 'proposed'"


class Assignment(Base):
    """A pupil placed at an offer in a period by a round."""

    __tablename__ = "assignment"
    __table_args__ = (
        # Per round and pupil: at most one proposal (a new round's placement, or a
        # pending change of a published round) and at most one placement in force.
        # Declined and withdrawn rows stay as history.
        Index(
            "uq_assignment_proposal_round_pupil",
            "round_id",
            "pupil_id",
            unique=True,
            sqlite_where=text(_PROPOSAL),
            postgresql_where=text(_PROPOSAL),
        ),
        Index(
            "uq_assignment_active_round_pupil",
            "round_id",
            "pupil_id",
            unique=True,
            sqlite_where=text(_ACTIVE),
            postgresql_where=text(_ACTIVE),
        ),
        CheckConstraint("rank IS NULL OR rank >= 1", name="rank_positive"),
        # At most one assignment in force per pupil and period, across rounds.
        Index(
            "uq_assignment_active_pupil_period",
            "pupil_id",
            "period_id",
            unique=True,
            sqlite_where=text(_ACTIVE),
            postgresql_where=text(_ACTIVE),
        ),
        Index("ix_assignment_offer_id_period_id", "offer_id", "period_id"),
    )

    id: Mapped[intpk]
    round_id: Mapped[int] = mapped_column(ForeignKey("allocation_round.id", ondelete="CASCADE"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupil.id", ondelete="CASCADE"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id", ondelete="RESTRICT"))
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id", ondelete="RESTRICT"))
    #: 1-based position of the offer in the pupil's preferences; NULL when unranked.
    rank: Mapped[int | None]
    status: Mapped[AssignmentStatus] = enum_column(AssignmentStatus, default=AssignmentStatus.PROPOSED)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    #: Why an incremental round proposes this placement (the solver's move reason).
    move_reason: Mapped[str | None] = mapped_column(String(300))
    #: When the employer confirmed or declined.
    answered_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    round: Mapped[AllocationRound] = relationship()
    pupil: Mapped[Pupil] = relationship()
    offer: Mapped[Offer] = relationship()
    period: Mapped[Period] = relationship()

    def __repr__(self) -> str:
        return f"<Assignment round={self.round_id} pupil={self.pupil_id} offer={self.offer_id} {self.status.value}>"


class ManualPlacement(Base):
    """A pupil the coordinator places by hand: the solver leaves them out of the round."""

    __tablename__ = "manual_placement"

    round_id: Mapped[int] = mapped_column(ForeignKey("allocation_round.id", ondelete="CASCADE"), primary_key=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupil.id", ondelete="CASCADE"), primary_key=True)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[created_at]

    pupil: Mapped[Pupil] = relationship()


_LIVE_JOB = "state IN ('queued', 'running')"


class SolveJob(Base):
    """One solve of a round in a background worker process, with its progress.

    The worker writes ``heartbeat_at`` every few seconds; a running job whose
    heartbeat stops is found dead and failed by :func:`placement.rounds.jobs.reap`.
    With a job queue (:mod:`placement.runtime.queue`), ``queue_job_id`` is the
    queue's job and ``attempt`` the attempt that holds the job: a retry on
    another worker takes a higher attempt, and only the attempt that holds the
    job may store its result.
    """

    __tablename__ = "solve_job"
    __table_args__ = (
        # One live solve per round at a time.
        Index(
            "uq_solve_job_live_round",
            "round_id",
            unique=True,
            sqlite_where=text(_LIVE_JOB),
            postgresql_where=text(_LIVE_JOB),
        ),
    )

    id: Mapped[intpk]
    round_id: Mapped[int] = mapped_column(ForeignKey("allocation_round.id", ondelete="CASCADE"), index=True)
    kind: Mapped[JobKind] = enum_column(JobKind)
    state: Mapped[JobState] = enum_column(JobState, default=JobState.QUEUED)
    progress: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None]
    host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[dt.datetime | None]
    attempt: Mapped[int] = mapped_column(default=0, server_default="0")
    queue_job_id: Mapped[int | None]
    created_at: Mapped[created_at]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    round: Mapped[AllocationRound] = relationship()

    def __repr__(self) -> str:
        return f"<SolveJob {self.id} round={self.round_id} {self.state.value}>"


class RoundArtifact(Base):
    """The instance a round was solved from and the result, kept verbatim for audit."""

    __tablename__ = "round_artifact"

    id: Mapped[intpk]
    round_id: Mapped[int] = mapped_column(ForeignKey("allocation_round.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("solve_job.id", ondelete="SET NULL"))
    kind: Mapped[ArtifactKind] = enum_column(ArtifactKind)
    #: Canonical JSON text (sorted keys), hashed in ``sha256``.
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[created_at]


class PlacementFeedback(Base):
    """The employer's short feedback on one pupil's placement, after it."""

    __tablename__ = "placement_feedback"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)

    id: Mapped[intpk]
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), unique=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    #: 1 (did not work) to 5 (very good).
    rating: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created_at]

    assignment: Mapped[Assignment] = relationship()


class PupilEvaluation(Base):
    """A pupil's short evaluation of their placement, after it."""

    __tablename__ = "pupil_evaluation"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)

    id: Mapped[intpk]
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), unique=True)
    #: 1 (bad) to 5 (very good).
    rating: Mapped[int]
    #: Whether the pupil would recommend the placement to another pupil.
    recommend: Mapped[bool]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[created_at]

    assignment: Mapped[Assignment] = relationship()
