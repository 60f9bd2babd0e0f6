"""What school staff (study and career counsellors, teachers) do for their own school's pupils.

Every function takes the staff user and first checks that the school, class
or pupil belongs to one of the user's schools (``SchoolMembership``).  Anything
else is :class:`NotFound`, never a permission error, so that ids cannot be
probed: another school's pupils are not even shown to exist.  The real work
is done by the services this module calls: the cohort import,
``season.set_class_period``, ``preferences.set_preferences`` and
``login_codes``; this module adds the scoping, the pupils' status and the
school's status export.

A pupil's status, as the school follows it:

* ``self_arranged``: the pupil found a placement (``Pupil.self_arranged_offer``);
* ``confirmed``, ``placed``: a placement in force from a published round, answered
  by the employer or not yet;
* ``declined``: the employer declined and no other placement is in force yet;
* ``choices``, ``no_choices``: before placement, whether the pupil ranked anything.

Uploaded cohort files wait between preview and confirmation in the upload
store (:mod:`placement.uploads`): under a random token, with the
user and school they belong to, for at most an hour.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from placement import audit, import_cells, validation
from placement.cohorts import imports as cohort_import
from placement.cohorts import login_codes, preferences
from placement.db import utcnow
from placement.employers import offers
from placement.employers import registry as employers
from placement.enums import (
    ACTIVE_ASSIGNMENT_STATUSES,
    AssignmentStatus,
    EmployerStatus,
    OfferKind,
    OfferStatus,
    RoundStatus,
    Sector,
)
from placement.errors import Conflict, NotFound, ValidationError
from placement.models import (
    AllocationRound,
    Assignment,
    Employer,
    Offer,
    OfferCapacity,
    Period,
    Preference,
    PreferenceWindow,
    Pupil,
    School,
    SchoolClass,
    SchoolMembership,
    User,
)
from placement.organisation import season
from placement.reports import exports
from placement.rounds.setup import student_id

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


def schools_of(session: Session, user: User) -> list[School]:
    """The schools the user is staff of, by name."""
    return list(
        session.scalars(
            select(School)
            .join(SchoolMembership, SchoolMembership.school_id == School.id)
            .where(SchoolMembership.user_id == user.id)
            .order_by(School.name, School.id)
        )
    )


def _school_ids(session: Session, user: User) -> set[int]:
    return set(session.scalars(select(SchoolMembership.school_id).where(SchoolMembership.user_id == user.id)))


def school_for(session: Session, user: User, school_id: int) -> School:
    """One of the user's schools, or NotFound."""
    school = session.get(School, school_id) if school_id in _school_ids(session, user) else None
    if school is None:
        raise NotFound(f"school {school_id}: not found")
    return school


def class_for(session: Session, user: User, class_id: int) -> SchoolClass:
    """A class of one of the user's schools, or NotFound."""
    klass = session.get(SchoolClass, class_id)
    if klass is None or klass.school_id not in _school_ids(session, user):
        raise NotFound(f"class {class_id}: not found")
    return klass


def pupil_for(session: Session, user: User, pupil_id: int) -> Pupil:
    """A pupil of one of the user's schools, or NotFound."""
    pupil = session.get(Pupil, pupil_id)
    if pupil is None or pupil.school_id not in _school_ids(session, user):
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


