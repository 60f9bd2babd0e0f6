"""The season's calendar: placement periods, which class goes out when, and preference windows.

Prao is at least ten school days from year 8 (skollagen 10 kap. 8 a §), so a
period is usually two school weeks; shorter periods are accepted, since a
pupil's days may be split over the years.  Functions validate first, then
write, then flush; the caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from placement import audit, validation
from placement.db import utcnow, violated_constraint
from placement.enums import ACTIVE_ASSIGNMENT_STATUSES
from placement.errors import Conflict, ValidationError
from placement.mail import outbox as mail
from placement.models import Assignment, Period, PreferenceWindow, Pupil, School, SchoolClass

logger = logging.getLogger(__name__)

#: Bounds of a window's number of choices, mirrored from the ``max_choices_range`` constraint.
MAX_CHOICES_RANGE = (1, 20)

PERIOD_FIELDS = frozenset({"code", "name", "start_date", "end_date"})
WINDOW_FIELDS = frozenset({"name", "opens_at", "closes_at", "max_choices"})


# --- periods --------------------------------------------------------------------------------------------------------


def periods(session: Session) -> list[Period]:
    """Every placement period, by start date (then code): the one list every portal shows."""
    return list(session.scalars(select(Period).order_by(Period.start_date, Period.code)))


def create_period(
    session: Session,
    *,
    code: str,
    name: str,
    start_date: dt.date,
    end_date: dt.date,
    actor: audit.Actor,
) -> Period:
    """Create a placement period; ``code`` must be unique and ``end_date`` not before ``start_date``."""
    values = _period_values(
        f'period "{code}"', {"code": code, "name": name, "start_date": start_date, "end_date": end_date}
    )
    _check_code_free(session, values["code"], None)
    period = Period(**values)
    _flush_period(session, period)
    audit.record(
        session,
        actor,
        "period.create",
        "period",
        period.id,
        after={key: audit.plain(value) for key, value in values.items()},
    )
    session.flush()
    logger.info("Period %s created by %s", period.code, actor.label)
    return period


def update_period(session: Session, period: Period, *, actor: audit.Actor, **fields: Any) -> Period:
    """Change a period's ``code``, ``name``, ``start_date`` or ``end_date``."""
    label = f"period {period.code}"
    unknown = sorted(set(fields) - PERIOD_FIELDS)
    if unknown:
        raise ValidationError(f"{label}: cannot change {', '.join(unknown)}")
    merged = {name: fields.get(name, getattr(period, name)) for name in PERIOD_FIELDS}
    values = _period_values(label, merged)
    if values["code"] != period.code:
        _check_code_free(session, values["code"], period.id)
    before, after = audit.changes(period, {name: values[name] for name in fields})
    if after:
        _flush_period(session, period)
        audit.record(session, actor, "period.update", "period", period.id, before=before, after=after)
        session.flush()
    return period


def set_class_period(
    session: Session, school_class: SchoolClass, period: Period | None, *, actor: audit.Actor
) -> SchoolClass:
    """Set the period in which ``school_class`` goes on placement (None: not decided).

    Refused while a pupil of the class holds an assignment in force for the
    current period: move or withdraw those placements first.
    """
    label = f"class {school_class.name} of school {school_class.school.code}"
    old = school_class.period
    if (old.id if old else None) == (period.id if period else None):
        return school_class
    if old is not None:
        in_force = session.scalar(
            select(func.count(Assignment.id))
            .join(Pupil, Assignment.pupil_id == Pupil.id)
            .where(
                Pupil.class_id == school_class.id,
                Assignment.period_id == old.id,
                Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES),
            )
        )
        if in_force:
            raise Conflict(
                f"{label}: {in_force} pupils hold placements in force in period {old.code}; "
                "the class's period cannot change until they are moved"
            )
    school_class.period = period
    session.flush()
    audit.record(
        session,
        actor,
        "school_class.set_period",
        "school_class",
        school_class.id,
        before={"period": old.code if old else None},
        after={"period": period.code if period else None},
    )
    session.flush()
    logger.info("Class %s: period set to %s by %s", school_class.id, period.code if period else None, actor.label)
    return school_class


