"""Importing a school's cohort, and employers with their workplaces and offers, from CSV or XLSX.

Both imports work in two phases.  First the whole file is read and every row
is checked, against the file and against the database; every problem is
collected, and if there is any the import raises :class:`ImportRejected`
listing them all (``row 17, field "Födelseår": "20x2" is not a year``, the
field named by the header as written in the file) and writes nothing.  Only
then are all rows written in the caller's transaction: the service flushes,
the caller commits, so the rows arrive together or not at all.  With
``dry_run=True`` the import stops after the first phase and reports what it
would do (the web preview).

Headers are matched in Swedish or English, whatever their case, accents or
punctuation (:func:`placement.tabular.normalise_header`).  Columns that are
not used are reported and their values never stored (GDPR data
minimisation).  A re-import is authoritative for the columns it has and leaves
what the others would have set as it is.

Pupils are minors.  A cohort file naming a personal identity number, as a
column or in any cell, is refused whole, and no message repeats such a
number.  Each import appends one audit event holding counts, never
names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import String, select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from placement import validation
from placement.db import utcnow
from placement.enums import EmployerStatus, Gender, GeoStatus, Sector
from placement.errors import ImportRejected, ValidationError
from placement.geo import SWEDEN, normalise_address
from placement.models import Employer, Municipality, Offer, OfferCapacity, Period, Pupil, School, SchoolClass, Workplace
from placement.services import audit, employers
from placement.tabular import Row, Table, normalise_header, read_table

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: At most this many problems are listed; the rest are counted.
MAX_PROBLEMS = 200
#: Pupils whose birth month is not known are counted as born in December:
#: the youngest they can be, the safe side of age rules for minors.
UNKNOWN_BIRTH_MONTH = 12
#: The year a new class is in when its name does not say (e.g. "Blå").
DEFAULT_CLASS_YEAR = 8


@dataclasses.dataclass
class ImportReport:
    """What an import did, or with ``dry_run`` would do, counted by kind ("pupils", "classes", ...)."""

    rows: int
    dry_run: bool
    created: Counter[str] = dataclasses.field(default_factory=Counter)
    updated: Counter[str] = dataclasses.field(default_factory=Counter)
    unchanged: Counter[str] = dataclasses.field(default_factory=Counter)
    warnings: list[str] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        verb = "Checked" if self.dry_run else "Imported"
        outcome = "; ".join(
            f"{label} {_count_text(counter)}"
            for label, counter in (
                ("would create" if self.dry_run else "created", self.created),
                ("would update" if self.dry_run else "updated", self.updated),
                ("unchanged", self.unchanged),
            )
            if +counter
        )
        lines = [f"{verb} {self.rows} rows: {outcome or 'nothing to do'}."]
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


_SINGULAR = {"pupils": "pupil", "classes": "class", "employers": "employer", "workplaces": "workplace"}


def _count_text(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {kind if n != 1 else _SINGULAR.get(kind, kind[:-1])}" for kind, n in counter.items() if n)


# --- Columns -----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Column:
    """A field of an import and the headers that name it, the usual Swedish one first."""

    field: str
    names: tuple[str, ...]
    required: bool = False

    @property
    def described(self) -> str:
        return " or ".join(f'"{name}"' for name in self.names[:2])


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

EMPLOYER_COLUMNS = (
    Column(
        "org_number",
        ("Organisationsnummer", "Org number", "Orgnr", "Org nr", "Organisation number", "Organization number"),
        required=True,
    ),
    Column("employer", ("Arbetsgivare", "Employer", "Företag", "Company"), required=True),
    Column("workplace", ("Arbetsplats", "Workplace")),
    Column("address", ("Adress", "Address", "Besöksadress", "Visiting address"), required=True),
    Column("lat", ("Lat", "Latitude", "Latitud")),
    Column("lon", ("Lon", "Longitude", "Longitud", "Lng")),
    Column("title", ("Titel", "Title"), required=True),
    Column("description", ("Beskrivning", "Description")),
    Column("sector", ("Bransch", "Sector", "Sektor"), required=True),
    Column("min_age", ("Minimiålder", "Min age", "Minimum age", "Lägsta ålder")),
    Column("requirements", ("Krav", "Requirements")),
    Column("supervisor_name", ("Handledare", "Supervisor")),
    Column("supervisor_phone", ("Telefon", "Phone", "Handledarens telefon", "Supervisor phone")),
    Column("supervisor_email", ("E-post", "Email", "E-mail", "Handledarens e-post", "Supervisor email")),
    Column("risk_assessment", ("Riskbedömning", "Risk assessment")),
    Column("period", ("Period",)),
    Column("places", ("Platser", "Places", "Antal platser", "Number of places")),
)

#: A column of places in one period, e.g. "Platser w45" or "Places w45".
_PERIOD_PLACES = re.compile(
    r"^(?:antal\s+platser|platser|number\s+of\s+places|places)\s*:?\s+(?P<code>\S.*)$", re.IGNORECASE
)


@dataclasses.dataclass
class _Columns:
    """Which header gives which field, and what the header row held besides."""

    headers: dict[str, str]
    unknown: list[str]
    problems: list[str]


def _match_columns(table: Table, columns: Sequence[Column], *, set_aside: Callable[[str], bool]) -> _Columns:
    by_name = {normalise_header(name): column.field for column in columns for name in column.names}
    found = _Columns({}, [], [])
    for header in table.headers:
        field = by_name.get(normalise_header(header))
        if field is None:
            if not set_aside(header):
                found.unknown.append(header)
        elif field in found.headers:
            found.problems.append(f'columns "{found.headers[field]}" and "{header}" give the same field')
        else:
            found.headers[field] = header
    found.problems += [
        f"the column {column.described} is missing"
        for column in columns
        if column.required and column.field not in found.headers
    ]
    return found


def _unused(header: str) -> str:
    return f'column "{header}" is not used and was not stored'


# --- Reading cells -------------------------------------------------------------------------------------------


class _Invalid(Exception):
    """A cell's value cannot be used; the message says why."""


