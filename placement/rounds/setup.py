"""Allocation rounds: creating them and building their solver instance.

The instance is the ``praktik-instance/1`` document of
``docs/formats.md``: the CLI exports it, the web app solves
it, and both go through :func:`build_instance`, so the two paths cannot drift.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from placement import audit
from placement.employers import offers as offer_rules
from placement.enums import (
    ACTIVE_ASSIGNMENT_STATUSES,
    HOLDS_PLACE,
    AssignmentStatus,
    OfferKind,
    RoundStatus,
    UnansweredRule,
)
from placement.errors import Conflict, NotFound, ValidationError
from placement.models import (
    AllocationRound,
    Assignment,
    ManualPlacement,
    Offer,
    OfferCapacity,
    Period,
    Preference,
    PreferenceWindow,
    Pupil,
    School,
    SchoolClass,
)

logger = logging.getLogger(__name__)

INSTANCE_FORMAT = "praktik-instance/1"

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
) -> AllocationRound:
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
    allocation_round = AllocationRound(name=clean_name, periods=periods, policy=merged)
    allocation_round.created_by_id = actor.user_id
    session.add(allocation_round)
    session.flush()
    audit.record(
        session,
        actor,
        "round.create",
        "allocation_round",
        allocation_round.id,
        after={"name": name, "periods": sorted(codes), "policy": allocation_round.policy},
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


def ranking_for_period(session: Session, period_id: int | None) -> Ranking:
    """How a ranking made now by a pupil whose class goes in ``period_id`` will be allocated.

    The rounds that matter are those over the period that are still to be
    allocated.  The mechanism is ``da-reserves`` only when every such round
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
            AllocationRound.status.in_(_TO_ALLOCATE), AllocationRound.periods.any(Period.id == period_id)
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


@dataclasses.dataclass(frozen=True)
class InstanceBuild:
    """An instance document plus what was left out of it, and why."""

    instance: dict[str, Any]
    notes: list[str]

    @property
    def input_hash(self) -> str:
        return instance_hash(self.instance)


