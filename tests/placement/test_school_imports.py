"""Importing schools from a file as a municipality gets them from Skolverket's school unit register.

Files are built here in the encodings and layouts real exports use (UTF-8
with a byte order mark and semicolons, Windows-1252, XLSX with numeric
cells).  Every database test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import codecs
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement.enums import GeoStatus
from placement.errors import NotFound
from placement.models import AuditEvent, Municipality, School
from placement.organisation.school_imports import import_schools
from tests import factories
from tests.placement.test_imports import count, csv_bytes, rejected, xlsx_bytes

ACTOR = audit.Actor("test")

#: The columns of an export from Skolverket's school unit register, most of which Praktik does not use.
REGISTER_HEADER = [
    "Skolenhetskod",
    "Skolenhetsnamn",
    "Kommunkod",
    "Kommun",
    "Huvudman",
    "Skolform",
    "Status",
    "Besöksadress",
    "Postnummer",
    "Postort",
    "Telefon",
    "E-post",
    "Rektor",
    "Latitud",
    "Longitud",
]
APPELVIK = [
    "21503625",
    "Äppelviksskolan",
    "1480",
    "Göteborg",
    "Göteborgs kommun",
    "Grundskola",
    "Aktiv",
    "Ängsgatan 3",
    "41318",
    "Göteborg",
    "031-365 00 00",
    "rektor.appelvik@goteborg.example",
    "Åsa Lind",
    "57,6935",
    "11,9500",
]
ORBY = [
    "4863 2059",
    "Örby skola",
    "1480",
    "Göteborg",
    "Göteborgs kommun",
    "Grundskola",
    "Aktiv",
    "Örbyvägen 12",
    "418 72",
    "Göteborg",
    "",
    "",
    "Örjan Ek",
    "",
    "",
]
OSTRA = [
    "73905521",
    "Östra skolan",
    "1481",
    "Mölndal",
    "Mölndals kommun",
    "Grundskola",
    "Aktiv",
    "Skolgatan 1",
    "43130",
    "Mölndal",
    "",
    "",
    "",
    "",
    "",
]
REGISTER = [REGISTER_HEADER, APPELVIK, ORBY, OSTRA]

#: The columns Praktik reads, in Skolverket's Swedish.
HEADER = ["Skolenhetskod", "Skolenhetsnamn", "Kommunkod", "Kommun", "Besöksadress", "Postnummer", "Postort"]


def schools_by_code(session: Session) -> dict[str, School]:
    session.expire_all()
    return {school.code: school for school in session.scalars(select(School))}


def municipalities(session: Session) -> set[tuple[str, str | None]]:
    return {(m.name, m.code) for m in session.scalars(select(Municipality))}


def location(school: School) -> tuple[float | None, float | None, GeoStatus]:
    return (school.lat, school.lon, school.geo_status)


# --- Files as they come --------------------------------------------------------------------------------------


def test_skolverket_register_in_utf8_with_bom_and_semicolons(db_session: Session) -> None:
    data = csv_bytes(REGISTER, encoding="utf-8-sig")
    assert data.startswith(codecs.BOM_UTF8)
    report = import_schools(db_session, data, "skolenhetsregistret.csv", actor=ACTOR)
    assert str(report) == "\n".join(
        [
            "Imported 3 rows: created 2 municipalities, 3 schools.",
            'warning: column "Huvudman" is not used and was not stored',
            'warning: column "Skolform" is not used and was not stored',
            'warning: column "Status" is not used and was not stored',
            'warning: column "Telefon" is not used and was not stored',
            'warning: column "E-post" is not used and was not stored',
            'warning: column "Rektor" is not used and was not stored',
            'warning: municipality "Göteborg" (1480) is new: it was created (check its spelling)',
            'warning: municipality "Mölndal" (1481) is new: it was created (check its spelling)',
        ]
    )
    assert municipalities(db_session) == {("Göteborg", "1480"), ("Mölndal", "1481")}
    schools = schools_by_code(db_session)
    assert set(schools) == {"21503625", "48632059", "73905521"}  # the space in "4863 2059" is dropped
    appelvik, orby, ostra = schools["21503625"], schools["48632059"], schools["73905521"]
    assert (appelvik.name, appelvik.address) == ("Äppelviksskolan", "Ängsgatan 3, 413 18 Göteborg")
    assert (orby.name, orby.address) == ("Örby skola", "Örbyvägen 12, 418 72 Göteborg")
    assert ostra.address == "Skolgatan 1, 431 30 Mölndal"
    assert (appelvik.municipality.name, orby.municipality_id) == ("Göteborg", appelvik.municipality_id)
    assert ostra.municipality.name == "Mölndal"
    assert location(appelvik) == (57.6935, 11.95, GeoStatus.MANUAL)  # decimal commas
    assert location(orby) == location(ostra) == (None, None, GeoStatus.PENDING)  # for `praktik geocode`
    assert {school.need_index for school in schools.values()} == {1.0}


def test_windows_1252_file_with_swedish_letters(db_session: Session) -> None:
    rows = [HEADER, ["14085533", "Ödsmåls skola", "1482", "Kungälv", "Ödsmåls väg 4", "44277", "Kungälv"]]
    data = csv_bytes(rows, encoding="cp1252")
    assert "ö".encode("cp1252") in data
    assert not data.startswith(codecs.BOM_UTF8)
    import_schools(db_session, data, "skolor.csv", actor=ACTOR)
    (school,) = schools_by_code(db_session).values()
    assert (school.code, school.name, school.address) == ("14085533", "Ödsmåls skola", "Ödsmåls väg 4, 442 77 Kungälv")
    assert municipalities(db_session) == {("Kungälv", "1482")}


def test_xlsx_with_numeric_cells(db_session: Session) -> None:
    header = [*HEADER, "Latitud", "Longitud", "Socioekonomiskt index"]
    data = xlsx_bytes(
        [
            header,
            [
                21503625,
                "Adolf Fredriks skola",
                180,
                "Stockholm",
                "Holländargatan 23",
                11160,
                "Stockholm",
                59.3407,
                18.0575,
                92.5,
            ],
        ]
    )
    report = import_schools(db_session, data, "skolor.xlsx", actor=ACTOR)
    assert report.created == Counter({"schools": 1, "municipalities": 1})
    (school,) = schools_by_code(db_session).values()
    assert (school.code, school.address) == ("21503625", "Holländargatan 23, 111 60 Stockholm")
    assert location(school) == (59.3407, 18.0575, GeoStatus.MANUAL)
    assert school.need_index == pytest.approx(0.925)
    # Excel shows 0180 as 180: the leading zero of Stockholm county's codes is put back.
    assert municipalities(db_session) == {("Stockholm", "0180")}


def test_english_headers_in_any_case(db_session: Session) -> None:
    header = ["SCHOOL UNIT CODE", "school name", "Municipality", "Municipality code", "Address", "Postcode", "Town"]
    rows = [
        [*header, "Latitude", "Longitude", "Need index"],
        ["55512345", "Hedens skola", "Borås", "1490", "Hedvägen 2", "50334", "Borås", "57.72", "12.94", "1.3"],
    ]
    report = import_schools(db_session, csv_bytes(rows, delimiter=","), "schools.csv", actor=ACTOR)
    assert report.warnings == ['municipality "Borås" (1490) is new: it was created (check its spelling)']
    (school,) = schools_by_code(db_session).values()
    assert (school.name, school.address, school.need_index) == ("Hedens skola", "Hedvägen 2, 503 34 Borås", 1.3)
    assert location(school) == (57.72, 12.94, GeoStatus.MANUAL)
    assert school.municipality.name == "Borås"


# --- Problems ----------------------------------------------------------------------------------------------


def test_every_bad_row_is_named_by_row_and_field_and_nothing_is_written(db_session: Session) -> None:
    factories.municipality(db_session, name="Göteborg", code="1480")
    factories.municipality(db_session, name="Borås", code="1490")
    factories.municipality(db_session, name="Ale", code=None)
    header = [*HEADER, "Latitud", "Longitud", "Behovsindex"]
    street = ["Gatan 1", "41110", "Göteborg"]
    rows = [
        header,
        ["12 34", "A skola", "1480", "Göteborg", *street, "", "", ""],
        ["11111111", "", "1480", "Göteborg", "Gatan 2", "4111", "Göteborg", "", "", ""],
        ["22222222", "C skola", "14800", "Göteborg", *street, "57.7", "", ""],
        ["33333333", "D skola", "1480", "Göteborg", *street, "59.91", "10.75", "hög"],  # Oslo
        ["44444444", "E skola", "1480", "Göteborg", "", "41110", "", "norr", "11.9", ""],
        ["55555555", "F skola", "1490", "Göteborg", *street, "", "", ""],
        ["66666666", "G skola", "1480", "Göteborgs stad", *street, "", "", ""],
        ["77777777", "H skola", "", "Göteborg", *street, "", "", ""],
        ["7777 7777", "H skola igen", "", "Göteborg", *street, "", "", ""],
        ["88888888", "I skola", "1234", "Nykommun", *street, "", "", ""],
        ["99999999", "J skola", "1235", "NYKOMMUN", *street, "", "", ""],
        ["10101010", "K skola", "1234", "Annankommun", *street, "", "", ""],
        ["12121212", "L skola", "1490", "Ale", *street, "", "", ""],
    ]
    assert rejected(import_schools, db_session, csv_bytes(rows), "skolor.csv", actor=ACTOR) == [
        'row 2, field "Skolenhetskod": "12 34" is not an eight-digit school unit code',
        'row 3, field "Skolenhetsnamn": a value is required',
        'row 3, field "Postnummer": "4111" is not a postcode (NNN NN)',
        'row 4, field "Kommunkod": "14800" is not a four-digit municipality code (kommunkod)',
        'row 4, field "Longitud": give both latitude and longitude, or neither',
        'row 5, field "Latitud": 59.91, 10.75 is not in Sweden',
        'row 5, field "Behovsindex": "hög" is not a number (e.g. 1.05)',
        'row 6, field "Besöksadress": a value is required',
        'row 6, field "Postort": a value is required',
        'row 6, field "Latitud": "norr" is not a coordinate in degrees (e.g. 57.7089)',
        'row 7, field "Kommunkod": "1490" is not the code of "Göteborg", which is 1480',
        'row 8, field "Kommun": "Göteborgs stad" is not the name of municipality 1480, which is "Göteborg"',
        'row 10, field "Skolenhetskod": school unit 77777777 is already given in row 9',
        'row 12, field "Kommunkod": "1235" differs from "1234" given for "Nykommun" in row 11',
        'row 13, field "Kommunkod": "1234" is already given for "Nykommun" in row 11',
        'row 14, field "Kommunkod": "1490" is the code of "Borås"',
    ]
    assert count(db_session, School) == 0
    assert municipalities(db_session) == {("Göteborg", "1480"), ("Borås", "1490"), ("Ale", None)}
    assert count(db_session, AuditEvent) == 0


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (HEADER[:-1], 'the column "Postort" or "Town" is missing'),
        ([*HEADER, "Socioekonomiskt index", "Behovsindex"], 'give the need index in "Socioekonomiskt index" or in'),
        ([*HEADER, "Latitud"], 'give both a "Latitud" and a "Longitud" column, or neither'),
        ([*HEADER, "Address"], 'columns "Besöksadress" and "Address" give the same field'),
    ],
)
def test_columns_that_do_not_fit_are_refused(db_session: Session, header: list[str], problem: str) -> None:
    rows = [header, ["1"] * len(header)]
    (found,) = rejected(import_schools, db_session, csv_bytes(rows), "skolor.csv", actor=ACTOR)
    assert found.startswith(problem)


def test_unreadable_file_is_an_import_rejection(db_session: Session) -> None:
    assert rejected(import_schools, db_session, b"", "skolor.csv", actor=ACTOR) == ["the file is empty"]


# --- Need index ----------------------------------------------------------------------------------------------


def test_socioeconomic_index_is_stored_on_praktiks_scale(db_session: Session) -> None:
    rows = [
        [*HEADER, "Socioekonomiskt index"],
        ["11111111", "Hög", "1480", "Göteborg", "Gatan 1", "41110", "Göteborg", "112,5"],
        ["22222222", "Låg", "1480", "Göteborg", "Gatan 2", "41110", "Göteborg", "80"],
        ["33333333", "Okänd", "1480", "Göteborg", "Gatan 3", "41110", "Göteborg", ""],
    ]
    import_schools(db_session, csv_bytes(rows), "skolor.csv", actor=ACTOR)
    schools = schools_by_code(db_session)
    assert schools["11111111"].need_index == pytest.approx(1.125)
    assert schools["22222222"].need_index == pytest.approx(0.8)
    assert schools["33333333"].need_index == 1.0


def test_need_index_is_stored_as_it_is(db_session: Session) -> None:
    rows = [[*HEADER, "Behovsindex"], ["11111111", "Hög", "1480", "Göteborg", "Gatan 1", "41110", "Göteborg", "0,85"]]
    import_schools(db_session, csv_bytes(rows), "skolor.csv", actor=ACTOR)
    assert schools_by_code(db_session)["11111111"].need_index == pytest.approx(0.85)


@pytest.mark.parametrize(
    ("header", "value", "problem"),
    [
        (
            "Socioekonomiskt index",
            "5",
            '"5" is not a plausible socioeconomic index (10-1000; 100 is the national average)',
        ),
        ("Socioekonomiskt index", "1500", '"1500" is not a plausible socioeconomic index (10-1000;'),
        ("Socioeconomic index", "-100", '"-100" is not a plausible socioeconomic index'),
        ("Behovsindex", "0,05", '"0,05" is not a plausible need index (0.1-10; 1.0 is the average)'),
        ("Behovsindex", "0", '"0" is not a plausible need index'),
        ("Need index", "12", '"12" is not a plausible need index'),
        ("Need index", "105%", '"105%" is not a number (e.g. 1.05)'),
    ],
)
def test_implausible_need_is_refused(db_session: Session, header: str, value: str, problem: str) -> None:
    rows = [[*HEADER, header], ["11111111", "A", "1480", "Göteborg", "Gatan 1", "41110", "Göteborg", value]]
    (found,) = rejected(import_schools, db_session, csv_bytes(rows), "skolor.csv", actor=ACTOR)
    assert found.startswith(f'row 2, field "{header}": {problem}')
    assert count(db_session, School) == 0


# --- Re-imports ----------------------------------------------------------------------------------------------


def test_reimport_updates_by_unit_code_and_keeps_or_clears_the_location(db_session: Session) -> None:
    first = [
        [*HEADER, "Latitud", "Longitud", "Behovsindex"],
        ["11111111", "Äppelviksskolan", "1480", "Göteborg", "Gatan 1", "41110", "Göteborg", "57.70", "11.97", "1.2"],
        ["22222222", "Björkskolan", "1480", "Göteborg", "Gatan 2", "41110", "Göteborg", "", "", ""],
        ["33333333", "Citronskolan", "1480", "Göteborg", "Gatan 3", "41110", "Göteborg", "", "", "0.9"],
    ]
    import_schools(db_session, csv_bytes(first), "skolor.csv", actor=ACTOR)
    schools = schools_by_code(db_session)
    for code, point in (("22222222", (57.71, 11.98)), ("33333333", (57.72, 11.99))):  # as the geocoder would
        schools[code].lat, schools[code].lon = point
        schools[code].geo_status = GeoStatus.OK
    db_session.flush()

    again = [
        HEADER,
        ["11111111", "Äppelviksskolan F-9", "1480", "göteborg", "GATAN 1", "411 10", "GÖTEBORG"],  # address as before
        ["22222222", "Björkskolan", "1480", "Göteborg", "Nygatan 5", "41120", "Göteborg"],  # moved
        ["33333333", "Citronskolan", "1480", "Göteborg", "Gatan 3", "41110", "Göteborg"],  # as it was
        ["44444444", "Dalskolan", "1480", "Göteborg", "Gatan 4", "41110", "Göteborg"],
    ]
    report = import_schools(db_session, csv_bytes(again), "skolor.csv", actor=ACTOR)
    assert str(report) == "Imported 4 rows: created 1 school; updated 2 schools; unchanged 1 school."
    schools = schools_by_code(db_session)
    assert len(schools) == 4
    appelvik, bjork, citron, dal = (schools[code] for code in ("11111111", "22222222", "33333333", "44444444"))
    assert (appelvik.name, appelvik.address) == ("Äppelviksskolan F-9", "GATAN 1, 411 10 GÖTEBORG")
    assert location(appelvik) == (57.70, 11.97, GeoStatus.MANUAL)  # the same address: location kept
    assert location(bjork) == (None, None, GeoStatus.PENDING)  # a new address: located again
    assert bjork.address == "Nygatan 5, 411 20 Göteborg"
    assert location(citron) == (57.72, 11.99, GeoStatus.OK)
    assert location(dal) == (None, None, GeoStatus.PENDING)
    # No index in the file: each school keeps its own, the new one gets the average.
    assert (appelvik.need_index, bjork.need_index, citron.need_index, dal.need_index) == (1.2, 1.0, 0.9, 1.0)
    assert municipalities(db_session) == {("Göteborg", "1480")}

    located = [[*HEADER, "Latitud", "Longitud"], [*again[3], "57.73", "12.00"]]
    report = import_schools(db_session, csv_bytes(located), "skolor.csv", actor=ACTOR)
    assert report.updated == Counter({"schools": 1})
    assert location(schools_by_code(db_session)["33333333"]) == (57.73, 12.0, GeoStatus.MANUAL)

    unchanged = import_schools(db_session, csv_bytes(located), "skolor.csv", actor=ACTOR)
    assert str(unchanged) == "Imported 1 rows: unchanged 1 school."


def test_a_school_praktik_has_is_updated_by_its_code_and_may_change_municipality(db_session: Session) -> None:
    boras = factories.municipality(db_session, name="Borås", code="1490")
    goteborg = factories.municipality(db_session, name="Göteborg", code="1480")
    school = factories.school(db_session, code="21503625", name="Gamla namnet", municipality=boras, need_index=1.4)
    rows = [HEADER, ["21503625", "Nya namnet", "", "GÖTEBORG", "Gatan 1", "41110", "Göteborg"]]
    report = import_schools(db_session, csv_bytes(rows), "skolor.csv", actor=ACTOR)
    assert report.updated == Counter({"schools": 1})
    assert report.created["municipalities"] == 0
    db_session.expire_all()
    assert count(db_session, School) == 1
    assert (school.name, school.municipality_id, school.need_index) == ("Nya namnet", goteborg.id, 1.4)
    assert municipalities(db_session) == {("Borås", "1490"), ("Göteborg", "1480")}


# --- One municipality's own import ---------------------------------------------------------------------------


def test_a_municipalitys_import_holds_only_its_own_schools(db_session: Session) -> None:
    goteborg = factories.municipality(db_session, name="Göteborg", code="1480")
    boras = factories.municipality(db_session, name="Borås", code="1490")
    factories.school(db_session, code="90909090", municipality=boras)
    street = ["Gatan 1", "41110", "Göteborg"]
    rows = [
        HEADER,
        ["11111111", "A skola", "1480", "GÖTEBORG", *street],
        ["22222222", "B skola", "", "Borås", *street],
        ["33333333", "C skola", "1482", "Kungälv", *street],
        ["44444444", "D skola", "1490", "Göteborg", *street],
        ["90909090", "E skola", "", "Göteborg", *street],
    ]
    problems = rejected(
        import_schools, db_session, csv_bytes(rows), "skolor.csv", actor=ACTOR, municipality_id=goteborg.id
    )
    assert problems == [
        'row 3, field "Kommun": "Borås" is not "Göteborg", the municipality this import is for',
        'row 4, field "Kommun": "Kungälv" is not "Göteborg", the municipality this import is for',
        'row 5, field "Kommunkod": "1490" is not the code of "Göteborg", which is 1480',
        'row 6, field "Skolenhetskod": school unit 90909090 is a school of another municipality',
    ]
    assert count(db_session, School) == 1
    assert municipalities(db_session) == {("Göteborg", "1480"), ("Borås", "1490")}

    report = import_schools(db_session, csv_bytes(rows[:2]), "skolor.csv", actor=ACTOR, municipality_id=goteborg.id)
    assert report.created == Counter({"schools": 1})
    assert schools_by_code(db_session)["11111111"].municipality_id == goteborg.id


def test_an_unknown_municipality_to_import_for_is_not_found(db_session: Session) -> None:
    with pytest.raises(NotFound):
        import_schools(db_session, csv_bytes(REGISTER), "skolor.csv", actor=ACTOR, municipality_id=999_999)


# --- Dry run and audit ---------------------------------------------------------------------------------------


def test_dry_run_reports_and_writes_nothing(db_session: Session) -> None:
    data = csv_bytes(REGISTER)
    report = import_schools(db_session, data, "skolor.csv", actor=ACTOR, dry_run=True)
    assert str(report).splitlines()[0] == "Checked 3 rows: would create 2 municipalities, 3 schools."
    assert 'warning: municipality "Mölndal" (1481) is new: it would be created (check its spelling)' in str(report)
    assert 'warning: column "Rektor" is not used and was not stored' in str(report)
    db_session.flush()
    assert count(db_session, School) == count(db_session, Municipality) == count(db_session, AuditEvent) == 0

    import_schools(db_session, data, "skolor.csv", actor=ACTOR)
    renamed = [REGISTER_HEADER, [*APPELVIK[:1], "Nytt namn", *APPELVIK[2:]]]
    preview = import_schools(db_session, csv_bytes(renamed), "skolor.csv", actor=ACTOR, dry_run=True)
    assert str(preview).splitlines()[0] == "Checked 1 rows: would update 1 school."
    assert schools_by_code(db_session)["21503625"].name == "Äppelviksskolan"
    assert count(db_session, AuditEvent) == 1  # the real import's only


def test_a_dry_run_moving_a_school_to_a_new_municipality_counts_it_as_updated(db_session: Session) -> None:
    school = factories.school(db_session, code="21503625", name="Äppelviksskolan")
    rows = [HEADER, ["21503625", "Äppelviksskolan", "1482", "Kungälv", "Gatan 1", "44277", "Kungälv"]]
    report = import_schools(db_session, csv_bytes(rows), "skolor.csv", actor=ACTOR, dry_run=True)
    assert (report.created, report.updated) == (Counter({"municipalities": 1}), Counter({"schools": 1}))
    db_session.expire_all()
    assert school.municipality.name != "Kungälv"


def test_one_audit_event_with_counts_only(db_session: Session) -> None:
    user = factories.user(db_session)
    import_schools(db_session, csv_bytes(REGISTER), "skolor.csv", actor=audit.Actor.of(user))
    renamed = [REGISTER_HEADER, [*APPELVIK[:1], "Nytt namn", *APPELVIK[2:]], ORBY]
    import_schools(db_session, xlsx_bytes(renamed), "skolor.xlsx", actor=audit.Actor.of(user))
    first, second = db_session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert (second.action, second.entity_type, second.entity_id, second.actor_id) == (
        "import.schools",
        "school",
        None,
        user.id,
    )
    assert first.after == {
        "format": "csv",
        "rows": 3,
        "schools_created": 3,
        "schools_updated": 0,
        "municipalities_created": 2,
    }
    assert second.after == {
        "format": "xlsx",
        "rows": 2,
        "schools_created": 0,
        "schools_updated": 1,
        "municipalities_created": 0,
    }
