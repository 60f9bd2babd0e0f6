"""Importing schools from CSV or XLSX, as a municipality gets them from Skolverket's school unit register.

The import works in two phases (:mod:`placement.import_cells`): every row is
checked against the file and the database and every problem is collected
(raising :class:`ImportRejected` with all of them, nothing written), and only
then are all rows written in the caller's transaction.  With ``dry_run=True``
it stops after the first phase and reports what it would do.

Schools are matched by their school unit code (skolenhetskod), so a
re-import of the register updates them instead of duplicating them.  The
register's many other columns (Skolform, Status, Rektor, Telefon, ...) are
reported as unused and never stored.  Each import appends one audit event
holding counts.
"""

from __future__ import annotations

import dataclasses
import logging
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement.enums import GeoStatus
from placement.errors import ImportRejected, NotFound
from placement.geo import normalise_address
from placement.import_cells import (
    Cells,
    Column,
    ImportReport,
    Invalid,
    column_length,
    listed,
    match_columns,
    problem,
    read,
    row_coordinates,
    shown,
    unused,
)
from placement.models import Municipality, School
from placement.tabular import Row

logger = logging.getLogger(__name__)

SCHOOL_COLUMNS = (
    Column("code", ("Skolenhetskod", "School unit code", "Skolenhet kod", "Unit code"), required=True),
    Column("name", ("Skolenhetsnamn", "School name", "School unit name", "Skolnamn"), required=True),
    Column("municipality", ("Kommun", "Municipality", "Kommunnamn", "Municipality name"), required=True),
    Column("municipality_code", ("Kommunkod", "Municipality code")),
    Column("street", ("Besöksadress", "Visiting address", "Address", "Adress"), required=True),
    Column("postcode", ("Postnummer", "Postcode", "Postnr", "Postal code", "Post code"), required=True),
    Column("town", ("Postort", "Town", "Post town", "City"), required=True),
    Column("lat", ("Latitud", "Latitude", "Lat")),
    Column("lon", ("Longitud", "Longitude", "Lon")),
    Column("socioeconomic_index", ("Socioekonomiskt index", "Socioeconomic index")),
    Column("need_index", ("Behovsindex", "Need index")),
)

#: The plausible range of a school's need index (Praktik's scale: 1.0 is average, higher is greater need).
MIN_NEED_INDEX = 0.1
MAX_NEED_INDEX = 10.0
#: The socioeconomic index SCB computes for Skolverket is on a scale where 100 is the national average.
SOCIOECONOMIC_AVERAGE = 100
#: The need index of a new school whose row gives none.
DEFAULT_NEED_INDEX = 1.0

_NAME_LENGTH = column_length(School.name)
_ADDRESS_LENGTH = column_length(School.address)
_MUNICIPALITY_LENGTH = column_length(Municipality.name)

_NUMBER = re.compile(r"[+-]?\d{1,6}(?:[.,]\d+)?")


def _unit_code(text: str) -> str:
    """A school unit code: eight digits, spaces removed ("1234 5678" is 12345678)."""
    code = "".join(text.split())
    if not re.fullmatch(r"\d{8}", code):
        raise Invalid(f"{shown(text)} is not an eight-digit school unit code")
    return code


def _municipality_code(text: str) -> str:
    """A kommunkod: four digits.  Three are read with the leading zero that Excel drops (180 is 0180)."""
    code = "".join(text.split())
    if re.fullmatch(r"\d{3}", code):
        code = f"0{code}"
    if not re.fullmatch(r"\d{4}", code):
        raise Invalid(f"{shown(text)} is not a four-digit municipality code (kommunkod)")
    return code


def _postcode(text: str) -> str:
    """A Swedish postcode, normalised to "NNN NN"."""
    digits = "".join(text.split())
    if not re.fullmatch(r"\d{5}", digits):
        raise Invalid(f"{shown(text)} is not a postcode (NNN NN)")
    return f"{digits[:3]} {digits[3:]}"


