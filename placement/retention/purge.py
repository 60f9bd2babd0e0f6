"""Retention: purging pupils' personal data once their season is long enough over (gallring).

Personal data is kept no longer than needed: the retention period is
configuration (the municipality's gallringsbeslut), a daily job deletes exactly
the eligible rows, writes a record of the purge and is idempotent.

* A pupil's season ends with the last day of the latest period among their
  class's period and the periods of their assignments (:func:`season_end`).
* Pupils whose season ended before :func:`cutoff` (now minus the retention
  period in calendar months) are purged: their preferences, assignments,
  manual placements, pupil accounts, the audit events about them, the outbox
  messages that name them and the pupils themselves.  Outbox messages older
  than the cutoff go as well, whoever they were sent to: their bodies may name
  pupils.  Schools, classes, offers and rounds stay.
* Before a round loses its first pupil, its anonymous figures are kept as a
  :class:`~placement.models.RoundStatistics` row; a round purged in several
  batches keeps the figures computed when it was still whole.  A round's
  instance and result artifacts (which hold pupil data) go once none of its
  pupils is left.
* A :class:`~placement.models.PurgeRecord` and an audit event
  ``retention.purge`` say when, up to which date and how many rows of each kind
  were removed, never whom.

:func:`plan` computes what a purge would remove (``praktik purge --dry-run``
and the coordinator's page); :func:`purge` carries that plan out in the
caller's transaction.

This module is longer than most (about 600 lines) because the purge, its statistics
kept past retention and its report are one rule of law (gallring) that should be read whole.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

import solver
from placement import audit
from placement.db import chunks
from placement.enums import ArtifactKind, AssignmentStatus
from placement.errors import ValidationError
from placement.models import (
    AllocationRound,
    Assignment,
    AuditEvent,
    ManualPlacement,
    OutboxMessage,
    Period,
    Preference,
    Pupil,
    PurgeRecord,
    RoundArtifact,
    RoundStatistics,
    School,
    SchoolClass,
    User,
    round_period,
)
from placement.rounds import bridge, review, solving
from placement.rounds import setup as rounds
from solver.equity import TERCILES, school_terciles

logger = logging.getLogger(__name__)

#: Months after the end of a pupil's season before their personal data is purged.
DEFAULT_RETENTION_MONTHS = 12

#: Groups of fewer pupils than this are merged into :data:`OTHER` in the round figures.
MIN_GROUP = 5
OTHER = "other"

#: The kinds of rows a purge removes (plus the statistics it creates), in the order they are counted.
KINDS = (
    "pupil",
    "user",
    "preference",
    "assignment",
    "manual_placement",
    "audit_event",
    "outbox_message",
    "round_artifact",
    "round_statistics",
)

_YIELD = 1000


# --- when a season ends ---------------------------------------------------------------------------------------------


def season_end(
    class_period_end: dt.date | None, assignment_period_ends: Iterable[dt.date], created_at: dt.datetime
) -> dt.datetime:
    """The instant a pupil's season ends, in UTC.

    That is the end of the last day (midnight UTC after ``end_date``) of the
    latest period among the pupil's class's period and the periods of all the
    pupil's assignments, whatever their status.  A pupil with no period at all
    (a class without a period and no assignment) ends when they were created:
    nothing ever made their data necessary.
    """
    ends = [day for day in (class_period_end, *assignment_period_ends) if day is not None]
    if not ends:
        return created_at.astimezone(dt.UTC)
    return dt.datetime.combine(max(ends) + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def season_ends(session: Session) -> dict[int, dt.datetime]:
    """:func:`season_end` of every pupil, by pupil id."""
    assigned: dict[int, dt.date] = dict(
        session.execute(
            select(Assignment.pupil_id, func.max(Period.end_date))
            .join(Period, Assignment.period_id == Period.id)
            .group_by(Assignment.pupil_id)
        ).all()
    )
    rows = session.execute(
        select(Pupil.id, Pupil.created_at, Period.end_date)
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .outerjoin(Period, SchoolClass.period_id == Period.id)
    )
    return {
        pupil_id: season_end(class_end, [assigned[pupil_id]] if pupil_id in assigned else [], created)
        for pupil_id, created, class_end in rows
    }


def cutoff(now: dt.datetime, retention_months: int) -> dt.datetime:
    """``now`` minus ``retention_months`` calendar months, in UTC.

    A day that the earlier month lacks becomes its last day: 2027-03-31 minus
    one month is 2027-02-28.  Pupils whose season ended before this instant are
    purged.
    """
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware time")
    if isinstance(retention_months, bool) or not isinstance(retention_months, int) or retention_months < 0:
        raise ValidationError(
            f"retention: field retention_months must be a whole number of at least 0, got {retention_months!r}"
        )
    now = now.astimezone(dt.UTC)
    year, month0 = divmod(now.year * 12 + now.month - 1 - retention_months, 12)
    day = min(now.day, calendar.monthrange(year, month0 + 1)[1])
    return now.replace(year=year, month=month0 + 1, day=day)


# --- what a purge removes -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PurgePlan:
    """What a purge at one moment would remove; :func:`purge` removes exactly this."""

    cutoff: dt.datetime
    retention_months: int
    pupil_ids: list[int]
    counts: dict[str, int]
    """Rows per kind of :data:`KINDS`; ``round_statistics`` counts the rows that would be created."""
    round_ids: list[int]
    """Rounds that involve a pupil to be purged."""
    statistics_round_ids: list[int]
    """Rounds among them whose anonymous figures are not stored yet."""
    artifact_round_ids: list[int]
    """Rounds none of whose pupils is left afterwards: their artifacts go."""
    user_ids: list[int]
    audit_event_ids: list[int]
    outbox_ids: list[int]

    @property
    def empty(self) -> bool:
        return not any(self.counts.values())


def plan(session: Session, *, now: dt.datetime, retention_months: int) -> PurgePlan:
    """What :func:`purge` would remove at ``now`` with ``retention_months``, without changing anything."""
    limit = cutoff(now, retention_months)
    pupil_ids = sorted(pupil_id for pupil_id, end in season_ends(session).items() if end < limit)
    gone = set(pupil_ids)

    names: list[str] = []
    class_periods: set[int] = set()
    users: dict[int, tuple[str, str | None]] = {}
    assignment_ids: set[int] = set()
    preference_ids: set[int] = set()
    manual = 0
    involved: set[int] = set()
    for chunk in chunks(pupil_ids):
        for first, last, period_id in session.execute(
            select(Pupil.first_name, Pupil.last_name, SchoolClass.period_id)
            .join(SchoolClass, Pupil.class_id == SchoolClass.id)
            .where(Pupil.id.in_(chunk))
        ):
            names.append(f"{first} {last}")
            if period_id is not None:
                class_periods.add(period_id)
        for user_id, display_name, email in session.execute(
            select(User.id, User.display_name, User.email).where(User.pupil_id.in_(chunk))
        ):
            users[user_id] = (display_name, email)
        for assignment_id, round_id in session.execute(
            select(Assignment.id, Assignment.round_id).where(Assignment.pupil_id.in_(chunk))
        ):
            assignment_ids.add(assignment_id)
            involved.add(round_id)
        preference_ids.update(session.scalars(select(Preference.id).where(Preference.pupil_id.in_(chunk))))
        for round_id in session.scalars(select(ManualPlacement.round_id).where(ManualPlacement.pupil_id.in_(chunk))):
            manual += 1
            involved.add(round_id)
    for chunk in chunks(sorted(class_periods)):
        involved.update(session.scalars(select(round_period.c.round_id).where(round_period.c.period_id.in_(chunk))))

    round_ids = sorted(involved)
    kept = set(session.scalars(select(RoundStatistics.round_id).where(RoundStatistics.round_id.is_not(None))))
    statistics_round_ids = [round_id for round_id in round_ids if round_id not in kept]
    artifact_round_ids = [
        round_id for round_id, members in round_members(session, round_ids).items() if members <= gone
    ]
    artifacts = 0
    for chunk in chunks(artifact_round_ids):
        artifacts += session.scalar(select(func.count(RoundArtifact.id)).where(RoundArtifact.round_id.in_(chunk))) or 0

    matcher = _Matcher.of(
        pupil_ids=gone,
        user_ids=set(users),
        names=[*names, *(display_name for display_name, _ in users.values())],
        emails=[email for _, email in users.values() if email],
    )
    entities = {"pupil": gone, "assignment": assignment_ids, "preference": preference_ids, "user": set(users)}
    audit_event_ids = _audit_events(session, matcher, entities) if gone else []
    outbox_ids = _outbox_messages(session, matcher, limit)

    counts = {
        "pupil": len(pupil_ids),
        "user": len(users),
        "preference": len(preference_ids),
        "assignment": len(assignment_ids),
        "manual_placement": manual,
        "audit_event": len(audit_event_ids),
        "outbox_message": len(outbox_ids),
        "round_artifact": artifacts,
        "round_statistics": len(statistics_round_ids),
    }
    return PurgePlan(
        cutoff=limit,
        retention_months=retention_months,
        pupil_ids=pupil_ids,
        counts=counts,
        round_ids=round_ids,
        statistics_round_ids=statistics_round_ids,
        artifact_round_ids=artifact_round_ids,
        user_ids=sorted(users),
        audit_event_ids=audit_event_ids,
        outbox_ids=outbox_ids,
    )


def round_members(session: Session, round_ids: list[int]) -> dict[int, set[int]]:
    """The pupils of each round: those with an assignment or a manual placement in it, and the pupils of
    classes that go on placement in one of its periods."""
    members: dict[int, set[int]] = {round_id: set() for round_id in round_ids}
    for chunk in chunks(round_ids):
        queries = (
            select(Assignment.round_id, Assignment.pupil_id).where(Assignment.round_id.in_(chunk)),
            select(ManualPlacement.round_id, ManualPlacement.pupil_id).where(ManualPlacement.round_id.in_(chunk)),
            select(round_period.c.round_id, Pupil.id)
            .join(SchoolClass, SchoolClass.period_id == round_period.c.period_id)
            .join(Pupil, Pupil.class_id == SchoolClass.id)
            .where(round_period.c.round_id.in_(chunk)),
        )
        for query in queries:
            for round_id, pupil_id in session.execute(query):
                members[round_id].add(pupil_id)
    return members


_WORD = re.compile(r"\w+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_KEY_REFERENCE = re.compile(r"\b(pupil|user):(\d+)\b")


@dataclasses.dataclass(frozen=True)
class _Matcher:
    """Does a text or a JSON document name one of the pupils being purged?

    A text names a pupil when it holds the pupil's student id (``P000123``,
    as audit events and mail refer to pupils), full name or account name as
    whole words (case does not matter) or the account's e-mail address.  Bare
    numbers are not taken for ids: ``{"counts": {"pupil": 13}}`` is no reference.
    """

    pupil_ids: frozenset[int]
    user_ids: frozenset[int]
    words: frozenset[str]
    names: frozenset[tuple[str, ...]]
    lengths: frozenset[int]
    emails: frozenset[str]

    @classmethod
    def of(cls, *, pupil_ids: set[int], user_ids: set[int], names: Iterable[str], emails: Iterable[str]) -> _Matcher:
        # A single word (an account named "Kim") would match too much text: names need two words.
        tokenised = {tuple(_WORD.findall(name.casefold())) for name in names}
        tokenised = {name for name in tokenised if len(name) >= 2}
        return cls(
            pupil_ids=frozenset(pupil_ids),
            user_ids=frozenset(user_ids),
            words=frozenset(bridge.student_id(pupil_id).casefold() for pupil_id in pupil_ids),
            names=frozenset(tokenised),
            lengths=frozenset(len(name) for name in tokenised),
            emails=frozenset(email.casefold() for email in emails),
        )

    def text(self, value: str | None) -> bool:
        if not value:
            return False
        tokens = _WORD.findall(value.casefold())
        if any(token in self.words for token in tokens):
            return True
        for length in self.lengths:
            if any(tuple(tokens[i : i + length]) in self.names for i in range(len(tokens) - length + 1)):
                return True
        return any(email.casefold() in self.emails for email in _EMAIL.findall(value))

    def document(self, value: Any) -> bool:
        if isinstance(value, dict):
            return any(self.text(str(key)) or self.document(item) for key, item in value.items())
        if isinstance(value, list | tuple):
            return any(self.document(item) for item in value)
        return isinstance(value, str) and self.text(value)

    def key(self, dedup_key: str) -> bool:
        """An outbox key about a pupil or their account (``reminder:pupil:12``, ``...:user:40``)."""
        for kind, number in _KEY_REFERENCE.findall(dedup_key):
            if int(number) in (self.pupil_ids if kind == "pupil" else self.user_ids):
                return True
        return False


def _audit_events(session: Session, matcher: _Matcher, entities: dict[str, set[int]]) -> list[int]:
    """Events about the pupils (their records, assignments, preferences or accounts), by their accounts,
    or whose before/after names them."""
    found: list[int] = []
    rows = session.execute(
        select(
            AuditEvent.id,
            AuditEvent.entity_type,
            AuditEvent.entity_id,
            AuditEvent.actor_id,
            AuditEvent.before,
            AuditEvent.after,
        ).execution_options(yield_per=_YIELD)
    )
    for event_id, entity_type, entity_id, actor_id, before, after in rows:
        if (
            entity_id in entities.get(entity_type, ())
            or actor_id in matcher.user_ids
            or matcher.document(before)
            or matcher.document(after)
        ):
            found.append(event_id)
    return sorted(found)


def _outbox_messages(session: Session, matcher: _Matcher, limit: dt.datetime) -> list[int]:
    """Messages created before ``limit``, to the pupils' accounts, or whose key, address, subject or body names them."""
    if not matcher.pupil_ids:
        return sorted(session.scalars(select(OutboxMessage.id).where(OutboxMessage.created_at < limit)))
    found: list[int] = []
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.created_at,
            OutboxMessage.user_id,
            OutboxMessage.dedup_key,
            OutboxMessage.recipient,
            OutboxMessage.subject,
            OutboxMessage.body,
        ).execution_options(yield_per=_YIELD)
    )
    for message_id, created, user_id, dedup_key, recipient, subject, body in rows:
        if (
            created < limit
            or user_id in matcher.user_ids
            or matcher.key(dedup_key)
            or matcher.text(recipient)
            or matcher.text(subject)
            or matcher.text(body)
        ):
            found.append(message_id)
    return sorted(found)