class _Cells:
    """The cells of one row, read field by field; problems name the row and the header."""

    def __init__(self, row: Row, headers: dict[str, str], problems: list[str]) -> None:
        self.row = row
        self.headers = headers
        self.problems = problems
        self.ok = True

    def text(self, field: str, *, required: bool = False, max_length: int | None = None) -> str:
        header = self.headers.get(field)
        value = "" if header is None else self.row.values[header]
        if required and not value:
            self.fail(field, "a value is required")
        elif max_length is not None and len(value) > max_length:
            self.fail(field, f"is longer than {max_length} characters")
        return value

    def parse(self, field: str, parse: Callable[[str], T], *, required: bool = False) -> T | None:
        text = self.text(field, required=required)
        if not text:
            return None
        try:
            return parse(text)
        except _Invalid as exc:
            self.fail(field, str(exc))
            return None

    def fail(self, field: str, message: str) -> None:
        self.ok = False
        self.problems.append(_problem(self.row.number, self.headers[field], message))


def _shown(text: str) -> str:
    return f'"{text}"' if len(text) <= 40 else f'"{text[:37]}..."'


def _integer(text: str, what: str) -> int:
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        raise _Invalid(f"{_shown(text)} is not {what}")
    return int(text)


def _length(attribute: InstrumentedAttribute[Any]) -> int:
    """The width of a string column, so that checks follow the model."""
    column_type = attribute.expression.type
    assert isinstance(column_type, String)
    assert column_type.length is not None
    return column_type.length


_TAG_NAMES = {
    "svenska": "swedish",
    "engelska": "english",
    "arabiska": "arabic",
    "somaliska": "somali",
    "persiska": "persian",
    "kurdiska": "kurdish",
    "tigrinja": "tigrinya",
    "polska": "polish",
    "finska": "finnish",
    "tyska": "german",
    "franska": "french",
    "spanska": "spanish",
    "teckenspråk": "sign language",
}
_TAGS = {normalise_header(name): tag for name, tag in _TAG_NAMES.items()}


def _tags(text: str) -> list[str]:
    """Tags from a list such as "Svenska, engelska": ["swedish", "english"]; others lower-cased."""
    tags: list[str] = []
    for part in re.split(r"[,;/|]", text):
        name = " ".join(part.split())
        tag = _TAGS.get(normalise_header(name), name.casefold())
        if tag and tag not in tags:
            tags.append(tag)
    return tags


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
    return _shown(re.sub(r"\d", "*", text))


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
        raise _Invalid(f"{_shown(text)} is not a gender (Flicka, Pojke, Annat, or leave it empty)") from None