@dataclasses.dataclass(frozen=True)
class SchoolClasses:
    """A school with its classes, by class name."""

    school: School
    classes: list[SchoolClass]


def schools_with_classes(session: Session, municipality_id: int | None = None) -> list[SchoolClasses]:
    """Every school that has classes (of one municipality, or all), by name, with its classes by name."""
    query = select(School).order_by(School.name)
    if municipality_id is not None:
        query = query.where(School.municipality_id == municipality_id)
    schools = {s.id: s for s in session.scalars(query)}
    grouped: dict[int, list[SchoolClass]] = {}
    for klass in session.scalars(select(SchoolClass).order_by(SchoolClass.school_id, SchoolClass.name)):
        grouped.setdefault(klass.school_id, []).append(klass)
    return [SchoolClasses(school, grouped[sid]) for sid, school in schools.items() if sid in grouped]


def set_class_periods(session: Session, school: School, chosen: Mapping[int, str], *, actor: audit.Actor) -> int:
    """Set the period of each of ``school``'s classes named in ``chosen`` (class id -> period id, "" for none).

    Classes not named keep their period; an unknown period is a
    ValidationError naming the class, and nothing is changed then.  Returns
    how many classes changed.
    """
    by_id = {str(p.id): p for p in periods(session)}
    classes = list(session.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)))
    wanted: list[tuple[SchoolClass, Period | None]] = []
    problems = []
    for klass in classes:
        if klass.id not in chosen:
            continue
        value = chosen[klass.id]
        period = by_id.get(value)
        if value and period is None:
            problems.append(f"class {klass.name} ({school.name}): field period has an unknown value")
        wanted.append((klass, period))
    if problems:
        raise ValidationError(problems)
    changed = 0
    for klass, period in wanted:
        if (period.id if period else None) != klass.period_id:
            set_class_period(session, klass, period, actor=actor)
            changed += 1
    return changed


# --- preference windows ---------------------------------------------------------------------------------------------


def preference_windows(session: Session) -> list[PreferenceWindow]:
    """Every preference window, the latest opening first."""
    return list(session.scalars(select(PreferenceWindow).order_by(PreferenceWindow.opens_at.desc())))


def create_preference_window(
    session: Session,
    *,
    name: str,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    max_choices: int = 8,
    actor: audit.Actor,
) -> PreferenceWindow:
    """Create a window in which pupils rank offers; times must be timezone-aware and are stored in UTC."""
    values = _window_values(
        f'preference window "{name}"',
        {"name": name, "opens_at": opens_at, "closes_at": closes_at, "max_choices": max_choices},
    )
    window = PreferenceWindow(**values)
    session.add(window)
    session.flush()
    audit.record(
        session,
        actor,
        "preference_window.create",
        "preference_window",
        window.id,
        after={key: audit.plain(value) for key, value in values.items()},
    )
    session.flush()
    logger.info("Preference window %s created by %s", window.id, actor.label)
    return window


def update_preference_window(
    session: Session, window: PreferenceWindow, *, actor: audit.Actor, **fields: Any
) -> PreferenceWindow:
    """Change a window's ``name``, ``opens_at``, ``closes_at`` or ``max_choices``."""
    label = f'preference window "{window.name}" (id {window.id})'
    unknown = sorted(set(fields) - WINDOW_FIELDS)
    if unknown:
        raise ValidationError(f"{label}: cannot change {', '.join(unknown)}")
    merged = {name: fields.get(name, getattr(window, name)) for name in WINDOW_FIELDS}
    values = _window_values(label, merged)
    before, after = audit.changes(window, {name: values[name] for name in fields})
    if after:
        # Moved into the future, the window opens or closes again when its new time comes.
        now = utcnow()
        if window.opens_at > now:
            window.opened_at = None
        if window.closes_at > now:
            window.closed_at = None
        session.flush()
        audit.record(
            session, actor, "preference_window.update", "preference_window", window.id, before=before, after=after
        )
        session.flush()
    return window