# --- anonymous figures of a round -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """One pupil of a round, reduced to what the figures count."""

    school: str
    need_index: float
    gender: str
    placed: bool
    rank: int | None
    locked: bool

    @property
    def top3(self) -> bool:
        return self.placed and self.rank is not None and self.rank <= 3


def round_figures(session: Session, allocation_round: AllocationRound) -> dict[str, Any]:
    """Counts only, no pupil named: pupils, placed, unplaced, by rank, and per school code, gender and need tercile.

    A solved round is measured as the review page measures it
    (:func:`placement.rounds.review.current_result` over the instance it was
    last solved from); a round never solved, over its pupils in the database.
    Groups of fewer than :data:`MIN_GROUP` pupils are merged into ``other``.
    """
    artifact = solving.latest_artifact(session, allocation_round.id, ArtifactKind.INSTANCE)
    if artifact is not None:
        outcomes = _solved_outcomes(session, allocation_round, solver.load_instance(json.loads(artifact.body)))
    else:
        outcomes = _stored_outcomes(session, allocation_round)
    manual = session.scalar(
        select(func.count()).select_from(ManualPlacement).where(ManualPlacement.round_id == allocation_round.id)
    )
    return figures(outcomes, manual=manual or 0)


def _solved_outcomes(session: Session, allocation_round: AllocationRound, instance: solver.Instance) -> list[_Outcome]:
    got = review.current_result(session, allocation_round, instance).assignment_map()
    outcomes = []
    for student in instance.students:
        placement = got.get(student.id)
        outcomes.append(
            _Outcome(
                school=student.school,
                need_index=instance.school_by_id[student.school].need_index,
                gender=student.gender or "unknown",
                placed=placement is not None,
                rank=placement.rank if placement is not None else None,
                locked=placement is not None and placement.locked,
            )
        )
    return outcomes


