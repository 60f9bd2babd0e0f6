"""The bridge between a round's rows and the solver's documents: the instance out, the result back in.

* :func:`build_instance` turns the database into the round's
  ``praktik-instance/1`` document (``docs/formats.md``): the CLI exports it,
  the web app solves it, and both go through here, so the two paths cannot
  drift.  :func:`placements_in_force` is the one query for "the placements in
  force" that review, incremental rounds, exports and retention all read.
* :func:`assignment_rows` is the way back: a result's assignments as the
  round's rows; :func:`previous_result` the rows as a result again, for an
  incremental solve.
* The solve itself runs in a child process: :mod:`placement.rounds.solve_process`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

import solver
from placement.db import chunks
from placement.employers import offers as offer_rules
from placement.enums import (
    ACTIVE_ASSIGNMENT_STATUSES,
    HOLDS_PLACE,
    AssignmentStatus,
    OfferKind,
)
from placement.errors import ValidationError
from placement.models import (
    AllocationRound,
    Assignment,
    ManualPlacement,
    Offer,
    OfferCapacity,
    Period,
    Preference,
    Pupil,
    School,
    SchoolClass,
)
from placement.rounds.setup import merged_policy

INSTANCE_FORMAT = "praktik-instance/1"


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


def counts_in_round() -> ColumnElement[bool]:
    """The rule "the placement in force beats a pending change", as a condition on a round's Assignment rows.

    A row counts when it is in force (published, confirmed, locked), or when
    it is proposed and no placement of the same pupil is in force in the same
    round (a new round's proposal; in a published round, a pending change is
    shadowed by the placement it would replace).  The database keeps at most
    one of each per round and pupil, so at most one row per pupil counts.
    """
    in_force = aliased(Assignment)
    shadowed = exists().where(
        in_force.round_id == Assignment.round_id,
        in_force.pupil_id == Assignment.pupil_id,
        in_force.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
    )
    return or_(
        Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
        and_(Assignment.status == AssignmentStatus.PROPOSED, ~shadowed),
    )


def placements_in_force(session: Session, round_id: int) -> dict[int, Held]:
    """Per pupil, the round's placement that counts (:func:`counts_in_round`).

    The one query for the review's figures, the previous result of an
    incremental round and the statistics kept past retention; the placement
    lists (:func:`placement.reports.exports.placement_rows`) filter by the same
    condition.  Plain columns, not ORM objects: a region's round has
    thousands of rows and pages must stay fast.
    """
    rows = session.execute(
        select(Assignment.pupil_id, Assignment.status, Assignment.rank, Offer.code)
        .join(Offer, Assignment.offer_id == Offer.id)
        .where(Assignment.round_id == round_id, counts_in_round())
    ).all()
    return {pupil_id: Held(code, rank, status) for pupil_id, status, rank, code in rows}


def build_instance(session: Session, allocation_round: AllocationRound, *, incremental: bool = False) -> InstanceBuild:
    """Build the round's ``praktik-instance/1`` document from the database.

    Pupils are those whose class goes on placement in one of the round's
    periods (in a municipality's round, those of its schools only).  Offers
    are the active catalogue offers of approved employers with
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
    An offer's capacity is what is left once the places held by pupils outside
    the instance (another municipality's round, say) are taken off.
    """
    periods = {p.id: p for p in allocation_round.periods}
    if not periods:
        raise ValidationError(f'round "{allocation_round.name}": it has no periods')
    notes: list[str] = []
    problems: list[str] = []

    in_scope = (
        select(Pupil).join(SchoolClass, Pupil.class_id == SchoolClass.id).where(SchoolClass.period_id.in_(periods))
    )
    if allocation_round.municipality_id is not None:
        in_scope = in_scope.join(School, Pupil.school_id == School.id).where(
            School.municipality_id == allocation_round.municipality_id
        )
    pupils = list(
        session.scalars(
            in_scope.options(selectinload(Pupil.school_class), selectinload(Pupil.self_arranged_offer)).order_by(
                Pupil.id
            )
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

    taken_elsewhere = _places_held_outside(session, allocation_round, set(pupil_ids), set(offers))
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
            _offer_document(offer, periods, stand_in.get(offer.id), taken_elsewhere)
            for offer in sorted(offers.values(), key=lambda o: o.code)
        ],
        "students": students,
        "policy": merged_policy(allocation_round.policy),
    }
    return InstanceBuild(instance=instance, notes=notes)


def _places_held_outside(
    session: Session, allocation_round: AllocationRound, pupil_ids: set[int], offer_ids: set[int]
) -> dict[tuple[int, int], int]:
    """Places of the offers in the round's periods held by other rounds' pupils who are not in this instance.

    (offer id, period id) -> count.  In a region-wide round every pupil of
    the periods is in the instance, so this is empty; a municipality's round
    leaves the places of other municipalities' pupils alone.
    """
    held: dict[tuple[int, int], int] = defaultdict(int)
    for chunk in chunks(sorted(offer_ids)):
        rows = session.execute(
            select(Assignment.offer_id, Assignment.period_id, Assignment.pupil_id).where(
                Assignment.offer_id.in_(chunk),
                Assignment.period_id.in_([p.id for p in allocation_round.periods]),
                Assignment.round_id != allocation_round.id,
                Assignment.status.in_(HOLDS_PLACE),
            )
        )
        for offer_id, period_id, pupil_id in rows:
            if pupil_id not in pupil_ids:
                held[(offer_id, period_id)] += 1
    return held


def _offer_document(
    offer: Offer,
    periods: dict[int, Period],
    location: tuple[float, float] | None = None,
    taken: dict[tuple[int, int], int] | None = None,
) -> dict[str, Any]:
    lat, lon = location or (offer.workplace.lat, offer.workplace.lon)
    taken = taken or {}
    document: dict[str, Any] = {
        "id": offer.code,
        "employer": offer.employer.code,
        "title": offer.title,
        "sector": offer.sector.value,
        "lat": lat,
        "lon": lon,
        "capacity": {
            periods[c.period_id].code: max(0, c.places - taken.get((offer.id, c.period_id), 0))
            for c in offer.capacities
            if c.period_id in periods
        },
    }
    if offer.min_age is not None:
        document["min_age"] = offer.min_age
    if offer.requirements:
        document["requires"] = sorted(offer.requirements)
    if offer.schools:
        document["schools"] = [s.code for s in offer.schools]
    return document


def previous_result(
    session: Session, allocation_round: AllocationRound, instance_doc: dict[str, Any]
) -> dict[str, Any]:
    """The round's placements as a ``praktik-result/1`` document, the previous result of an incremental solve.

    The placements in force, as :func:`placements_in_force` has them, but a
    pending change is not part of it (it is what the new solve replaces), and
    a pupil with no placement in force appears with the placement they last
    lost (declined by the employer, or withdrawn), so that the solver can
    report why they move.
    """
    rows = session.execute(
        select(Assignment, Offer.code, Period.code)
        .join(Offer, Assignment.offer_id == Offer.id)
        .join(Period, Assignment.period_id == Period.id)
        .where(
            Assignment.round_id == allocation_round.id,
            Assignment.status.in_((*ACTIVE_ASSIGNMENT_STATUSES, AssignmentStatus.DECLINED, AssignmentStatus.WITHDRAWN)),
        )
        .order_by(Assignment.updated_at, Assignment.id)
    ).all()
    students = {s["id"]: s for s in instance_doc["students"]}
    latest: dict[str, dict[str, Any]] = {}
    for assignment, offer_code, period_code in rows:
        sid = student_id(assignment.pupil_id)
        if sid not in students:
            continue
        current = assignment.status in ACTIVE_ASSIGNMENT_STATUSES
        if current or sid not in latest or not latest[sid]["current"]:
            latest[sid] = {
                "current": current,
                "doc": {
                    "student": sid,
                    "offer": offer_code,
                    "period": period_code,
                    "rank": assignment.rank,
                    "locked": students[sid].get("locked") is not None,
                },
            }
    assignments = [entry["doc"] for entry in latest.values()]
    unassigned = [{"student": sid, "reason": "not placed"} for sid in students if sid not in latest]
    placed = assignments
    return {
        "format": solver.result.RESULT_FORMAT,
        "instance": instance_doc["name"],
        "method": "optimal",
        "status": "feasible",
        "seed": instance_doc["policy"].get("seed", 0),
        "assignments": assignments,
        "unassigned": unassigned,
        "warnings": [],
        "metrics": {
            "students": len(students),
            "placed": len(placed),
            "locked": sum(1 for a in placed if a["locked"]),
            "rank_1": sum(1 for a in placed if a["rank"] == 1),
            "top_3": sum(1 for a in placed if a["rank"] is not None and a["rank"] <= 3),
            "unranked": sum(1 for a in placed if a["rank"] is None and not a["locked"]),
        },
        "bound": {"placed_max": len(students)},
        "solve_seconds": 0.0,
    }


def _offer_ids(session: Session, codes: set[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in chunks(sorted(codes)):
        for code, offer_id in session.execute(select(Offer.code, Offer.id).where(Offer.code.in_(chunk))):
            ids[code] = offer_id
    return ids


def assignment_rows(
    session: Session,
    round_id: int,
    placed: Sequence[tuple[solver.Assignment, AssignmentStatus, str | None]],
    *,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Result to rows: the round's Assignment rows, as insert parameters, for the solver's assignments.

    Each entry is an assignment of the result with the status its row gets
    and, for a pending change, why the pupil moves.
    """
    offer_ids = _offer_ids(session, {a.offer for a, _status, _reason in placed})
    period_ids = dict(session.execute(select(Period.code, Period.id)).all())
    return [
        {
            "round_id": round_id,
            "pupil_id": pupil_id_of(a.student),
            "offer_id": offer_ids[a.offer],
            "period_id": period_ids[a.period],
            "rank": a.rank,
            "status": status,
            "move_reason": reason,
            "created_at": now,
            "updated_at": now,
        }
        for a, status, reason in placed
    ]
