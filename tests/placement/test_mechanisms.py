"""A round's mechanism: its policy, the solve that uses it, the stored trade-off, and what pupils are told."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.enums import JobState, RoundStatus
from placement.errors import ValidationError
from placement.rounds import jobs, review, solve_process, solving
from placement.rounds import setup as rounds
from placement.runtime import worker
from tests import factories as f

COORDINATOR = audit.Actor("user:1")
METHODS = {"optimal", "da-reserves", "mcf", "da", "fcfs"}


@pytest.fixture
def make_session(db_session: Session) -> sessionmaker[Session]:
    return sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)


# --- the policy ------------------------------------------------------------------------------------------------------


def test_the_default_mechanism_is_the_optimisation_and_empty_reserves_leave_the_policy() -> None:
    assert rounds.merged_policy(None)["mechanism"] == "optimal"
    assert "reserves" not in rounds.merged_policy(None)
    chosen = rounds.merged_policy({"mechanism": "da-reserves", "reserves": {"high_need_share": 0.4}})
    assert chosen["mechanism"] == "da-reserves"
    assert chosen["reserves"] == {"high_need_share": 0.4}
    assert "reserves" not in rounds.merged_policy(chosen | {"reserves": None})
    assert rounds.policy_problems("round", chosen) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mechanism": "mcf"}, "field mechanism must be optimal or da-reserves, got 'mcf'"),
        ({"mechanism": None}, "field mechanism must be optimal or da-reserves, got None"),
        ({"reserves": {"high_need_share": 1.5}}, "field reserves.high_need_share must be a number from 0 to 1"),
        ({"reserves": {"high_need_share": "a third"}}, "field reserves.high_need_share must be a number"),
        ({"reserves": {"share": 0.3}}, "field reserves.share is unknown (high_need_share)"),
        ({"reserves": 0.3}, "field reserves must be an object"),
    ],
)
def test_a_bad_mechanism_or_reserve_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    policy = rounds.merged_policy({"mechanism": "da-reserves"}) | change
    problems = rounds.policy_problems('round "Höst"', policy)
    assert len(problems) == 1
    assert problems[0].startswith('round "Höst": ' + field)


def test_choosing_the_mechanism_is_audited_and_checked(db_session: Session) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    rounds.update_policy(
        db_session,
        allocation_round,
        {"mechanism": "da-reserves", "reserves": {"high_need_share": 0.25}},
        actor=COORDINATOR,
    )
    assert allocation_round.policy["mechanism"] == "da-reserves"
    event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "round.policy")).one()
    assert event.after["policy"]["mechanism"] == "da-reserves"  # type: ignore[index]
    assert event.after["policy"]["reserves"] == {"high_need_share": 0.25}  # type: ignore[index]
    assert event.before["policy"]["mechanism"] == "optimal"  # type: ignore[index]
    with pytest.raises(ValidationError, match="field mechanism"):
        rounds.update_policy(db_session, allocation_round, {"mechanism": "fcfs"}, actor=COORDINATOR)
    assert allocation_round.policy["mechanism"] == "da-reserves"
    # Back to the optimisation, with no reserves kept.
    rounds.update_policy(db_session, allocation_round, {"mechanism": "optimal", "reserves": None}, actor=COORDINATOR)
    assert allocation_round.policy["mechanism"] == "optimal"
    assert "reserves" not in allocation_round.policy


# --- the solve -------------------------------------------------------------------------------------------------------


def _run(
    session: Session, make_session: sessionmaker[Session], round_id: int
) -> tuple[m.SolveJob, list[str | None], JobState]:
    """Run a job with the real worker body and the real out-of-process solver, recording the methods asked for."""
    asked: list[str | None] = []

    def recording(instance_doc: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        asked.extend([kwargs.get("method"), *kwargs.get("compare", ())])
        return solve_process.solve_out_of_process(instance_doc, **kwargs)

    job = jobs.enqueue(session, round_id, actor=COORDINATOR)
    state = worker.run_job(make_session, job.id, solve=recording, heartbeat_s=None)
    session.expire_all()
    return job, asked, state


@pytest.mark.parametrize("mechanism", ["da-reserves", "optimal"])
def test_the_chosen_mechanism_is_solved_stored_and_compared(
    db_session: Session, make_session: sessionmaker[Session], mechanism: str
) -> None:
    allocation_round, pupils, _ = f.small_round(db_session)
    rounds.update_policy(db_session, allocation_round, {"mechanism": mechanism}, actor=COORDINATOR)
    job, asked, state = _run(db_session, make_session, allocation_round.id)
    assert state is JobState.SUCCEEDED, db_session.get(m.SolveJob, job.id).error  # type: ignore[union-attr]
    # The proposal is solved first, by the round's mechanism; the rest is for comparison.
    assert asked[0] == mechanism
    assert set(asked) == METHODS
    assert allocation_round.status is RoundStatus.PROPOSED
    outcome = allocation_round.outcome
    assert outcome is not None
    assert outcome["method"] == mechanism
    result = json.loads(solving.latest_artifact(db_session, allocation_round.id, "result").body)  # type: ignore[union-attr]
    assert result["method"] == mechanism
    instance = json.loads(solving.latest_artifact(db_session, allocation_round.id, "instance").body)  # type: ignore[union-attr]
    assert instance["policy"]["mechanism"] == mechanism
    # Both mechanisms and the references are summarised on this instance, each with its equity measures.
    comparison = outcome["comparison"]
    assert set(comparison) == METHODS
    for method, summary in comparison.items():
        assert "error" not in summary, (method, summary)
        assert summary["method"] == method
        assert summary["students"] == len(pupils)
        assert set(summary["equity"]) >= {"school", "gender", "need", "worst", "female_male_gap", "unplaced", "popular"}
    assert comparison["optimal"]["strategy_proof"] is False
    assert comparison["mcf"]["strategy_proof"] is False
    assert comparison["da"]["strategy_proof"] is True
    assert isinstance(comparison["da-reserves"]["strategy_proof"], bool)  # this round's, from its result
    assert comparison[mechanism]["placed"] == outcome["metrics"]["placed"]
    figures = review.round_review(db_session, allocation_round.id)
    assert figures.mechanism == mechanism
    assert figures.trade_off is not None
    assert figures.trade_off.columns[0].method == mechanism
    assert [c.proposal for c in figures.trade_off.columns] == [True, False, False, False, False]


def test_a_result_of_another_method_is_refused(db_session: Session, make_session: sessionmaker[Session]) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    rounds.update_policy(db_session, allocation_round, {"mechanism": "da-reserves"}, actor=COORDINATOR)
    job = jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR)

    def wrong(instance_doc: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return solve_process.solve_out_of_process(instance_doc, method="optimal")

    assert worker.run_job(make_session, job.id, solve=wrong, heartbeat_s=None) is JobState.FAILED
    db_session.expire_all()
    assert allocation_round.status is RoundStatus.FAILED
    assert "allocated by da-reserves" in (allocation_round.error or "")


def test_a_failed_comparison_leaves_the_proposal_standing(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    job = jobs.enqueue(db_session, allocation_round.id, actor=COORDINATOR)

    def no_fcfs(instance_doc: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        told = kwargs["on_compared"]

        def on_compared(method: str, result: dict[str, Any] | None, error: str | None) -> None:
            if method == "fcfs":
                told(method, None, "the solver did not finish within 90 s and was stopped")
            else:
                told(method, result, error)

        return solve_process.solve_out_of_process(instance_doc, **{**kwargs, "on_compared": on_compared})

    assert worker.run_job(make_session, job.id, solve=no_fcfs, heartbeat_s=None) is JobState.SUCCEEDED
    db_session.expire_all()
    comparison = allocation_round.outcome["comparison"]  # type: ignore[index]
    assert comparison["fcfs"] == {"method": "fcfs", "error": "the solver did not finish within 90 s and was stopped"}
    trade_off = review.trade_off(allocation_round.outcome)
    assert trade_off is not None
    fcfs = next(k for k, c in enumerate(trade_off.columns) if c.method == "fcfs")
    assert trade_off.columns[fcfs].error is not None
    assert all(row.values[fcfs] is None for row in trade_off.rows)


# --- the trade-off, read from what is stored -------------------------------------------------------------------------


def stored_summary(method: str, k: int) -> dict[str, Any]:
    """A stored summary whose every figure is distinct (k selects the method's figures)."""

    def group(rate: float) -> dict[str, Any]:
        return {"rankers": 30, "top_3": round(30 * rate), "rate": rate}

    terciles = ("low need", "middle need", "high need")
    return {
        "method": method,
        "placed": 100 + k,
        "share_top3": 0.61 + k / 100,
        "share_unranked": 0.02 + k / 1000,
        "equity": {
            "school": {"groups": {"S01": group(0.5)}, "spread": 0.11 + k / 100, "worst": None},
            "gender": {"groups": {}, "spread": 0.03 + k / 100, "worst": None},
            "need": {
                "groups": {t: group(0.4 + j / 10 + k / 1000) for j, t in enumerate(terciles)},
                "spread": 0.05 + k / 100,
                "worst": None,
            },
            "worst": {"dimension": "school", "group": "S01", "rate": 0.31 + k / 100},
            "female_male_gap": -0.02 - k / 100,
            "unplaced": {t: {"students": 40, "unplaced": j + k} for j, t in enumerate(terciles)},
            "popular": {
                "over_demanded": 5,
                "groups": {
                    t: {"rankers": 20, "placed": 10, "share": 0.2 + j / 10 + k / 1000} for j, t in enumerate(terciles)
                },
                "high_low_ratio": 1.5 + k / 100,
            },
        },
    }


def test_the_trade_off_is_every_measure_of_the_stored_summaries_proposal_first() -> None:
    stored = {
        method: stored_summary(method, k) for k, method in enumerate(("optimal", "da-reserves", "mcf", "da", "fcfs"))
    }
    stored["da-reserves"]["strategy_proof"] = True
    table = review.trade_off({"method": "da-reserves", "comparison": stored})
    assert table is not None
    assert [c.method for c in table.columns] == ["da-reserves", "optimal", "mcf", "da", "fcfs"]
    assert [row.key for row in table.rows] == list(review.TRADE_OFF_MEASURES)
    rows = {row.key: row.values for row in table.rows}
    for column, method in enumerate(c.method for c in table.columns):
        s, e = stored[method], stored[method]["equity"]
        assert rows["placed"][column] == s["placed"]
        assert rows["share_top3"][column] == s["share_top3"]
        assert rows["share_unranked"][column] == s["share_unranked"]
        assert rows["need_top3"][column] == tuple(g["rate"] for g in e["need"]["groups"].values())
        assert rows["school_spread"][column] == e["school"]["spread"]
        assert rows["gender_spread"][column] == e["gender"]["spread"]
        assert rows["need_spread"][column] == e["need"]["spread"]
        assert rows["worst_group"][column] == e["worst"]
        assert rows["female_male_gap"][column] == e["female_male_gap"]
        assert rows["unplaced_by_need"][column] == tuple(u["unplaced"] for u in e["unplaced"].values())
        assert rows["popular_by_need"][column] == tuple(a["share"] for a in e["popular"]["groups"].values())
        assert rows["popular_high_low"][column] == e["popular"]["high_low_ratio"]
    # Strategy-proofness: the round's own for da-reserves, the method's for the others.
    assert rows["strategy_proof"] == (True, False, False, True, True)


def test_an_older_comparison_shows_the_columns_it_has() -> None:
    stored = {"optimal": stored_summary("optimal", 0), "da": stored_summary("da", 1)}
    del stored["da"]["equity"]
    table = review.trade_off({"method": "optimal", "comparison": stored})
    assert table is not None
    assert [c.method for c in table.columns] == ["optimal", "da"]
    rows = {row.key: row.values for row in table.rows}
    assert rows["share_top3"] == (0.61, 0.62)
    assert rows["school_spread"] == (0.11, None)
    assert rows["strategy_proof"] == (False, True)
    assert review.trade_off({"method": "optimal"}) is None


# --- what a pupil is told --------------------------------------------------------------------------------------------


def test_a_pupils_ranking_is_allocated_by_the_rounds_still_to_come(db_session: Session) -> None:
    allocation_round, pupils, _ = f.small_round(db_session)
    period_id = pupils[0].school_class.period_id
    assert rounds.ranking_for_period(db_session, period_id) == rounds.Ranking("optimal", strategy_proof=False)
    assert rounds.ranking_for_period(db_session, None).mechanism == "optimal"
    rounds.update_policy(db_session, allocation_round, {"mechanism": "da-reserves"}, actor=COORDINATOR)
    assert rounds.ranking_for_period(db_session, period_id) == rounds.Ranking("da-reserves", strategy_proof=False)
    # A run that found da-reserves strategy-proof for the round's places lets the pupil be promised it.
    allocation_round.outcome = {"method": "da-reserves", "comparison": {"da-reserves": {"strategy_proof": True}}}
    db_session.flush()
    assert rounds.ranking_for_period(db_session, period_id) == rounds.Ranking("da-reserves", strategy_proof=True)
    # A second round over the period that optimises: no promise.
    other = rounds.create_round(db_session, "Andra", ["w45"], actor=audit.CLI)
    assert rounds.ranking_for_period(db_session, period_id).mechanism == "optimal"
    other.status = RoundStatus.CLOSED
    db_session.flush()
    assert rounds.ranking_for_period(db_session, period_id).mechanism == "da-reserves"
    # Once published, later changes are computed by the optimisation.
    allocation_round.status = RoundStatus.PUBLISHED
    db_session.flush()
    assert rounds.ranking_for_period(db_session, period_id).mechanism == "optimal"


def test_solve_round_uses_the_rounds_mechanism(db_session: Session, make_session: sessionmaker[Session]) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    rounds.update_policy(db_session, allocation_round, {"mechanism": "da-reserves"}, actor=COORDINATOR)
    stored = solving.solve_round(make_session, allocation_round.id, actor=COORDINATOR)
    assert stored.outcome is not None
    assert stored.outcome["method"] == "da-reserves"


def test_another_municipalitys_round_does_not_decide_what_a_pupil_is_told(db_session: Session) -> None:
    allocation_round, pupils, _ = f.small_round(db_session)
    period_id = pupils[0].school_class.period_id
    own = pupils[0].school.municipality_id
    rounds.update_policy(db_session, allocation_round, {"mechanism": "da-reserves"}, actor=COORDINATOR)
    elsewhere = f.municipality(db_session, name="Annanstans")
    rounds.create_round(db_session, "Annan kommun", ["w45"], actor=audit.CLI, municipality_id=elsewhere.id)
    # The other municipality's round optimises, but it places none of this pupil's municipality's pupils.
    assert rounds.ranking_for_period(db_session, period_id, own).mechanism == "da-reserves"
    # The pupil's own municipality's round does count.
    rounds.create_round(db_session, "Egen kommun", ["w45"], actor=audit.CLI, municipality_id=own)
    assert rounds.ranking_for_period(db_session, period_id, own).mechanism == "optimal"
