"""The figures a coordinator reviews before publishing, computed from the stored placements.

Everything is measured on the round's current placements in the database
(after any adjustment), over the pupils of the instance the round was last
solved from; the group measures (school, gender, need tercile) use the
solver's own definitions (:func:`solver.compare.summarise`) so that they are
comparable with the baselines computed on the same instance when the round
was solved.

The trade-off between the mechanisms (:class:`TradeOff`) is read, figure by
figure, from the summaries the solve job stored (``outcome["comparison"]``,
see :func:`placement.rounds.jobs._comparison`): nothing in it is computed
when the page is shown.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter, OrderedDict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import solver
from placement.enums import ArtifactKind, AssignmentStatus
from placement.errors import NotFound
from placement.models import AllocationRound, Assignment, Offer, RoundArtifact
from placement.rounds import bridge, solving
from placement.rounds import setup as rounds
from solver.compare import MethodSummary, summarise
from solver.equity import TERCILES
from solver.result import compute_metrics

#: Column order of the trade-off table after the proposal.
TRADE_OFF_ORDER = (*rounds.MECHANISMS, "mcf", "da", "fcfs")


@dataclasses.dataclass(frozen=True)
class TradeOffColumn:
    method: str
    proposal: bool
    """The mechanism that made the round's proposal."""
    error: str | None = None
    """Why this method could not be computed for comparison."""


@dataclasses.dataclass(frozen=True)
class TradeOffRow:
    """One measure across the columns, as stored.

    ``kind`` says how a value reads: ``count`` (a number of pupils),
    ``share`` (0..1), ``points`` (a difference of shares), ``signed_points``,
    ``ratio``, ``terciles_share`` / ``terciles_count`` (low, middle, high
    need), ``worst`` (a ``{"dimension", "group", "rate"}`` object) or
    ``yes_no``.  A value is None where the stored summary does not have it.
    """

    key: str
    kind: str
    values: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class TradeOff:
    columns: tuple[TradeOffColumn, ...]
    rows: tuple[TradeOffRow, ...]


