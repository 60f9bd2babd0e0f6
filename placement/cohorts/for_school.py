"""What school staff (study and career counsellors, teachers) may see and do with their own schools' pupils.

Every function takes the staff user and finds only pupils of the user's
schools (:mod:`placement.organisation.for_school`).  Anything else is
:class:`NotFound`, never a permission error, so that ids cannot be probed:
another school's pupils are not even shown to exist.  The views call the
domain's operations (the cohort import, ``login_codes``,
:mod:`placement.cohorts.self_arranged`) with the records found here; this
module adds the pupils' status and the choices made on a pupil's behalf.

A pupil's status, as the school follows it:

* ``self_arranged``: the pupil found a placement (``Pupil.self_arranged_offer``);
* ``confirmed``, ``placed``: a placement in force from a published round, answered
  by the employer or not yet;
* ``declined``: the employer declined and no other placement is in force yet;
* ``choices``, ``no_choices``: before placement, whether the pupil ranked anything.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from placement import audit
from placement.cohorts import login_codes, preferences
from placement.collation import swedish_key
from placement.employers import offers
from placement.enums import (
    ACTIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    RoundStatus,
)
from placement.errors import Conflict, NotFound, ValidationError
from placement.models import (
    AllocationRound,
    Assignment,
    Offer,
    Preference,
    Pupil,
    School,
    SchoolClass,
    User,
)
from placement.organisation import season
from placement.organisation.for_school import class_for, school_ids, schools_of

logger = logging.getLogger(__name__)


class PupilStatus(enum.StrEnum):
    NO_CHOICES = "no_choices"
    CHOICES = "choices"
    PLACED = "placed"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    SELF_ARRANGED = "self_arranged"


#: The statuses in the order the pages list them.
STATUSES = tuple(PupilStatus)

#: Rounds whose placements the school sees: published ones, and closed ones.
_VISIBLE_ROUNDS = (RoundStatus.PUBLISHED, RoundStatus.CLOSED)


# --- scoping --------------------------------------------------------------------------------------------------------


def pupil_for(session: Session, user: User, pupil_id: int) -> Pupil:
    """A pupil of one of the user's schools, or NotFound."""
    pupil = session.get(Pupil, pupil_id)
    if pupil is None or pupil.school_id not in school_ids(session, user):
        raise NotFound(f"pupil {pupil_id}: not found")
    return pupil


# --- status ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PupilLine:
    """A pupil as the school follows them: status, number of choices, placement, whether a code is in force."""

    pupil: Pupil
    status: PupilStatus
    choices: int
    #: The placement in force (or the declined one), from a published round.
    assignment: Assignment | None
    has_code: bool

    @property
    def offer(self) -> Offer | None:
        if self.status is PupilStatus.SELF_ARRANGED:
            return self.pupil.self_arranged_offer
        return self.assignment.offer if self.assignment is not None else None


def pupil_lines(session: Session, pupils: Sequence[Pupil]) -> list[PupilLine]:
    """Each pupil's status, in the order given."""
    ids = [p.id for p in pupils]
    if not ids:
        return []
    choices: dict[int, int] = dict(
        session.execute(
            select(Preference.pupil_id, func.count(Preference.id))
            .where(Preference.pupil_id.in_(ids))
            .group_by(Preference.pupil_id)
        ).all()
    )
    in_force: dict[int, Assignment] = {}
    declined: dict[int, Assignment] = {}
    for row in session.scalars(
        select(Assignment)
        .join(AllocationRound, Assignment.round_id == AllocationRound.id)
        .where(
            Assignment.pupil_id.in_(ids),
            AllocationRound.status.in_(_VISIBLE_ROUNDS),
            Assignment.status.in_((*ACTIVE_ASSIGNMENT_STATUSES, AssignmentStatus.DECLINED)),
        )
        .options(
            selectinload(Assignment.offer).selectinload(Offer.employer),
            selectinload(Assignment.offer).selectinload(Offer.workplace),
            selectinload(Assignment.period),
        )
        .order_by(Assignment.id)
    ):
        target = declined if row.status is AssignmentStatus.DECLINED else in_force
        target[row.pupil_id] = row  # the latest wins
    coded = login_codes.has_code(session, ids)
    lines = []
    for pupil in pupils:
        held = in_force.get(pupil.id)
        count = choices.get(pupil.id, 0)
        assignment: Assignment | None = held
        if pupil.self_arranged_offer_id is not None and (held is None or held.offer_id == pupil.self_arranged_offer_id):
            status = PupilStatus.SELF_ARRANGED
        elif held is not None:
            status = PupilStatus.CONFIRMED if held.status is AssignmentStatus.CONFIRMED else PupilStatus.PLACED
        elif pupil.id in declined:
            status, assignment = PupilStatus.DECLINED, declined[pupil.id]
        else:
            status = PupilStatus.CHOICES if count else PupilStatus.NO_CHOICES
        lines.append(PupilLine(pupil, status, count, assignment, pupil.id in coded))
    return lines


