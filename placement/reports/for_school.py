"""The school's status export: every pupil of the user's schools with status and placement, as CSV or XLSX."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence

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


@dataclasses.dataclass(frozen=True)
class StatusRow:
    school: str
    class_name: str
    last_name: str
    first_name: str
    pupil_code: str
    status: PupilStatus
    choices: int
    employer: str
    offer_code: str
    offer_title: str
    period: str
    start: dt.date | None
    end: dt.date | None

    def cells(self, labels: Mapping[PupilStatus, str]) -> list[object]:
        """The values in column order, the status as ``labels`` words it."""
        return [labels[self.status] if field == "status" else getattr(self, field) for field in STATUS_COLUMNS]


#: The columns of the export: StatusRow fields, in order.  Their headers and the statuses' words are
#: the web layer's (``web.labels``), in the user's language from the catalogues.
STATUS_COLUMNS: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(StatusRow))


def status_rows(session: Session, user: User, *, school_id: int | None = None) -> list[StatusRow]:
    """Every pupil of the user's schools (or of one of them) with status and placement, by school, class and name."""
    ids = [school_for(session, user, school_id).id] if school_id is not None else school_ids(session, user)
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
                status=line.status,
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


def status_csv(rows: Sequence[StatusRow], headers: Sequence[str], labels: Mapping[PupilStatus, str]) -> bytes:
    """The pupils' status as CSV, written as every export is (:func:`exports.table_csv`)."""
    return exports.table_csv(_checked(headers), (row.cells(labels) for row in rows))


def status_xlsx(
    rows: Sequence[StatusRow], headers: Sequence[str], labels: Mapping[PupilStatus, str], *, title: str
) -> bytes:
    """The pupils' status as XLSX, written as every export is (:func:`exports.table_xlsx`)."""
    return exports.table_xlsx(title, _checked(headers), (row.cells(labels) for row in rows))


def _checked(headers: Sequence[str]) -> Sequence[str]:
    if len(headers) != len(STATUS_COLUMNS):
        raise ValueError(f"{len(headers)} headers for {len(STATUS_COLUMNS)} columns")
    return headers


def export_filename(fmt: str, school: School | None) -> str:
    scope = f"-{re.sub(r'[^A-Za-z0-9_-]+', '-', school.code)[:40]}" if school is not None else ""
    return f"praktik-pupils{scope}-{utcnow():%Y%m%d}.{fmt}"
