"""Importing a school's cohort (classes and pupils) from CSV or XLSX.

The import works in two phases (:mod:`placement.import_cells`).
First the whole file is read and every row is checked, against the file and
against the database; every problem is collected, and if there is any the
import raises :class:`ImportRejected` listing them all (``row 17, field
"Födelseår": "20x2" is not a year``) and writes nothing.  Only then are all
rows written in the caller's transaction, together or not at all.  With
``dry_run=True`` it stops after the first phase and reports what it would do
(the web preview).

Columns that are not used are reported and their values never stored (GDPR
data minimisation).  A re-import is authoritative for the columns it has and
leaves what the others would have set as it is.

Pupils are minors.  A cohort file naming a personal identity number, as a
column or in any cell, is refused whole, and no message repeats such a
number.  Each import appends one audit event holding counts, never names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement.db import utcnow
from placement.enums import Gender
from placement.errors import ImportRejected
from placement.import_cells import (
    Cells,
    Column,
    ImportReport,
    Invalid,
    column_length,
    integer,
    listed,
    match_columns,
    read,
    shown,
    tags,
    unused,
)
from placement.models import Pupil, School, SchoolClass
from placement.tabular import Row, Table, normalise_header

logger = logging.getLogger(__name__)
#: Pupils whose birth month is not known are counted as born in December:
#: the youngest they can be, the safe side of age rules for minors.
UNKNOWN_BIRTH_MONTH = 12
#: The year a new class is in when its name does not say (e.g. "Blå").
DEFAULT_CLASS_YEAR = 8


COHORT_COLUMNS = (
    Column("first_name", ("Förnamn", "First name", "Firstname", "Given name"), required=True),
    Column("last_name", ("Efternamn", "Last name", "Lastname", "Surname", "Family name"), required=True),
    Column("class", ("Klass", "Class"), required=True),
    Column("gender", ("Kön", "Gender", "Sex")),
    Column("birth_year", ("Födelseår", "Birth year", "Year of birth")),
    Column("birth_month", ("Födelsemånad", "Birth month", "Month of birth")),
    Column("birth_date", ("Födelsedatum", "Date of birth", "Birth date", "Birthdate")),
    Column("external_id", ("Elev-ID", "Pupil ID", "Elevnummer", "Elevnr", "Student ID")),
    Column("attributes", ("Språk", "Languages", "Language", "Attribut", "Attributes")),
)

#: Columns naming a school: ignored, the school the import is for is authoritative, so that a file
#: cannot put pupils into another school.
SCHOOL_HEADERS = frozenset(normalise_header(n) for n in ("Skola", "School", "Skolenhet", "School unit"))

#: Headers that announce personal identity numbers, as whole names or parts of one.
IDENTITY_HEADERS = frozenset(normalise_header(n) for n in ("PNR", "Pers.nr", "SSN"))
IDENTITY_HEADER_PARTS = tuple(
    normalise_header(n)
    for n in (
        "personnummer",
        "personnr",
        "samordningsnummer",
        "personal identity",
        "personal number",
        "civic registration",
        "social security",
    )
)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = int(char) * (2 if position % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


# --- Personal identity numbers -------------------------------------------------------------------------------

_IDENTITY_NUMBER = re.compile(r"(?<!\d)(?:(?:18|19|20)(?P<long>\d{6})|(?P<short>\d{6}))[-+]?(?P<tail>\d{4})(?!\d)")


def _is_identity_number(match: re.Match[str]) -> bool:
    """A date (day + 60 in a coordination number) followed by a Luhn-valid serial."""
    date = match["long"] or match["short"]
    month, day = int(date[2:4]), int(date[4:6])
    return 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91) and _luhn_valid(date + match["tail"])


def _masked(text: str) -> str:
    return shown(re.sub(r"\d", "*", text))


def _identity_number_problems(table: Table) -> list[str]:
    """Every column and cell of the file that holds a personal identity number."""
    problems = [
        f'column "{header}" holds personal identity numbers, which Praktik does not store: '
        "remove the column and import again"
        for header in table.headers
        if _identity_header(header)
    ]
    for row in table.rows:
        for header, value in row.values.items():
            if any(_is_identity_number(m) for m in _IDENTITY_NUMBER.finditer(value)):
                problems.append(
                    f'row {row.number}, field "{header}": {_masked(value)} looks like a personal identity number, '
                    "which Praktik does not store: remove it and import again"
                )
    return problems


# --- Cohorts -------------------------------------------------------------------------------------------------

_GENDER_NAMES = {
    Gender.FEMALE: ("flicka", "kvinna", "tjej", "f", "k", "female", "girl", "woman"),
    Gender.MALE: ("pojke", "man", "kille", "p", "m", "male", "boy"),
    Gender.OTHER: ("annat", "annan", "ickebinär", "x", "other", "non-binary"),
}
_GENDERS = {normalise_header(name): gender for gender, names in _GENDER_NAMES.items() for name in names}
_BIRTH_DATE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?|(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"
)


def _gender(text: str) -> Gender:
    try:
        return _GENDERS[normalise_header(text)]
    except KeyError:
        raise Invalid(f"{shown(text)} is not a gender (Flicka, Pojke, Annat, or leave it empty)") from None


def _birth_years() -> range:
    """Birth years plausible for pupils in years 8 and 9, with room for pupils ahead or behind."""
    this_year = utcnow().year
    return range(this_year - 20, this_year - 10 + 1)


def _birth_year(text: str) -> int:
    year = integer(text, "a year")
    years = _birth_years()
    if year not in years:
        raise Invalid(f"{year} is not a plausible birth year for a pupil (expected {years[0]}-{years[-1]})")
    return year


def _birth_month(text: str) -> int:
    month = integer(text, "a month")
    if not 1 <= month <= 12:
        raise Invalid(f"{month} is not a month (1-12)")
    return month


def _birth_date(text: str) -> tuple[int, int]:
    """(year, month) from "2012-05", "2012-05-17" or "20120517"."""
    match = _BIRTH_DATE.fullmatch(text)
    if match is None:
        raise Invalid(f"{shown(text)} is not a date (YYYY-MM or YYYY-MM-DD)")
    year, month, day = match["year"] or match["y"], match["month"] or match["m"], match["day"] or match["d"]
    try:
        dt.date(int(year), int(month), int(day or 1))
    except ValueError:
        raise Invalid(f"{shown(text)} is not a date") from None
    return _birth_year(year), int(month)


def _class_year(name: str) -> int | None:
    """The school year a class name starts with ("8B" is in year 8), if it is 7-10 (school_class.year_range)."""
    match = re.match(r"\d+", name)
    year = int(match[0]) if match else None
    return year if year is not None and 7 <= year <= 10 else None


@dataclasses.dataclass(frozen=True)
class _PupilRow:
    number: int
    first_name: str
    last_name: str
    class_name: str
    external_id: str | None
    birth_year: int
    birth_month: int | None
    gender: Gender | None
    attributes: list[str]

    @property
    def class_key(self) -> str:
        return self.class_name.casefold()

    @property
    def key(self) -> tuple[str, str, str, int]:
        """Who the pupil is when there is no pupil ID."""
        return _pupil_key(self.first_name, self.last_name, self.class_key, self.birth_year)


def _pupil_key(first_name: str, last_name: str, class_key: str, birth_year: int) -> tuple[str, str, str, int]:
    return (first_name.casefold(), last_name.casefold(), class_key, birth_year)


_NAME_LENGTH = column_length(Pupil.first_name)
_SURNAME_LENGTH = column_length(Pupil.last_name)
_CLASS_LENGTH = column_length(SchoolClass.name)
_PUPIL_ID_LENGTH = column_length(Pupil.external_id)


def _pupil_row(row: Row, headers: dict[str, str], problems: list[str]) -> _PupilRow | None:
    cells = Cells(row, headers, problems)
    first_name = cells.text("first_name", required=True, max_length=_NAME_LENGTH)
    last_name = cells.text("last_name", required=True, max_length=_SURNAME_LENGTH)
    class_name = " ".join(cells.text("class", required=True, max_length=_CLASS_LENGTH).split())
    external_id = cells.text("external_id", max_length=_PUPIL_ID_LENGTH) or None
    birth_year: int | None
    birth_month: int | None
    if "birth_date" in headers:
        birth_year, birth_month = cells.parse("birth_date", _birth_date, required=True) or (None, None)
    else:
        birth_year = cells.parse("birth_year", _birth_year, required=True)
        birth_month = cells.parse("birth_month", _birth_month)
    gender = cells.parse("gender", _gender)
    attributes = tags(cells.text("attributes"))
    if not cells.ok:
        return None
    assert birth_year is not None
    return _PupilRow(
        row.number, first_name, last_name, class_name, external_id, birth_year, birth_month, gender, attributes
    )


def _birth_column_problems(headers: dict[str, str]) -> list[str]:
    year, month, date = (headers.get(field) for field in ("birth_year", "birth_month", "birth_date"))
    if date is not None and (year or month):
        return [f'give the birth date in "{date}" or in "{year or month}", not both']
    if date is None and year is None:
        return ['the column "Födelseår" or "Birth year" is missing (or give a date of birth in "Födelsedatum")']
    return []


def _without_duplicates(rows: list[_PupilRow], headers: dict[str, str], problems: list[str]) -> list[_PupilRow]:
    """The rows less those repeating an earlier pupil of the file, which are reported."""
    first_rows: dict[object, int] = {}
    kept: list[_PupilRow] = []
    for row in rows:
        key: object = ("id", row.external_id) if row.external_id else row.key
        first = first_rows.setdefault(key, row.number)
        if first == row.number:
            kept.append(row)
        elif row.external_id:
            problems.append(
                f'rows {first} and {row.number}: the same pupil twice (the same "{headers["external_id"]}")'
            )
        else:
            problems.append(
                f"rows {first} and {row.number}: the same pupil twice (the same name, class and birth year)"
            )
    return kept


@dataclasses.dataclass(frozen=True)
class _PupilPlan:
    row: _PupilRow
    #: The school's pupil the row updates, or None for a new pupil.
    pupil: Pupil | None


def _match_pupils(
    rows: list[_PupilRow], existing: Iterable[Pupil], class_keys: dict[int, str], problems: list[str]
) -> list[_PupilPlan]:
    """Pair each row with the school's pupil it describes, if any.

    A row is matched by its pupil ID; failing that, by name, class and birth
    year among the school's pupils that have no ID yet (so a file with IDs
    adopts pupils imported without them).
    """
    by_id: dict[str, Pupil] = {}
    by_key: defaultdict[tuple[str, str, str, int], list[Pupil]] = defaultdict(list)
    for pupil in existing:
        if pupil.external_id:
            by_id[pupil.external_id] = pupil
        else:
            key = _pupil_key(pupil.first_name, pupil.last_name, class_keys.get(pupil.class_id, ""), pupil.birth_year)
            by_key[key].append(pupil)
    claimed: dict[int, int] = {}
    plans: list[_PupilPlan] = []
    for row in rows:
        match = by_id.get(row.external_id) if row.external_id else None
        if match is None:
            candidates = by_key.get(row.key, [])
            if len(candidates) > 1:
                problems.append(
                    f"row {row.number}: {len(candidates)} pupils of the school have this name, class and birth year "
                    "and no pupil ID; give pupil IDs to tell them apart"
                )
                continue
            match = candidates[0] if candidates else None
        if match is not None:
            if match.id in claimed:
                problems.append(f"rows {claimed[match.id]} and {row.number}: the same pupil of the school twice")
                continue
            claimed[match.id] = row.number
        plans.append(_PupilPlan(row, match))
    return plans


def _pupil_fields(row: _PupilRow, present: set[str]) -> dict[str, Any]:
    """The pupil's fields the file gives: the columns it has decide what changes."""
    fields: dict[str, Any] = {"first_name": row.first_name, "last_name": row.last_name, "birth_year": row.birth_year}
    if present & {"birth_month", "birth_date"}:
        fields["birth_month"] = row.birth_month or UNKNOWN_BIRTH_MONTH
    if "gender" in present:
        fields["gender"] = row.gender
    if "attributes" in present:
        fields["attributes"] = row.attributes
    if row.external_id:
        fields["external_id"] = row.external_id
    return fields


