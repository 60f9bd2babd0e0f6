"""Placement lists for schools and employers, as CSV and XLSX.

Only what a list needs is exported: names, school, class, dates, employer,
offer and workplace, supervisor contact, rank and status; no birth dates,
gender or attributes.  Every text cell that a spreadsheet program would read
as a formula (starting with ``= + - @``, a tab or a carriage return) gets a
leading apostrophe, in CSV and in XLSX alike, so that text from a form or an
upload (a name, an offer's title) cannot run as a formula when a list is
opened in a spreadsheet program.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from placement.collation import swedish_key
from placement.errors import NotFound
from placement.models import (
    AllocationRound,
    Assignment,
    Employer,
    Offer,
    Period,
    Pupil,
    School,
    SchoolClass,
    Workplace,
)
from placement.rounds import bridge
from placement.rounds import setup as rounds

#: A text starting with one of these is a formula to Excel, LibreOffice or Google Sheets (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")
DATE_FORMAT = "yyyy-mm-dd"


@dataclasses.dataclass(frozen=True)
class PlacementRow:
    """One pupil's placement in a list; the fields are the columns, in order."""

    school: str
    class_name: str
    last_name: str
    first_name: str
    pupil_code: str
    period: str
    start: dt.date
    end: dt.date
    employer: str
    offer_code: str
    offer_title: str
    workplace: str
    address: str
    supervisor: str
    supervisor_phone: str
    supervisor_email: str
    rank: int | None
    status: str

    def cells(self) -> list[object]:
        """The values in column order; an unranked placement has ``None`` as rank."""
        return [getattr(self, column) for column in COLUMNS]


#: The columns of the list: PlacementRow fields, in order.  Their headers are the web layer's
#: (``web.labels.PLACEMENT_COLUMNS``), in the user's language from the catalogues.
COLUMNS: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(PlacementRow))


def neutralise(value: object) -> object:
    """A text a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@dataclasses.dataclass(frozen=True)
class Scope:
    """Whose placements an export holds: one school's, one employer's, or all."""

    school: School | None = None
    employer: Employer | None = None

    @property
    def kind(self) -> str:
        return "school" if self.school else "employer" if self.employer else "all"

    @property
    def code(self) -> str | None:
        return self.school.code if self.school else self.employer.code if self.employer else None


def scope(session: Session, *, school_code: str | None = None, employer_code: str | None = None) -> Scope:
    """The export's scope from a school's or an employer's code; NotFound names an unknown one."""
    school = employer = None
    if school_code:
        school = session.scalar(select(School).where(School.code == school_code))
        if school is None:
            raise NotFound(f'school "{school_code}" does not exist')
    if employer_code:
        employer = session.scalar(select(Employer).where(Employer.code == employer_code))
        if employer is None:
            raise NotFound(f'employer "{employer_code}" does not exist')
    return Scope(school, employer)


def placement_rows(
    session: Session, round_id: int, *, school_id: int | None = None, employer_id: int | None = None
) -> list[PlacementRow]:
    """The round's placements, in force or proposed, by school, class and name.

    A pending change (a proposal beside a placement in force) is left out: the
    list shows where the pupil goes now (:func:`bridge.counts_in_round`).  ``school_id`` keeps a school's pupils,
    ``employer_id`` the pupils placed at an employer's offers.
    """
    allocation_round = rounds.get_round(session, round_id)
    query = (
        select(Assignment, Pupil, School, SchoolClass, Offer, Employer, Workplace, Period)
        .join(Pupil, Assignment.pupil_id == Pupil.id)
        .join(School, Pupil.school_id == School.id)
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .join(Offer, Assignment.offer_id == Offer.id)
        .join(Employer, Offer.employer_id == Employer.id)
        .join(Workplace, Offer.workplace_id == Workplace.id)
        .join(Period, Assignment.period_id == Period.id)
        .where(Assignment.round_id == allocation_round.id, bridge.counts_in_round())
    )
    if school_id is not None:
        query = query.where(Pupil.school_id == school_id)
    if employer_id is not None:
        query = query.where(Offer.employer_id == employer_id)
    rows = [
        PlacementRow(
            school=school.name,
            class_name=klass.name,
            last_name=pupil.last_name,
            first_name=pupil.first_name,
            pupil_code=bridge.student_id(pupil.id),
            period=period.code,
            start=period.start_date,
            end=period.end_date,
            employer=employer.name,
            offer_code=offer.code,
            offer_title=offer.title,
            workplace=workplace.name,
            address=workplace.address,
            supervisor=offer.supervisor_name or "",
            supervisor_phone=offer.supervisor_phone or "",
            supervisor_email=offer.supervisor_email or "",
            rank=assignment.rank,
            status=assignment.status.value,
        )
        for assignment, pupil, school, klass, offer, employer, workplace, period in session.execute(query)
    ]
    return sorted(
        rows,
        key=lambda r: (
            swedish_key(r.school),
            swedish_key(r.class_name),
            swedish_key(r.last_name),
            swedish_key(r.first_name),
            r.pupil_code,
            r.start,
        ),
    )


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return neutralise(value)