def _pupils_of(session: Session, *, school_ids: Iterable[int] = (), class_id: int | None = None) -> list[Pupil]:
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
            exports.swedish_key(p.school.name),
            exports.swedish_key(p.school_class.name),
            exports.swedish_key(p.last_name),
            exports.swedish_key(p.first_name),
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
        lines = pupil_lines(session, _pupils_of(session, school_ids=[school.id]))
        by_class: defaultdict[int, list[PupilLine]] = defaultdict(list)
        for line in lines:
            by_class[line.pupil.class_id].append(line)
        classes = sorted(
            session.scalars(
                select(SchoolClass).where(SchoolClass.school_id == school.id).options(selectinload(SchoolClass.period))
            ),
            key=lambda c: (exports.swedish_key(c.name), c.id),
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
    lines = pupil_lines(session, _pupils_of(session, class_id=klass.id))
    return [line for line in lines if status is None or line.status is status]


def pupil_line(session: Session, user: User, pupil_id: int) -> PupilLine:
    return pupil_lines(session, [pupil_for(session, user, pupil_id)])[0]


# --- classes and cohort ---------------------------------------------------------------------------------------------


def set_class_period(
    session: Session, user: User, class_id: int, period_id: int | None, *, actor: audit.Actor
) -> SchoolClass:
    """Set the period of one of the user's classes (None: not decided yet); see ``season.set_class_period``."""
    klass = class_for(session, user, class_id)
    period = None
    if period_id is not None:
        period = session.get(Period, period_id)
        if period is None:
            raise ValidationError(f"class {klass.name}: period {period_id} does not exist")
    return season.set_class_period(session, klass, period, actor=actor)


def import_cohort(
    session: Session,
    user: User,
    school_id: int,
    data: bytes,
    filename: str,
    *,
    actor: audit.Actor,
    dry_run: bool,
) -> import_cells.ImportReport:
    """The cohort import for one of the user's schools (all rows or none; ``dry_run`` writes nothing)."""
    school = school_for(session, user, school_id)
    return cohort_import.import_cohort(session, school, data, filename, actor=actor, dry_run=dry_run)


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


def open_window(session: Session) -> PreferenceWindow | None:
    return season.current_window(session)


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


@dataclasses.dataclass(frozen=True)
class SelfArranged:
    """What a school enters about a placement a pupil found themselves."""

    employer_name: str
    org_number: str
    address: str
    title: str
    sector: Sector
    supervisor_name: str
    supervisor_phone: str | None = None
    supervisor_email: str | None = None
    #: The school has checked that the employer made a risk assessment for minors (AFS 2012:3).
    risk_assessed: bool = False


def register_self_arranged(
    session: Session, user: User, pupil_id: int, entry: SelfArranged, *, actor: audit.Actor
) -> Offer:
    """Record a placement the pupil arranged: a one-place SELF_ARRANGED offer in the class's period.

    The employer is found by organisation number, or registered (pending the
    coordinator's review, like every new employer); its workplace is found by
    address or added (located later by the geocoder).  The pupil is then
    locked to the offer in every round.  Raises ValidationError listing every
    bad field, Conflict when the pupil already has a placement.
    """
    pupil = pupil_for(session, user, pupil_id)
    label = f"pupil {pupil.id}: self-arranged placement"
    problems: list[str] = []
    name = validation.text(problems, label, "employer name", entry.employer_name, max_length=200)
    address = validation.text(problems, label, "address", entry.address, max_length=300)
    title = validation.text(problems, label, "title", entry.title, max_length=200)
    supervisor = validation.text(problems, label, "supervisor", entry.supervisor_name, max_length=200)
    phone = validation.optional_text(problems, label, "supervisor phone", entry.supervisor_phone, max_length=40)
    email = validation.optional_email(problems, label, "supervisor e-mail", entry.supervisor_email)
    if phone is None and email is None:
        problems.append(f"{label}: give the supervisor's phone or e-mail")
    org_number = ""
    try:
        org_number = employers.normalise_org_number(entry.org_number)
    except ValidationError as exc:
        problems += [f"{label}: {problem}" for problem in exc.problems]
    if not entry.risk_assessed:
        problems.append(f"{label}: confirm that the employer has made a risk assessment for minors")
    period = pupil.school_class.period
    if period is None:
        problems.append(f"{label}: class {pupil.school_class.name} has no placement period yet")
    if problems:
        raise ValidationError(problems)
    assert period is not None
    if pupil.self_arranged_offer_id is not None:
        raise Conflict(f"{label}: the pupil already has one; remove it first")
    in_force = session.scalar(
        select(func.count(Assignment.id)).where(
            Assignment.pupil_id == pupil.id, Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES)
        )
    )
    if in_force:
        raise Conflict(f"{label}: the pupil holds a placement from a round; the coordinator must withdraw it first")

    employer = session.scalars(select(Employer).where(Employer.org_number == org_number)).first()
    if employer is None:
        employer = employers.add_with_code(
            session,
            lambda code: _new_employer(session, code, name, org_number, pupil.school.municipality_id),
            column=Employer.code,
            prefix="E",
            width=4,
            constraint="uq_employer_code",
        )
        audit.record(
            session, actor, "employer.create", "employer", employer.id, after={"code": employer.code, "via": "school"}
        )
    elif employer.status is EmployerStatus.REJECTED:
        raise Conflict(f"{label}: employer {employer.code} was rejected by the coordinator")
    workplace = next(
        (w for w in employer.workplaces if w.address.casefold() == address.casefold()), None
    ) or employers.add_workplace(session, employer, name=name, address=address, actor=actor)
    now = utcnow()

    def build(code: str) -> Offer:
        offer = Offer(
            code=code,
            employer=employer,
            workplace=workplace,
            kind=OfferKind.SELF_ARRANGED,
            status=OfferStatus.ACTIVE,
            title=title,
            description="",
            sector=entry.sector,
            supervisor_name=supervisor,
            supervisor_phone=phone,
            supervisor_email=email,
            risk_assessment_confirmed_at=now,
            risk_assessment_confirmed_by_id=user.id,
        )
        offer.capacities.append(OfferCapacity(period=period, places=1))
        session.add(offer)
        return offer

    offer = employers.add_with_code(session, build, column=Offer.code, prefix="O", width=5, constraint="uq_offer_code")
    pupil.self_arranged_offer_id = offer.id
    session.flush()
    audit.record(
        session,
        actor,
        "pupil.self_arranged.set",
        "pupil",
        pupil.id,
        after={"offer": offer.code, "employer": employer.code, "period": period.code},
    )
    logger.info("Self-arranged placement %s registered for pupil %s by %s", offer.code, pupil.id, actor.label)
    return offer