_NEW_PUPIL: dict[str, Any] = {"birth_month": UNKNOWN_BIRTH_MONTH, "gender": None, "attributes": [], "external_id": None}


def import_cohort(
    session: Session,
    school: School,
    data: bytes,
    filename: str,
    *,
    actor: audit.Actor,
    dry_run: bool = False,
) -> ImportReport:
    """Import classes and pupils of ``school`` from a CSV or XLSX file: every row, or none.

    Every pupil goes to ``school``; a "Skola" column is ignored.  Classes are
    found by name in the school (any case) or created.  A pupil already in
    the school (see :func:`_match_pupils`) is updated, any other created.
    Raises :class:`ImportRejected` listing every problem, writing nothing.
    """
    table = read(data, filename)
    school_headers = [h for h in table.headers if normalise_header(h) in SCHOOL_HEADERS]
    columns = match_columns(
        table, COHORT_COLUMNS, set_aside=lambda header: header in school_headers or _identity_header(header)
    )
    identity_problems = _identity_number_problems(table)
    if identity_problems:
        raise ImportRejected(listed(identity_problems))
    problems = columns.problems + _birth_column_problems(columns.headers)
    if problems:
        raise ImportRejected(problems)

    warnings = [unused(header) for header in columns.unknown]
    warnings += [
        f'column "{header}" was ignored: every pupil was imported into {school.name}' for header in school_headers
    ]
    rows = [parsed for row in table.rows if (parsed := _pupil_row(row, columns.headers, problems))]
    rows = _without_duplicates(rows, columns.headers, problems)
    classes = {
        c.name.casefold(): c for c in session.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id))
    }
    class_keys = {c.id: key for key, c in classes.items()}
    existing = session.scalars(select(Pupil).where(Pupil.school_id == school.id))
    plans = _match_pupils(rows, existing, class_keys, problems)
    if problems:
        raise ImportRejected(listed(problems))

    new_classes: dict[str, SchoolClass] = {}
    for plan in plans:
        if plan.row.class_key not in classes and plan.row.class_key not in new_classes:
            year = _class_year(plan.row.class_name)
            if year is None:
                warnings.append(
                    f'class "{plan.row.class_name}" was created as year {DEFAULT_CLASS_YEAR}: its name gives no year'
                )
            new_classes[plan.row.class_key] = SchoolClass(
                school_id=school.id, name=plan.row.class_name, year=year or DEFAULT_CLASS_YEAR
            )
    present = set(columns.headers)
    given_months = bool(present & {"birth_month", "birth_date"})
    unknown_months = sum(1 for p in plans if p.row.birth_month is None and (p.pupil is None or given_months))
    if unknown_months:
        warnings.append(
            f"{unknown_months} pupils have no birth month: age rules count them as born in December, "
            "the youngest they can be"
        )
    if not dry_run:
        session.add_all(new_classes.values())
        session.flush()

    report = ImportReport(rows=len(table.rows), dry_run=dry_run, warnings=warnings)
    class_ids = {key: c.id for key, c in (classes | new_classes).items()}
    for plan in plans:
        fields = _pupil_fields(plan.row, present)
        class_id = class_ids[plan.row.class_key]
        if plan.pupil is None:
            report.created["pupils"] += 1
            if not dry_run:
                session.add(Pupil(school_id=school.id, class_id=class_id, **(_NEW_PUPIL | fields)))
            continue
        changes = {name: value for name, value in fields.items() if getattr(plan.pupil, name) != value}
        if class_keys.get(plan.pupil.class_id) != plan.row.class_key:
            changes["class_id"] = class_id
        if changes:
            report.updated["pupils"] += 1
            if not dry_run:
                for name, value in changes.items():
                    setattr(plan.pupil, name, value)
        else:
            report.unchanged["pupils"] += 1
    report.created["classes"] = len(new_classes)

    if not dry_run:
        session.flush()
        counts = {
            "rows": report.rows,
            "pupils_created": report.created["pupils"],
            "pupils_updated": report.updated["pupils"],
            "pupils_unchanged": report.unchanged["pupils"],
            "classes_created": report.created["classes"],
        }
        audit.record(session, actor, "import.cohort", "school", school.id, after={"format": table.format, **counts})
        logger.info("Cohort of school %s imported by %s: %s", school.id, actor.label, counts)
    return report


def _identity_header(header: str) -> bool:
    key = normalise_header(header)
    return key in IDENTITY_HEADERS or any(part in key for part in IDENTITY_HEADER_PARTS)
