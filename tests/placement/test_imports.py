"""Importing cohorts and employers from CSV and XLSX as schools and municipalities export them.

Files are built here, byte by byte, in the encodings and separators real
exports use; one Excel-made employer list is committed in
``tests/data/imports``.  Every database test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import audit, import_cells, tabular, validation
from placement.cohorts.imports import import_cohort
from placement.employers import imports as employer_import
from placement.employers.imports import import_employers
from placement.enums import EmployerStatus, Gender, GeoStatus, Sector
from placement.errors import ImportRejected, ValidationError
from placement.models import AuditEvent, Employer, Offer, Pupil, SchoolClass, Workplace
from placement.tabular import normalise_header, read_table
from tests import factories

ACTOR = audit.Actor("test")
THIS_YEAR = dt.datetime.now(dt.UTC).year
YEAR_8 = THIS_YEAR - 14  # born this year: in year 8 this autumn
YEAR_9 = THIS_YEAR - 15

HEADER = ["Förnamn", "Efternamn", "Klass", "Kön", "Födelseår", "Födelsemånad", "Elev-ID"]
ASA = ["Åsa", "Öberg", "8A", "Flicka", str(YEAR_8), "3", "E001"]
ORJAN = ["Örjan", "Ängström", "8A", "Pojke", str(YEAR_8), "11", "E002"]
KIM = ["Kim", "Ek", "9B", "", str(YEAR_9), "7", "E003"]
COHORT = [HEADER, ASA, ORJAN, KIM]

# A personal identity number with a valid check digit (Skatteverket's own example).
IDENTITY_NUMBER = "811218-9876"


def csv_bytes(rows: list[list[str]], *, delimiter: str = ";", encoding: str = "utf-8", newline: str = "\r\n") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(*sheets: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for number, rows in enumerate(sheets):
        sheet = workbook.active if number == 0 else workbook.create_sheet(f"Blad{number + 1}")
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def pupils_of(session: Session, school: factories.m.School) -> list[Pupil]:
    """The school's pupils by first name (sorted here: databases sort "Å" by their own collations)."""
    return sorted(session.scalars(select(Pupil).where(Pupil.school_id == school.id)), key=lambda p: p.first_name)


def rejected(call: object, *args: object, **kwargs: object) -> list[str]:
    """The problems an import raises."""
    assert callable(call)
    with pytest.raises(ImportRejected) as info:
        call(*args, **kwargs)
    return info.value.problems


# --- Reading files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("utf-8-sig", ";"),  # Excel "CSV UTF-8"
        ("cp1252", ";"),  # Excel "CSV (semikolonavgränsad)" in a Swedish locale
        ("utf-8", ","),
        ("utf-8", "\t"),
        ("utf-16", "\t"),  # Excel "Unicode text": UTF-16 with a byte order mark
    ],
)
def test_csv_in_the_encodings_and_separators_of_real_exports(encoding: str, delimiter: str) -> None:
    data = csv_bytes(COHORT, delimiter=delimiter, encoding=encoding)
    table = read_table(data, "elever.csv")
    assert table.headers == HEADER
    assert [row.number for row in table.rows] == [2, 3, 4]
    assert table.rows[0].values["Förnamn"] == "Åsa"
    assert table.rows[1].values["Efternamn"] == "Ängström"
    assert table.rows[0].values["Efternamn"] == "Öberg"


def test_cp1252_file_is_not_read_as_utf8() -> None:
    data = csv_bytes(COHORT, encoding="cp1252")
    assert "Å".encode("cp1252") in data  # really the Windows-1252 byte, not UTF-8
    assert read_table(data, "elever.csv").rows[0].values["Förnamn"] == "Åsa"


def test_mixed_line_endings_quotes_and_empty_rows_keep_spreadsheet_row_numbers() -> None:
    data = ('Förnamn;Efternamn;Klass\r\n"Åsa";"Öberg; från Malmö";8A\n\r\nBo;"Ek\nEkström";8B\r\n;;\r\n\n\n').encode()
    table = read_table(data, "elever.CSV")
    assert [(row.number, row.values["Efternamn"]) for row in table.rows] == [
        (2, "Öberg; från Malmö"),
        (4, "Ek\nEkström"),
    ]


def test_separator_inside_quoted_header_does_not_decide() -> None:
    table = read_table(b'"Namn, efternamn";Klass\r\nAnna;8A\r\n', "x.csv")
    assert table.headers == ["Namn, efternamn", "Klass"]


def test_cells_are_trimmed_and_composed() -> None:
    decomposed = "A\u030asa"  # "Åsa" as macOS writes it
    table = read_table(f"Förnamn , Klass\n  {decomposed}\u00a0, 8A \n".encode(), "x.csv")
    assert table.headers == ["Förnamn", "Klass"]
    assert table.rows[0].values == {"Förnamn": "Åsa", "Klass": "8A"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b" \r\n\r\n", "the file is empty"),
        (b"F\xc3\xb6rnamn;Klass\r\n", "the file has column names but no rows"),
        (b"F\xc3\xb6rnamn;Klass\r\n;\r\n", "the file has column names but no rows"),
        (b"\r\nAnna;8A\r\n", "row 1 is empty: the first row must hold the column names"),
        (b"Namn;Klass\r\nAnna\x00;8A\r\n", "the file contains NUL bytes: it is not a text (CSV) file"),
        (b"Namn;Klass\r\nAnna\x81\x8d;8A\r\n", "the file's text is not in a known encoding"),
        (b'Namn;Klass\r\n"Anna;8A\r\n', "the CSV file cannot be read at line 2: unexpected end of data"),
        (b"Namn;Klass;namn\r\nA;B;C\r\n", 'column "namn" appears twice (also as "Namn")'),
        (b"Namn;Klass\r\nAnna;8A;extra\r\n", "row 2: column 3 has a value but no column name in row 1"),
        (b"Namn;;Klass\r\nAnna;x;8A\r\n", "row 2: column 2 has a value but no column name in row 1"),
    ],
)
def test_unreadable_csv_is_refused_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        read_table(data, "elever.csv")
    assert info.value.problems[0].startswith(message)


