"""Solving a round: snapshot the instance, solve out of process, store the proposal.

A solve is three short transactions, so that nothing is locked while the
solver works and a crash at any point leaves a consistent state:

1. :func:`begin_solve` moves the round to ``solving`` with one conditional
   UPDATE (a second, concurrent start finds no row to move and is refused),
   builds the instance and stores its hash;
2. the solver runs in a child process (:mod:`placement.solver_bridge`);
3. :func:`finish_solve` verifies the result against the same instance and
   replaces the round's proposed assignments in one go, or :func:`fail_solve`
   marks the round ``failed`` with the reason and leaves its assignments as
   they were.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

import solver
from placement import solver_bridge
from placement.db import utcnow
from placement.enums import AssignmentStatus, RoundStatus
from placement.errors import Conflict, PlacementError
from placement.models import AllocationRound, Assignment, Offer, Period
from placement.services import audit, rounds

logger = logging.getLogger(__name__)

STARTABLE = (RoundStatus.DRAFT, RoundStatus.PROPOSED, RoundStatus.FAILED)


def begin_solve(session: Session, round_id: int, *, actor: audit.Actor) -> rounds.InstanceBuild:
    moved = session.execute(
        update(AllocationRound)
        .where(AllocationRound.id == round_id, AllocationRound.status.in_(STARTABLE))
        .values(status=RoundStatus.SOLVING, error=None)
    ).rowcount  # type: ignore[attr-defined]
    allocation_round = rounds.get_round(session, round_id)
    if moved != 1:
        raise Conflict(
            f"round {round_id} is {allocation_round.status.value}; it can be solved only when draft, proposed or failed"
        )
    session.refresh(allocation_round)
    build = rounds.build_instance(session, allocation_round)
    allocation_round.input_hash = build.input_hash
    audit.record(
        session, actor, "round.solve.start", "allocation_round", round_id, after={"input_hash": build.input_hash}
    )
    session.flush()
    return build


def finish_solve(
    session: Session, round_id: int, instance_doc: dict[str, Any], result_doc: dict[str, Any], *, actor: audit.Actor
) -> AllocationRound:
    """Store ``result_doc`` as the round's proposal, after checking it against ``instance_doc``."""
    allocation_round = rounds.get_round(session, round_id)
    if allocation_round.status is not RoundStatus.SOLVING:
        raise Conflict(f"round {round_id} is {allocation_round.status.value}, not solving")
    if allocation_round.input_hash != rounds.instance_hash(instance_doc):
        raise Conflict(f"round {round_id}: the result belongs to another snapshot of the round")
    instance = solver.load_instance(instance_doc)
    result = solver.result_from_dict(result_doc)
    violations = solver.check(instance, result)
    if violations:
        raise solver_bridge.SolveFailed("; ".join(str(v) for v in violations[:10]))

    offer_ids = dict(
        session.execute(select(Offer.code, Offer.id).where(Offer.code.in_({a.offer for a in result.assignments}))).all()
    )
    period_ids = dict(session.execute(select(Period.code, Period.id)).all())
    session.execute(
        delete(Assignment).where(Assignment.round_id == round_id, Assignment.status == AssignmentStatus.PROPOSED)
    )
    kept = set(
        session.scalars(select(Assignment.pupil_id).where(Assignment.round_id == round_id))
    )  # decided assignments of this round (published, confirmed, ...) stay as they are
    now = utcnow()
    rows = [
        {
            "round_id": round_id,
            "pupil_id": rounds.pupil_id_of(a.student),
            "offer_id": offer_ids[a.offer],
            "period_id": period_ids[a.period],
            "rank": a.rank,
            "status": AssignmentStatus.PROPOSED,
            "created_at": now,
            "updated_at": now,
        }
        for a in result.assignments
        if rounds.pupil_id_of(a.student) not in kept
    ]
    if rows:
        session.execute(insert(Assignment), rows)
    allocation_round.status = RoundStatus.PROPOSED
    allocation_round.solved_at = now
    allocation_round.outcome = {
        key: result_doc[key]
        for key in ("status", "method", "seed", "metrics", "bound", "solve_seconds")
        if key in result_doc
    } | {"warnings": len(result.warnings), "unassigned": len(result.unassigned)}
    audit.record(session, actor, "round.solve.finish", "allocation_round", round_id, after=allocation_round.outcome)
    session.flush()
    logger.info("Round %s solved: %s of %s placed", round_id, result.metrics.placed, result.metrics.students)
    return allocation_round


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
    make_session: sessionmaker[Session], round_id: int, *, actor: audit.Actor, method: str = "optimal"
) -> AllocationRound:
    """Solve a round end to end in three transactions; returns the round as stored."""
    with make_session() as session, session.begin():
        build = begin_solve(session, round_id, actor=actor)
    try:
        result_doc = solver_bridge.solve_out_of_process(build.instance, method=method)
        with make_session() as session, session.begin():
            return finish_solve(session, round_id, build.instance, result_doc, actor=actor)
    except (PlacementError, solver.InstanceError) as exc:
        with make_session() as session, session.begin():
            fail_solve(session, round_id, str(exc), actor=actor)
        raise
