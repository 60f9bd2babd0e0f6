"""The result of a round (``praktik-result/1``) and its JSON form.

Besides the keys of the format, a result carries ``method``, ``seed``,
``explanations`` (always), ``moves`` (incremental rounds only) and
``calibration`` (the equity weights the optimal method settled on).  These
are extensions documented in ``docs/allocation.md``; readers of the format
ignore keys they do not know.  ``metrics.equity`` carries the equity measures
of :mod:`solver.measures` (``docs/formats.md``, "Equity measures").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from solver.load import InstanceError, json_type
from solver.measures import Equity, EquityError, equity
from solver.model import RESULT_FORMAT, Instance

STATUSES = ("optimal", "feasible")
METHODS = ("optimal", "da-reserves", "mcf", "da", "fcfs")


class ResultError(InstanceError):
    """A result document that breaks the format; ``problems`` lists every problem."""


@dataclass(frozen=True)
class Assignment:
    student: str
    offer: str
    period: str
    rank: int | None
    locked: bool = False


@dataclass(frozen=True)
class Unassigned:
    student: str
    reason: str


@dataclass(frozen=True)
class Metrics:
    students: int
    placed: int
    locked: int
    rank_1: int
    top_3: int
    unranked: int
    equity: Equity | None = None
    """The equity measures; None for a result written without them."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "students": self.students,
            "placed": self.placed,
            "locked": self.locked,
            "rank_1": self.rank_1,
            "top_3": self.top_3,
            "unranked": self.unranked,
        }
        if self.equity is not None:
            out["equity"] = self.equity.to_dict()
        return out


@dataclass(frozen=True)
class Move:
    student: str
    from_offer: str | None
    to_offer: str | None
    reason: str