def _new_employer(session: Session, code: str, name: str, org_number: str, municipality_id: int) -> Employer:
    employer = Employer(code=code, name=name, org_number=org_number, municipality_id=municipality_id)
    session.add(employer)
    return employer


def remove_self_arranged(session: Session, user: User, pupil_id: int, *, actor: audit.Actor) -> None:
    """Undo a self-arranged placement: the offer is withdrawn and the pupil takes part in rounds again."""
    pupil = pupil_for(session, user, pupil_id)
    offer = pupil.self_arranged_offer
    if offer is None:
        raise Conflict(f"pupil {pupil.id}: has no self-arranged placement")
    held = session.scalar(
        select(func.count(Assignment.id)).where(
            Assignment.offer_id == offer.id, Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES)
        )
    )
    if held:
        raise Conflict(
            f"pupil {pupil.id}: a round has placed the pupil at {offer.code}; the coordinator must withdraw it first"
        )
    pupil.self_arranged_offer_id = None
    offer.status = OfferStatus.WITHDRAWN
    session.flush()
    audit.record(session, actor, "pupil.self_arranged.remove", "pupil", pupil.id, before={"offer": offer.code})


# --- login codes ----------------------------------------------------------------------------------------------------


def issue_codes(
    session: Session, user: User, class_id: int, *, only_missing: bool, actor: audit.Actor
) -> list[login_codes.IssuedCode]:
    """New login codes for the class's pupils (or only those without one), by name; plain text only here."""
    lines = class_lines(session, user, class_id)
    return [
        login_codes.issue(session, line.pupil, actor=actor) for line in lines if not (only_missing and line.has_code)
    ]


def issue_code(session: Session, user: User, pupil_id: int, *, actor: audit.Actor) -> login_codes.IssuedCode:
    return login_codes.issue(session, pupil_for(session, user, pupil_id), actor=actor)


def revoke_code(session: Session, user: User, pupil_id: int, *, actor: audit.Actor) -> None:
    login_codes.revoke(session, pupil_for(session, user, pupil_id), actor=actor)


# --- the school's status export -------------------------------------------------------------------------------------