def test_empty_header_column_without_values_is_dropped() -> None:
    table = read_table(b"Namn;;Klass;;\r\nAnna;;8A;;\r\n", "x.csv")
    assert table.headers == ["Namn", "Klass"]
    assert table.rows[0].values == {"Namn": "Anna", "Klass": "8A"}


def test_upload_over_the_limit_is_refused_before_reading() -> None:
    data = b"Namn;Klass\r\n" + b"A" * tabular.MAX_UPLOAD_BYTES
    with pytest.raises(ValidationError, match="at most 5,242,880 bytes"):
        read_table(data, "elever.csv")


def test_too_many_rows_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular, "MAX_ROWS", 3)
    read_table(b"Namn\n1\n2\n3\n", "x.csv")
    with pytest.raises(ValidationError, match="more than 3 rows"):
        read_table(b"Namn\n1\n2\n3\n4\n", "x.csv")


def test_empty_rows_count_as_they_are_read_so_a_sheet_of_empty_rows_stops_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tabular, "MAX_ROWS", 3)
    monkeypatch.setattr(tabular, "MAX_EMPTY_ROWS", 2)
    assert len(read_table(b"Namn\n1\n\n2\n;\n3\n", "x.csv").rows) == 3  # a few empty rows are fine
    with pytest.raises(ValidationError, match="more than 5 rows, empty ones included"):
        read_table(b"Namn\n1\n" + b";\n" * 50 + b"2\n", "x.csv")


def test_an_xlsx_of_four_hundred_thousand_empty_rows_is_refused_without_reading_it_all() -> None:
    """The abuse case of a small workbook whose sheet holds hundreds of thousands of empty rows."""
    rows = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t></t></is></c></row>' for n in range(2, 400_002))
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Förnamn</t></is></c></row>' + rows + "</sheetData></worksheet>"
    )
    workbook = _minimal_xlsx(sheet)
    assert len(workbook) < tabular.MAX_UPLOAD_BYTES
    read: list[int] = []
    real = tabular._cell_text

    def counting(value: object) -> str:
        read.append(1)
        return real(value)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tabular, "_cell_text", counting)
        with pytest.raises(ValidationError, match="empty ones included"):
            read_table(workbook, "elever.xlsx")
    # Stopped at the limit (each row is read as MAX_COLUMNS + 1 cells), not at row 400,001.
    assert len(read) <= (tabular.MAX_ROWS + tabular.MAX_EMPTY_ROWS + 2) * (tabular.MAX_COLUMNS + 1)


def _minimal_xlsx(sheet_xml: str) -> bytes:
    """A workbook of one sheet, written part by part (openpyxl would take minutes for so many rows)."""
    import io
    import zipfile

    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Elever" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("elever.xls", r"old Excel files \(\.xls\) cannot be read"),
        ("elever.ods", 'files named ".ods" cannot be imported'),
        ("elever", 'files named "elever" cannot be imported'),
    ],
)
def test_unsupported_file_kinds_are_refused(filename: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        read_table(b"Namn\nAnna\n", filename)


def test_path_in_the_filename_is_only_used_for_its_suffix() -> None:
    assert read_table(b"Namn\nAnna\n", "../../etc/passwd.csv").rows[0].values == {"Namn": "Anna"}


def test_xlsx_cells_become_the_text_people_see() -> None:
    midnight, morning = dt.datetime(2012, 5, 17), dt.datetime(2026, 11, 2, 8, 30)  # noqa: DTZ001  (Excel has no zones)
    data = xlsx_bytes(
        [
            ["Födelseår", "Lat", "Datum", "Tid", "Ja", "Namn"],
            [2012, 57.7089, midnight, morning, True, " Åsa "],
            [2012.0, None, dt.date(2013, 1, 2), None, False, "Örjan"],
        ],
        [["Något annat"], ["på blad 2"]],
    )
    table = read_table(data, "elever.xlsx")
    assert table.format == "xlsx"
    assert table.headers == ["Födelseår", "Lat", "Datum", "Tid", "Ja", "Namn"]
    assert [list(row.values.values()) for row in table.rows] == [
        ["2012", "57.7089", "2012-05-17", "2026-11-02T08:30:00", "true", "Åsa"],
        ["2012", "", "2013-01-02", "", "false", "Örjan"],
    ]


def test_csv_renamed_xlsx_is_refused_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openpyxl, "load_workbook", pytest.fail)
    with pytest.raises(ValidationError, match="not an XLSX workbook"):
        read_table(csv_bytes(COHORT), "elever.xlsx")


def test_xlsx_named_csv_is_refused() -> None:
    with pytest.raises(ValidationError, match="is a zip archive"):
        read_table(xlsx_bytes(COHORT), "elever.csv")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        # One entry that unpacks to 60 MB of zeros (about 60 kB packed).
        ({"xl/worksheets/sheet1.xml": bytes(60 * 2**20)}, "unpacks to 62,914,560 bytes"),
        # Small enough in total, but packed a thousand times over.
        ({"xl/worksheets/sheet1.xml": bytes(20 * 2**20)}, "compressed suspiciously tightly"),
        ({f"xl/media/image{n}.png": b"x" for n in range(tabular.MAX_ZIP_ENTRIES + 1)}, "has 201 parts"),
    ],
)
def test_zip_bombs_are_refused_before_openpyxl_parses(
    monkeypatch: pytest.MonkeyPatch, entries: dict[str, bytes], message: str
) -> None:
    data = zip_bytes(entries)
    assert len(data) < tabular.MAX_UPLOAD_BYTES
    monkeypatch.setattr(openpyxl, "load_workbook", pytest.fail)
    with pytest.raises(ValidationError, match=message):
        read_table(data, "elever.xlsx")


def test_broken_zip_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a valid zip archive"):
        read_table(b"PK\x03\x04" + bytes(100), "elever.xlsx")


def test_zip_that_is_not_a_workbook_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"the XLSX workbook cannot be read \(KeyError\)"):
        read_table(zip_bytes({"word/document.xml": b"<w/>"}), "elever.xlsx")