def _birth_years() -> range:
    """Birth years plausible for pupils in years 8 and 9, with room for pupils ahead or behind."""
    this_year = utcnow().year
    return range(this_year - 20, this_year - 10 + 1)


def _birth_year(text: str) -> int:
    year = _integer(text, "a year")
    years = _birth_years()
    if year not in years:
        raise _Invalid(f"{year} is not a plausible birth year for a pupil (expected {years[0]}-{years[-1]})")
    return year


def _birth_month(text: str) -> int:
    month = _integer(text, "a month")
    if not 1 <= month <= 12:
        raise _Invalid(f"{month} is not a month (1-12)")
    return month


def _birth_date(text: str) -> tuple[int, int]:
    """(year, month) from "2012-05", "2012-05-17" or "20120517"."""
    match = _BIRTH_DATE.fullmatch(text)
    if match is None:
        raise _Invalid(f"{_shown(text)} is not a date (YYYY-MM or YYYY-MM-DD)")
    year, month, day = match["year"] or match["y"], match["month"] or match["m"], match["day"] or match["d"]
    try:
        dt.date(int(year), int(month), int(day or 1))
    except ValueError:
        raise _Invalid(f"{_shown(text)} is not a date") from None
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


_NAME_LENGTH = _length(Pupil.first_name)
_SURNAME_LENGTH = _length(Pupil.last_name)
_CLASS_LENGTH = _length(SchoolClass.name)
_PUPIL_ID_LENGTH = _length(Pupil.external_id)


def _pupil_row(row: Row, headers: dict[str, str], problems: list[str]) -> _PupilRow | None:
    cells = _Cells(row, headers, problems)
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
    attributes = _tags(cells.text("attributes"))
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
    table = _read(data, filename)
    school_headers = [h for h in table.headers if normalise_header(h) in SCHOOL_HEADERS]
    columns = _match_columns(
        table, COHORT_COLUMNS, set_aside=lambda header: header in school_headers or _identity_header(header)
    )
    identity_problems = _identity_number_problems(table)
    if identity_problems:
        raise ImportRejected(_listed(identity_problems))
    problems = columns.problems + _birth_column_problems(columns.headers)
    if problems:
        raise ImportRejected(problems)

    warnings = [_unused(header) for header in columns.unknown]
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
        raise ImportRejected(_listed(problems))

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


def _read(data: bytes, filename: str) -> Table:
    try:
        return read_table(data, filename)
    except ValidationError as exc:
        raise ImportRejected(exc.problems) from exc


def _listed(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]


# --- Employers, workplaces and offers -------------------------------------------------------------------------

_SECTOR_NAMES = {
    Sector.HEALTH: (
        "Vård",
        "Hälsa",
        "Vård och omsorg",
        "Omsorg",
        "Hälso- och sjukvård",
        "Sjukvård",
        "Tandvård",
        "Health",
        "Healthcare",
        "Care",
    ),
    Sector.EDUCATION: ("Utbildning", "Skola", "Förskola", "Fritidshem", "Education", "School", "Preschool"),
    Sector.RETAIL: ("Handel", "Butik", "Detaljhandel", "Försäljning", "Retail", "Shop", "Sales"),
    Sector.HOSPITALITY: (
        "Hotell",
        "Restaurang",
        "Hotell och restaurang",
        "Café",
        "Storkök",
        "Besöksnäring",
        "Turism",
        "Hospitality",
        "Hotel",
        "Restaurant",
        "Tourism",
    ),
    Sector.CONSTRUCTION: ("Bygg", "Bygg och anläggning", "Byggnad", "Anläggning", "Construction", "Building"),
    Sector.MANUFACTURING: ("Industri", "Tillverkning", "Produktion", "Manufacturing", "Industry", "Production"),
    Sector.IT: ("IT", "Data", "IT och data", "ICT", "Software"),
    Sector.TRANSPORT: ("Transport", "Logistik", "Lager", "Transport och logistik", "Logistics", "Warehouse"),
    Sector.OFFICE: ("Kontor", "Administration", "Ekonomi", "Bank", "Försäkring", "Office", "Finance"),
    Sector.CULTURE: ("Kultur", "Media", "Kultur och media", "Musik", "Bibliotek", "Culture", "Arts", "Library"),
    Sector.PUBLIC: (
        "Offentlig förvaltning",
        "Offentlig sektor",
        "Kommun",
        "Myndighet",
        "Räddningstjänst",
        "Polis",
        "Public",
        "Public sector",
        "Government",
    ),
    Sector.AGRICULTURE: (
        "Lantbruk",
        "Jordbruk",
        "Naturbruk",
        "Skogsbruk",
        "Djurvård",
        "Trädgård",
        "Agriculture",
        "Farming",
        "Forestry",
    ),
    Sector.VEHICLES: ("Fordon", "Bil", "Verkstad", "Bilverkstad", "Vehicles", "Automotive"),
    Sector.BEAUTY: ("Frisör", "Skönhet", "Hår och skönhet", "Hudvård", "Beauty", "Hairdressing"),
    Sector.SPORTS: ("Idrott", "Sport", "Fritid", "Idrott och fritid", "Friskvård", "Sports", "Leisure", "Fitness"),
    Sector.SCIENCE: ("Naturvetenskap", "Forskning", "Laboratorium", "Science", "Research", "Laboratory"),
}