def _stored_outcomes(session: Session, allocation_round: AllocationRound) -> list[_Outcome]:
    """The round's pupils (by class period or assignment) with their placement in the round."""
    pupil_ids = set(
        session.scalars(
            select(Pupil.id)
            .join(SchoolClass, Pupil.class_id == SchoolClass.id)
            .join(round_period, round_period.c.period_id == SchoolClass.period_id)
            .where(round_period.c.round_id == allocation_round.id)
        )
    )
    held = bridge.placements_in_force(session, allocation_round.id)
    pupil_ids.update(held)
    outcomes = []
    for chunk in chunks(sorted(pupil_ids)):
        for pupil_id, gender, code, need_index in session.execute(
            select(Pupil.id, Pupil.gender, School.code, School.need_index)
            .join(School, Pupil.school_id == School.id)
            .where(Pupil.id.in_(chunk))
        ):
            placement = held.get(pupil_id)
            outcomes.append(
                _Outcome(
                    school=code,
                    need_index=need_index,
                    gender=gender.value if gender is not None else "unknown",
                    placed=placement is not None,
                    rank=placement.rank if placement is not None else None,
                    locked=placement is not None and placement.status is AssignmentStatus.LOCKED,
                )
            )
    return outcomes


def figures(outcomes: list[_Outcome], *, manual: int = 0) -> dict[str, Any]:
    """Aggregate pupils' outcomes into the stored figures (see :func:`round_figures`)."""
    ranks: Counter[str] = Counter()
    for outcome in outcomes:
        if outcome.placed:
            ranks["locked" if outcome.locked else "unranked" if outcome.rank is None else str(outcome.rank)] += 1
    longest = max((outcome.rank or 0 for outcome in outcomes if outcome.placed), default=0)
    labels = [str(rank) for rank in range(1, longest + 1)] + ["unranked", "locked"]
    placed = sum(1 for outcome in outcomes if outcome.placed)
    tercile = _need_terciles(outcomes)
    return {
        "pupils": len(outcomes),
        "placed": placed,
        "unplaced": len(outcomes) - placed,
        "top3": sum(1 for outcome in outcomes if outcome.top3),
        "manual": manual,
        "ranks": {label: ranks[label] for label in labels},
        "by_school": _groups(outcomes, lambda o: o.school),
        "by_gender": _groups(outcomes, lambda o: o.gender),
        "by_need": _groups(outcomes, lambda o: tercile[o.school]),
        "min_group": MIN_GROUP,
    }