def _dig(document: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


#: The measures of the trade-off table: key, kind, and where each is in a stored summary.
_MEASURES: tuple[tuple[str, str, Any], ...] = (
    ("placed", "count", lambda s: s.get("placed")),
    ("share_top3", "share", lambda s: s.get("share_top3")),
    ("share_unranked", "share", lambda s: s.get("share_unranked")),
    ("need_top3", "terciles_share", lambda s: _terciles(s, "need", "groups", field="rate")),
    ("school_spread", "points", lambda s: _dig(s, "equity", "school", "spread")),
    ("gender_spread", "points", lambda s: _dig(s, "equity", "gender", "spread")),
    ("need_spread", "points", lambda s: _dig(s, "equity", "need", "spread")),
    ("worst_group", "worst", lambda s: _dig(s, "equity", "worst")),
    ("female_male_gap", "signed_points", lambda s: _dig(s, "equity", "female_male_gap")),
    ("unplaced_by_need", "terciles_count", lambda s: _terciles(s, "unplaced", field="unplaced")),
    ("popular_by_need", "terciles_share", lambda s: _terciles(s, "popular", "groups", field="share")),
    ("popular_high_low", "ratio", lambda s: _dig(s, "equity", "popular", "high_low_ratio")),
    ("strategy_proof", "yes_no", lambda s: s.get("strategy_proof")),
)
TRADE_OFF_MEASURES = tuple(key for key, _kind, _read in _MEASURES)


def _terciles(summary: dict[str, Any], *path: str, field: str) -> tuple[Any, ...] | None:
    table = _dig(summary, "equity", *path)
    if not isinstance(table, dict):
        return None
    return tuple(_dig(table, tercile, field) for tercile in TERCILES)


def trade_off(outcome: dict[str, Any] | None) -> TradeOff | None:
    """The trade-off table of a solved round, from the summaries stored with its outcome.

    The proposal's mechanism comes first, then the other mechanism, then the
    references; a method the job did not compute (a round solved before it
    did) has no column.  None when nothing was stored.
    """
    stored = dict((outcome or {}).get("comparison") or {})
    if not stored:
        return None
    proposal = str((outcome or {}).get("method") or "optimal")
    order = [proposal] + [m for m in TRADE_OFF_ORDER if m != proposal]
    methods = [m for m in order if isinstance(stored.get(m), dict)]
    # A summary stored before strategy-proofness was stored with it: the method's, which never changes.
    summaries = [{"strategy_proof": rounds.STRATEGY_PROOF.get(m)} | stored[m] for m in methods]
    columns = tuple(
        TradeOffColumn(method, method == proposal, str(summary["error"]) if "error" in summary else None)
        for method, summary in zip(methods, summaries, strict=True)
    )
    rows = tuple(
        TradeOffRow(key, kind, tuple(None if "error" in summary else read(summary) for summary in summaries))
        for key, kind, read in _MEASURES
    )
    return TradeOff(columns, rows)


@dataclasses.dataclass(frozen=True)
class RankRow:
    label: str
    """``1``..``n``, ``unranked``, ``locked`` or ``unplaced``."""
    count: int
    share: float


@dataclasses.dataclass(frozen=True)
class Review:
    round_id: int
    students: int
    placed: int
    placed_max: int
    locked: int
    unranked: int
    ranks: list[RankRow]
    summary: MethodSummary
    """The current placements, measured like the baselines."""
    baselines: dict[str, dict[str, Any]]
    """Summaries (``MethodSummary.to_dict``) of the proposal as solved and of each comparison, by method."""
    unplaced: list[str]
    """Student ids without a placement."""
    school_names: dict[str, str] = dataclasses.field(default_factory=dict)
    mechanism: str = "optimal"
    """The mechanism that made the proposal (the stored result's method)."""
    trade_off: TradeOff | None = None
    """Both mechanisms and the references on the round's instance, as stored by the solve job."""

    @property
    def all_placeable_placed(self) -> bool:
        return self.placed >= self.placed_max


def current_result(session: Session, allocation_round: AllocationRound, instance: solver.Instance) -> solver.Result:
    """The round's current placements (:func:`bridge.placements_in_force`) as a solver result over ``instance``."""
    by_student = {
        bridge.student_id(pupil_id): (held.status, held.rank, held.offer_code)
        for pupil_id, held in bridge.placements_in_force(session, allocation_round.id).items()
    }
    placed: list[solver.Assignment] = []
    unassigned: list[solver.Unassigned] = []
    for student in instance.students:
        got = by_student.get(student.id)
        if got is not None:
            status, rank, code = got
            locked = status is AssignmentStatus.LOCKED or student.locked == code
            placed.append(solver.Assignment(student.id, code, student.period, rank, locked))
        elif student.locked is not None:
            placed.append(solver.Assignment(student.id, student.locked, student.period, None, True))
        else:
            unassigned.append(solver.Unassigned(student.id, "not placed"))
    outcome = allocation_round.outcome or {}
    return solver.Result(
        instance=instance.name,
        method=str(outcome.get("method") or "optimal"),
        status=str(outcome.get("status", "feasible")),
        assignments=tuple(placed),
        unassigned=tuple(unassigned),
        warnings=(),
        metrics=compute_metrics(instance, placed),
        placed_max=int(outcome.get("bound", {}).get("placed_max", len(placed))),
        solve_seconds=float(outcome.get("solve_seconds", 0.0)),
    )


#: Instances loaded from stored artifacts, by the artifact's SHA-256.  An artifact never changes and
#: an Instance is immutable, so a process may keep the few it last read: loading (and validating) a
#: region's instance takes longer than the review page may.
_INSTANCES: OrderedDict[str, solver.Instance] = OrderedDict()
_INSTANCES_KEPT = 4
_INSTANCES_LOCK = threading.Lock()


def solved_instance(session: Session, round_id: int) -> solver.Instance:
    """The instance the round was last solved from."""
    found = session.execute(
        select(RoundArtifact.id, RoundArtifact.sha256)
        .where(RoundArtifact.round_id == round_id, RoundArtifact.kind == ArtifactKind.INSTANCE)
        .order_by(RoundArtifact.id.desc())
        .limit(1)
    ).first()
    if found is None:
        raise NotFound(f"round {round_id} has not been solved yet")
    artifact_id, sha256 = found
    with _INSTANCES_LOCK:
        instance = _INSTANCES.get(sha256)
        if instance is not None:
            _INSTANCES.move_to_end(sha256)
            return instance
    body = session.scalar(select(RoundArtifact.body).where(RoundArtifact.id == artifact_id))
    instance = solver.load_instance(json.loads(body or "null"))
    with _INSTANCES_LOCK:
        _INSTANCES[sha256] = instance
        while len(_INSTANCES) > _INSTANCES_KEPT:
            _INSTANCES.popitem(last=False)
    return instance


def is_solved(session: Session, round_id: int) -> bool:
    """Whether the round has a stored instance to review (without reading it)."""
    return (
        session.scalar(
            select(RoundArtifact.id)
            .where(RoundArtifact.round_id == round_id, RoundArtifact.kind == ArtifactKind.INSTANCE)
            .limit(1)
        )
        is not None
    )


def round_review(session: Session, round_id: int) -> Review:
    allocation_round = rounds.get_round(session, round_id)
    instance = solved_instance(session, round_id)
    result = current_result(session, allocation_round, instance)
    metrics = result.metrics
    counts: Counter[str] = Counter()
    for a in result.assignments:
        counts["locked" if a.locked else "unranked" if a.rank is None else str(a.rank)] += 1
    n = metrics.students
    longest = max((len(s.preferences) for s in instance.students), default=0)
    labels = [str(k) for k in range(1, longest + 1)] + ["unranked", "locked"]
    ranks = [RankRow(label, counts[label], counts[label] / n if n else 0.0) for label in labels]
    unplaced = [u.student for u in result.unassigned]
    outcome = allocation_round.outcome or {}
    ranks.append(RankRow("unplaced", len(unplaced), len(unplaced) / n if n else 0.0))
    return Review(
        round_id=round_id,
        students=n,
        placed=metrics.placed,
        placed_max=result.placed_max,
        locked=metrics.locked,
        unranked=metrics.unranked,
        ranks=ranks,
        summary=summarise(instance, result),
        baselines=dict(outcome.get("comparison") or {}),
        unplaced=unplaced,
        school_names={school.id: school.name for school in instance.schools},
        mechanism=str(outcome.get("method") or "optimal"),
        trade_off=trade_off(outcome),
    )


@dataclasses.dataclass(frozen=True)
class PupilStory:
    """Why a pupil got what they got."""

    student: str
    preferences: list[str]
    placement: solver.Assignment | None
    explanations: list[solver.Explanation]
    unplaced_reason: str | None
    manual: bool


def pupil_story(session: Session, round_id: int, pupil_id: int) -> PupilStory:
    """For each offer the pupil ranked above their placement: full (with whom) or why not eligible."""
    allocation_round = rounds.get_round(session, round_id)
    instance = solved_instance(session, round_id)
    sid = bridge.student_id(pupil_id)
    student = next((s for s in instance.students if s.id == sid), None)
    from placement.rounds.assignments import manual_pupils

    manual = any(mp.pupil_id == pupil_id for mp in manual_pupils(session, round_id))
    if student is None:
        if manual:
            return PupilStory(sid, [], None, [], "the coordinator places this pupil by hand", True)
        raise NotFound(f"pupil {sid} is not in round {round_id}")
    result = current_result(session, allocation_round, instance)
    placement = result.assignment_map().get(sid)
    explanations = solver.explain(instance, result, sid).get(sid, ())
    reason = None
    if placement is None:
        stored = solving.latest_artifact(session, round_id, ArtifactKind.RESULT)
        if stored is not None:
            doc = json.loads(stored.body)
            reason = next((u["reason"] for u in doc.get("unassigned", []) if u["student"] == sid), None)
        reason = reason or "not placed"
    return PupilStory(sid, list(student.preferences), placement, list(explanations), reason, manual)


@dataclasses.dataclass(frozen=True)
class PupilLine:
    pupil_id: int
    student: str
    name: str
    school: str
    class_name: str
    offer_code: str | None
    offer_title: str | None
    rank: int | None
    status: str | None
    manual: bool
    changed_to: str | None
    """The offer a pending incremental change would move the pupil to."""


FILTERS = ("all", "unplaced", "unranked", "not_first", "locked", "manual", "declined", "changes")


def pupil_lines(
    session: Session, round_id: int, *, query: str = "", show: str = "all", limit: int = 100, offset: int = 0
) -> tuple[list[PupilLine], int]:
    """The round's pupils with their placement, filtered and paged; returns the page and the number matching."""
    from placement.models import Period, Pupil, School, SchoolClass
    from placement.rounds.assignments import manual_pupils

    allocation_round = rounds.get_round(session, round_id)
    period_ids = [p.id for p in allocation_round.periods]
    manual = {mp.pupil_id for mp in manual_pupils(session, round_id)}
    rows = session.execute(
        select(Pupil.id, Pupil.first_name, Pupil.last_name, School.name, SchoolClass.name)
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .join(School, Pupil.school_id == School.id)
        .join(Period, SchoolClass.period_id == Period.id)
        .where(Period.id.in_(period_ids))
        .order_by(School.name, SchoolClass.name, Pupil.last_name, Pupil.first_name, Pupil.id)
    ).all()
    placed: dict[int, tuple[Assignment, Offer]] = {}
    pending: dict[int, str] = {}
    declined: set[int] = set()
    for assignment, offer in session.execute(
        select(Assignment, Offer).join(Offer, Assignment.offer_id == Offer.id).where(Assignment.round_id == round_id)
    ).all():
        if assignment.status is AssignmentStatus.DECLINED:
            declined.add(assignment.pupil_id)
        elif assignment.status is AssignmentStatus.WITHDRAWN:
            continue
        elif assignment.status is AssignmentStatus.PROPOSED and allocation_round.status.value == "published":
            pending[assignment.pupil_id] = offer.code
        else:
            placed[assignment.pupil_id] = (assignment, offer)
    needle = query.strip().casefold()
    lines: list[PupilLine] = []
    for pupil_id, first, last, school, klass in rows:
        got = placed.get(pupil_id)
        line = PupilLine(
            pupil_id=pupil_id,
            student=bridge.student_id(pupil_id),
            name=f"{first} {last}",
            school=school,
            class_name=klass,
            offer_code=got[1].code if got else None,
            offer_title=got[1].title if got else None,
            rank=got[0].rank if got else None,
            status=got[0].status.value if got else None,
            manual=pupil_id in manual,
            changed_to=pending.get(pupil_id),
        )
        if needle and needle not in f"{line.name} {line.student} {school} {klass} {line.offer_code or ''}".casefold():
            continue
        keep = {
            "all": True,
            "unplaced": got is None,
            "unranked": got is not None and got[0].rank is None and got[0].status is not AssignmentStatus.LOCKED,
            "not_first": got is None or got[0].rank != 1,
            "locked": got is not None and got[0].status is AssignmentStatus.LOCKED,
            "manual": line.manual,
            "declined": pupil_id in declined,
            "changes": pupil_id in pending,
        }.get(show, True)
        if keep:
            lines.append(line)
    return lines[offset : offset + limit], len(lines)