def _sector_words(text: str) -> list[str]:
    return [word for word in normalise_header(text.replace("&", " ")).split() if word not in {"och", "and"}]


_SECTORS = {" ".join(_sector_words(name)): sector for sector, names in _SECTOR_NAMES.items() for name in names} | {
    sector.value: sector for sector in Sector
}


def _sector(text: str) -> Sector:
    """A sector from its Swedish or English name; "Vård/Hälsa" is health, as its first known word says."""
    words = _sector_words(text)
    for key in (" ".join(words), *words):
        if key in _SECTORS:
            return _SECTORS[key]
    raise _Invalid(f"{_shown(text)} is not a sector (e.g. Vård, Handel, Bygg, Industri, IT, Kontor)")


def _org_number(text: str) -> str:
    """A Swedish organisation number, normalised to NNNNNN-NNNN (:func:`employers.normalise_org_number`)."""
    try:
        return employers.normalise_org_number(text)
    except employers.OrgNumberError as exc:
        if exc.reason == "format":
            raise _Invalid(f"{_shown(text)} is not an organisation number (NNNNNN-NNNN)") from None
        raise _Invalid(f"{_shown(text)} is not a valid organisation number (its check digit is wrong)") from None


def _coordinate(text: str) -> float:
    if not re.fullmatch(r"[+-]?\d{1,3}(?:[.,]\d+)?", text):
        raise _Invalid(f"{_shown(text)} is not a coordinate in degrees (e.g. 57.7089)")
    return float(text.replace(",", "."))


def _min_age(text: str) -> int:
    age = _integer(text, "an age")
    if not 12 <= age <= 20:  # offer.min_age_range
        raise _Invalid(f"{age} is not a minimum age for pupils (12-20)")
    return age


def _places(text: str) -> int:
    places = _integer(text, "a number of places")
    if places < 0:  # offer_capacity.places_not_negative
        raise _Invalid(f"{places} is not a number of places (0 or more)")
    return places


def _phone(text: str) -> str:
    if len(text) > _PHONE_LENGTH:
        raise _Invalid(f"is longer than {_PHONE_LENGTH} characters")
    if not re.fullmatch(r"\+?[\d\s()/-]{5,}", text):
        raise _Invalid(f"{_shown(text)} is not a phone number")
    return text


def _email(text: str) -> str:
    """An e-mail address, checked and normalised as everywhere (:func:`validation.normalise_email`)."""
    if len(text) > _EMAIL_LENGTH:
        raise _Invalid(f"is longer than {_EMAIL_LENGTH} characters")
    try:
        return validation.normalise_email(text)
    except validation.InvalidEmail:
        raise _Invalid(f"{_shown(text)} is not an e-mail address") from None


_YES = frozenset({"ja", "j", "yes", "y", "x", "true", "sant", "1"})
_NO = frozenset({"nej", "n", "no", "false", "falskt", "0"})


def _yes_no(text: str) -> bool:
    answer = text.casefold()
    if answer in _YES | _NO:
        return answer in _YES
    raise _Invalid(f"{_shown(text)} is neither yes nor no (ja/nej)")