def test_xml_entity_expansion_is_refused() -> None:
    """A "billion laughs" sheet: defusedxml refuses the entity declarations."""
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes([["Namn"], ["Anna"]]))) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    sheet = entries["xl/worksheets/sheet1.xml"]
    assert sheet.startswith(b"<worksheet ")
    entries["xl/worksheets/sheet1.xml"] = f'<!DOCTYPE worksheet [<!ENTITY l0 "ha">{laughs}]>'.encode() + sheet
    with pytest.raises(ValidationError, match="declares XML entities, which are refused"):
        read_table(zip_bytes(entries), "elever.xlsx")


def test_xlsx_is_never_parsed_without_defusedxml(monkeypatch: pytest.MonkeyPatch) -> None:
    assert openpyxl.DEFUSEDXML  # defusedxml is installed and openpyxl uses it
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(RuntimeError, match="defusedxml"):
        read_table(xlsx_bytes(COHORT), "elever.xlsx")


def test_empty_first_sheet_is_refused() -> None:
    with pytest.raises(ValidationError, match="the first sheet is empty"):
        read_table(xlsx_bytes([], COHORT), "elever.xlsx")


def test_cells_right_of_the_header_are_refused_and_far_right_ones_not_read() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"], sheet["A2"], sheet["XFD2"] = "Namn", "Anna", "långt bort"
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert [row.values for row in read_table(buffer.getvalue(), "elever.xlsx").rows] == [{"Namn": "Anna"}]
    sheet.cell(row=3, column=tabular.MAX_COLUMNS + 1, value="gömt")
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(ValidationError, match="row 3: column 101 has a value but no column name"):
        read_table(buffer.getvalue(), "elever.xlsx")


@pytest.mark.parametrize(
    ("header", "normalised"),
    [(" Förnamn ", "fornamn"), ("FÖDELSEÅR", "fodelsear"), ("E-post", "e post"), ("first_name", "first name")],
)
def test_headers_compare_without_case_accents_or_punctuation(header: str, normalised: str) -> None:
    assert normalise_header(header) == normalised


# --- Cohorts -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ";"), ("cp1252", ";"), ("utf-8", ","), ("utf-8", "\t")],
)
def test_cohort_import_stores_swedish_letters(db_session: Session, encoding: str, delimiter: str) -> None:
    school = factories.school(db_session)
    report = import_cohort(
        db_session, school, csv_bytes(COHORT, delimiter=delimiter, encoding=encoding), "elever.csv", actor=ACTOR
    )
    assert (report.created["pupils"], report.created["classes"], report.rows) == (3, 2, 3)
    db_session.expire_all()
    kim, asa, orjan = pupils_of(db_session, school)
    assert (asa.full_name, orjan.full_name) == ("Åsa Öberg", "Örjan Ängström")
    assert (asa.gender, orjan.gender, kim.gender) == (Gender.FEMALE, Gender.MALE, None)
    assert (asa.birth_year, asa.birth_month, asa.external_id) == (YEAR_8, 3, "E001")
    assert (asa.school_class.name, asa.school_class.year, kim.school_class.name, kim.school_class.year) == (
        "8A",
        8,
        "9B",
        9,
    )
    assert asa.class_id == orjan.class_id


def test_english_headers_birth_dates_and_languages(db_session: Session) -> None:
    school = factories.school(db_session)
    data = csv_bytes(
        [
            ["First name", "SURNAME", "class", "Gender", "Date of birth", "Languages"],
            ["Anna", "Berg", "8c", "female", f"{YEAR_8}-05-17", "Svenska, ENGELSKA, klingonska"],
            ["Bo", "Ek", "8C", "M", f"{YEAR_8}-09", ""],
        ],
        delimiter=",",
    )
    import_cohort(db_session, school, data, "pupils.csv", actor=ACTOR)
    anna, bo = pupils_of(db_session, school)
    assert (anna.birth_year, anna.birth_month, anna.gender) == (YEAR_8, 5, Gender.FEMALE)
    assert (bo.birth_month, bo.gender) == (9, Gender.MALE)
    assert anna.attributes == ["swedish", "english", "klingonska"]
    assert bo.attributes == []
    assert anna.class_id == bo.class_id  # "8c" and "8C" are one class
    assert count(db_session, SchoolClass) == len(school.classes) == 1


def test_xlsx_cohort_with_numeric_cells(db_session: Session) -> None:
    school = factories.school(db_session)
    data = xlsx_bytes([HEADER, ["Åsa", "Öberg", "8A", "F", YEAR_8, 3, 1001], ["Bo", "Ek", "8A", "P", YEAR_8, 12, 1002]])
    report = import_cohort(db_session, school, data, "elever.xlsx", actor=ACTOR)
    assert report.created["pupils"] == 2
    assert [(p.first_name, p.birth_year, p.external_id) for p in pupils_of(db_session, school)] == [
        ("Bo", YEAR_8, "1002"),
        ("Åsa", YEAR_8, "1001"),
    ]


def test_bad_rows_are_all_reported_with_row_and_field_as_written(db_session: Session) -> None:
    school = factories.school(db_session)
    rows = [
        ["förnamn ", "Efternamn", "KLASS", "Kön", "Födelseår", "Födelsemånad"],
        ["Anna", "Berg", "8A", "Flicka", "20x2", "3"],
        ["", "Berg", "8A", "Q", str(YEAR_8), "13"],
        ["Cecilia", "B" * 101, "8A", "", str(THIS_YEAR - 3), ""],
    ]
    problems = rejected(import_cohort, db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR)
    assert problems == [
        'row 2, field "Födelseår": "20x2" is not a year',
        'row 3, field "förnamn": a value is required',
        'row 3, field "Födelsemånad": 13 is not a month (1-12)',
        'row 3, field "Kön": "Q" is not a gender (Flicka, Pojke, Annat, or leave it empty)',
        'row 4, field "Efternamn": is longer than 100 characters',
        f'row 4, field "Födelseår": {THIS_YEAR - 3} is not a plausible birth year for a pupil '
        f"(expected {THIS_YEAR - 20}-{THIS_YEAR - 10})",
    ]
    assert count(db_session, Pupil) == 0