def table_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a byte order mark and semicolons, as Swedish Excel opens it; ISO dates; no cell a formula."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_csv(rows: Sequence[PlacementRow], headers: Sequence[str]) -> bytes:
    """The placement list as CSV (:func:`table_csv`) under ``headers``, one per column of :data:`COLUMNS`."""
    return table_csv(_checked(headers), (row.cells() for row in rows))


#: Control characters an XLSX file cannot hold (openpyxl refuses them).
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MIN_WIDTH = 6
MAX_WIDTH = 50


def _xlsx_cell(value: object) -> object:
    if isinstance(value, str):
        return neutralise(_XML_ILLEGAL.sub("", value))
    return value


def to_xlsx(rows: Sequence[PlacementRow], headers: Sequence[str], *, title: str) -> bytes:
    """The placement list as XLSX (:func:`table_xlsx`): one sheet named ``title``, ``headers`` as in :func:`to_csv`."""
    return table_xlsx(title, _checked(headers), (row.cells() for row in rows))


def _checked(headers: Sequence[str]) -> Sequence[str]:
    if len(headers) != len(COLUMNS):
        raise ValueError(f"{len(headers)} headers for {len(COLUMNS)} columns")
    return headers


def table_xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """One sheet with a bold, frozen header row and a filter; dates as date cells, text never a formula."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    table: list[Sequence[object]] = [list(header), *rows]
    widths = [MIN_WIDTH] * len(header)
    for row_number, values in enumerate(table, start=1):
        for column_number, raw in enumerate(values, start=1):
            value = _xlsx_cell(raw)
            cell = sheet.cell(row=row_number, column=column_number, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula or an error code, whatever the text
                shown = len(value)
            elif isinstance(value, dt.date):
                cell.number_format = DATE_FORMAT
                shown = len(DATE_FORMAT)
            else:
                shown = len(str(value)) if value is not None else 0
            if row_number == 1:
                cell.font = Font(bold=True)
            widths[column_number - 1] = max(widths[column_number - 1], min(shown, MAX_WIDTH))
    for column_number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column_number)].width = width + 2
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


_TRANSLITERATE = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l"})
_NOT_SAFE = re.compile(r"[^A-Za-z0-9_]+")
MAX_PART = 40


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE)).encode("ascii", "ignore").decode()
    return _NOT_SAFE.sub("-", ascii_text)[:MAX_PART].strip("-_")


def filename(allocation_round: AllocationRound, kind: str, fmt: str, scope: str | None) -> str:
    """A safe ASCII file name made from server data, e.g. ``praktik-round-3-school-S012.xlsx``.

    Only ``A-Z a-z 0-9 _ -`` appear before the one dot of the extension.
    """
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r} is not one of {', '.join(FORMATS)}")
    parts = ["praktik", "round", str(allocation_round.id), _slug(kind), _slug(scope or "")]
    return "-".join(part for part in parts if part) + "." + fmt
