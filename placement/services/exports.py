"""Placement lists for schools and employers, as CSV and XLSX.

Only what a list needs is exported: names, school, class, dates, employer,
offer and workplace, supervisor contact, rank and status; no birth dates,
gender or attributes.  Every text cell that a spreadsheet program would read
as a formula (starting with ``= + - @``, a tab or a carriage return) gets a
leading apostrophe (RELIABILITY.md T-UP-06), in CSV and in XLSX alike.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Sequence

import openpyxl
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from placement.enums import ACTIVE_ASSIGNMENT_STATUSES, AssignmentStatus
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
from placement.services import rounds

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclasses.dataclass(frozen=True)
class PlacementRow:
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
    address: str
    supervisor: str
    supervisor_phone: str
    supervisor_email: str
    rank: int | None
    status: str

    def cells(self) -> list[object]:
        return [
            self.school,
            self.class_name,
            self.last_name,
            self.first_name,
            self.pupil_code,
            self.period,
            self.start,
            self.end,
            self.employer,
            self.offer_code,
            self.offer_title,
            self.address,
            self.supervisor,
            self.supervisor_phone,
            self.supervisor_email,
            self.rank if self.rank is not None else "",
            self.status,
        ]


HEADERS = {
    "sv": [
        "Skola",
        "Klass",
        "Efternamn",
        "Förnamn",
        "Elevkod",
        "Period",
        "Från",
        "Till",
        "Arbetsgivare",
        "Erbjudande",
        "Titel",
        "Adress",
        "Handledare",
        "Handledarens telefon",
        "Handledarens e-post",
        "Val nr",
        "Status",
    ],
    "en": [
        "School",
        "Class",
        "Last name",
        "First name",
        "Pupil code",
        "Period",
        "From",
        "To",
        "Employer",
        "Offer",
        "Title",
        "Address",
        "Supervisor",
        "Supervisor's phone",
        "Supervisor's e-mail",
        "Choice no.",
        "Status",
    ],
}


def headers(lang: str) -> list[str]:
    return list(HEADERS.get(lang, HEADERS["sv"]))


def neutralise(value: object) -> object:
    """A text a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def placement_rows(
    session: Session, round_id: int, *, school_id: int | None = None, employer_id: int | None = None
) -> list[PlacementRow]:
    """The round's placements (in force, or proposed before publication), by school, class and name."""
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
        .where(
            Assignment.round_id == allocation_round.id,
            Assignment.status.in_((*ACTIVE_ASSIGNMENT_STATUSES, AssignmentStatus.PROPOSED)),
        )
        .order_by(Pupil.id, Assignment.id)
    )
    if school_id is not None:
        query = query.where(Pupil.school_id == school_id)
    if employer_id is not None:
        query = query.where(Offer.employer_id == employer_id)
    rows: dict[int, PlacementRow] = {}
    in_force: set[int] = set()
    for assignment, pupil, school, klass, offer, employer, workplace, period in session.execute(query):
        if pupil.id in in_force:
            continue  # a pending change does not replace the placement in force
        if assignment.status is not AssignmentStatus.PROPOSED:
            in_force.add(pupil.id)
        rows[pupil.id] = PlacementRow(
            school=school.name,
            class_name=klass.name,
            last_name=pupil.last_name,
            first_name=pupil.first_name,
            pupil_code=rounds.student_id(pupil.id),
            period=period.code,
            start=period.start_date,
            end=period.end_date,
            employer=employer.name,
            offer_code=offer.code,
            offer_title=offer.title,
            address=_address(workplace),
            supervisor=offer.supervisor_name or "",
            supervisor_phone=offer.supervisor_phone or "",
            supervisor_email=offer.supervisor_email or "",
            rank=assignment.rank,
            status=assignment.status.value,
        )
    return sorted(
        rows.values(),
        key=lambda r: (
            swedish_key(r.school),
            swedish_key(r.class_name),
            swedish_key(r.last_name),
            swedish_key(r.first_name),
            r.pupil_code,
        ),
    )


def swedish_key(text: str) -> str:
    """Sort key in Swedish alphabetical order (å, ä, ö after z), independent of the database's collation."""
    return text.casefold().translate(_SWEDISH)


_SWEDISH = str.maketrans({"å": "{", "ä": "|", "ö": "}", "æ": "|", "ø": "}"})


def _address(workplace: Workplace) -> str:
    return ", ".join(part for part in (workplace.name, workplace.address) if part)


def to_csv(rows: Sequence[PlacementRow], lang: str) -> bytes:
    """UTF-8 with a byte order mark and semicolons, as Swedish Excel opens it."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(headers(lang))
    for row in rows:
        writer.writerow([neutralise(c.isoformat() if isinstance(c, dt.date) else c) for c in row.cells()])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: Sequence[PlacementRow], lang: str) -> bytes:
    """One sheet, bold frozen header row, dates as date cells."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Placeringar" if lang == "sv" else "Placements"
    sheet.append(headers(lang))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    widths = [len(h) for h in headers(lang)]
    for row in rows:
        values = [neutralise(c) for c in row.cells()]
        sheet.append(values)
        for i, value in enumerate(values):
            widths[i] = max(widths[i], min(len(str(value)), 50))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            elif isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width = width + 2
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def filename(allocation_round: AllocationRound, kind: str, fmt: str, scope: str | None) -> str:
    """A safe ASCII file name made from server data, e.g. ``praktik-round-3-school-S012.xlsx``."""
    parts = ["praktik-round", str(allocation_round.id), kind]
    if scope:
        parts.append(scope)
    ascii_name = unicodedata.normalize("NFKD", "-".join(parts)).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-") + "." + re.sub(r"[^a-z]", "", fmt)