def test_missing_and_doubled_columns_are_reported(db_session: Session) -> None:
    school = factories.school(db_session)
    data = csv_bytes([["Förnamn", "First name", "Klass"], ["Anna", "Anna", "8A"]])
    assert rejected(import_cohort, db_session, school, data, "elever.csv", actor=ACTOR) == [
        'columns "Förnamn" and "First name" give the same field',
        'the column "Efternamn" or "Last name" is missing',
        'the column "Födelseår" or "Birth year" is missing (or give a date of birth in "Födelsedatum")',
    ]


def test_duplicate_pupils_name_both_rows_and_nothing_is_imported(db_session: Session) -> None:
    school = factories.school(db_session)
    twice_by_id = ["Åsa", "Öberg", "8B", "", str(YEAR_8), "3", "E001"]
    no_id = ["Per", "Ek", "8A", "", str(YEAR_8), "1", ""]
    rows = [*COHORT, twice_by_id, no_id, [*no_id[:2], "8a", *no_id[3:]]]
    assert rejected(import_cohort, db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR) == [
        'rows 2 and 5: the same pupil twice (the same "Elev-ID")',
        "rows 6 and 7: the same pupil twice (the same name, class and birth year)",
    ]
    assert count(db_session, Pupil) == count(db_session, SchoolClass) == 0


@pytest.mark.slow
def test_one_bad_row_in_5000_imports_nothing_and_names_row_and_field(db_session: Session) -> None:
    school = factories.school(db_session)
    before = factories.pupil(db_session, school=school, first_name="Redan", external_id="X1")
    rows: list[list[object]] = [HEADER]
    rows += [[f"Elev{n}", "Svensson", f"8{'ABCDEFGH'[n % 8]}", "Pojke", YEAR_8, n % 12 + 1, n] for n in range(5000)]
    rows[2718][4] = "20x2"  # spreadsheet row 2719
    data = xlsx_bytes(rows)
    assert rejected(import_cohort, db_session, school, data, "elever.xlsx", actor=ACTOR) == [
        'row 2719, field "Födelseår": "20x2" is not a year'
    ]
    assert pupils_of(db_session, school) == [before]
    assert count(db_session, AuditEvent) == 0

    rows[2718][4] = YEAR_8
    report = import_cohort(db_session, school, xlsx_bytes(rows), "elever.xlsx", actor=ACTOR)
    assert report.created["pupils"] == 5000
    assert len(pupils_of(db_session, school)) == 5001


def test_unknown_column_is_reported_and_never_stored(db_session: Session) -> None:
    school = factories.school(db_session)
    rows = [[*HEADER, "Allergier"], [*ASA, "Jordnötter (svår)"]]
    report = import_cohort(db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR)
    assert report.warnings == ['column "Allergier" is not used and was not stored']
    assert 'warning: column "Allergier" is not used and was not stored' in str(report)
    (pupil,) = pupils_of(db_session, school)
    stored = [getattr(pupil, column.key) for column in Pupil.__table__.columns]
    stored += [event.after for event in db_session.scalars(select(AuditEvent))]
    assert "Jordnötter" not in repr(stored)


@pytest.mark.parametrize(
    "header", ["Personnummer", "Elevens personnr", "PNR", "Samordningsnummer", "Personal identity number"]
)
def test_personal_identity_number_column_is_refused(db_session: Session, header: str) -> None:
    school = factories.school(db_session)
    rows = [[*HEADER, header], [*ASA, ""]]
    assert rejected(import_cohort, db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR) == [
        f'column "{header}" holds personal identity numbers, which Praktik does not store: '
        "remove the column and import again"
    ]
    assert count(db_session, Pupil) == 0


@pytest.mark.parametrize(
    # The last is a coordination number: the day plus 60.
    "value",
    ["811218-9876", "8112189876", "19811218-9876", "198112189876", "811218+9876", "nr 811278-9873 (samordn.)"],
)
def test_personal_identity_number_in_a_cell_is_refused_and_masked(db_session: Session, value: str) -> None:
    school = factories.school(db_session)
    rows = [[*HEADER, "Anteckning"], [*ASA, ""], [*ORJAN, value]]
    (problem,) = rejected(import_cohort, db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR)
    assert problem.startswith('row 3, field "Anteckning": "')
    assert "looks like a personal identity number" in problem
    assert not any(ch.isdigit() for ch in problem.split(":", 1)[1].split("looks")[0])
    assert count(db_session, Pupil) == 0


def test_numbers_that_fail_the_check_digit_or_date_are_not_identity_numbers(db_session: Session) -> None:
    school = factories.school(db_session)
    rows = [HEADER, [*ASA[:6], "8112189875"], [*ORJAN[:6], "8113189876"], [*KIM[:6], "0701234567"]]
    report = import_cohort(db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR)
    assert report.created["pupils"] == 3


def test_reimport_updates_instead_of_duplicating(db_session: Session) -> None:
    school = factories.school(db_session)
    import_cohort(db_session, school, csv_bytes(COHORT), "elever.csv", actor=ACTOR)
    ids = {p.external_id: p.id for p in pupils_of(db_session, school)}

    again = import_cohort(db_session, school, csv_bytes(COHORT), "elever.csv", actor=ACTOR)
    assert (again.created["pupils"], again.updated["pupils"], again.unchanged["pupils"]) == (0, 0, 3)

    moved = ["Åsa", "Öberg-Lind", "9B", "Annat", str(YEAR_8), "3", "E001"]
    report = import_cohort(db_session, school, csv_bytes([HEADER, moved, ORJAN]), "elever.csv", actor=ACTOR)
    assert (report.created["pupils"], report.updated["pupils"], report.unchanged["pupils"]) == (0, 1, 1)
    db_session.expire_all()
    pupils = {p.external_id: p for p in pupils_of(db_session, school)}
    assert {k: p.id for k, p in pupils.items()} == ids
    assert (pupils["E001"].last_name, pupils["E001"].gender, pupils["E001"].school_class.name) == (
        "Öberg-Lind",
        Gender.OTHER,
        "9B",
    )
    assert count(db_session, SchoolClass) == 2