@dataclasses.dataclass(frozen=True)
class _OfferRow:
    number: int
    org_number: str
    employer_name: str
    workplace_name: str
    address: str
    coordinates: tuple[float, float] | None
    #: The offer's fields the file gives, as stored (title and sector always).
    fields: dict[str, Any]
    #: None when the file has no risk assessment column.
    risk_assessed: bool | None
    #: Places by period, with the header (field) that gave them.
    places: dict[Period, tuple[int, str]]

    @property
    def workplace_key(self) -> tuple[str, str, str]:
        return (self.org_number, self.workplace_name.casefold(), normalise_address(self.address))

    @property
    def offer_key(self) -> tuple[str, str, str, str]:
        return (*self.workplace_key, str(self.fields["title"]).casefold())


_EMPLOYER_LENGTH = _length(Employer.name)
_WORKPLACE_LENGTH = _length(Workplace.name)
_ADDRESS_LENGTH = _length(Workplace.address)
_TITLE_LENGTH = _length(Offer.title)
_SUPERVISOR_LENGTH = _length(Offer.supervisor_name)
_PHONE_LENGTH = _length(Offer.supervisor_phone)
_EMAIL_LENGTH = _length(Offer.supervisor_email)


def _offer_row(
    row: Row, headers: dict[str, str], place_columns: dict[str, Period], periods: dict[str, Period], problems: list[str]
) -> _OfferRow | None:
    cells = _Cells(row, headers, problems)
    org_number = cells.parse("org_number", _org_number, required=True)
    employer_name = cells.text("employer", required=True, max_length=_EMPLOYER_LENGTH)
    workplace_name = cells.text("workplace", max_length=_WORKPLACE_LENGTH) or employer_name
    address = cells.text("address", required=True, max_length=_ADDRESS_LENGTH)
    fields: dict[str, Any] = {
        "title": cells.text("title", required=True, max_length=_TITLE_LENGTH),
        "sector": cells.parse("sector", _sector, required=True),
    }
    optional: dict[str, Callable[[], Any]] = {
        "description": lambda: cells.text("description"),
        "min_age": lambda: cells.parse("min_age", _min_age),
        "requirements": lambda: _tags(cells.text("requirements")),
        "supervisor_name": lambda: cells.text("supervisor_name", max_length=_SUPERVISOR_LENGTH) or None,
        "supervisor_phone": lambda: cells.parse("supervisor_phone", _phone),
        "supervisor_email": lambda: cells.parse("supervisor_email", _email),
    }
    fields |= {field: read() for field, read in optional.items() if field in headers}
    risk_assessed = bool(cells.parse("risk_assessment", _yes_no)) if "risk_assessment" in headers else None
    coordinates = _row_coordinates(cells)
    places = _row_places(cells, place_columns, periods)
    if not cells.ok:
        return None
    assert org_number is not None
    return _OfferRow(
        row.number, org_number, employer_name, workplace_name, address, coordinates, fields, risk_assessed, places
    )


def _row_coordinates(cells: _Cells) -> tuple[float, float] | None:
    given = {field: bool(cells.text(field)) for field in ("lat", "lon")}
    if given["lat"] != given["lon"]:
        cells.fail("lon" if given["lat"] else "lat", "give both latitude and longitude, or neither")
        return None
    lat, lon = cells.parse("lat", _coordinate), cells.parse("lon", _coordinate)
    if lat is None or lon is None:
        return None
    if not SWEDEN.contains(lat, lon):
        cells.fail("lat", f"{lat}, {lon} is not in Sweden")
        return None
    return (lat, lon)


def _row_places(
    cells: _Cells, place_columns: dict[str, Period], periods: dict[str, Period]
) -> dict[Period, tuple[int, str]]:
    """Places by period: from "Platser <period>" columns, or from a "Period" and a "Platser" column."""
    if "period" in cells.headers:
        period = cells.parse("period", lambda code: _period(periods, code), required=True)
        places = cells.parse("places", _places, required=True)
        return {} if period is None or places is None else {period: (places, "period")}
    found: dict[Period, tuple[int, str]] = {}
    for header, period in place_columns.items():
        places = cells.parse(header, _places)
        if places is not None:
            found[period] = (places, header)
    if not found and cells.ok:
        cells.fail(next(iter(place_columns)), "no places are given in any period")
    return found


def _period(periods: dict[str, Period], code: str) -> Period:
    try:
        return periods[code.casefold()]
    except KeyError:
        raise _Invalid(f"period {_shown(code)} does not exist") from None


