"""What the imports share: matching headers to columns, reading cells, the report, the problem lines.

An import reads a whole file (:func:`read`, :mod:`placement.tabular`),
matches its headers in Swedish or English whatever their case, accents or
punctuation (:func:`match_columns`), reads each row's cells with
:class:`Cells` (every problem is an :class:`Invalid` naming the row and the
field by the header as written in the file) and collects problems, at most
:data:`MAX_PROBLEMS`.  The cohort import (:mod:`placement.cohorts.imports`),
the employer import (:mod:`placement.employers.imports`) and the school import
(:mod:`placement.organisation.school_imports`) build on it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import String
from sqlalchemy.orm import InstrumentedAttribute

from placement.errors import ImportRejected, ValidationError
from placement.geo import SWEDEN
from placement.tabular import Row, Table, normalise_header, read_table

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: At most this many problems are listed; the rest are counted.
MAX_PROBLEMS = 200


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
            f"{label} {count_text(counter)}"
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


_SINGULAR = {
    "pupils": "pupil",
    "classes": "class",
    "employers": "employer",
    "workplaces": "workplace",
    "municipalities": "municipality",
}


def count_text(counter: Counter[str]) -> str:
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


@dataclasses.dataclass
class Columns:
    """Which header gives which field, and what the header row held besides."""

    headers: dict[str, str]
    unknown: list[str]
    problems: list[str]


def match_columns(table: Table, columns: Sequence[Column], *, set_aside: Callable[[str], bool]) -> Columns:
    by_name = {normalise_header(name): column.field for column in columns for name in column.names}
    found = Columns({}, [], [])
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


def unused(header: str) -> str:
    return f'column "{header}" is not used and was not stored'


# --- Reading cells -------------------------------------------------------------------------------------------


class Invalid(Exception):
    """A cell's value cannot be used; the message says why."""


class Cells:
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
        except Invalid as exc:
            self.fail(field, str(exc))
            return None

    def fail(self, field: str, message: str) -> None:
        self.ok = False
        self.problems.append(problem(self.row.number, self.headers[field], message))


def shown(text: str) -> str:
    return f'"{text}"' if len(text) <= 40 else f'"{text[:37]}..."'


def integer(text: str, what: str) -> int:
    if not re.fullmatch(r"[+-]?\d{1,9}", text):
        raise Invalid(f"{shown(text)} is not {what}")
    return int(text)


def coordinate(text: str) -> float:
    """Degrees as written in a cell, with a decimal point or a decimal comma ("57,7089")."""
    if not re.fullmatch(r"[+-]?\d{1,3}(?:[.,]\d+)?", text):
        raise Invalid(f"{shown(text)} is not a coordinate in degrees (e.g. 57.7089)")
    return float(text.replace(",", "."))


def row_coordinates(cells: Cells) -> tuple[float, float] | None:
    """The row's (lat, lon) from the fields "lat" and "lon": both or neither, and in Sweden.

    The caller checks first that the file has both columns or neither.
    """
    given = {field: bool(cells.text(field)) for field in ("lat", "lon")}
    if given["lat"] != given["lon"]:
        cells.fail("lon" if given["lat"] else "lat", "give both latitude and longitude, or neither")
        return None
    lat, lon = cells.parse("lat", coordinate), cells.parse("lon", coordinate)
    if lat is None or lon is None:
        return None
    if not SWEDEN.contains(lat, lon):
        cells.fail("lat", f"{lat}, {lon} is not in Sweden")
        return None
    return (lat, lon)


def column_length(attribute: InstrumentedAttribute[Any]) -> int:
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


def tags(text: str) -> list[str]:
    """Tags from a list such as "Svenska, engelska": ["swedish", "english"]; others lower-cased."""
    tags: list[str] = []
    for part in re.split(r"[,;/|]", text):
        name = " ".join(part.split())
        tag = _TAGS.get(normalise_header(name), name.casefold())
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def read(data: bytes, filename: str) -> Table:
    try:
        return read_table(data, filename)
    except ValidationError as exc:
        raise ImportRejected(exc.problems) from exc


def listed(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]


def problem(row_number: int, header: str, message: str) -> str:
    return f'row {row_number}, field "{header}": {message}'
