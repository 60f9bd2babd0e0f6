"""Solving a round: snapshot the instance, solve out of process, store the proposal.

A solve is three short transactions, so that nothing is locked while the
solver works and a crash at any point leaves a consistent state:

1. :func:`begin_solve` moves the round to ``solving`` with one conditional
   UPDATE (a second, concurrent start finds no row to move and is refused),
   builds the instance and stores its hash;
2. the solver runs in a child process (:mod:`placement.rounds.bridge`);
3. :func:`finish_solve` verifies the result against the same instance and
   replaces the round's proposed assignments in one go, or :func:`fail_solve`
   marks the round ``failed`` with the reason and leaves its assignments as
   they were.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

import solver
import solver.result
from placement import audit
from placement.db import utcnow
from placement.enums import ACTIVE_ASSIGNMENT_STATUSES, ArtifactKind, AssignmentStatus, RoundStatus
from placement.errors import Conflict, PlacementError
from placement.models import AllocationRound, Assignment, RoundArtifact
from placement.rounds import bridge, solve_process
from placement.rounds import setup as rounds

logger = logging.getLogger(__name__)

STARTABLE = (RoundStatus.DRAFT, RoundStatus.PROPOSED, RoundStatus.FAILED)


def begin_solve(session: Session, round_id: int, *, actor: audit.Actor, resume: bool = False) -> bridge.InstanceBuild:
    """Move the round to ``solving`` and build its instance; ``resume`` also takes a round left solving (a retry)."""
    startable = (*STARTABLE, RoundStatus.SOLVING) if resume else STARTABLE
    moved = session.execute(
        update(AllocationRound)
        .where(AllocationRound.id == round_id, AllocationRound.status.in_(startable))
        .values(status=RoundStatus.SOLVING, error=None)
    ).rowcount  # type: ignore[attr-defined]
    allocation_round = rounds.get_round(session, round_id)
    if moved != 1:
        raise Conflict(
            f"round {round_id} is {allocation_round.status.value}; it can be solved only when draft, proposed or failed"
        )
    session.refresh(allocation_round)
    build = bridge.build_instance(session, allocation_round)
    allocation_round.input_hash = build.input_hash
    audit.record(
        session, actor, "round.solve.start", "allocation_round", round_id, after={"input_hash": build.input_hash}
    )
    session.flush()
    return build


def finish_solve(
    session: Session,
    round_id: int,
    instance_doc: dict[str, Any],
    result_doc: dict[str, Any],
    *,
    actor: audit.Actor,
    comparison: dict[str, Any] | None = None,
    job_id: int | None = None,
) -> AllocationRound:
    """Store ``result_doc`` as the round's proposal, after checking it against ``instance_doc``.

    ``comparison`` holds the summaries, by method, of both mechanisms and the
    references on the same instance (the review page's trade-off table); the
    outcome's ``method`` is the mechanism that made the proposal.  The
    instance and result are kept as artifacts.
    """
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status is not RoundStatus.SOLVING:
        raise Conflict(f"round {round_id} is {allocation_round.status.value}, not solving")
    result = _checked(allocation_round, instance_doc, result_doc)

    session.execute(
        delete(Assignment).where(Assignment.round_id == round_id, Assignment.status == AssignmentStatus.PROPOSED)
    )
    # Pupils whose placement is already in force (this round's locks, earlier
    # rounds' placements) keep their rows; a self-arranged placement the solver
    # reports as locked gets a locked row of this round.
    held = set(
        session.scalars(
            select(Assignment.pupil_id).where(
                Assignment.pupil_id.in_([bridge.pupil_id_of(a.student) for a in result.assignments if a.locked]),
                Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
            )
        )
    )
    now = utcnow()
    rows = bridge.assignment_rows(
        session,
        round_id,
        [
            (a, AssignmentStatus.LOCKED if a.locked else AssignmentStatus.PROPOSED, None)
            for a in result.assignments
            if not (a.locked and bridge.pupil_id_of(a.student) in held)
        ],
        now=now,
    )
    if rows:
        session.execute(insert(Assignment), rows)
    allocation_round.status = RoundStatus.PROPOSED
    allocation_round.solved_at = now
    allocation_round.outcome = _outcome(result_doc, result) | ({"comparison": comparison} if comparison else {})
    store_artifacts(session, round_id, instance_doc, result_doc, job_id=job_id)
    audit.record(
        session,
        actor,
        "round.solve.finish",
        "allocation_round",
        round_id,
        after={k: v for k, v in allocation_round.outcome.items() if k != "comparison"},
    )
    session.flush()
    logger.info("Round %s solved: %s of %s placed", round_id, result.metrics.placed, result.metrics.students)
    return allocation_round


def begin_changes(
    session: Session, round_id: int, *, actor: audit.Actor
) -> tuple[bridge.InstanceBuild, dict[str, Any]]:
    """Snapshot a published round for an incremental solve: its instance and its previous result.

    The round stays published: nothing changes until the coordinator accepts
    the proposed changes (:func:`placement.rounds.changes.accept_changes`).
    """
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status is not RoundStatus.PUBLISHED:
        raise Conflict(
            f"round {round_id} is {allocation_round.status.value}; changes are computed for published rounds"
        )
    build = bridge.build_instance(session, allocation_round, incremental=True)
    previous = bridge.previous_result(session, allocation_round, build.instance)
    allocation_round.input_hash = build.input_hash
    audit.record(
        session, actor, "round.changes.start", "allocation_round", round_id, after={"input_hash": build.input_hash}
    )
    session.flush()
    return build, previous


def finish_changes(
    session: Session,
    round_id: int,
    instance_doc: dict[str, Any],
    result_doc: dict[str, Any],
    *,
    actor: audit.Actor,
    job_id: int | None = None,
) -> AllocationRound:
    """Store an incremental result as the published round's pending changes.

    Every pupil the solver moves (or places for the first time) gets a
    ``proposed`` row with the reason; the pupil's placement in force stays
    until the coordinator accepts.  Earlier pending changes are replaced.
    """
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status is not RoundStatus.PUBLISHED:
        raise Conflict(f"round {round_id} is {allocation_round.status.value}, not published")
    result = _checked(allocation_round, instance_doc, result_doc)
    session.execute(
        delete(Assignment).where(Assignment.round_id == round_id, Assignment.status == AssignmentStatus.PROPOSED)
    )
    got = result.assignment_map()
    moves = list(result.moves or ())
    now = utcnow()
    rows = bridge.assignment_rows(
        session,
        round_id,
        [(got[move.student], AssignmentStatus.PROPOSED, move.reason[:300]) for move in moves if move.student in got],
        now=now,
    )
    if rows:
        session.execute(insert(Assignment), rows)
    outcome = dict(allocation_round.outcome or {})
    outcome["changes"] = _outcome(result_doc, result) | {
        "moves": [{"student": m.student, "from": m.from_offer, "to": m.to_offer, "reason": m.reason} for m in moves],
        "computed_at": now.isoformat(),
    }
    allocation_round.outcome = outcome
    store_artifacts(session, round_id, instance_doc, result_doc, job_id=job_id)
    audit.record(
        session,
        actor,
        "round.changes.finish",
        "allocation_round",
        round_id,
        after={"moves": len(moves), "placed": result.metrics.placed},
    )
    session.flush()
    logger.info("Round %s: incremental solve proposes %s changes", round_id, len(moves))
    return allocation_round


def store_artifacts(
    session: Session, round_id: int, instance_doc: dict[str, Any], result_doc: dict[str, Any], *, job_id: int | None
) -> None:
    for kind, document in ((ArtifactKind.INSTANCE, instance_doc), (ArtifactKind.RESULT, result_doc)):
        body = bridge.canonical_json(document)
        session.add(
            RoundArtifact(
                round_id=round_id,
                job_id=job_id,
                kind=kind,
                body=body,
                sha256=hashlib.sha256(body.encode()).hexdigest(),
            )
        )


def latest_artifact(session: Session, round_id: int, kind: ArtifactKind) -> RoundArtifact | None:
    return session.scalars(
        select(RoundArtifact)
        .where(RoundArtifact.round_id == round_id, RoundArtifact.kind == kind)
        .order_by(RoundArtifact.id.desc())
        .limit(1)
    ).first()


def _checked(
    allocation_round: AllocationRound, instance_doc: dict[str, Any], result_doc: dict[str, Any]
) -> solver.Result:
    if allocation_round.input_hash != bridge.instance_hash(instance_doc):
        raise Conflict(f"round {allocation_round.id}: the result belongs to another snapshot of the round")
    instance = solver.load_instance(instance_doc)
    result = solver.result_from_dict(result_doc)
    violations = solver.check(instance, result)
    if violations:
        raise solve_process.SolveFailed("; ".join(str(v) for v in violations[:10]))
    return result


def _outcome(result_doc: dict[str, Any], result: solver.Result) -> dict[str, Any]:
    return {
        key: result_doc[key]
        for key in ("status", "method", "seed", "metrics", "bound", "solve_seconds")
        if key in result_doc
    } | {"warnings": len(result.warnings), "unassigned": len(result.unassigned)}


def fail_solve(session: Session, round_id: int, error: str, *, actor: audit.Actor) -> None:
    session.execute(
        update(AllocationRound)
        .where(AllocationRound.id == round_id, AllocationRound.status == RoundStatus.SOLVING)
        .values(status=RoundStatus.FAILED, error=error[:2000])
    )
    audit.record(session, actor, "round.solve.fail", "allocation_round", round_id, after={"error": error[:500]})
    session.flush()
    logger.warning("Round %s failed: %s", round_id, error)


def solve_round(
    make_session: sessionmaker[Session], round_id: int, *, actor: audit.Actor, method: str | None = None
) -> AllocationRound:
    """Solve a round end to end in three transactions; returns the round as stored.

    ``method`` defaults to the round's mechanism (``policy.mechanism``).
    """
    with make_session() as session, session.begin():
        build = begin_solve(session, round_id, actor=actor)
    try:
        chosen = method or rounds.mechanism_of(build.instance["policy"])
        result_doc = solve_process.solve_out_of_process(build.instance, method=chosen)
        with make_session() as session, session.begin():
            return finish_solve(session, round_id, build.instance, result_doc, actor=actor)
    except (PlacementError, solver.InstanceError) as exc:
        with make_session() as session, session.begin():
            fail_solve(session, round_id, str(exc), actor=actor)
        raise