def _place_column_problems(
    headers: dict[str, str], place_columns: dict[str, str], periods: dict[str, Period]
) -> list[str]:
    problems = [
        f'column "{header}": period {_shown(code)} does not exist'
        for header, code in place_columns.items()
        if code.casefold() not in periods
    ]
    pair = [headers[field] for field in ("period", "places") if field in headers]
    if pair and place_columns:
        problems.append('give places either in "Platser <period>" columns or in "Period" and "Platser", not both')
    elif len(pair) == 1:
        problems.append(
            f'column "{pair[0]}" needs a column "{"Platser" if "period" in headers else "Period"}" beside it'
        )
    elif not pair and not place_columns:
        problems.append(
            'no places are given: add "Platser <period>" columns (e.g. "Platser w45"), or "Period" and "Platser"'
        )
    if ("lat" in headers) != ("lon" in headers):
        problems.append('give both a "Lat" and a "Lon" column, or neither')
    return problems


@dataclasses.dataclass
class _OfferGroup:
    """One offer of the file: its first row, and its places gathered from every row that gives it."""

    row: _OfferRow
    places: dict[Period, tuple[int, int]]  # period -> (places, row number)


def _group_offers(
    rows: list[_OfferRow], headers: dict[str, str], problems: list[str]
) -> tuple[list[_OfferGroup], dict[tuple[str, str, str], tuple[float, float]]]:
    """The offers of the file, and the coordinates its workplaces are given.

    Rows may repeat an employer, a workplace or an offer (one row per period
    of places); what they repeat must agree, and no period may get places twice.
    """
    employer_rows: dict[str, _OfferRow] = {}
    located_rows: dict[tuple[str, str, str], _OfferRow] = {}
    groups: dict[tuple[str, str, str, str], _OfferGroup] = {}
    for row in rows:
        first = employer_rows.setdefault(row.org_number, row)
        if row.employer_name.casefold() != first.employer_name.casefold():
            problems.append(
                _problem(
                    row.number,
                    headers["employer"],
                    f"{_shown(row.employer_name)} differs from {_shown(first.employer_name)} "
                    f"given for {row.org_number} in row {first.number}",
                )
            )
            continue
        if row.coordinates is not None:
            located = located_rows.setdefault(row.workplace_key, row)
            if located.coordinates != row.coordinates:
                problems.append(
                    _problem(row.number, headers["lat"], f"row {located.number} places this workplace elsewhere")
                )
                continue
        group = groups.get(row.offer_key)
        if group is None:
            groups[row.offer_key] = _OfferGroup(row, {p: (n, row.number) for p, (n, _field) in row.places.items()})
            continue
        differing = [
            f for f, value in row.fields.items() if value not in (None, "", []) and value != group.row.fields[f]
        ]
        if differing:
            problems.append(
                _problem(
                    row.number,
                    headers[differing[0]],
                    f"differs from row {group.row.number}, which gives the same offer",
                )
            )
        for period, (places, field) in row.places.items():
            if period in group.places:
                problems.append(
                    _problem(
                        row.number,
                        headers[field],
                        f'places in period "{period.code}" are already given for this offer '
                        f"in row {group.places[period][1]}",
                    )
                )
            else:
                group.places[period] = (places, row.number)
    coordinates = {key: row.coordinates for key, row in located_rows.items() if row.coordinates is not None}
    return list(groups.values()), coordinates


class _Existing:
    """The database's employers, workplaces and offers that rows of the file name, loaded at once."""

    def __init__(self, session: Session, org_numbers: Iterable[str]) -> None:
        employers = session.scalars(select(Employer).where(Employer.org_number.in_(set(org_numbers))))
        self.employers = {employer.org_number: employer for employer in employers}
        org_of = {employer.id: org for org, employer in self.employers.items()}
        workplaces = session.scalars(select(Workplace).where(Workplace.employer_id.in_(org_of)))
        self.workplaces = {_workplace_key(org_of[w.employer_id], w.name, w.address): w for w in workplaces}
        offers = session.scalars(
            select(Offer)
            .where(Offer.workplace_id.in_([w.id for w in self.workplaces.values()]))
            .options(selectinload(Offer.capacities))
        )
        self.offers: defaultdict[tuple[int, str], list[Offer]] = defaultdict(list)
        for offer in offers:
            self.offers[(offer.workplace_id, offer.title.casefold())].append(offer)