def _need_terciles(outcomes: list[_Outcome]) -> dict[str, str]:
    """The tercile label of each school (:func:`solver.equity.school_terciles`)."""
    need = {outcome.school: outcome.need_index for outcome in outcomes}
    tercile = school_terciles(Counter(outcome.school for outcome in outcomes), need)
    return {school: TERCILES[t] for school, t in tercile.items()}


def _groups(outcomes: list[_Outcome], key: Callable[[_Outcome], str]) -> dict[str, dict[str, int]]:
    groups: dict[str, dict[str, int]] = defaultdict(lambda: {"pupils": 0, "placed": 0, "top3": 0})
    for outcome in outcomes:
        group = groups[key(outcome)]
        group["pupils"] += 1
        group["placed"] += outcome.placed
        group["top3"] += outcome.top3
    return suppress(dict(groups))


def suppress(groups: dict[str, dict[str, int]], minimum: int = MIN_GROUP) -> dict[str, dict[str, int]]:
    """Merge groups of fewer than ``minimum`` pupils into ``other``.

    When ``other`` itself would hold fewer than ``minimum`` pupils, the
    smallest groups shown join it until it does (or nothing else is left), so
    that no small group can be recovered by subtraction from the total.
    """
    shown = {label: counts for label, counts in groups.items() if label != OTHER and counts["pupils"] >= minimum}
    hidden = [counts for label, counts in groups.items() if label not in shown]
    while hidden and shown and sum(counts["pupils"] for counts in hidden) < minimum:
        smallest = min(shown, key=lambda label: (shown[label]["pupils"], label))
        hidden.append(shown.pop(smallest))
    result = {label: dict(shown[label]) for label in sorted(shown)}
    if hidden:
        result[OTHER] = {field: sum(counts[field] for counts in hidden) for field in ("pupils", "placed", "top3")}
    return result