def test_reimport_without_ids_matches_by_name_class_and_birth_year(db_session: Session) -> None:
    school = factories.school(db_session)
    without_ids = [row[:6] for row in COHORT]
    import_cohort(db_session, school, csv_bytes(without_ids), "elever.csv", actor=ACTOR)
    corrected = [[*row[:5], "4" if row[0] == "Åsa" else row[5]] for row in without_ids]
    report = import_cohort(db_session, school, csv_bytes(corrected), "elever.csv", actor=ACTOR)
    assert (report.created["pupils"], report.updated["pupils"]) == (0, 1)
    # A later file with IDs adopts the pupils imported without them.
    report = import_cohort(db_session, school, csv_bytes(COHORT), "elever.csv", actor=ACTOR)
    assert (report.created["pupils"], report.updated["pupils"]) == (0, 3)
    assert sorted(p.external_id or "" for p in pupils_of(db_session, school)) == ["E001", "E002", "E003"]


def test_columns_missing_from_a_reimport_are_left_as_they_were(db_session: Session) -> None:
    school = factories.school(db_session)
    rows = [[*HEADER, "Språk"], [*ASA, "svenska"]]
    import_cohort(db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR)
    names_only = [["Elev-ID", "Förnamn", "Efternamn", "Klass", "Födelseår"], ["E001", "Åsa", "Öberg", "8A", ASA[4]]]
    report = import_cohort(db_session, school, csv_bytes(names_only), "elever.csv", actor=ACTOR)
    assert report.unchanged["pupils"] == 1
    (pupil,) = pupils_of(db_session, school)
    assert (pupil.gender, pupil.birth_month, pupil.attributes) == (Gender.FEMALE, 3, ["swedish"])


def test_two_rows_claiming_one_pupil_of_the_school_are_refused(db_session: Session) -> None:
    school = factories.school(db_session)
    import_cohort(db_session, school, csv_bytes([row[:6] for row in COHORT]), "elever.csv", actor=ACTOR)
    rows = [HEADER, ASA, [*ASA[:6], ""]]  # with an ID (adopting Åsa) and without one
    assert rejected(import_cohort, db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR) == [
        "rows 2 and 3: the same pupil of the school twice"
    ]


def test_pupils_of_other_schools_are_never_matched(db_session: Session) -> None:
    school, other = factories.school(db_session), factories.school(db_session)
    theirs = factories.pupil(db_session, school=other, first_name="Åsa", external_id="E001")
    import_cohort(db_session, school, csv_bytes(COHORT), "elever.csv", actor=ACTOR)
    assert len(pupils_of(db_session, school)) == 3
    assert pupils_of(db_session, other) == [theirs]
    assert theirs.school_id == other.id


def test_school_column_naming_another_school_is_ignored(db_session: Session) -> None:
    school, other = factories.school(db_session, name="Bänkebergsskolan"), factories.school(db_session)
    rows = [[*HEADER, "Skola"], [*ASA, other.name], [*ORJAN, other.code]]
    report = import_cohort(db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR)
    assert report.warnings == ['column "Skola" was ignored: every pupil was imported into Bänkebergsskolan']
    assert len(pupils_of(db_session, school)) == 2
    assert pupils_of(db_session, other) == []
    assert db_session.scalars(select(SchoolClass).where(SchoolClass.school_id == other.id)).all() == []


def test_unknown_birth_month_counts_as_december_and_is_reported(db_session: Session) -> None:
    school = factories.school(db_session)
    rows = [["Förnamn", "Efternamn", "Klass", "Födelseår"], ["Åsa", "Öberg", "Blå", str(YEAR_8)]]
    report = import_cohort(db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR)
    assert report.warnings == [
        'class "Blå" was created as year 8: its name gives no year',
        "1 pupils have no birth month: age rules count them as born in December, the youngest they can be",
    ]
    (pupil,) = pupils_of(db_session, school)
    assert pupil.birth_month == 12
    assert pupil.age_on(dt.date(YEAR_8 + 14, 12, 31)) == 13  # not yet 14 on the last day of the year


def test_dry_run_reports_and_writes_nothing(db_session: Session) -> None:
    school = factories.school(db_session)
    factories.pupil(db_session, school=school, first_name="Åsa", external_id="E001")
    report = import_cohort(db_session, school, csv_bytes(COHORT), "elever.csv", actor=ACTOR, dry_run=True)
    assert (report.created["pupils"], report.updated["pupils"], report.created["classes"]) == (2, 1, 2)
    assert str(report).startswith("Checked 3 rows: would create 2 pupils, 2 classes; would update 1 pupil.")
    db_session.flush()
    assert count(db_session, Pupil) == 1
    assert count(db_session, SchoolClass) == 1  # the factory's
    assert count(db_session, AuditEvent) == 0


def test_one_audit_event_with_counts_and_no_names(db_session: Session) -> None:
    school = factories.school(db_session)
    user = factories.user(db_session)
    import_cohort(db_session, school, xlsx_bytes(COHORT), "8A Åsa Öberg.xlsx", actor=audit.Actor.of(user))
    (event,) = db_session.scalars(select(AuditEvent)).all()
    assert (event.action, event.entity_type, event.entity_id, event.actor_id) == (
        "import.cohort",
        "school",
        school.id,
        user.id,
    )
    assert event.after == {
        "format": "xlsx",
        "rows": 3,
        "pupils_created": 3,
        "pupils_updated": 0,
        "pupils_unchanged": 0,
        "classes_created": 2,
    }


def test_file_problems_are_import_rejections(db_session: Session) -> None:
    school = factories.school(db_session)
    assert rejected(import_cohort, db_session, school, b"", "elever.csv", actor=ACTOR) == ["the file is empty"]