@dataclass(frozen=True)
class Explanation:
    """Why a pupil did not get an offer they ranked higher than the one they got."""

    offer: str
    rank: int
    reason: str
    taken_by_ranks: tuple[int, ...] = ()
    """For a full offer: the ranks the pupils placed there gave it (ranked placements)."""
    locked: int = 0
    """For a full offer: places taken by locked placements."""
    unranked: int = 0
    """For a full offer: places taken by unranked placements."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"offer": self.offer, "rank": self.rank, "reason": self.reason}
        if self.reason == "full":
            out["taken_by_ranks"] = list(self.taken_by_ranks)
            if self.locked:
                out["locked"] = self.locked
            if self.unranked:
                out["unranked"] = self.unranked
        return out


@dataclass(frozen=True)
class Result:
    instance: str
    method: str
    status: str
    assignments: tuple[Assignment, ...]
    unassigned: tuple[Unassigned, ...]
    warnings: tuple[str, ...]
    metrics: Metrics
    placed_max: int
    solve_seconds: float
    seed: int = 0
    explanations: Mapping[str, tuple[Explanation, ...]] = field(default_factory=dict)
    moves: tuple[Move, ...] | None = None
    calibration: Mapping[str, Any] | None = None

    def assignment_map(self) -> dict[str, Assignment]:
        return {a.student: a for a in self.assignments}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": RESULT_FORMAT,
            "instance": self.instance,
            "method": self.method,
            "status": self.status,
            "seed": self.seed,
            "assignments": [_assignment_dict(a) for a in self.assignments],
            "unassigned": [{"student": u.student, "reason": u.reason} for u in self.unassigned],
            "warnings": list(self.warnings),
            "metrics": self.metrics.to_dict(),
            "bound": {"placed_max": self.placed_max},
            "solve_seconds": round(self.solve_seconds, 3),
            "explanations": {student: [e.to_dict() for e in entries] for student, entries in self.explanations.items()},
        }
        if self.moves is not None:
            out["moves"] = [
                {"student": m.student, "from": m.from_offer, "to": m.to_offer, "reason": m.reason} for m in self.moves
            ]
        if self.calibration is not None:
            out["calibration"] = dict(self.calibration)
        return out


def _assignment_dict(a: Assignment) -> dict[str, Any]:
    out: dict[str, Any] = {"student": a.student, "offer": a.offer, "period": a.period, "rank": a.rank}
    if a.locked:
        out["locked"] = True
    return out


def compute_metrics(instance: Instance, assignments: Sequence[Assignment]) -> Metrics:
    """Counts over all students (``unranked`` counts non-locked placements outside the preferences),
    and the equity measures of :func:`solver.measures.equity`."""
    return Metrics(
        students=len(instance.students),
        placed=len(assignments),
        locked=sum(1 for a in assignments if a.locked),
        rank_1=sum(1 for a in assignments if a.rank == 1),
        top_3=sum(1 for a in assignments if a.rank is not None and a.rank <= 3),
        unranked=sum(1 for a in assignments if a.rank is None and not a.locked),
        equity=equity(instance, assignments),
    )


class _Fields:
    """Reads typed fields, collecting one message per problem."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def get(self, obj: Mapping[str, Any], key: str, label: str, kinds: tuple[type, ...], *, null: bool = False) -> Any:
        if key not in obj:
            self.problems.append(f'{label}: missing field "{key}"')
            return None
        value = obj[key]
        if value is None and null:
            return None
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            self.problems.append(f'{label}: field "{key}" has the wrong type ({json_type(value)})')
            return None
        return value

    def records(self, obj: Mapping[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for index, raw in enumerate(self.get(obj, key, "result", (list,)) or []):
            label = f"{key}[{index}]"
            if isinstance(raw, dict):
                out.append((label, raw))
            else:
                self.problems.append(f"{label}: must be an object, got {json_type(raw)}")
        return out


def result_from_dict(data: object) -> Result:
    """Read a ``praktik-result/1`` document (as written by :meth:`Result.to_dict`).

    Raises :class:`ResultError` listing every problem found.
    """
    if not isinstance(data, dict):
        raise ResultError([f"result: expected a JSON object, got {json_type(data)}"])
    fmt = data.get("format")
    if fmt != RESULT_FORMAT:
        shown = f'"{fmt}"' if isinstance(fmt, str) else json_type(fmt)
        raise ResultError([f'format: expected "{RESULT_FORMAT}", got {shown}'])
    f = _Fields()
    name = f.get(data, "instance", "result", (str,))
    status = f.get(data, "status", "result", (str,))
    if status is not None and status not in STATUSES:
        f.problems.append(f'result: field "status" must be "optimal" or "feasible", got "{status}"')
    method = data.get("method", "optimal")
    if method not in METHODS:
        f.problems.append(f'result: field "method" must be one of {", ".join(METHODS)}, got {json_type(method)}')
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        f.problems.append(f'result: field "seed" must be a whole number, got {json_type(seed)}')
    assignments: list[Assignment] = []
    for label, raw in f.records(data, "assignments"):
        student = f.get(raw, "student", label, (str,))
        offer = f.get(raw, "offer", label, (str,))
        period = f.get(raw, "period", label, (str,))
        rank = f.get(raw, "rank", label, (int,), null=True)
        locked = raw.get("locked", False)
        if not isinstance(locked, bool):
            f.problems.append(f'{label}: field "locked" must be true or false, got {json_type(locked)}')
        elif student is not None and offer is not None and period is not None:
            assignments.append(Assignment(student, offer, period, rank, locked))
    unassigned: list[Unassigned] = []
    for label, raw in f.records(data, "unassigned"):
        student = f.get(raw, "student", label, (str,))
        reason = f.get(raw, "reason", label, (str,))
        if student is not None and reason is not None:
            unassigned.append(Unassigned(student, reason))
    warnings = f.get(data, "warnings", "result", (list,)) or []
    metrics_raw = f.get(data, "metrics", "result", (dict,))
    counts = {
        key: f.get(metrics_raw, key, "metrics", (int,)) if metrics_raw is not None else None
        for key in ("students", "placed", "locked", "rank_1", "top_3", "unranked")
    }
    measures: Equity | None = None
    if metrics_raw is not None and "equity" in metrics_raw:
        try:
            measures = Equity.from_dict(metrics_raw["equity"])
        except EquityError as exc:
            f.problems.append(f"metrics.{exc}")
    bound = f.get(data, "bound", "result", (dict,))
    placed_max = f.get(bound, "placed_max", "bound", (int,)) if bound is not None else None
    seconds = f.get(data, "solve_seconds", "result", (int, float))
    explanations: dict[str, tuple[Explanation, ...]] = {}
    raw_explanations = data.get("explanations", {})
    if isinstance(raw_explanations, dict):
        for student, entries in raw_explanations.items():
            explanations[student] = _explanations(f, student, entries)
    else:
        f.problems.append(f'result: field "explanations" must be an object, got {json_type(raw_explanations)}')
    moves: list[Move] | None = None
    if "moves" in data:
        moves = []
        for label, raw in f.records(data, "moves"):
            student = f.get(raw, "student", label, (str,))
            src = f.get(raw, "from", label, (str,), null=True)
            dst = f.get(raw, "to", label, (str,), null=True)
            reason = f.get(raw, "reason", label, (str,))
            if student is not None and reason is not None:
                moves.append(Move(student, src, dst, reason))
    calibration = data.get("calibration")
    if calibration is not None and not isinstance(calibration, dict):
        f.problems.append(f'result: field "calibration" must be an object, got {json_type(calibration)}')
    if f.problems:
        raise ResultError(f.problems)
    return Result(
        instance=name,
        method=method,
        status=status,
        assignments=tuple(assignments),
        unassigned=tuple(unassigned),
        warnings=tuple(str(w) for w in warnings),
        metrics=Metrics(**counts, equity=measures),  # type: ignore[arg-type]  # all present when no problems
        placed_max=int(placed_max or 0),
        solve_seconds=float(seconds or 0.0),
        seed=seed,
        explanations=explanations,
        moves=None if moves is None else tuple(moves),
        calibration=calibration,
    )


def _explanations(f: _Fields, student: str, entries: object) -> tuple[Explanation, ...]:
    label = f"explanations[{student}]"
    if not isinstance(entries, list):
        f.problems.append(f"{label}: must be an array, got {json_type(entries)}")
        return ()
    out: list[Explanation] = []
    for index, raw in enumerate(entries):
        item = f"{label}[{index}]"
        if not isinstance(raw, dict):
            f.problems.append(f"{item}: must be an object, got {json_type(raw)}")
            continue
        offer = f.get(raw, "offer", item, (str,))
        rank = f.get(raw, "rank", item, (int,))
        reason = f.get(raw, "reason", item, (str,))
        taken = raw.get("taken_by_ranks", [])
        if not isinstance(taken, list) or not all(isinstance(r, int) and not isinstance(r, bool) for r in taken):
            f.problems.append(f'{item}: field "taken_by_ranks" must be an array of whole numbers')
            taken = []
        counts = [raw.get("locked", 0), raw.get("unranked", 0)]
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            f.problems.append(f'{item}: fields "locked" and "unranked" must be whole numbers')
            continue
        if offer is not None and rank is not None and reason is not None:
            out.append(Explanation(offer, rank, reason, tuple(taken), counts[0], counts[1]))
    return tuple(out)