def _workplace_key(org_number: str, name: str, address: str) -> tuple[str, str, str]:
    return (org_number, name.casefold(), normalise_address(address))


def _risk_changes(offer: Offer | None, assessed: bool | None, now: dt.datetime, actor: audit.Actor) -> dict[str, Any]:
    """The offer's risk assessment fields after a "yes" or "no" (AFS 2012:3)."""
    confirmed = offer is not None and offer.risk_assessment_confirmed_at is not None
    if assessed and not confirmed:
        return {"risk_assessment_confirmed_at": now, "risk_assessment_confirmed_by_id": actor.user_id}
    if assessed is False and confirmed:
        return {"risk_assessment_confirmed_at": None, "risk_assessment_confirmed_by_id": None}
    return {}


def _new_codes(session: Session, attribute: InstrumentedAttribute[str], prefix: str, width: int) -> Iterator[str]:
    """Codes after the highest "<prefix><number>" in use: "O00042", then "O00043", ..."""
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)")
    used = session.scalars(select(attribute).where(attribute.startswith(prefix)))
    highest = max((int(match[1]) for code in used if (match := pattern.fullmatch(code))), default=0)
    return (f"{prefix}{n:0{width}d}" for n in itertools.count(highest + 1))


def import_employers(
    session: Session,
    data: bytes,
    filename: str,
    *,
    actor: audit.Actor,
    municipality: Municipality | None = None,
    approve: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Import employers, their workplaces and offers from a CSV or XLSX file: every row, or none.

    Each row is one offer.  Employers are found by organisation number, or
    created awaiting approval (approved at once with ``approve``, for the
    coordinator's own list) in ``municipality``; existing employers are not
    changed.  Workplaces are found by employer, name and address, or created;
    given coordinates make their location MANUAL, otherwise new ones await
    geocoding.  Offers are found by workplace and title and updated, or
    created with the next free code.  Raises :class:`ImportRejected` listing
    every problem, writing nothing.
    """
    table = _read(data, filename)
    periods = {period.code.casefold(): period for period in session.scalars(select(Period))}
    place_codes = {header: match["code"] for header in table.headers if (match := _PERIOD_PLACES.match(header))}
    columns = _match_columns(table, EMPLOYER_COLUMNS, set_aside=lambda header: header in place_codes)
    problems = columns.problems + _place_column_problems(columns.headers, place_codes, periods)
    if problems:
        raise ImportRejected(problems)

    place_columns = {header: periods[code.casefold()] for header, code in place_codes.items()}
    headers = columns.headers | {header: header for header in place_columns}
    rows = [parsed for row in table.rows if (parsed := _offer_row(row, headers, place_columns, periods, problems))]
    groups, coordinates = _group_offers(rows, headers, problems)
    existing = _Existing(session, (group.row.org_number for group in groups))
    matches: list[Offer | None] = []
    for group in groups:
        workplace = existing.workplaces.get(group.row.workplace_key)
        candidates = [] if workplace is None else existing.offers[(workplace.id, group.row.offer_key[3])]
        if len(candidates) > 1:
            problems.append(
                f"row {group.row.number}: the workplace already has {len(candidates)} offers titled "
                f"{_shown(group.row.fields['title'])}; change them in Praktik instead"
            )
        matches.append(candidates[0] if candidates else None)
    if problems:
        raise ImportRejected(_listed(problems))

    report = ImportReport(rows=len(table.rows), dry_run=dry_run, warnings=[_unused(h) for h in columns.unknown])
    now = utcnow()
    employers = _place_employers(
        session,
        groups,
        existing=existing,
        report=report,
        municipality=municipality,
        approve=approve,
        actor=actor,
        now=now,
    )
    workplaces = _place_workplaces(
        session, groups, existing=existing, coordinates=coordinates, employers=employers, report=report
    )
    codes = _new_codes(session, Offer.code, "O", 5)
    for group, offer in zip(groups, matches, strict=True):
        row = group.row
        risk = _risk_changes(offer, row.risk_assessed, now, actor)
        if offer is None:
            report.created["offers"] += 1
            if not dry_run:
                session.add(
                    Offer(
                        code=next(codes),
                        employer_id=employers[row.org_number].id,
                        workplace_id=workplaces[row.workplace_key].id,
                        capacities=[OfferCapacity(period_id=p.id, places=n) for p, (n, _row) in group.places.items()],
                        **row.fields,
                        **risk,
                    )
                )
            continue
        changes = {field: value for field, value in row.fields.items() if getattr(offer, field) != value} | risk
        capacities = {capacity.period_id: capacity for capacity in offer.capacities}
        places = {
            period.id: n
            for period, (n, _row) in group.places.items()
            if period.id not in capacities or capacities[period.id].places != n
        }
        if not changes and not places:
            report.unchanged["offers"] += 1
            continue
        report.updated["offers"] += 1
        if not dry_run:
            for field, value in changes.items():
                setattr(offer, field, value)
            for period_id, n in places.items():
                if period_id in capacities:
                    capacities[period_id].places = n
                else:
                    offer.capacities.append(OfferCapacity(period_id=period_id, places=n))

    if not dry_run:
        session.flush()
        counts = {
            "rows": report.rows,
            **{f"{kind}_created": n for kind, n in report.created.items()},
            **{f"{kind}_updated": n for kind, n in report.updated.items()},
        }
        audit.record(
            session, actor, "import.employers", "employer", after={"format": table.format, "approve": approve, **counts}
        )
        logger.info("Employers imported by %s: %s", actor.label, counts)
    return report


def _place_employers(
    session: Session,
    groups: list[_OfferGroup],
    *,
    existing: _Existing,
    report: ImportReport,
    municipality: Municipality | None,
    approve: bool,
    actor: audit.Actor,
    now: dt.datetime,
) -> dict[str, Employer]:
    """The employer of every organisation number in the file: found, or new (flushed unless a dry run)."""
    names: dict[str, str] = {}
    for group in groups:
        names.setdefault(group.row.org_number, group.row.employer_name)
    codes = _new_codes(session, Employer.code, "E", 4)
    employers: dict[str, Employer] = {}
    for org, name in names.items():
        employer = existing.employers.get(org)
        if employer is not None:
            report.unchanged["employers"] += 1
            if name.casefold() != employer.name.casefold():
                report.warnings.append(
                    f'{org} is already registered as "{employer.name}"; the name {_shown(name)} was not used'
                )
        else:
            report.created["employers"] += 1
            employer = Employer(
                code=next(codes),
                name=name,
                org_number=org,
                municipality_id=municipality.id if municipality else None,
                status=EmployerStatus.APPROVED if approve else EmployerStatus.PENDING,
                reviewed_at=now if approve else None,
                reviewed_by_id=actor.user_id if approve else None,
            )
            if not report.dry_run:
                session.add(employer)
        employers[org] = employer
    if not report.dry_run:
        session.flush()
    return employers


def _place_workplaces(
    session: Session,
    groups: list[_OfferGroup],
    *,
    existing: _Existing,
    coordinates: dict[tuple[str, str, str], tuple[float, float]],
    employers: dict[str, Employer],
    report: ImportReport,
) -> dict[tuple[str, str, str], Workplace]:
    """The workplace of every offer: found (given coordinates kept as MANUAL), or new (flushed unless a dry run)."""
    workplaces: dict[tuple[str, str, str], Workplace] = {}
    for group in groups:
        row = group.row
        key = row.workplace_key
        if key in workplaces:
            continue
        located = coordinates.get(key)
        workplace = existing.workplaces.get(key)
        if workplace is None:
            report.created["workplaces"] += 1
            workplace = Workplace(
                employer_id=employers[row.org_number].id,
                name=row.workplace_name,
                address=row.address,
                lat=located[0] if located else None,
                lon=located[1] if located else None,
                geo_status=GeoStatus.MANUAL if located else GeoStatus.PENDING,
            )
            if not report.dry_run:
                session.add(workplace)
        elif located is None or (
            located == (workplace.lat, workplace.lon) and workplace.geo_status is GeoStatus.MANUAL
        ):
            report.unchanged["workplaces"] += 1
        else:
            report.updated["workplaces"] += 1
            if not report.dry_run:
                workplace.lat, workplace.lon = located
                workplace.geo_status = GeoStatus.MANUAL
        workplaces[key] = workplace
    if not report.dry_run:
        session.flush()
    return workplaces


def _problem(row_number: int, header: str, message: str) -> str:
    return f'row {row_number}, field "{header}": {message}'
