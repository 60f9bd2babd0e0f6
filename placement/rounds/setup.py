"""Allocation rounds: creating them, their policy (mechanism, fairness, limits) and their automation.

The round's solver instance is built by :mod:`placement.rounds.bridge`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement.enums import (
    RoundStatus,
    UnansweredRule,
)
from placement.errors import Conflict, NotFound, ValidationError
from placement.models import (
    AllocationRound,
    Period,
    PreferenceWindow,
)

logger = logging.getLogger(__name__)


T = TypeVar("T")

#: The mechanisms a round can be allocated by (``policy.mechanism``): the
#: engine's optimisation, or strategy-proof deferred acceptance with places
#: reserved for pupils of high-need schools.  The solver's other methods
#: (``mcf``, ``da``, ``fcfs``) are references, computed for the review only.
MECHANISMS = ("optimal", "da-reserves")
#: Whether a pupil can never gain by ranking other than in their real order,
#: by solver method, where that holds (or fails) whatever the round.  FCFS
#: serves pupils in a fixed arrival order, each taking their best free ranked
#: offer (a serial dictatorship: the list cannot be gamed, only the arrival
#: time); ``da`` is deferred acceptance and then unranked places in lottery
#: order.  ``da-reserves`` is missing: it is strategy-proof when the round
#: meets a condition on its places (:func:`solver.reserves.strategy_proof`),
#: which its result reports in ``calibration.strategy_proof``.
STRATEGY_PROOF = {"optimal": False, "mcf": False, "da": True, "fcfs": True}

DEFAULT_POLICY: dict[str, Any] = {
    "mechanism": "optimal",
    "max_distance_km": 20,
    "assign_unranked": True,
    "fairness": {"school": 1.0, "gender": 1.0, "need": 1.0},
    "time_limit_s": 60,
    "seed": 0,
}


def merged_policy(policy: dict[str, Any] | None) -> dict[str, Any]:
    """The default policy with ``policy``'s settings on top (fairness merged key by key).

    ``reserves`` is replaced as a whole; ``reserves`` None (or an empty object)
    removes it, so that the solver's default share applies.
    """
    merged = json.loads(json.dumps(DEFAULT_POLICY))
    for key, value in (policy or {}).items():
        if key == "fairness" and isinstance(value, dict):
            merged["fairness"].update(value)
        elif key == "reserves" and (value is None or value == {}):
            merged.pop("reserves", None)
        else:
            merged[key] = value
    return merged


def mechanism_of(policy: dict[str, Any] | None) -> str:
    """The mechanism that allocates a round with this policy (``optimal`` unless set)."""
    return str(merged_policy(policy)["mechanism"])


POLICY_LIMITS = {
    "max_distance_km": (1.0, 200.0),
    "time_limit_s": (1.0, 3600.0),
    "fairness": (0.0, 10.0),
    "reserves.high_need_share": (0.0, 1.0),
}


def policy_problems(label: str, policy: dict[str, Any]) -> list[str]:
    """Everything wrong with a round's policy, each naming the field."""
    problems: list[str] = []

    def number(field: str, value: object, low: float, high: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            problems.append(f"{label}: field {field} must be a number from {low:g} to {high:g}, got {value!r}")

    mechanism = policy.get("mechanism")
    if mechanism not in MECHANISMS:
        problems.append(f"{label}: field mechanism must be {' or '.join(MECHANISMS)}, got {mechanism!r}")
    if "reserves" in policy:
        reserves = policy["reserves"]
        if not isinstance(reserves, dict):
            problems.append(f"{label}: field reserves must be an object")
        else:
            for key in sorted(reserves):
                if key != "high_need_share":
                    problems.append(f"{label}: field reserves.{key} is unknown (high_need_share)")
            if "high_need_share" in reserves:
                share = reserves["high_need_share"]
                number("reserves.high_need_share", share, *POLICY_LIMITS["reserves.high_need_share"])
    number("max_distance_km", policy.get("max_distance_km"), *POLICY_LIMITS["max_distance_km"])
    number("time_limit_s", policy.get("time_limit_s"), *POLICY_LIMITS["time_limit_s"])
    if not isinstance(policy.get("assign_unranked"), bool):
        problems.append(f"{label}: field assign_unranked must be true or false")
    seed = policy.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(f"{label}: field seed must be a whole number of at least 0, got {seed!r}")
    fairness = policy.get("fairness")
    if not isinstance(fairness, dict):
        problems.append(f"{label}: field fairness must be an object")
    else:
        for key in sorted(fairness):
            if key not in ("school", "gender", "need"):
                problems.append(f"{label}: field fairness.{key} is unknown (school, gender or need)")
            else:
                number(f"fairness.{key}", fairness[key], *POLICY_LIMITS["fairness"])
    return problems


def update_policy(
    session: Session, allocation_round: AllocationRound, policy: dict[str, Any], *, actor: audit.Actor
) -> AllocationRound:
    """Change the policy of a round that is not published; the next solve uses it."""
    if allocation_round.status not in (RoundStatus.DRAFT, RoundStatus.PROPOSED, RoundStatus.FAILED):
        raise Conflict(
            f"round {allocation_round.id} is {allocation_round.status.value}; its policy can change before publication"
        )
    merged = merged_policy(allocation_round.policy | policy)
    problems = policy_problems(f'round "{allocation_round.name}"', merged)
    if problems:
        raise ValidationError(problems)
    before, after = audit.changes(allocation_round, {"policy": merged})
    if after:
        audit.record(
            session, actor, "round.policy", "allocation_round", allocation_round.id, before=before, after=after
        )
    session.flush()
    return allocation_round


def update_automation(
    session: Session,
    allocation_round: AllocationRound,
    *,
    auto_run: bool,
    unanswered_rule: UnansweredRule,
    preference_window_id: int | None,
    actor: audit.Actor,
) -> AllocationRound:
    """What the scheduler does for the round: run it when its window closes, and the deadline rule.

    Running by itself needs a preference window, and only a round not yet
    published can be set to run; the deadline rule can change until the
    deadline has been applied.
    """
    label = f'round "{allocation_round.name}"'
    if preference_window_id is not None and session.get(PreferenceWindow, preference_window_id) is None:
        raise ValidationError(f"{label}: field preference_window: no window {preference_window_id}")
    if auto_run and preference_window_id is None:
        raise ValidationError(f"{label}: field auto_run needs a preference window whose closing starts the run")
    fields: dict[str, Any] = {"unanswered_rule": unanswered_rule}
    if auto_run != allocation_round.auto_run or preference_window_id != allocation_round.preference_window_id:
        if allocation_round.status not in (RoundStatus.DRAFT, RoundStatus.FAILED):
            raise Conflict(
                f"round {allocation_round.id} is {allocation_round.status.value}; "
                "only a draft or failed round can be set to run by itself"
            )
        fields |= {"auto_run": auto_run, "preference_window_id": preference_window_id, "auto_run_at": None}
    if unanswered_rule is not allocation_round.unanswered_rule and allocation_round.deadline_applied_at is not None:
        raise Conflict(f"round {allocation_round.id}: the deadline has passed and its rule was applied")
    before, after = audit.changes(allocation_round, fields)
    if after:
        audit.record(
            session, actor, "round.automation", "allocation_round", allocation_round.id, before=before, after=after
        )
    session.flush()
    return allocation_round


def list_rounds(session: Session) -> list[AllocationRound]:
    return list(
        session.scalars(select(AllocationRound).order_by(AllocationRound.created_at.desc(), AllocationRound.id.desc()))
    )


def create_round(
    session: Session,
    name: str,
    period_codes: Iterable[str],
    *,
    actor: audit.Actor,
    policy: dict[str, Any] | None = None,
    municipality_id: int | None = None,
) -> AllocationRound:
    """A draft round over the periods ``period_codes``: of the whole region, or of one municipality's schools."""
    codes = list(period_codes)
    periods = list(session.scalars(select(Period).where(Period.code.in_(codes))))
    missing = sorted(set(codes) - {p.code for p in periods})
    if missing:
        raise ValidationError([f'round "{name}": period "{code}" does not exist' for code in missing])
    if not periods:
        raise ValidationError(f'round "{name}": a round needs at least one period')
    clean_name = name.strip()
    if not clean_name or len(clean_name) > 200:
        raise ValidationError(f'round "{name}": field name must be 1 to 200 characters')
    merged = merged_policy(policy)
    problems = policy_problems(f'round "{clean_name}"', merged)
    if problems:
        raise ValidationError(problems)
    allocation_round = AllocationRound(name=clean_name, periods=periods, policy=merged, municipality_id=municipality_id)
    allocation_round.created_by_id = actor.user_id
    session.add(allocation_round)
    session.flush()
    audit.record(
        session,
        actor,
        "round.create",
        "allocation_round",
        allocation_round.id,
        after={
            "name": name,
            "periods": sorted(codes),
            "policy": allocation_round.policy,
            "municipality": municipality_id,
        },
    )
    logger.info("Round %s (%s) created by %s", allocation_round.id, name, actor.label)
    return allocation_round


#: Rounds whose allocation is still to come: a pupil's ranking now is allocated by their mechanism.
_TO_ALLOCATE = (RoundStatus.DRAFT, RoundStatus.SOLVING, RoundStatus.PROPOSED, RoundStatus.FAILED)


@dataclasses.dataclass(frozen=True)
class Ranking:
    """How a ranking made now will be allocated: what the pupil may be told about ranking honestly."""

    mechanism: str
    """``da-reserves`` when every round still to allocate the pupil's period uses it, else ``optimal``."""
    strategy_proof: bool
    """The last run of each of those rounds found that no pupil can gain by another list
    (``da-reserves`` when the round meets its condition; never ``optimal``)."""


def ranking_for_period(session: Session, period_id: int | None, municipality_id: int | None = None) -> Ranking:
    """How a ranking made now by a pupil whose class goes in ``period_id`` will be allocated.

    The rounds that matter are those over the period that are still to be
    allocated and that place the pupil: the region's, and those of the
    pupil's school's municipality (``municipality_id``).  The mechanism is ``da-reserves`` only when every such round
    uses it: otherwise (no such round, rounds that disagree, or only a
    published round, whose later changes the engine's optimisation computes)
    it is ``optimal``, whose advice to the pupil holds under any mechanism.
    ``strategy_proof`` needs a stored run of each round (its proposal or its
    comparison) in which ``da-reserves`` met its condition; the condition
    depends on places, eligibility and distances, never on the choices.
    """
    if period_id is None:
        return Ranking("optimal", strategy_proof=False)
    found = session.execute(
        select(AllocationRound.policy, AllocationRound.outcome).where(
            AllocationRound.status.in_(_TO_ALLOCATE),
            AllocationRound.periods.any(Period.id == period_id),
            AllocationRound.municipality_id.is_(None) | (AllocationRound.municipality_id == municipality_id),
        )
    ).all()
    if not found or any(mechanism_of(policy) != "da-reserves" for policy, _outcome in found):
        return Ranking("optimal", strategy_proof=False)
    proven = all(
        ((outcome or {}).get("comparison") or {}).get("da-reserves", {}).get("strategy_proof") is True
        for _policy, outcome in found
    )
    return Ranking("da-reserves", strategy_proof=proven)


def get_round(session: Session, round_id: int) -> AllocationRound:
    allocation_round = session.get(AllocationRound, round_id)
    if allocation_round is None:
        raise NotFound(f"allocation round {round_id} does not exist")
    return allocation_round