def canonical_json(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def instance_hash(instance: dict[str, Any]) -> str:
    """SHA-256 of the canonical form: equal for equal instances, whatever the key order."""
    return hashlib.sha256(canonical_json(instance).encode()).hexdigest()


def student_id(pupil_id: int) -> str:
    """The id of a pupil in instance and result files."""
    return f"P{pupil_id:06d}"


def pupil_id_of(student: str) -> int:
    """The database id behind an instance file's student id (see :func:`student_id`)."""
    return int(student.removeprefix("P"))


@dataclasses.dataclass(frozen=True)
class Held:
    """A pupil's placement that counts in a round (see :func:`placements_in_force`)."""

    offer_code: str
    rank: int | None
    status: AssignmentStatus


def placements_in_force(session: Session, round_id: int) -> dict[int, Held]:
    """Per pupil, the round's placement that counts: the one in force, else the one proposed.

    A published round with pending changes has both for some pupils; the
    placement in force (published, confirmed, locked) counts over the pending
    change.  The one query for the review's figures and the statistics kept
    past retention.  Plain columns, not ORM objects: a region's round has
    thousands of rows and pages must stay fast.
    """
    rows = session.execute(
        select(Assignment.pupil_id, Assignment.status, Assignment.rank, Offer.code)
        .join(Offer, Assignment.offer_id == Offer.id)
        .where(
            Assignment.round_id == round_id,
            Assignment.status.in_(HOLDS_PLACE),
        )
    ).all()
    held: dict[int, Held] = {}
    for pupil_id, status, rank, code in rows:
        earlier = held.get(pupil_id)
        if earlier is None or earlier.status is AssignmentStatus.PROPOSED:
            held[pupil_id] = Held(code, rank, status)
    return held


def build_instance(session: Session, allocation_round: AllocationRound, *, incremental: bool = False) -> InstanceBuild:
    """Build the round's ``praktik-instance/1`` document from the database.

    Pupils are those whose class goes on placement in one of the round's
    periods.  Offers are the active catalogue offers of approved employers with
    a confirmed risk assessment and places in those periods, plus the
    self-arranged offers of the round's pupils.  A pupil's preference for an
    offer that is left out is dropped and reported in ``notes``.  A pupil
    holding an assignment in force for the period (confirmed, locked or
    published in an earlier round, or locked in this one) or a self-arranged
    placement is ``locked``.  With ``incremental`` (changes to a published
    round), this round's published placements are not locked: they are the
    previous result (:func:`previous_result`) the solver tries to keep.  Offers
    that declined a pupil are the pupil's ``excluded_offers``; pupils the
    coordinator places by hand are left out unless they hold a locked placement.
    """
    periods = {p.id: p for p in allocation_round.periods}
    if not periods:
        raise ValidationError(f'round "{allocation_round.name}": it has no periods')
    notes: list[str] = []
    problems: list[str] = []

    pupils = list(
        session.scalars(
            select(Pupil)
            .join(SchoolClass, Pupil.class_id == SchoolClass.id)
            .where(SchoolClass.period_id.in_(periods))
            .options(selectinload(Pupil.school_class), selectinload(Pupil.self_arranged_offer))
            .order_by(Pupil.id)
        )
    )
    pupil_ids = [p.id for p in pupils]

    preferences: dict[int, list[Preference]] = defaultdict(list)
    for chunk in chunks(pupil_ids):
        for pref in session.scalars(
            select(Preference).where(Preference.pupil_id.in_(chunk)).order_by(Preference.pupil_id, Preference.rank)
        ):
            preferences[pref.pupil_id].append(pref)

    in_force: dict[int, Assignment] = {}
    declined: dict[int, set[int]] = defaultdict(set)
    own_fixed = (AssignmentStatus.CONFIRMED, AssignmentStatus.LOCKED) if incremental else (AssignmentStatus.LOCKED,)
    for chunk in chunks(pupil_ids):
        for assignment in session.scalars(
            select(Assignment).where(
                Assignment.pupil_id.in_(chunk),
                Assignment.period_id.in_(periods),
                Assignment.status.in_((*ACTIVE_ASSIGNMENT_STATUSES, AssignmentStatus.DECLINED)),
            )
        ):
            if assignment.status is AssignmentStatus.DECLINED:
                declined[assignment.pupil_id].add(assignment.offer_id)
            elif assignment.round_id != allocation_round.id or assignment.status in own_fixed:
                in_force[assignment.pupil_id] = assignment
    manual = set(
        session.scalars(select(ManualPlacement.pupil_id).where(ManualPlacement.round_id == allocation_round.id))
    )

    catalogue = list(
        session.scalars(
            select(Offer)
            .where(
                offer_rules.listed_offer(),
                Offer.capacities.any((OfferCapacity.period_id.in_(periods)) & (OfferCapacity.places > 0)),
            )
            .options(
                selectinload(Offer.capacities),
                selectinload(Offer.schools),
                selectinload(Offer.workplace),
                selectinload(Offer.employer),
            )
            .order_by(Offer.id)
        )
    )
    offers: dict[int, Offer] = {}
    for offer in catalogue:  # the rest of offers.pupil_facing, with a note for each offer it leaves out
        if offer.risk_assessment_confirmed_at is None:
            notes.append(f"offer {offer.code} left out: no confirmed risk assessment for minors")
        else:
            offers[offer.id] = offer
    locked_offer: dict[int, Offer] = {}
    for pupil in pupils:
        held = in_force.get(pupil.id)
        chosen = held.offer if held is not None else pupil.self_arranged_offer
        if chosen is not None:
            locked_offer[pupil.id] = chosen
            offers.setdefault(chosen.id, chosen)

    school_ids = {p.school_id for p in pupils}
    schools = {s.id: s for s in session.scalars(select(School).where(School.id.in_(school_ids)).order_by(School.code))}
    for school in schools.values():
        if school.lat is None or school.lon is None:
            problems.append(
                f"school {school.code} ({school.name}): no coordinates (geo_status {school.geo_status.value}); "
                "correct the address or enter coordinates"
            )
    # A self-arranged placement is locked: its place on the map matters to no
    # decision, so while its address waits for the geocoder it stands at the school.
    stand_in: dict[int, tuple[float, float]] = {}
    school_of = {p.id: p.school_id for p in pupils}
    for pupil_id, offer in locked_offer.items():
        home = schools.get(school_of[pupil_id])
        if (
            offer.kind is OfferKind.SELF_ARRANGED
            and (offer.workplace.lat is None or offer.workplace.lon is None)
            and home is not None
            and home.lat is not None
            and home.lon is not None
        ):
            stand_in[offer.id] = (home.lat, home.lon)
            notes.append(f"offer {offer.code}: self-arranged, no coordinates yet; placed at school {home.code}")
    for offer in offers.values():
        if (offer.workplace.lat is None or offer.workplace.lon is None) and offer.id not in stand_in:
            problems.append(
                f"offer {offer.code}: workplace {offer.workplace.name!r} has no coordinates "
                f"(geo_status {offer.workplace.geo_status.value}); correct the address or enter coordinates"
            )
    if problems:
        raise ValidationError(problems)

    excluded_codes = {
        o.id: o.code
        for o in session.scalars(select(Offer).where(Offer.id.in_({i for ids in declined.values() for i in ids})))
    }
    students: list[dict[str, Any]] = []
    for pupil in pupils:
        period = periods[pupil.school_class.period_id]  # type: ignore[index]
        locked = locked_offer.get(pupil.id)
        if pupil.id in manual and locked is None:
            notes.append(f"pupil {student_id(pupil.id)}: left out, the coordinator places this pupil by hand")
            continue
        ranked: list[str] = []
        for pref in preferences[pupil.id]:
            ranked_offer = offers.get(pref.offer_id)
            if ranked_offer is None:
                notes.append(
                    f"pupil {student_id(pupil.id)}: choice {pref.rank} left out (offer not open for this round)"
                )
            else:
                ranked.append(ranked_offer.code)
        student: dict[str, Any] = {
            "id": student_id(pupil.id),
            "school": schools[pupil.school_id].code,
            "period": period.code,
            "gender": pupil.gender.value if pupil.gender else None,
            "age": pupil.age_on(period.start_date),
            "preferences": ranked,
            "attributes": sorted(pupil.attributes or []),
            "locked": locked.code if locked is not None else None,
        }
        if declined[pupil.id]:
            student["excluded_offers"] = sorted(excluded_codes[i] for i in declined[pupil.id])
        students.append(student)

    instance = {
        "format": INSTANCE_FORMAT,
        "name": allocation_round.name,
        "periods": [
            {"id": p.code, "start": p.start_date.isoformat(), "end": p.end_date.isoformat()}
            for p in sorted(periods.values(), key=lambda p: p.start_date)
        ],
        "schools": [
            {"id": s.code, "name": s.name, "lat": s.lat, "lon": s.lon, "need_index": s.need_index}
            for s in schools.values()
        ],
        "offers": [
            _offer_document(offer, periods, stand_in.get(offer.id))
            for offer in sorted(offers.values(), key=lambda o: o.code)
        ],
        "students": students,
        "policy": merged_policy(allocation_round.policy),
    }
    return InstanceBuild(instance=instance, notes=notes)


def _offer_document(
    offer: Offer, periods: dict[int, Period], location: tuple[float, float] | None = None
) -> dict[str, Any]:
    lat, lon = location or (offer.workplace.lat, offer.workplace.lon)
    document: dict[str, Any] = {
        "id": offer.code,
        "employer": offer.employer.code,
        "title": offer.title,
        "sector": offer.sector.value,
        "lat": lat,
        "lon": lon,
        "capacity": {periods[c.period_id].code: c.places for c in offer.capacities if c.period_id in periods},
    }
    if offer.min_age is not None:
        document["min_age"] = offer.min_age
    if offer.requirements:
        document["requires"] = sorted(offer.requirements)
    if offer.schools:
        document["schools"] = [s.code for s in offer.schools]
    return document


def chunks(ids: Sequence[T], size: int = 900) -> Iterable[list[T]]:
    """Split id lists for IN clauses (SQLite allows a limited number of parameters)."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])
