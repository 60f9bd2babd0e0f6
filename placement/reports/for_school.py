"""The school's status export: every pupil of the user's schools with status and placement, as CSV or XLSX."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from placement.cohorts.for_school import PupilStatus, pupil_lines, pupils_of
from placement.db import utcnow
from placement.models import (
    School,
    User,
)
from placement.organisation.for_school import school_for, school_ids
from placement.reports import exports
from placement.rounds.bridge import student_id

logger = logging.getLogger(__name__)


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
    ids = [school_for(session, user, school_id).id] if school_id is not None else school_ids(session, user)
    labels = STATUS_LABELS[exports.language(lang)]
    rows = []
    for line in pupil_lines(session, pupils_of(session, school_ids=ids)):
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