def current_window(session: Session, now: dt.datetime | None = None) -> PreferenceWindow | None:
    """The window open at ``now`` (opens_at <= now < closes_at); of several, the one opened last."""
    now = now or utcnow()
    return session.scalars(
        select(PreferenceWindow)
        .where(and_(PreferenceWindow.opens_at <= now, PreferenceWindow.closes_at > now))
        .order_by(PreferenceWindow.opens_at.desc(), PreferenceWindow.id.desc())
        .limit(1)
    ).first()


# --- helpers --------------------------------------------------------------------------------------------------------


def latest_window(session: Session) -> PreferenceWindow | None:
    """The window that closed or opens last: the one the coordinator edits when none is open."""
    return session.scalars(select(PreferenceWindow).order_by(PreferenceWindow.closes_at.desc()).limit(1)).first()


def _period_values(label: str, fields: dict[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    values: dict[str, Any] = {
        "code": validation.text(problems, label, "code", fields["code"], max_length=20),
        "name": validation.text(problems, label, "name", fields["name"], max_length=120),
    }
    for name in ("start_date", "end_date"):
        value = fields[name]
        # A datetime is a date too; a period is whole days.
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            problems.append(f"{label}: {name} must be a date, not {value!r}")
        values[name] = value
    start, end = values["start_date"], values["end_date"]
    if not problems and end < start:
        # Mirrors the ``dates_ordered`` constraint.
        problems.append(f"{label}: end_date {end.isoformat()} is before start_date {start.isoformat()}")
    if problems:
        raise ValidationError(problems)
    return values


def _check_code_free(session: Session, code: str, own_id: int | None) -> None:
    other = session.scalars(select(Period.id).where(Period.code == code)).first()
    if other is not None and other != own_id:
        raise Conflict(f'period "{code}": the code is already used by another period')


def _flush_period(session: Session, period: Period) -> None:
    try:
        with session.begin_nested():
            session.add(period)
            session.flush()
    except IntegrityError as exc:
        if violated_constraint(exc) == "uq_period_code":
            raise Conflict(f'period "{period.code}": the code is already used by another period') from exc
        raise


def _window_values(label: str, fields: dict[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    values: dict[str, Any] = {"name": validation.text(problems, label, "name", fields["name"], max_length=200)}
    for name in ("opens_at", "closes_at"):
        value = fields[name]
        if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
            problems.append(f"{label}: {name} must be a timezone-aware date and time, not {value!r}")
            values[name] = value
        else:
            values[name] = value.astimezone(dt.UTC)
    if not problems and values["closes_at"] <= values["opens_at"]:
        # Mirrors the ``closes_after_opening`` constraint.
        problems.append(f"{label}: closes_at must be after opens_at")
    low, high = MAX_CHOICES_RANGE
    max_choices = fields["max_choices"]
    if isinstance(max_choices, bool) or not isinstance(max_choices, int) or not low <= max_choices <= high:
        problems.append(f"{label}: max_choices must be a whole number {low}..{high}, not {max_choices!r}")
    values["max_choices"] = max_choices
    if problems:
        raise ValidationError(problems)
    return values


def local_today() -> dt.date:
    """Today's date in Sweden, where the placements happen."""
    return utcnow().astimezone(ZoneInfo(mail.DEFAULT_TIMEZONE)).date()


def started(periods: Sequence[Period], today: dt.date | None = None) -> list[Period]:
    """The periods whose first day is today or past: their pupils are at, or have been at, their workplaces."""
    today = today or local_today()
    return [period for period in periods if period.start_date <= today]