def test_problem_lists_are_capped(db_session: Session) -> None:
    school = factories.school(db_session)
    rows = [HEADER] + [[f"Elev{n}", "Ek", "8A", "?", str(YEAR_8), "1", str(n)] for n in range(250)]
    problems = rejected(import_cohort, db_session, school, csv_bytes(rows), "elever.csv", actor=ACTOR)
    assert len(problems) == import_cells.MAX_PROBLEMS + 1
    assert problems[-1] == "... and 50 more problems"


# --- Employers and offers ------------------------------------------------------------------------------------

EMPLOYER_HEADER = ["Org number", "Employer", "Workplace", "Address", "Title", "Sector", "Places w45", "Places w46"]


@pytest.fixture
def weeks(db_session: Session) -> dict[str, factories.m.Period]:
    return {
        "w45": factories.period(db_session, code="w45", start_date=dt.date(2026, 11, 2)),
        "w46": factories.period(db_session, code="w46", start_date=dt.date(2026, 11, 9)),
    }


def offers_by_title(session: Session) -> dict[str, Offer]:
    return {offer.title: offer for offer in session.scalars(select(Offer))}


def places_of(offer: Offer) -> dict[str, int]:
    return {capacity.period.code: capacity.places for capacity in offer.capacities}


def test_excel_employer_list_in_windows_1252(
    db_session: Session, data_dir: Path, weeks: dict[str, factories.m.Period]
) -> None:
    data = (data_dir / "imports" / "arbetsgivare-excel-cp1252.csv").read_bytes()
    assert codecs.BOM_UTF8 not in data
    assert "Å".encode("cp1252") in data
    assert b"\r\n" in data
    user = factories.user(db_session)
    report = import_employers(db_session, data, "arbetsgivare.csv", actor=audit.Actor.of(user))
    assert (report.created["employers"], report.created["workplaces"], report.created["offers"]) == (3, 3, 3)
    db_session.expire_all()
    offers = offers_by_title(db_session)
    bygg, fritid, forskola = offers["Byggarbetsplats"], offers["Fritidsledare"], offers["Barnskötare"]
    assert bygg.employer.name == "Åkerlunds Bygg AB"
    assert bygg.workplace.address == "Östra Hamngatan 12, 411 10 Göteborg"
    assert forskola.workplace.name == "Örby förskola"
    assert (bygg.sector, fritid.sector, forskola.sector) == (Sector.CONSTRUCTION, Sector.SPORTS, Sector.EDUCATION)
    assert (bygg.min_age, bygg.supervisor_name, bygg.supervisor_phone) == (15, "Örjan Ärlig", "031-123 45 67")
    assert forskola.requirements == ["swedish", "english"]
    assert (bygg.risk_assessment_confirmed_by_id, fritid.risk_assessment_confirmed_at) == (user.id, None)
    assert bygg.risk_assessment_confirmed_at is not None
    assert (places_of(bygg), places_of(fritid), places_of(forskola)) == ({"w45": 2, "w46": 2}, {"w45": 1}, {"w46": 3})
    assert {e.status for e in db_session.scalars(select(Employer))} == {EmployerStatus.PENDING}
    assert {w.geo_status for w in db_session.scalars(select(Workplace))} == {GeoStatus.PENDING}


@pytest.mark.parametrize(
    ("name", "sector"),
    [
        ("Vård/Hälsa", Sector.HEALTH),
        ("Vård och omsorg", Sector.HEALTH),
        ("Handel", Sector.RETAIL),
        ("Hotell & restaurang", Sector.HOSPITALITY),
        ("BYGG", Sector.CONSTRUCTION),
        ("Fordon och transport", Sector.VEHICLES),
        ("IT", Sector.IT),
        ("Offentlig förvaltning", Sector.PUBLIC),
        ("Naturbruk", Sector.AGRICULTURE),
        ("Frisör", Sector.BEAUTY),
        ("Hälso- och sjukvård", Sector.HEALTH),
        ("retail", Sector.RETAIL),
        ("Healthcare", Sector.HEALTH),
    ],
)
def test_sector_names(name: str, sector: Sector) -> None:
    assert employer_import._sector(name) is sector


def test_every_sector_has_a_swedish_name() -> None:
    assert set(employer_import._SECTOR_NAMES) == set(Sector)


def test_org_numbers_are_checked_and_normalised(db_session: Session, weeks: dict[str, factories.m.Period]) -> None:
    rows = [
        EMPLOYER_HEADER,
        ["5566778899", "A AB", "", "Storgatan 1", "Lager", "Handel", "1", ""],
        ["16802480-1238", "B AB", "", "Storgatan 2", "Lager", "Handel", "1", ""],
        ["556677-8898", "C AB", "", "Storgatan 3", "Lager", "Handel", "1", ""],
        ["55667788", "D AB", "", "Storgatan 4", "Lager", "Handel", "1", ""],
    ]
    data = csv_bytes(rows, delimiter=",")
    assert rejected(import_employers, db_session, data, "e.csv", actor=ACTOR) == [
        'row 4, field "Org number": "556677-8898" is not a valid organisation number (its check digit is wrong)',
        'row 5, field "Org number": "55667788" is not an organisation number (NNNNNN-NNNN)',
    ]
    assert count(db_session, Employer) == 0
    import_employers(db_session, csv_bytes(rows[:3], delimiter=","), "e.csv", actor=ACTOR)
    assert sorted(db_session.scalars(select(Employer.org_number))) == ["556677-8899", "802480-1238"]


def test_period_and_places_columns_one_row_per_period(
    db_session: Session, weeks: dict[str, factories.m.Period]
) -> None:
    header = ["Organisationsnummer", "Arbetsgivare", "Adress", "Titel", "Bransch", "Period", "Platser"]
    rows = [
        header,
        ["556677-8899", "Åkerlunds", "Storgatan 1", "Lager", "Lager", "w45", "2"],
        ["556677-8899", "Åkerlunds", "Storgatan 1", "Lager", "Lager", "W46", "1"],
        ["556677-8899", "Åkerlunds", "Storgatan 1", "Kassa", "Handel", "w45", "0"],
    ]
    report = import_employers(db_session, csv_bytes(rows), "e.csv", actor=ACTOR)
    assert (report.created["workplaces"], report.created["offers"]) == (1, 2)
    offers = offers_by_title(db_session)
    assert places_of(offers["Lager"]) == {"w45": 2, "w46": 1}
    assert places_of(offers["Kassa"]) == {"w45": 0}
    assert offers["Lager"].workplace.name == "Åkerlunds"  # no workplace column: named after the employer
    assert offers["Lager"].sector is Sector.TRANSPORT