STATUS_LABELS = {
    "sv": {
        PupilStatus.NO_CHOICES: "inga val ännu",
        PupilStatus.CHOICES: "har rangordnat val",
        PupilStatus.PLACED: "placerad, inväntar svar",
        PupilStatus.CONFIRMED: "bekräftad",
        PupilStatus.DECLINED: "avböjd av arbetsgivaren",
        PupilStatus.SELF_ARRANGED: "egen praoplats",
    },
    "en": {
        PupilStatus.NO_CHOICES: "no choices yet",
        PupilStatus.CHOICES: "choices ranked",
        PupilStatus.PLACED: "placed, awaiting answer",
        PupilStatus.CONFIRMED: "confirmed",
        PupilStatus.DECLINED: "declined by the employer",
        PupilStatus.SELF_ARRANGED: "self-arranged placement",
    },
}

#: (field, Swedish header, English header)
STATUS_COLUMNS = (
    ("school", "Skola", "School"),
    ("class_name", "Klass", "Class"),
    ("last_name", "Efternamn", "Last name"),
    ("first_name", "Förnamn", "First name"),
    ("pupil_code", "Elevkod", "Pupil code"),
    ("status", "Status", "Status"),
    ("choices", "Antal val", "Choices"),
    ("employer", "Arbetsgivare", "Employer"),
    ("offer_code", "Erbjudande", "Offer code"),
    ("offer_title", "Titel", "Title"),
    ("period", "Period", "Period"),
    ("start", "Från", "From"),
    ("end", "Till", "To"),
)


@dataclasses.dataclass(frozen=True)
class StatusRow:
    school: str
    class_name: str
    last_name: str
    first_name: str
    pupil_code: str
    status: str
    choices: int
    employer: str
    offer_code: str
    offer_title: str
    period: str
    start: dt.date | None
    end: dt.date | None

    def cells(self) -> list[object]:
        return [getattr(self, field) for field, _sv, _en in STATUS_COLUMNS]


def status_rows(session: Session, user: User, lang: str, *, school_id: int | None = None) -> list[StatusRow]:
    """Every pupil of the user's schools (or of one of them) with status and placement, by school, class and name."""
    school_ids = [school_for(session, user, school_id).id] if school_id is not None else _school_ids(session, user)
    labels = STATUS_LABELS[exports.language(lang)]
    rows = []
    for line in pupil_lines(session, _pupils_of(session, school_ids=school_ids)):
        pupil, offer = line.pupil, line.offer
        period = line.assignment.period if line.assignment is not None else pupil.school_class.period
        placed = offer is not None
        rows.append(
            StatusRow(
                school=pupil.school.name,
                class_name=pupil.school_class.name,
                last_name=pupil.last_name,
                first_name=pupil.first_name,
                pupil_code=student_id(pupil.id),
                status=labels[line.status],
                choices=line.choices,
                employer=offer.employer.name if offer is not None else "",
                offer_code=offer.code if offer is not None else "",
                offer_title=offer.title if offer is not None else "",
                period=period.code if placed and period is not None else "",
                start=period.start_date if placed and period is not None else None,
                end=period.end_date if placed and period is not None else None,
            )
        )
    return rows


def status_headers(lang: str) -> list[str]:
    english = exports.language(lang) == "en"
    return [en if english else sv for _field, sv, en in STATUS_COLUMNS]


def status_csv(rows: Sequence[StatusRow], lang: str) -> bytes:
    """The pupils' status as CSV, written as every export is (:func:`exports.table_csv`)."""
    return exports.table_csv(status_headers(lang), (row.cells() for row in rows))


def status_xlsx(rows: Sequence[StatusRow], lang: str) -> bytes:
    """The pupils' status as XLSX, written as every export is (:func:`exports.table_xlsx`)."""
    title = "Elever" if exports.language(lang) == "sv" else "Pupils"
    return exports.table_xlsx(title, status_headers(lang), (row.cells() for row in rows))


def export_filename(fmt: str, school: School | None) -> str:
    scope = f"-{re.sub(r'[^A-Za-z0-9_-]+', '-', school.code)[:40]}" if school is not None else ""
    return f"praktik-pupils{scope}-{utcnow():%Y%m%d}.{fmt}"
