"""Purging pupils' personal data when its retention ends (gallring)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

import solver
from placement import audit
from placement import models as m
from placement.db import Base, utcnow
from placement.enums import AssignmentStatus, Gender, Role, Sector
from placement.errors import ValidationError
from placement.retention import purge as r
from placement.rounds import assignments, bridge, solving
from placement.rounds import setup as rounds
from tests import factories as f

CONFIRMED = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
COORDINATOR = audit.Actor("user:1")
# Real time: rows get created_at = now from the database defaults, so the test's "now" must not lie behind it.
NOW = utcnow()
OLD_SURNAME = "Purgesson"
NEW_SURNAME = "Keepsson"


@dataclasses.dataclass
class Season:
    old_round: m.AllocationRound
    new_round: m.AllocationRound
    whole_year: m.AllocationRound
    old: list[m.Pupil]
    new: list[m.Pupil]
    old_users: list[m.User]
    new_user: m.User
    schools: list[m.School]


def _period(session: Session, code: str, days_ago: int) -> m.Period:
    end = (NOW - dt.timedelta(days=days_ago)).date()
    return f.period(session, code=code, start_date=end - dt.timedelta(days=11), end_date=end)


def _solve(session: Session, round_id: int) -> None:
    build = solving.begin_solve(session, round_id, actor=audit.CLI)
    result = solver.solve(solver.load_instance(build.instance), method="optimal")
    solving.finish_solve(session, round_id, build.instance, result.to_dict(), actor=audit.CLI)


def _season(session: Session) -> Season:
    """A season that ended about 13 months ago (13 pupils of three schools) and one that ended 7 months ago."""
    old_period = _period(session, "old", days_ago=400)
    new_period = _period(session, "new", days_ago=215)
    schools = [
        f.school(session, code="SA", need_index=0.8),
        f.school(session, code="SB", need_index=1.0),
        f.school(session, code="SC", need_index=1.6),
    ]
    offers = [
        f.offer(
            session,
            sector=Sector.IT,
            places={old_period: 3, new_period: 2},
            risk_assessment_confirmed_at=CONFIRMED,
            code=f"OF{n}",
        )
        for n in range(4)
    ]
    genders = [Gender.FEMALE] * 8 + [Gender.MALE] * 4 + [None]
    old: list[m.Pupil] = []
    for school, size in zip(schools, (6, 5, 2), strict=True):
        klass = f.school_class(session, school=school, period=old_period)
        for _ in range(size):
            n = len(old)
            pupil = f.pupil(
                session, school_class=klass, first_name=f"Astrid{n}", last_name=OLD_SURNAME, gender=genders[n]
            )
            for rank, offer in enumerate((offers[n % 4 :] + offers[: n % 4])[:3], start=1):
                session.add(m.Preference(pupil=pupil, offer=offer, rank=rank))
            old.append(pupil)
    new_class = f.school_class(session, school=schools[0], period=new_period)
    new: list[m.Pupil] = []
    for n in range(3):
        pupil = f.pupil(session, school_class=new_class, first_name=f"Bertil{n}", last_name=NEW_SURNAME)
        for rank, offer in enumerate(offers[n:] + offers[:n], start=1):
            session.add(m.Preference(pupil=pupil, offer=offer, rank=rank))
        new.append(pupil)
    session.flush()

    old_round = rounds.create_round(session, "Höst", ["old"], actor=audit.CLI, policy={"time_limit_s": 20})
    new_round = rounds.create_round(session, "Vår", ["new"], actor=audit.CLI, policy={"time_limit_s": 20})
    whole_year = rounds.create_round(session, "Helår", ["old", "new"], actor=audit.CLI)
    _solve(session, old_round.id)
    _solve(session, new_round.id)

    # What a season leaves behind about its pupils: a lock, a manual placement, accounts, their events and mail.
    placed = sorted(session.scalars(select(m.Assignment.pupil_id).where(m.Assignment.round_id == old_round.id)))
    assignments.lock(session, old_round.id, placed[0], actor=COORDINATOR)
    assignments.mark_manual(session, old_round.id, old[-1].id, actor=COORDINATOR, note="Astrid12 Purgesson har egen")
    old_users = [
        f.user(session, Role.PUPIL, pupil=pupil, display_name=pupil.full_name, email=f"astrid{n}@elev.example.se")
        for n, pupil in enumerate(old[:2])
    ]
    new_user = f.user(session, Role.PUPIL, pupil=new[0], display_name=new[0].full_name)
    audit.record(session, audit.Actor.of(old_users[0]), "preferences.set", "pupil", old[0].id, after={"offers": []})
    audit.record(session, audit.Actor.of(old_users[1]), "session.login", "session", None)
    audit.record(session, COORDINATOR, "user.create", "user", old_users[1].id, after={"role": "pupil"})
    audit.record(session, COORDINATOR, "school.note", "school", schools[1].id, after={"note": "Ring Astrid3 Purgesson"})
    audit.record(session, COORDINATOR, "preferences.set", "pupil", new[0].id, after={"offers": ["OF0"]})
    audit.record(session, audit.Actor.of(new_user), "session.login", "session", None)
    coordinator = f.user(session, Role.COORDINATOR)
    _mail(session, "to-pupil", user_id=old_users[0].id, body="Hej!")
    _mail(session, "names-pupil", user_id=coordinator.id, body=f"Eleven {old[4].full_name} saknar plats")
    _mail(session, "by-key", user_id=coordinator.id, dedup_key=f"reminder:pupil:{old[5].id}")
    _mail(session, "to-address", recipient="ASTRID1@elev.example.se")
    _mail(session, "old-mail", body="Påminnelse", created_at=NOW - dt.timedelta(days=500))
    _mail(session, "recent-mail", user_id=coordinator.id, body=f"Eleven {new[1].full_name} har plats")
    _mail(session, "new-pupil", user_id=new_user.id, body="Hej!")
    _mail(session, "unrelated", dedup_key="reminder:pupil:0:user:0", body="")
    session.flush()
    return Season(old_round, new_round, whole_year, old, new, old_users, new_user, schools)


def _mail(session: Session, key: str, **kw: Any) -> m.OutboxMessage:
    message = m.OutboxMessage(
        kind="window_open",
        dedup_key=kw.pop("dedup_key", key),
        recipient=kw.pop("recipient", f"{key}@example.se"),
        subject=kw.pop("subject", "Prao"),
        body=kw.pop("body", ""),
        message_id=f"<{key}@praktik>",
        next_attempt_at=NOW,
        **kw,
    )
    session.add(message)
    return message


def _count(session: Session, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _everything(session: Session) -> str:
    """Every value of every row of every table, as one text."""
    session.flush()
    lines = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            lines.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(lines)


def _by_dedup_key(session: Session) -> set[str]:
    return set(session.scalars(select(m.OutboxMessage.dedup_key)))


def _round_figures(session: Session, round_id: int) -> tuple[int, dict[str, int]]:
    """Placed and rank histogram of a round, recomputed from its assignment rows."""
    rows = session.scalars(select(m.Assignment).where(m.Assignment.round_id == round_id)).all()
    ranks = Counter(
        "locked" if a.status is AssignmentStatus.LOCKED else "unranked" if a.rank is None else str(a.rank) for a in rows
    )
    return len({a.pupil_id for a in rows}), dict(ranks)


# --- the purge ------------------------------------------------------------------------------------------------------


def test_purge_removes_the_old_seasons_personal_data_and_keeps_the_statistics(db_session: Session) -> None:
    season = _season(db_session)
    old_ids = [p.id for p in season.old]
    new_ids = [p.id for p in season.new]
    old_names = [p.full_name for p in season.old]
    placed_before, ranks_before = _round_figures(db_session, season.old_round.id)
    new_preferences = _count(db_session, m.Preference, m.Preference.pupil_id.in_(new_ids))
    new_assignments = _count(db_session, m.Assignment, m.Assignment.pupil_id.in_(new_ids))
    other_events = _count(db_session, m.AuditEvent)

    todo = r.plan(db_session, now=NOW, retention_months=12)
    assert todo.pupil_ids == sorted(old_ids)
    assert _count(db_session, m.Pupil, m.Pupil.id.in_(old_ids)) == 13  # planning changed nothing
    record = r.purge(db_session, now=NOW, retention_months=12, actor=COORDINATOR)
    assert record is not None
    db_session.expire_all()

    # Gone: every row about the old pupils, in every table.
    assert _count(db_session, m.Pupil, m.Pupil.id.in_(old_ids)) == 0
    assert _count(db_session, m.Preference, m.Preference.pupil_id.in_(old_ids)) == 0
    assert _count(db_session, m.Assignment, m.Assignment.pupil_id.in_(old_ids)) == 0
    assert _count(db_session, m.ManualPlacement) == 0
    assert _count(db_session, m.User, m.User.id.in_([u.id for u in season.old_users])) == 0
    assert _count(db_session, m.RoundArtifact, m.RoundArtifact.round_id == season.old_round.id) == 0
    assert _by_dedup_key(db_session) == {"recent-mail", "new-pupil", "reminder:pupil:0:user:0"}
    text = _everything(db_session)
    assert OLD_SURNAME not in text
    assert not [name for name in old_names if name in text]
    assert "astrid" not in text.casefold()
    for pupil_id in old_ids:
        assert not re.search(rf"\b{bridge.student_id(pupil_id)}\b", text), pupil_id
    events = db_session.scalars(select(m.AuditEvent)).all()
    assert all(e.entity_id not in old_ids for e in events if e.entity_type == "pupil")
    assert all(e.actor_id is None or e.actor_id == season.new_user.id for e in events)

    # Untouched: the recent season, its accounts, events and mail; schools, classes, offers and rounds.
    assert _count(db_session, m.Pupil, m.Pupil.id.in_(new_ids)) == 3
    assert _count(db_session, m.Preference, m.Preference.pupil_id.in_(new_ids)) == new_preferences == 12
    assert _count(db_session, m.Assignment, m.Assignment.pupil_id.in_(new_ids)) == new_assignments > 0
    assert db_session.get(m.User, season.new_user.id) is not None
    assert _count(db_session, m.RoundArtifact, m.RoundArtifact.round_id == season.new_round.id) == 2
    assert NEW_SURNAME in text
    assert _count(db_session, m.School) == 3
    assert _count(db_session, m.SchoolClass) == 4
    assert _count(db_session, m.AllocationRound) == 3

    # Kept: the old round's anonymous figures, equal to what its rows said before.
    stats = db_session.scalars(select(m.RoundStatistics).where(m.RoundStatistics.round_id == season.old_round.id)).one()
    assert stats.round_name == "Höst"
    assert stats.periods == "old"
    figures = stats.figures
    assert figures["pupils"] == 13
    assert figures["placed"] == placed_before
    assert figures["unplaced"] == 13 - placed_before
    assert figures["manual"] == 1
    assert {label: n for label, n in figures["ranks"].items() if n} == ranks_before
    assert sum(figures["ranks"].values()) == placed_before
    assert figures["top3"] == placed_before - figures["ranks"]["unranked"]  # everyone ranked three; the lock is first
    # Small groups are merged: SC (2 pupils) cannot stand alone, and SB (5) joins it so that "other" is not small.
    assert figures["by_school"] == {
        "SA": {"pupils": 6, "placed": figures["by_school"]["SA"]["placed"], "top3": figures["by_school"]["SA"]["top3"]},
        "other": {
            "pupils": 7,
            "placed": placed_before - figures["by_school"]["SA"]["placed"],
            "top3": figures["top3"] - figures["by_school"]["SA"]["top3"],
        },
    }
    assert {k: v["pupils"] for k, v in figures["by_gender"].items()} == {"female": 8, "other": 5}
    assert sum(v["pupils"] for v in figures["by_need"].values()) == 13
    assert all(
        v["pupils"] >= r.MIN_GROUP for group in ("by_school", "by_gender", "by_need") for v in figures[group].values()
    )
    assert OLD_SURNAME not in repr(figures)
    assert "P0" not in repr(figures)

    # The record and its audit event: counts per kind, as planned, naming nobody.
    assert record.counts == todo.counts
    assert record.counts == {
        "pupil": 13,
        "user": 2,
        "preference": 39,
        "assignment": placed_before,
        "manual_placement": 1,
        "audit_event": 6,  # preferences.set, login, user.create, the note, the lock, the manual mark
        "outbox_message": 5,
        "round_artifact": 2,
        "round_statistics": 2,  # Höst, and Helår which the old pupils belong to
    }
    assert record.retention_months == 12
    assert record.actor == "user:1"
    assert record.cutoff == r.cutoff(NOW, 12)
    assert record.ran_at == NOW
    purge_event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "retention.purge")).one()
    assert purge_event.entity_id == record.id
    assert purge_event.after == {
        "cutoff": record.cutoff.isoformat(),
        "retention_months": 12,
        "counts": record.counts,
    }
    assert _count(db_session, m.AuditEvent) == other_events - 6 + 1


def test_a_second_purge_the_same_day_does_nothing(db_session: Session) -> None:
    _season(db_session)
    assert r.purge(db_session, now=NOW, retention_months=12, actor=audit.SCHEDULER) is not None
    before = _everything(db_session)
    assert r.plan(db_session, now=NOW + dt.timedelta(hours=1), retention_months=12).empty
    assert r.purge(db_session, now=NOW + dt.timedelta(hours=1), retention_months=12, actor=audit.SCHEDULER) is None
    assert _everything(db_session) == before
    assert _count(db_session, m.PurgeRecord) == 1


def test_nothing_to_purge_writes_nothing(db_session: Session) -> None:
    f.pupil(db_session)  # created now, no period: its retention has not even begun
    events = _count(db_session, m.AuditEvent)
    assert r.purge(db_session, now=NOW, retention_months=12, actor=audit.CLI) is None
    assert _count(db_session, m.PurgeRecord) == 0
    assert _count(db_session, m.AuditEvent) == events


def test_retention_is_configurable(db_session: Session) -> None:
    season = _season(db_session)
    new_ids = [p.id for p in season.new]
    assert set(r.plan(db_session, now=NOW, retention_months=12).pupil_ids).isdisjoint(new_ids)
    assert set(new_ids) <= set(r.plan(db_session, now=NOW, retention_months=6).pupil_ids)
    assert r.plan(db_session, now=NOW, retention_months=24).empty

    record = r.purge(db_session, now=NOW, retention_months=6, actor=audit.CLI)
    assert record is not None
    assert record.retention_months == 6
    assert record.counts["pupil"] == 16
    assert _count(db_session, m.Pupil) == 0
    assert _count(db_session, m.RoundArtifact) == 0
    assert _count(db_session, m.RoundStatistics) == 3


def test_a_round_purged_in_two_batches_keeps_the_figures_of_the_whole_round(db_session: Session) -> None:
    season = _season(db_session)

    def whole_year() -> m.RoundStatistics:
        return db_session.scalars(
            select(m.RoundStatistics).where(m.RoundStatistics.round_id == season.whole_year.id)
        ).one()

    first = r.purge(db_session, now=NOW, retention_months=12, actor=audit.SCHEDULER)
    assert first is not None
    figures = dict(whole_year().figures)
    assert whole_year().periods == "old,new"
    # Never solved: measured over its pupils in the database (both seasons), nobody placed in it.
    assert figures["pupils"] == 16
    assert figures["placed"] == 0
    assert figures["ranks"] == {"unranked": 0, "locked": 0}
    assert _count(db_session, m.RoundArtifact, m.RoundArtifact.round_id == season.new_round.id) == 2

    second = r.purge(db_session, now=NOW, retention_months=6, actor=audit.SCHEDULER)
    assert second is not None
    assert second.counts["pupil"] == 3
    assert second.counts["round_statistics"] == 1  # Vår only: Helår's figures were kept from the first batch
    assert second.counts["round_artifact"] == 2
    assert second.counts["audit_event"] == 2  # the new pupil's preferences.set and their account's login
    assert second.counts["outbox_message"] == 2
    db_session.expire_all()
    assert whole_year().figures == figures
    spring = db_session.scalars(
        select(m.RoundStatistics).where(m.RoundStatistics.round_id == season.new_round.id)
    ).one()
    assert spring.figures["pupils"] == 3
    assert spring.figures["by_school"] == {"other": spring.figures["by_school"]["other"]}  # three pupils: one group
    assert _count(db_session, m.RoundArtifact) == 0
    assert _by_dedup_key(db_session) == {"reminder:pupil:0:user:0"}


def test_plan_predicts_exactly_what_purge_removes(db_session: Session) -> None:
    season = _season(db_session)
    todo = r.plan(db_session, now=NOW, retention_months=12)
    assert todo.cutoff == r.cutoff(NOW, 12)
    assert todo.round_ids == sorted([season.old_round.id, season.whole_year.id])
    assert todo.statistics_round_ids == todo.round_ids
    assert todo.artifact_round_ids == [season.old_round.id]
    assert todo.user_ids == sorted(u.id for u in season.old_users)
    kinds = {
        "pupil": m.Pupil,
        "user": m.User,
        "preference": m.Preference,
        "assignment": m.Assignment,
        "manual_placement": m.ManualPlacement,
        "audit_event": m.AuditEvent,
        "outbox_message": m.OutboxMessage,
        "round_artifact": m.RoundArtifact,
    }
    before = {kind: _count(db_session, model) for kind, model in kinds.items()}
    record = r.purge(db_session, now=NOW, retention_months=12, actor=audit.CLI)
    assert record is not None
    after = {kind: _count(db_session, model) for kind, model in kinds.items()}
    removed = {kind: before[kind] - after[kind] for kind in kinds}
    removed["audit_event"] += 1  # the purge's own event
    assert removed == {kind: n for kind, n in todo.counts.items() if kind != "round_statistics"}
    assert _count(db_session, m.RoundStatistics) == todo.counts["round_statistics"]


def test_old_mail_is_purged_even_without_pupils(db_session: Session) -> None:
    _mail(db_session, "old", created_at=NOW - dt.timedelta(days=400))
    _mail(db_session, "recent")
    db_session.flush()
    record = r.purge(db_session, now=NOW, retention_months=12, actor=audit.CLI)
    assert record is not None
    assert record.counts == dict.fromkeys(r.KINDS, 0) | {"outbox_message": 1}
    assert _by_dedup_key(db_session) == {"recent"}


def test_pupils_without_a_period_are_kept_from_their_creation(db_session: Session) -> None:
    klass = f.school_class(db_session, period=None)
    early = f.pupil(db_session, school_class=klass, created_at=NOW - dt.timedelta(days=370))
    late = f.pupil(db_session, school_class=klass, created_at=NOW - dt.timedelta(days=300))
    assert r.plan(db_session, now=NOW, retention_months=12).pupil_ids == [early.id]
    assert r.season_ends(db_session)[late.id] == late.created_at


def test_a_later_assignment_extends_the_season(db_session: Session) -> None:
    old_period = _period(db_session, "old", days_ago=400)
    later = _period(db_session, "later", days_ago=100)
    klass = f.school_class(db_session, period=old_period)
    pupil = f.pupil(db_session, school_class=klass)
    round_ = rounds.create_round(db_session, "Extra", ["later"], actor=audit.CLI)
    offer = f.offer(db_session, places={later: 1})
    db_session.add(m.Assignment(round=round_, pupil=pupil, offer=offer, period=later, rank=None))
    db_session.flush()
    assert r.season_ends(db_session)[pupil.id] == dt.datetime.combine(
        later.end_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
    )
    assert r.plan(db_session, now=NOW, retention_months=12).empty
    assert r.plan(db_session, now=NOW, retention_months=3).pupil_ids == [pupil.id]


def test_a_round_never_solved_is_measured_over_its_stored_placements(db_session: Session) -> None:
    period = _period(db_session, "old", days_ago=400)
    klass = f.school_class(db_session, period=period)
    pupils = [f.pupil(db_session, school_class=klass) for _ in range(6)]
    extra = rounds.create_round(db_session, "Extra", ["old"], actor=audit.CLI)
    offer = f.offer(db_session, places={period: 6})

    def place(pupil: m.Pupil, status: AssignmentStatus, rank: int | None) -> None:
        db_session.add(m.Assignment(round=extra, pupil=pupil, offer=offer, period=period, rank=rank, status=status))
        db_session.flush()

    # The placement in force counts, not a pending change, in whichever order the rows come.
    place(pupils[0], AssignmentStatus.PROPOSED, 2)
    place(pupils[0], AssignmentStatus.CONFIRMED, 1)
    place(pupils[1], AssignmentStatus.CONFIRMED, 1)
    place(pupils[1], AssignmentStatus.PROPOSED, 2)
    place(pupils[2], AssignmentStatus.PROPOSED, None)
    place(pupils[3], AssignmentStatus.DECLINED, 1)
    place(pupils[4], AssignmentStatus.LOCKED, 3)
    figures = r.round_figures(db_session, extra)
    assert figures["pupils"] == 6
    assert figures["placed"] == 4
    assert figures["unplaced"] == 2
    assert figures["top3"] == 3
    assert figures["ranks"] == {"1": 2, "2": 0, "3": 0, "unranked": 1, "locked": 1}
    assert figures["by_gender"] == {"female": {"pupils": 6, "placed": 4, "top3": 3}}
    assert figures["by_school"] == {klass.school.code: {"pupils": 6, "placed": 4, "top3": 3}}


def test_purge_works_in_chunks_beyond_the_parameter_limit(db_session: Session) -> None:
    period = _period(db_session, "old", days_ago=400)
    klass = f.school_class(db_session, period=period)
    offer = f.offer(db_session, places={period: 2000})
    extra = rounds.create_round(db_session, "Stor", ["old"], actor=audit.CLI)
    size = 2 * 900 + 7  # three chunks of rounds.chunks
    db_session.execute(
        insert(m.Pupil),
        [
            {
                "school_id": klass.school_id,
                "class_id": klass.id,
                "first_name": f"Massa{n}",
                "last_name": OLD_SURNAME,
                "birth_year": 2012,
                "birth_month": 5,
                "attributes": [],
            }
            for n in range(size)
        ],
    )
    ids = list(db_session.scalars(select(m.Pupil.id).where(m.Pupil.last_name == OLD_SURNAME)))
    db_session.execute(insert(m.Preference), [{"pupil_id": p, "offer_id": offer.id, "rank": 1} for p in ids])
    db_session.execute(
        insert(m.Assignment),
        [{"round_id": extra.id, "pupil_id": p, "offer_id": offer.id, "period_id": period.id, "rank": 1} for p in ids],
    )
    db_session.execute(
        insert(m.User), [{"role": Role.PUPIL, "display_name": f"Massa{n}", "pupil_id": p} for n, p in enumerate(ids)]
    )
    db_session.execute(
        insert(m.AuditEvent),
        [
            {
                "actor": "cli",
                "action": "assignment.move",
                "entity_type": "allocation_round",
                "entity_id": extra.id,
                "after": {"pupil": bridge.student_id(p)},
            }
            for p in ids
        ],
    )
    record = r.purge(db_session, now=NOW, retention_months=12, actor=audit.SCHEDULER)
    assert record is not None
    assert {k: v for k, v in record.counts.items() if v} == {
        "pupil": size,
        "user": size,
        "preference": size,
        "assignment": size,
        "audit_event": size,
        "round_statistics": 1,
    }
    assert _count(db_session, m.Pupil) == 0
    stats = db_session.scalars(select(m.RoundStatistics)).one()
    assert stats.figures["pupils"] == stats.figures["placed"] == stats.figures["ranks"]["1"] == size


# --- arithmetic and figures -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "months", "expected"),
    [
        (dt.datetime(2027, 3, 31, 10, 30, tzinfo=dt.UTC), 1, dt.datetime(2027, 2, 28, 10, 30, tzinfo=dt.UTC)),
        (dt.datetime(2028, 3, 31, tzinfo=dt.UTC), 1, dt.datetime(2028, 2, 29, tzinfo=dt.UTC)),
        (dt.datetime(2027, 5, 31, tzinfo=dt.UTC), 3, dt.datetime(2027, 2, 28, tzinfo=dt.UTC)),
        (dt.datetime(2027, 1, 15, tzinfo=dt.UTC), 12, dt.datetime(2026, 1, 15, tzinfo=dt.UTC)),
        (dt.datetime(2027, 1, 31, tzinfo=dt.UTC), 13, dt.datetime(2025, 12, 31, tzinfo=dt.UTC)),
        (dt.datetime(2027, 1, 31, tzinfo=dt.UTC), 0, dt.datetime(2027, 1, 31, tzinfo=dt.UTC)),
        # 00:30 in Stockholm on 1 March is still February in UTC.
        (
            dt.datetime(2027, 3, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            1,
            dt.datetime(2027, 1, 28, 23, 30, tzinfo=dt.UTC),
        ),
    ],
)
def test_cutoff_counts_calendar_months(now: dt.datetime, months: int, expected: dt.datetime) -> None:
    got = r.cutoff(now, months)
    assert got == expected
    assert got.tzinfo == dt.UTC


def test_cutoff_refuses_naive_times_and_negative_months() -> None:
    with pytest.raises(ValueError, match="naive"):
        r.cutoff(dt.datetime(2027, 1, 1), 12)  # noqa: DTZ001
    with pytest.raises(ValidationError, match="retention_months"):
        r.cutoff(NOW, -1)


def test_season_end_is_the_end_of_the_latest_period() -> None:
    created = dt.datetime(2025, 8, 20, 7, 0, tzinfo=dt.UTC)
    assert r.season_end(dt.date(2026, 11, 13), [], created) == dt.datetime(2026, 11, 14, tzinfo=dt.UTC)
    assert r.season_end(dt.date(2026, 11, 13), [dt.date(2027, 5, 14), dt.date(2026, 1, 1)], created) == dt.datetime(
        2027, 5, 15, tzinfo=dt.UTC
    )
    assert r.season_end(None, [dt.date(2026, 3, 6)], created) == dt.datetime(2026, 3, 7, tzinfo=dt.UTC)
    assert r.season_end(None, [], created) == created


def test_suppress_merges_small_groups_into_other() -> None:
    def g(pupils: int, placed: int = 0, top3: int = 0) -> dict[str, int]:
        return {"pupils": pupils, "placed": placed, "top3": top3}

    assert r.suppress({"A": g(9, 8, 7), "B": g(5, 5, 4)}) == {"A": g(9, 8, 7), "B": g(5, 5, 4)}
    # Two small groups make an "other" big enough.
    assert r.suppress({"A": g(9), "B": g(3, 2, 1), "C": g(2, 1, 1)}) == {"A": g(9), "other": g(5, 3, 2)}
    # One small group alone would be told by subtraction: the smallest group shown joins it.
    assert r.suppress({"A": g(9), "B": g(6, 6, 6), "C": g(1, 1, 0)}) == {"A": g(9), "other": g(7, 7, 6)}
    # A real group called "other" is part of the merged one.
    assert r.suppress({"female": g(8), "other": g(2), "unknown": g(3)}) == {"female": g(8), "other": g(5)}
    # A round too small for any group.
    assert r.suppress({"A": g(2), "B": g(1)}) == {"other": g(3)}
    assert r.suppress({}) == {}


def test_figures_count_ranks_locks_and_need_terciles() -> None:
    outcome = r._Outcome
    outcomes = [
        *(outcome("SA", 0.5, "female", True, 1, False) for _ in range(5)),
        *(outcome("SB", 1.0, "male", True, 4, False) for _ in range(5)),
        *(outcome("SC", 2.0, "female", True, 2, True) for _ in range(3)),
        *(outcome("SC", 2.0, "male", True, None, False) for _ in range(1)),
        *(outcome("SC", 2.0, "male", False, None, False) for _ in range(1)),
    ]
    figures = r.figures(outcomes, manual=2)
    assert figures["pupils"] == 15
    assert figures["placed"] == 14
    assert figures["unplaced"] == 1
    assert figures["top3"] == 8
    assert figures["manual"] == 2
    assert figures["ranks"] == {"1": 5, "2": 0, "3": 0, "4": 5, "unranked": 1, "locked": 3}
    assert figures["by_need"] == {
        "high need": {"pupils": 5, "placed": 4, "top3": 3},
        "low need": {"pupils": 5, "placed": 5, "top3": 5},
        "middle need": {"pupils": 5, "placed": 5, "top3": 0},
    }
    assert figures["by_gender"] == {
        "female": {"pupils": 8, "placed": 8, "top3": 8},
        "male": {"pupils": 7, "placed": 6, "top3": 0},
    }