def test_unknown_period_names_row_and_field(db_session: Session, weeks: dict[str, factories.m.Period]) -> None:
    rows = [
        ["Organisationsnummer", "Arbetsgivare", "Adress", "Titel", "Bransch", "Period", "Platser"],
        ["556677-8899", "Åkerlunds", "Storgatan 1", "Lager", "Lager", "w45", "2"],
        ["556677-8899", "Åkerlunds", "Storgatan 1", "Lager", "Lager", "w99", "1"],
        ["556677-8899", "Åkerlunds", "Storgatan 1", "Lager", "Lager", "w45", "-1"],
        ["556677-8899", "Åkerlunds", "Storgatan 1", "Lager", "Lager", "w45", "3"],
    ]
    assert rejected(import_employers, db_session, csv_bytes(rows), "e.csv", actor=ACTOR) == [
        'row 3, field "Period": period "w99" does not exist',
        'row 4, field "Platser": -1 is not a number of places (0 or more)',
        'row 5, field "Period": places in period "w45" are already given for this offer in row 2',
    ]
    assert count(db_session, Offer) == 0


def test_unknown_period_column_is_refused(db_session: Session, weeks: dict[str, factories.m.Period]) -> None:
    rows = [
        [*EMPLOYER_HEADER, "Platser vecka 47"],
        ["5566778899", "A AB", "", "Gatan 1", "Lager", "Handel", "1", "", "1"],
    ]
    assert rejected(import_employers, db_session, csv_bytes(rows), "e.csv", actor=ACTOR) == [
        'column "Platser vecka 47": period "vecka 47" does not exist'
    ]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (["Org nr", "Employer", "Address", "Title", "Sector"], 'no places are given: add "Platser <period>" columns'),
        (["Org nr", "Employer", "Address", "Title", "Sector", "Period"], 'column "Period" needs a column "Platser"'),
        (["Org nr", "Employer", "Address", "Title", "Sector", "Period", "Places", "Places w45"], "give places either"),
        (["Org nr", "Employer", "Address", "Title", "Sector", "Lat", "Places w45"], 'give both a "Lat" and a "Lon"'),
    ],
)
def test_place_and_coordinate_columns_must_fit_together(
    db_session: Session, weeks: dict[str, factories.m.Period], header: list[str], problem: str
) -> None:
    rows = [header, ["x"] * len(header)]
    (found,) = rejected(import_employers, db_session, csv_bytes(rows), "e.csv", actor=ACTOR)
    assert found.startswith(problem)


def test_coordinates_make_a_workplace_manual(db_session: Session, weeks: dict[str, factories.m.Period]) -> None:
    rows = [
        [*EMPLOYER_HEADER, "Lat", "Lon"],
        ["5566778899", "A AB", "Hamnen", "Kajen 1, Göteborg", "Lager", "Transport", "1", "", "57,7089", "11,9746"],
        ["5566778899", "A AB", "Kontoret", "Gatan 2, Göteborg", "Kontor", "Kontor", "1", "", "", ""],
    ]
    import_employers(db_session, csv_bytes(rows), "e.csv", actor=ACTOR)
    workplaces = {w.name: w for w in db_session.scalars(select(Workplace))}
    hamnen, kontoret = workplaces["Hamnen"], workplaces["Kontoret"]
    assert (hamnen.lat, hamnen.lon, hamnen.geo_status) == (57.7089, 11.9746, GeoStatus.MANUAL)
    assert (kontoret.lat, kontoret.lon, kontoret.geo_status) == (None, None, GeoStatus.PENDING)


def test_coordinates_outside_sweden_or_half_given_are_refused(
    db_session: Session, weeks: dict[str, factories.m.Period]
) -> None:
    rows = [
        [*EMPLOYER_HEADER, "Lat", "Lon"],
        ["5566778899", "A AB", "Hamnen", "Kajen 1", "Lager", "Transport", "1", "", "11.97", "57.70"],
        ["5566778899", "A AB", "Torget", "Torget 1", "Lager", "Transport", "1", "", "57.70", ""],
        ["5566778899", "A AB", "Ute", "Vägen 1", "Lager", "Transport", "1", "", "norr", "11"],
    ]
    assert rejected(import_employers, db_session, csv_bytes(rows), "e.csv", actor=ACTOR) == [
        'row 2, field "Lat": 11.97, 57.7 is not in Sweden',
        'row 3, field "Lon": give both latitude and longitude, or neither',
        'row 4, field "Lat": "norr" is not a coordinate in degrees (e.g. 57.7089)',
    ]


def test_approved_at_once_when_the_coordinator_asks(db_session: Session, weeks: dict[str, factories.m.Period]) -> None:
    municipality = factories.municipality(db_session)
    user = factories.user(db_session)
    rows = [EMPLOYER_HEADER, ["5566778899", "A AB", "", "Gatan 1", "Lager", "Handel", "1", ""]]
    import_employers(
        db_session, csv_bytes(rows), "e.csv", actor=audit.Actor.of(user), municipality=municipality, approve=True
    )
    (employer,) = db_session.scalars(select(Employer)).all()
    assert (employer.status, employer.reviewed_by_id, employer.municipality_id) == (
        EmployerStatus.APPROVED,
        user.id,
        municipality.id,
    )
    assert employer.reviewed_at is not None


