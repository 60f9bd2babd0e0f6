"""Changes to a published round: the pending changes an incremental solve proposed, accepted or discarded at once.

An incremental solve (:mod:`placement.rounds.jobs`) stores its moves as
``proposed`` rows beside the placements in force; :func:`accept_changes`
applies them all in one transaction after checking every offer's places,
:func:`discard_changes` drops them, and :func:`close` ends the round.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from placement import audit
from placement.db import utcnow
from placement.enums import ACTIVE_ASSIGNMENT_STATUSES, AssignmentStatus, RoundStatus
from placement.errors import Conflict
from placement.models import (
    AllocationRound,
    Assignment,
)
from placement.rounds import bridge
from placement.rounds import setup as rounds
from placement.rounds.assignments import check_places

logger = logging.getLogger(__name__)


def pending_changes(session: Session, round_id: int) -> list[dict[str, Any]]:
    """The changes an incremental solve proposes for a published round, one entry per pupil.

    Each entry: ``pupil`` (id), ``student``, ``from`` and ``to`` (offer codes or
    None), ``reason``, ``to_rank``.
    """
    allocation_round = rounds.get_round(session, round_id)
    changes = (allocation_round.outcome or {}).get("changes") or {}
    if allocation_round.status is not RoundStatus.PUBLISHED or "moves" not in changes:
        return []
    proposed = {
        a.pupil_id: a
        for a in session.scalars(
            select(Assignment).where(Assignment.round_id == round_id, Assignment.status == AssignmentStatus.PROPOSED)
        )
    }
    entries = []
    for move_ in changes["moves"]:
        pupil_id = bridge.pupil_id_of(move_["student"])
        row = proposed.get(pupil_id)
        if move_["to"] is not None and row is None:
            continue  # already applied or discarded
        entries.append(
            {
                "pupil": pupil_id,
                "student": move_["student"],
                "from": move_["from"],
                "to": move_["to"],
                "to_rank": row.rank if row is not None else None,
                "reason": move_["reason"],
            }
        )
    return entries


def accept_changes(session: Session, round_id: int, *, actor: audit.Actor) -> int:
    """Apply every pending change of a published round at once; returns how many pupils changed.

    Refused when the round changed since the changes were computed (another
    decline, a new offer): the coordinator then runs the incremental round again.
    Confirmed and locked placements are never touched.
    """
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status is not RoundStatus.PUBLISHED:
        raise Conflict(f"round {round_id} is {allocation_round.status.value}, not published")
    entries = pending_changes(session, round_id)
    if not entries:
        raise Conflict(f"round {round_id} has no pending changes")
    build = bridge.build_instance(session, allocation_round, incremental=True)
    if build.input_hash != allocation_round.input_hash:
        raise Conflict(f"round {round_id} changed since the changes were computed; run the incremental round again")
    now = utcnow()
    changed = 0
    for entry in entries:
        pupil_id = entry["pupil"]
        old = session.scalars(
            select(Assignment).where(
                Assignment.round_id == round_id,
                Assignment.pupil_id == pupil_id,
                Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
            )
        ).first()
        if old is not None:
            if old.status is not AssignmentStatus.PUBLISHED:
                raise Conflict(f"pupil {entry['student']}: the placement is {old.status.value} and is kept")
            old.status = AssignmentStatus.WITHDRAWN
            old.updated_at = now
            session.flush()
        if entry["to"] is not None:
            session.execute(
                update(Assignment)
                .where(
                    Assignment.round_id == round_id,
                    Assignment.pupil_id == pupil_id,
                    Assignment.status == AssignmentStatus.PROPOSED,
                )
                .values(status=AssignmentStatus.PUBLISHED, updated_at=now)
            )
        changed += 1
        audit.record(
            session,
            actor,
            "assignment.change",
            "allocation_round",
            round_id,
            before={"pupil": entry["student"], "offer": entry["from"]},
            after={"pupil": entry["student"], "offer": entry["to"], "reason": entry["reason"]},
        )
    check_places(session, round_id)
    outcome = dict(allocation_round.outcome or {})
    outcome["changes"] = dict(outcome.get("changes") or {}) | {"accepted_at": now.isoformat(), "moves": []}
    allocation_round.outcome = outcome
    session.flush()
    logger.info("Round %s: %s accepted %s changes", round_id, actor.label, changed)
    return changed


def discard_changes(session: Session, round_id: int, *, actor: audit.Actor) -> int:
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status is not RoundStatus.PUBLISHED:
        raise Conflict(f"round {round_id} is {allocation_round.status.value}, not published")
    removed = session.execute(
        delete(Assignment).where(Assignment.round_id == round_id, Assignment.status == AssignmentStatus.PROPOSED)
    ).rowcount  # type: ignore[attr-defined]
    outcome = dict(allocation_round.outcome or {})
    outcome["changes"] = dict(outcome.get("changes") or {}) | {"moves": []}
    allocation_round.outcome = outcome
    audit.record(session, actor, "round.changes.discard", "allocation_round", round_id, after={"removed": removed})
    session.flush()
    return int(removed)


def close(session: Session, round_id: int, *, actor: audit.Actor) -> AllocationRound:
    """Close a published round: the season is over, nothing changes any more."""
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status is RoundStatus.CLOSED:
        return allocation_round
    if allocation_round.status is not RoundStatus.PUBLISHED:
        raise Conflict(f"round {round_id} is {allocation_round.status.value}; only a published round can be closed")
    allocation_round.status = RoundStatus.CLOSED
    audit.record(session, actor, "round.close", "allocation_round", round_id, after={"status": "closed"})
    session.flush()
    return allocation_round