def pupils_of(session: Session, *, school_ids: Iterable[int] = (), class_id: int | None = None) -> list[Pupil]:
    statement = (
        select(Pupil)
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .options(
            selectinload(Pupil.school_class).selectinload(SchoolClass.period),
            selectinload(Pupil.school),
            selectinload(Pupil.self_arranged_offer).selectinload(Offer.employer),
            selectinload(Pupil.self_arranged_offer).selectinload(Offer.workplace),
        )
    )
    if class_id is not None:
        statement = statement.where(Pupil.class_id == class_id)
    else:
        statement = statement.where(Pupil.school_id.in_(list(school_ids)))
    pupils = list(session.scalars(statement))
    return sorted(
        pupils,
        key=lambda p: (
            swedish_key(p.school.name),
            swedish_key(p.school_class.name),
            swedish_key(p.last_name),
            swedish_key(p.first_name),
            p.id,
        ),
    )


@dataclasses.dataclass(frozen=True)
class ClassSummary:
    """A class with its period and how many of its pupils are in each status."""

    school_class: SchoolClass
    pupils: int
    with_choices: int
    by_status: Counter[PupilStatus]

    def count(self, status: str) -> int:
        return self.by_status[PupilStatus(status)]


@dataclasses.dataclass(frozen=True)
class SchoolSummary:
    school: School
    classes: list[ClassSummary]


def school_summaries(session: Session, user: User) -> list[SchoolSummary]:
    """The user's schools, each with its classes (by name) and their counts."""
    summaries = []
    for school in schools_of(session, user):
        lines = pupil_lines(session, pupils_of(session, school_ids=[school.id]))
        by_class: defaultdict[int, list[PupilLine]] = defaultdict(list)
        for line in lines:
            by_class[line.pupil.class_id].append(line)
        classes = sorted(
            session.scalars(
                select(SchoolClass).where(SchoolClass.school_id == school.id).options(selectinload(SchoolClass.period))
            ),
            key=lambda c: (swedish_key(c.name), c.id),
        )
        summaries.append(
            SchoolSummary(
                school,
                [
                    ClassSummary(
                        klass,
                        pupils=len(by_class[klass.id]),
                        with_choices=sum(1 for line in by_class[klass.id] if line.choices),
                        by_status=Counter(line.status for line in by_class[klass.id]),
                    )
                    for klass in classes
                ],
            )
        )
    return summaries


def class_lines(session: Session, user: User, class_id: int, *, status: PupilStatus | None = None) -> list[PupilLine]:
    """The pupils of one of the user's classes with their status, optionally only those in ``status``."""
    klass = class_for(session, user, class_id)
    lines = pupil_lines(session, pupils_of(session, class_id=klass.id))
    return [line for line in lines if status is None or line.status is status]


def pupil_line(session: Session, user: User, pupil_id: int) -> PupilLine:
    return pupil_lines(session, [pupil_for(session, user, pupil_id)])[0]


# --- classes and cohort ---------------------------------------------------------------------------------------------


# --- preferences on the pupil's behalf ------------------------------------------------------------------------------


def ranking(session: Session, user: User, pupil_id: int) -> list[Preference]:
    return preferences.preferences_of(session, pupil_for(session, user, pupil_id))


def eligible_offers(session: Session, pupil: Pupil) -> list[Offer]:
    """The offers the pupil could rank: visible, open to the school, with places in the class's period, suitable."""
    period = pupil.school_class.period
    if period is None:
        return []
    declined = preferences.declined_offers(session, pupil)
    return [
        offer
        for offer in offers.visible_offers(session, period=period, school=pupil.school)
        if preferences.ineligibility(pupil, offer, period, declined=declined) is None
    ]


def reordered(codes: Sequence[str], operation: str, code: str) -> list[str]:
    """The ranking ``codes`` after moving ``code`` ``up`` or ``down`` one place, or ``remove``-ing it."""
    result = list(codes)
    if code not in result:
        raise ValidationError(f"offer {code} is not among the pupil's choices")
    index = result.index(code)
    if operation == "remove":
        del result[index]
    elif operation == "up" and index > 0:
        result[index - 1], result[index] = result[index], result[index - 1]
    elif operation == "down" and index < len(result) - 1:
        result[index + 1], result[index] = result[index], result[index + 1]
    elif operation not in ("up", "down"):
        raise ValidationError(f"unknown change {operation!r} of the ranking")
    return result


def save_preferences(
    session: Session, user: User, pupil_id: int, codes: Sequence[str], *, actor: audit.Actor
) -> list[Preference]:
    """Replace the pupil's ranking on the pupil's behalf (while the preference window is open); audited."""
    pupil = pupil_for(session, user, pupil_id)
    window = season.current_window(session)
    if window is None:
        raise Conflict(f"pupil {pupil.id}: the preference window is not open, choices cannot be changed now")
    return preferences.set_preferences(session, pupil, list(codes), window=window, actor=actor)


# --- self-arranged placements ---------------------------------------------------------------------------------------


# --- login codes ----------------------------------------------------------------------------------------------------


def issue_codes(
    session: Session, user: User, class_id: int, *, only_missing: bool, actor: audit.Actor
) -> list[login_codes.IssuedCode]:
    """New login codes for the class's pupils (or only those without one), by name; plain text only here."""
    lines = class_lines(session, user, class_id)
    return [
        login_codes.issue(session, line.pupil, actor=actor) for line in lines if not (only_missing and line.has_code)
    ]


# --- the school's status export -------------------------------------------------------------------------------------