def test_existing_employers_are_matched_and_new_codes_follow_the_highest(
    db_session: Session, weeks: dict[str, factories.m.Period]
) -> None:
    known = factories.employer(db_session, code="E0041", org_number="556677-8899", name="Åkerlunds Bygg AB")
    factories.offer(db_session, code="O00007", employer=known)
    rows = [
        EMPLOYER_HEADER,
        ["556677-8899", "Akerlunds Bygg", "", "Gatan 1", "Lager", "Handel", "1", ""],
        ["802480-1238", "Ny AB", "", "Gatan 2", "Kassa", "Handel", "2", ""],
    ]
    report = import_employers(db_session, csv_bytes(rows), "e.csv", actor=ACTOR)
    assert (report.created["employers"], report.unchanged["employers"]) == (1, 1)
    assert report.warnings == [
        '556677-8899 is already registered as "Åkerlunds Bygg AB"; the name "Akerlunds Bygg" was not used'
    ]
    offers = offers_by_title(db_session)
    assert offers["Lager"].employer_id == known.id
    assert known.name == "Åkerlunds Bygg AB"
    assert {offers["Lager"].code, offers["Kassa"].code} == {"O00008", "O00009"}
    assert offers["Kassa"].employer.code == "E0042"


def test_reimport_updates_offers_instead_of_duplicating(
    db_session: Session, weeks: dict[str, factories.m.Period]
) -> None:
    rows = [
        [*EMPLOYER_HEADER, "Beskrivning", "Lat", "Lon"],
        ["5566778899", "A AB", "Hamnen", "Kajen 1", "Lager", "Handel", "1", "", "Plocka varor", "", ""],
    ]
    import_employers(db_session, csv_bytes(rows), "e.csv", actor=ACTOR)
    again = import_employers(db_session, csv_bytes(rows), "e.csv", actor=ACTOR)
    assert (again.created["offers"], again.unchanged["offers"], again.unchanged["workplaces"]) == (0, 1, 1)

    rows[1][6:] = ["3", "2", "Plocka och packa", "57.7", "11.9"]
    report = import_employers(db_session, csv_bytes(rows), "e.csv", actor=ACTOR)
    assert (report.updated["offers"], report.updated["workplaces"], report.created["offers"]) == (1, 1, 0)
    db_session.expire_all()
    (offer,) = db_session.scalars(select(Offer)).all()
    assert (offer.description, places_of(offer)) == ("Plocka och packa", {"w45": 3, "w46": 2})
    assert (offer.workplace.lat, offer.workplace.geo_status) == (57.7, GeoStatus.MANUAL)
    assert count(db_session, Workplace) == 1


def test_rows_of_one_offer_must_agree(db_session: Session, weeks: dict[str, factories.m.Period]) -> None:
    rows = [
        EMPLOYER_HEADER,
        ["5566778899", "A AB", "", "Gatan 1", "Lager", "Handel", "1", ""],
        ["5566778899", "B AB", "", "Gatan 1", "Lager", "Handel", "", "1"],
        ["5566778899", "A AB", "", "Gatan 1", "Lager", "Bygg", "", "1"],
        ["5566778899", "A AB", "", "Gatan 1", "Kassa", "Handel", "", ""],
    ]
    assert rejected(import_employers, db_session, csv_bytes(rows), "e.csv", actor=ACTOR) == [
        'row 5, field "Places w45": no places are given in any period',
        'row 3, field "Employer": "B AB" differs from "A AB" given for 556677-8899 in row 2',
        'row 4, field "Sector": differs from row 2, which gives the same offer',
    ]


def test_bad_offer_fields_are_reported(db_session: Session, weeks: dict[str, factories.m.Period]) -> None:
    rows = [
        [*EMPLOYER_HEADER, "Minimiålder", "Telefon", "E-post", "Riskbedömning"],
        ["5566778899", "A AB", "", "Gatan 1", "Lager", "Rymdfart", "1", "", "11", "ring mig", "anna(at)a.se", "kanske"],
    ]
    assert rejected(import_employers, db_session, csv_bytes(rows), "e.csv", actor=ACTOR) == [
        'row 2, field "Sector": "Rymdfart" is not a sector (e.g. Vård, Handel, Bygg, Industri, IT, Kontor)',
        'row 2, field "Minimiålder": 11 is not a minimum age for pupils (12-20)',
        'row 2, field "Telefon": "ring mig" is not a phone number',
        'row 2, field "E-post": "anna(at)a.se" is not an e-mail address',
        'row 2, field "Riskbedömning": "kanske" is neither yes nor no (ja/nej)',
    ]
    assert count(db_session, Employer) == 0


def test_employer_import_dry_run_and_audit(db_session: Session, weeks: dict[str, factories.m.Period]) -> None:
    rows = [
        [*EMPLOYER_HEADER, "Kontaktperson hemma"],
        ["5566778899", "A AB", "", "Gatan 1", "Lager", "IT", "1", "", "x"],
    ]
    report = import_employers(db_session, xlsx_bytes(rows), "e.xlsx", actor=ACTOR, dry_run=True)
    assert str(report) == (
        "Checked 1 rows: would create 1 employer, 1 workplace, 1 offer.\n"
        'warning: column "Kontaktperson hemma" is not used and was not stored'
    )
    assert count(db_session, Employer) == count(db_session, Workplace) == count(db_session, AuditEvent) == 0
    import_employers(db_session, xlsx_bytes(rows), "e.xlsx", actor=ACTOR)
    (event,) = db_session.scalars(select(AuditEvent)).all()
    assert (event.action, event.entity_id) == ("import.employers", None)
    assert event.after == {
        "format": "xlsx",
        "approve": False,
        "rows": 1,
        "employers_created": 1,
        "workplaces_created": 1,
        "offers_created": 1,
    }


@pytest.mark.parametrize("raw", ["Anna.Berg@EXEMPEL.se", " anna@exempel.se ", "anna..berg@exempel.se", "anna@exempel"])
def test_the_import_checks_e_mail_addresses_as_every_form_does(raw: str) -> None:
    """One rule for addresses (placement.validation): what a form refuses the import refuses, and both normalise."""
    problems: list[str] = []
    expected = validation.optional_email(problems, "offer", "supervisor_email", raw)
    if expected is None:
        with pytest.raises(import_cells.Invalid, match="is not an e-mail address"):
            employer_import._email(raw.strip())
    else:
        assert employer_import._email(raw.strip()) == expected