# --- the purge ------------------------------------------------------------------------------------------------------


def purge(session: Session, *, now: dt.datetime, retention_months: int, actor: audit.Actor) -> PurgeRecord | None:
    """Purge the personal data whose retention ended before ``now``; None when there is nothing to purge.

    Runs in the caller's transaction and flushes; the caller commits.  Rounds
    first get their anonymous figures, then the rows go in an order the
    foreign keys allow (audit events written by the pupils' accounts before the
    accounts, whose deletion would otherwise have to update them).
    """
    todo = plan(session, now=now, retention_months=retention_months)
    if todo.empty:
        return None

    for round_id in todo.statistics_round_ids:
        allocation_round = rounds.get_round(session, round_id)
        session.add(
            RoundStatistics(
                round_id=round_id,
                round_name=allocation_round.name,
                periods=",".join(
                    period.code for period in sorted(allocation_round.periods, key=lambda p: (p.start_date, p.code))
                ),
                figures=round_figures(session, allocation_round),
            )
        )
    session.flush()

    counts = dict.fromkeys(KINDS, 0)
    counts["round_statistics"] = len(todo.statistics_round_ids)
    for chunk in chunks(todo.audit_event_ids):
        counts["audit_event"] += _delete(session, delete(AuditEvent).where(AuditEvent.id.in_(chunk)))
    for chunk in chunks(todo.outbox_ids):
        counts["outbox_message"] += _delete(session, delete(OutboxMessage).where(OutboxMessage.id.in_(chunk)))
    for chunk in chunks(todo.pupil_ids):
        counts["preference"] += _delete(session, delete(Preference).where(Preference.pupil_id.in_(chunk)))
        counts["manual_placement"] += _delete(
            session, delete(ManualPlacement).where(ManualPlacement.pupil_id.in_(chunk))
        )
        counts["assignment"] += _delete(session, delete(Assignment).where(Assignment.pupil_id.in_(chunk)))
        counts["user"] += _delete(session, delete(User).where(User.pupil_id.in_(chunk)))
    for chunk in chunks(todo.artifact_round_ids):
        counts["round_artifact"] += _delete(session, delete(RoundArtifact).where(RoundArtifact.round_id.in_(chunk)))
    for chunk in chunks(todo.pupil_ids):
        counts["pupil"] += _delete(session, delete(Pupil).where(Pupil.id.in_(chunk)))

    record = PurgeRecord(
        ran_at=now.astimezone(dt.UTC),
        cutoff=todo.cutoff,
        retention_months=retention_months,
        actor=actor.label,
        counts=counts,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "retention.purge",
        "purge_record",
        record.id,
        after={"cutoff": todo.cutoff.isoformat(), "retention_months": retention_months, "counts": counts},
    )
    session.flush()
    logger.info("Purge by %s up to %s: %s", actor.label, todo.cutoff.isoformat(), counts)
    return record


def _delete(session: Session, statement: Any) -> int:
    # Rows may be loaded in the session: "fetch" keeps its identity map in step with the database.
    result = session.execute(statement.execution_options(synchronize_session="fetch"))
    return int(result.rowcount)  # type: ignore[attr-defined]
