"""Solving a round out of process, storing the proposal, and surviving a killed solver."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import solver
from placement import audit
from placement import models as m
from placement.enums import AssignmentStatus, RoundStatus, Sector
from placement.errors import Conflict
from placement.rounds import bridge, solving
from placement.rounds import setup as rounds
from placement.rounds.solve_process import SolveFailed, solve_out_of_process
from tests import factories as f

CONFIRMED = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


def _world(session: Session, pupils: int = 6) -> m.AllocationRound:
    w45 = f.period(session, code="w45", start_date=dt.date(2026, 11, 2))
    school = f.school(session, code="S01", lat=57.70, lon=11.97)
    klass = f.school_class(session, school=school, period=w45)
    offers = [
        f.offer(session, sector=Sector.IT, places={w45: 2}, risk_assessment_confirmed_at=CONFIRMED, code=f"O{n:04d}")
        for n in range(1, 4)
    ]
    for n in range(pupils):
        pupil = f.pupil(session, school_class=klass)
        for rank, offer in enumerate(offers[n % 3 :] + offers[: n % 3], start=1):
            session.add(m.Preference(pupil=pupil, offer=offer, rank=rank))
    session.flush()
    return rounds.create_round(session, "Höst", ["w45"], actor=audit.CLI, policy={"time_limit_s": 20})


@pytest.fixture
def make_session(db_session: Session) -> sessionmaker[Session]:
    """Sessions that commit into savepoints of the test's rolled-back transaction."""
    return sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)


def _assignments(session: Session, round_id: int) -> int:
    return session.scalar(select(func.count(m.Assignment.id)).where(m.Assignment.round_id == round_id)) or 0


def test_solve_round_stores_a_checked_proposal(db_session: Session, make_session: sessionmaker[Session]) -> None:
    allocation_round = _world(db_session)
    stored = solving.solve_round(make_session, allocation_round.id, actor=audit.CLI)
    assert stored.status is RoundStatus.PROPOSED
    assert stored.outcome is not None
    assert stored.outcome["metrics"]["placed"] == 6
    assert stored.outcome["bound"]["placed_max"] == 6
    rows = db_session.scalars(select(m.Assignment).where(m.Assignment.round_id == allocation_round.id)).all()
    assert len(rows) == 6
    assert all(a.status is AssignmentStatus.PROPOSED for a in rows)
    assert sorted(a.rank for a in rows) == [1] * 6  # two places in each of the three offers
    db_session.refresh(allocation_round)
    assert stored.input_hash == bridge.build_instance(db_session, allocation_round).input_hash


def test_solving_again_replaces_the_proposal(db_session: Session, make_session: sessionmaker[Session]) -> None:
    allocation_round = _world(db_session)
    solving.solve_round(make_session, allocation_round.id, actor=audit.CLI)
    first = {a.pupil_id: a.offer_id for a in db_session.scalars(select(m.Assignment))}
    solving.solve_round(make_session, allocation_round.id, actor=audit.CLI)
    again = {a.pupil_id: a.offer_id for a in db_session.scalars(select(m.Assignment))}
    assert again == first  # same instance and seed: the same assignments, no duplicates


def test_a_round_being_solved_cannot_be_started_twice(db_session: Session) -> None:
    allocation_round = _world(db_session)
    solving.begin_solve(db_session, allocation_round.id, actor=audit.CLI)
    with pytest.raises(Conflict, match="is solving"):
        solving.begin_solve(db_session, allocation_round.id, actor=audit.CLI)


def _kill_solver_when_it_starts() -> threading.Thread:
    def killer() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for child in multiprocessing.active_children():
                if child.name == "praktik-solver" and child.pid:
                    os.kill(child.pid, signal.SIGKILL)
                    return
            time.sleep(0.01)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    return thread


def test_killed_solver_leaves_the_round_failed_and_a_new_run_succeeds(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round = _world(db_session)
    killer = _kill_solver_when_it_starts()
    with pytest.raises(SolveFailed, match="ended unexpectedly"):
        solving.solve_round(make_session, allocation_round.id, actor=audit.CLI)
    killer.join()
    db_session.refresh(allocation_round)
    assert allocation_round.status is RoundStatus.FAILED
    assert "ended unexpectedly" in (allocation_round.error or "")
    assert _assignments(db_session, allocation_round.id) == 0

    stored = solving.solve_round(make_session, allocation_round.id, actor=audit.CLI)
    assert stored.status is RoundStatus.PROPOSED
    assert _assignments(db_session, allocation_round.id) == 6


def test_a_result_for_another_snapshot_is_refused(db_session: Session) -> None:
    allocation_round = _world(db_session)
    build = solving.begin_solve(db_session, allocation_round.id, actor=audit.CLI)
    result = solve_out_of_process(build.instance)
    changed = {**build.instance, "name": "another"}
    with pytest.raises(Conflict, match="another snapshot"):
        solving.finish_solve(db_session, allocation_round.id, changed, result, actor=audit.CLI)


def test_solver_time_out_is_reported() -> None:
    with pytest.raises(SolveFailed, match="did not finish within"):
        solve_out_of_process({"format": "praktik-instance/1"}, wall_clock_s=0.01)


def test_a_bad_instance_is_reported_not_raised_in_the_child() -> None:
    with pytest.raises(SolveFailed, match="the solver failed"):
        solve_out_of_process({"format": "praktik-instance/1"}, wall_clock_s=60)


def _instance(db_session: Session) -> dict[str, object]:
    allocation_round = _world(db_session, pupils=12)
    return solving.begin_solve(db_session, allocation_round.id, actor=audit.CLI).instance


def test_one_child_solves_the_proposal_and_every_comparison(db_session: Session) -> None:
    instance_doc = _instance(db_session)
    told: list[tuple[str, dict[str, object] | None, str | None]] = []
    proposal = solve_out_of_process(
        instance_doc, method="optimal", compare=["mcf", "da", "optimal"], on_compared=lambda *a: told.append(a)
    )
    assert proposal["method"] == "optimal"
    assert [(method, error) for method, _, error in told] == [("mcf", None), ("da", None)]
    instance = solver.load_instance(instance_doc)
    for method, result, _ in told:
        assert result is not None
        alone = solver.solve(instance, method)
        assert solver.result_from_dict(result).assignments == alone.assignments
    assert solver.result_from_dict(proposal).assignments == solver.solve(instance, "optimal").assignments


def test_a_child_that_dies_after_the_proposal_leaves_the_proposal_and_names_the_rest(db_session: Session) -> None:
    instance_doc = _instance(db_session)
    told: list[tuple[str, str | None]] = []

    def kill_the_child(method: str, result: dict[str, object] | None, error: str | None) -> None:
        told.append((method, error))
        for child in multiprocessing.active_children():
            if child.name == "praktik-solver":
                os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]

    proposal = solve_out_of_process(
        instance_doc, method="optimal", compare=["mcf", "da", "fcfs"], on_compared=kill_the_child
    )
    assert proposal["method"] == "optimal"
    assert told[0] == ("mcf", None)
    assert {method for method, _ in told} == {"mcf", "da", "fcfs"}
    # The child was killed while it sent or solved what came after mcf: those are named, none is lost.
    assert all(error == f"the solver stopped before it finished {method}" for method, error in told[1:] if error)


def test_an_incremental_solve_is_not_compared() -> None:
    with pytest.raises(ValueError, match="not compared"):
        solve_out_of_process({"format": "praktik-instance/1"}, previous={}, compare=["mcf"])