def _number(text: str, example: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise Invalid(f"{shown(text)} is not a number (e.g. {example})")
    return float(text.replace(",", "."))


def _socioeconomic_index(text: str) -> float:
    """SCB's socioeconomic index (100 is the national average) as a need index (1.0 is average)."""
    need = round(_number(text, "104.5") / SOCIOECONOMIC_AVERAGE, 6)
    if not MIN_NEED_INDEX <= need <= MAX_NEED_INDEX:
        low, high = (round(n * SOCIOECONOMIC_AVERAGE) for n in (MIN_NEED_INDEX, MAX_NEED_INDEX))
        raise Invalid(
            f"{shown(text)} is not a plausible socioeconomic index ({low}-{high}; "
            f"{SOCIOECONOMIC_AVERAGE} is the national average)"
        )
    return need


def _need_index(text: str) -> float:
    need = _number(text, "1.05")
    if not MIN_NEED_INDEX <= need <= MAX_NEED_INDEX:
        raise Invalid(
            f"{shown(text)} is not a plausible need index ({MIN_NEED_INDEX:g}-{MAX_NEED_INDEX:g}; 1.0 is the average)"
        )
    return need


@dataclasses.dataclass(frozen=True)
class _SchoolRow:
    number: int
    code: str
    name: str
    municipality: str
    municipality_code: str | None
    address: str
    coordinates: tuple[float, float] | None
    #: On Praktik's scale; None when the row gives none.
    need_index: float | None


def _school_row(row: Row, headers: dict[str, str], problems: list[str]) -> _SchoolRow | None:
    cells = Cells(row, headers, problems)
    code = cells.parse("code", _unit_code, required=True)
    name = cells.text("name", required=True, max_length=_NAME_LENGTH)
    municipality = " ".join(cells.text("municipality", required=True, max_length=_MUNICIPALITY_LENGTH).split())
    municipality_code = cells.parse("municipality_code", _municipality_code)
    street = cells.text("street", required=True)
    postcode = cells.parse("postcode", _postcode, required=True)
    town = cells.text("town", required=True)
    address = f"{street}, {postcode} {town}"
    if street and postcode and town and len(address) > _ADDRESS_LENGTH:
        cells.fail("street", f"the address is longer than {_ADDRESS_LENGTH} characters")
    coordinates = row_coordinates(cells)
    need_index = (
        cells.parse("socioeconomic_index", _socioeconomic_index)
        if "socioeconomic_index" in headers
        else cells.parse("need_index", _need_index)
    )
    if not cells.ok:
        return None
    assert code is not None
    return _SchoolRow(row.number, code, name, municipality, municipality_code, address, coordinates, need_index)


def _column_problems(headers: dict[str, str]) -> list[str]:
    problems = []
    if "socioeconomic_index" in headers and "need_index" in headers:
        problems.append(
            f'give the need index in "{headers["socioeconomic_index"]}" or in "{headers["need_index"]}", not both'
        )
    if ("lat" in headers) != ("lon" in headers):
        problems.append('give both a "Latitud" and a "Longitud" column, or neither')
    return problems


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


#: Why a row's municipality cannot be used: the field to name, and the message.
_Contradiction = tuple[str, str]


class _Municipalities:
    """The municipalities the rows name: the database's, and the new ones the file would create."""

    def __init__(self, session: Session, headers: dict[str, str], problems: list[str], only: Municipality | None):
        existing = list(session.scalars(select(Municipality)))
        self.by_name = {_key(m.name): m for m in existing}
        self.by_code = {m.code: m for m in existing if m.code}
        self.headers = headers
        self.problems = problems
        self.only = only
        #: New municipalities by name key; which new one each code was given for, and in which row first.
        self.new: dict[str, Municipality] = {}
        self.new_codes: dict[str, str] = {}
        self.coded_in: dict[str, int] = {}

    def find(self, row: _SchoolRow) -> Municipality | None:
        """The row's municipality, existing or new; None (with a problem) when the row contradicts one."""
        found = self._resolve(row)
        if isinstance(found, Municipality):
            return found
        field, message = found
        self.problems.append(problem(row.number, self.headers[field], message))
        return None

    def _resolve(self, row: _SchoolRow) -> Municipality | _Contradiction:
        key, code = _key(row.municipality), row.municipality_code
        by_name = self.by_name.get(key)
        by_code = self.by_code.get(code) if code else None
        if self.only is not None and by_name is not self.only:
            return (
                "municipality",
                f'{shown(row.municipality)} is not "{self.only.name}", the municipality this import is for',
            )
        if by_name is not None:
            if code and by_name.code and code != by_name.code:
                return ("municipality_code", f'"{code}" is not the code of "{by_name.name}", which is {by_name.code}')
            if by_code is not None and by_code is not by_name:
                return ("municipality_code", f'"{code}" is the code of "{by_code.name}"')
            return by_name
        if by_code is not None:
            return (
                "municipality",
                f'{shown(row.municipality)} is not the name of municipality {code}, which is "{by_code.name}"',
            )
        return self._new(row, key, code)

    def _new(self, row: _SchoolRow, key: str, code: str | None) -> Municipality | _Contradiction:
        """A municipality the file creates; its rows must agree on its code, and no two share one."""
        municipality = self.new.get(key)
        if code and self.new_codes.get(code, key) != key:
            other = self.new[self.new_codes[code]]
            return ("municipality_code", f'"{code}" is already given for "{other.name}" in row {self.coded_in[code]}')
        if municipality is None:
            municipality = self.new[key] = Municipality(name=row.municipality, code=code)
        elif code and municipality.code and code != municipality.code:
            first = self.coded_in[municipality.code]
            return (
                "municipality_code",
                f'"{code}" differs from "{municipality.code}" given for "{municipality.name}" in row {first}',
            )
        elif code:
            municipality.code = code
        if code and code not in self.new_codes:
            self.new_codes[code] = key
            self.coded_in[code] = row.number
        return municipality


@dataclasses.dataclass(frozen=True)
class _SchoolPlan:
    row: _SchoolRow
    #: The school the row updates, or None for a new school.
    school: School | None
    municipality: Municipality


def _plan(
    session: Session,
    rows: list[_SchoolRow],
    municipalities: _Municipalities,
    headers: dict[str, str],
    problems: list[str],
) -> list[_SchoolPlan]:
    """Pair each row with the school of its unit code, if any, and with its municipality."""
    existing = {
        school.code: school
        for school in session.scalars(select(School).where(School.code.in_(sorted({row.code for row in rows}))))
    }
    first_rows: dict[str, int] = {}
    plans: list[_SchoolPlan] = []
    for row in rows:
        first = first_rows.setdefault(row.code, row.number)
        if first != row.number:
            problems.append(
                problem(row.number, headers["code"], f"school unit {row.code} is already given in row {first}")
            )
            continue
        school = existing.get(row.code)
        only = municipalities.only
        if only is not None and school is not None and school.municipality_id != only.id:
            problems.append(
                problem(row.number, headers["code"], f"school unit {row.code} is a school of another municipality")
            )
            continue
        municipality = municipalities.find(row)
        if municipality is not None:
            plans.append(_SchoolPlan(row, school, municipality))
    return plans


def _school_fields(plan: _SchoolPlan) -> dict[str, object]:
    """What the row sets on its school: the location only when given or when the address moved."""
    row, school = plan.row, plan.school
    fields: dict[str, object] = {
        "name": row.name,
        "municipality_id": plan.municipality.id,
        "address": row.address,
    }
    if row.coordinates is not None:
        fields |= {"lat": row.coordinates[0], "lon": row.coordinates[1], "geo_status": GeoStatus.MANUAL}
    elif school is None or normalise_address(school.address or "") != normalise_address(row.address):
        fields |= {"lat": None, "lon": None, "geo_status": GeoStatus.PENDING}
    if row.need_index is not None:
        fields["need_index"] = row.need_index
    elif school is None:
        fields["need_index"] = DEFAULT_NEED_INDEX
    return fields


def import_schools(
    session: Session,
    data: bytes,
    filename: str,
    *,
    actor: audit.Actor,
    dry_run: bool = False,
    municipality_id: int | None = None,
) -> ImportReport:
    """Import schools from a CSV or XLSX file such as Skolverket's school unit register: every row, or none.

    Each row is one school unit, found by its eight-digit school unit code
    and updated (name, municipality, address "Besöksadress, NNN NN Postort"),
    or created.  Given coordinates make its location MANUAL; without them a
    new school, or one whose address changed, waits for the geocoder
    (PENDING), and one whose address is unchanged keeps its location.  A
    "Socioekonomiskt index" (100 is the national average) is stored divided
    by 100, a "Behovsindex" as it is; a school the file gives none keeps its
    own, a new one gets 1.0.

    Municipalities are found by name in any case (and by kommunkod when
    given), or created; existing ones are not changed.  With
    ``municipality_id`` (a municipality's own coordinator) every row must be
    of that municipality and none is created.  Raises :class:`ImportRejected`
    listing every problem, writing nothing; :class:`NotFound` when
    ``municipality_id`` names no municipality.
    """
    only = None
    if municipality_id is not None:
        only = session.get(Municipality, municipality_id)
        if only is None:
            raise NotFound(f"municipality {municipality_id} does not exist")
    table = read(data, filename)
    columns = match_columns(table, SCHOOL_COLUMNS, set_aside=lambda _header: False)
    problems = columns.problems + _column_problems(columns.headers)
    if problems:
        raise ImportRejected(problems)

    headers = columns.headers
    rows = [parsed for row in table.rows if (parsed := _school_row(row, headers, problems))]
    municipalities = _Municipalities(session, headers, problems, only)
    plans = _plan(session, rows, municipalities, headers, problems)
    if problems:
        raise ImportRejected(listed(problems))

    report = ImportReport(rows=len(table.rows), dry_run=dry_run, warnings=[unused(h) for h in columns.unknown])
    new_municipalities = list(municipalities.new.values())
    report.created["municipalities"] = len(new_municipalities)
    report.warnings += [
        f'municipality "{m.name}"{f" ({m.code})" if m.code else ""} is new: '
        f"it {'would be' if dry_run else 'was'} created (check its spelling)"
        for m in new_municipalities
    ]
    if not dry_run:
        session.add_all(new_municipalities)
        session.flush()

    for plan in plans:
        fields = _school_fields(plan)
        if plan.school is None:
            report.created["schools"] += 1
            if not dry_run:
                session.add(School(code=plan.row.code, **fields))
            continue
        # In a dry run a new municipality has no id yet, which differs from the school's all the same.
        changes = {name: value for name, value in fields.items() if getattr(plan.school, name) != value}
        if not changes:
            report.unchanged["schools"] += 1
            continue
        report.updated["schools"] += 1
        if not dry_run:
            for name, value in changes.items():
                setattr(plan.school, name, value)

    if not dry_run:
        session.flush()
        counts = {
            "rows": report.rows,
            "schools_created": report.created["schools"],
            "schools_updated": report.updated["schools"],
            "municipalities_created": report.created["municipalities"],
        }
        audit.record(session, actor, "import.schools", "school", after={"format": table.format, **counts})
        logger.info("Schools imported by %s: %s", actor.label, counts)
    return report
