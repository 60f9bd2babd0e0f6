"""The coordinator's organisation pages through the test client: municipalities, schools, the school register upload.

Geocoding goes to the local fake Nominatim of ``tests/nominatim_stub.py``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import models as m
from placement.enums import GeoStatus, Role
from placement.organisation import accounts
from tests import factories as f
from tests.conftest import csrf_token
from tests.nominatim_stub import (
    GOTEBORG,
    GOTEBORG_POINT,
    MOLNDAL,
    MOLNDAL_POINT,
    NominatimStub,
    closed_port,
    default_answers,
)

PASSWORD = "ett-långt-lösenord"
GOTEBORG_TYPED = "Drottningtorget 5, 411 03 Göteborg"
MOLNDAL_TYPED = "Göteborgsvägen 11, 431 82 Mölndal"

_SESSIONS: list[Session] = []


@pytest.fixture(autouse=True)
def _track_session(db_session: Session) -> Iterator[None]:
    _SESSIONS.append(db_session)
    yield
    _SESSIONS.pop()


def _staged(session: Session) -> int:
    """How many uploads wait for their confirmation."""
    return session.scalar(select(func.count(m.StagedUpload.id))) or 0


@pytest.fixture
def nominatim(app: Flask) -> Iterator[NominatimStub]:
    """The app's geocoder is the stub (``PRAKTIK_GEOCODER_URL`` and ``PRAKTIK_GEOCODER_USER_AGENT`` set)."""
    with NominatimStub(default_answers()) as stub:
        app.config["GEOCODER_URL"] = stub.url
        app.config["GEOCODER_USER_AGENT"] = "praktik-tests (test@example.se)"
        yield stub


def _login(client: FlaskClient, session: Session, municipality: m.Municipality | None = None) -> m.User:
    user = f.user(session, Role.COORDINATOR, municipality=municipality)
    accounts.set_password(user, PASSWORD)
    session.flush()
    response = client.post(
        "/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    return user


def _refresh() -> None:
    from web.extensions import db

    db.expire_all()
    _SESSIONS[-1].expire_all()


def _post(
    client: FlaskClient, path: str, page: str, data: dict[str, object], *, prefix: str = "", status: int = 200
) -> str:
    """Submit a form of ``page`` as the browser would; the test's session then sees what the request stored."""
    token = csrf_token(client, page)
    response = client.post(
        path,
        data={"csrf_token": token, f"{prefix}csrf_token": token, **data},
        headers={"Referer": f"http://localhost{page}"},
        follow_redirects=True,
    )
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    _refresh()
    return response.get_data(as_text=True)


def _school_data(**kw: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Äppelviksskolan",
        "code": "21503625",
        "address": GOTEBORG_TYPED,
        "lat": "",
        "lon": "",
        "need_index": "1.0",
    }
    return data | kw


def _school(session: Session, code: str) -> m.School:
    return session.scalars(select(m.School).where(m.School.code == code)).one()


def _count(session: Session, model: type[m.School] | type[m.Municipality]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _errors(html: str, field: str) -> str:
    """The error list shown next to ``field`` (empty when there is none)."""
    match = re.search(rf'<ul class="errors" id="{re.escape(field)}-errors">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    return out.getvalue().encode("utf-8-sig")


# A Skolverket-like extract of the school unit register (columns the import does not use included).
HEADER = ["Skolenhetskod", "Skolenhetsnamn", "Kommunkod", "Kommun", "Skolform", "Besöksadress", "Postnummer", "Postort"]
REGISTER = [
    HEADER,
    ["21503625", "Äppelviksskolan", "1480", "Göteborg", "Grundskola", "Ängsgatan 3", "41318", "Göteborg"],
    ["48632059", "Örby skola", "1480", "Göteborg", "Grundskola", "Örbyvägen 12", "41872", "Göteborg"],
    ["71649302", "Kvarnbyskolan", "1481", "Mölndal", "Grundskola", "Kvarnbygatan 1", "43130", "Mölndal"],
]


def _upload(client: FlaskClient, data: bytes, name: str = "skolenhetsregistret.csv") -> str:
    response = client.post(
        "/coordinator/schools/import",
        data={
            "csrf_token": csrf_token(client, "/coordinator/schools/import"),
            "file": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def _token(html: str) -> str:
    match = re.search(r'name="token" type="hidden" value="([^"]+)"', html)
    assert match, "no confirmation form"
    return match.group(1)


def _confirm(client: FlaskClient, token: str, *, status: int = 200) -> str:
    response = client.post(
        "/coordinator/schools/import/confirm",
        data={"csrf_token": csrf_token(client, "/coordinator/schools/import"), "token": token},
        follow_redirects=True,
    )
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    _refresh()
    return response.get_data(as_text=True)


# --- access -------------------------------------------------------------------------------------------------------

PAGES = ["/coordinator/organisation", "/coordinator/schools/new", "/coordinator/schools/import"]


def test_only_coordinators_reach_the_pages(app: Flask, db_session: Session) -> None:
    school = f.school(db_session)
    pages = [*PAGES, f"/coordinator/schools/{school.id}"]
    anonymous = app.test_client()
    for path in pages:
        response = anonymous.get(path)
        assert response.status_code == 302, path
        assert "/auth/login" in response.headers["Location"], path
    staff = app.test_client()
    user = f.user(db_session, Role.SCHOOL_STAFF)
    accounts.set_password(user, PASSWORD)
    db_session.flush()
    staff.post("/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(staff)})
    for path in pages:
        assert staff.get(path).status_code == 404, path
    token = csrf_token(staff, "/school/")
    for path in [f"/coordinator/schools/{school.id}", "/coordinator/municipalities", "/coordinator/schools/new"]:
        assert staff.post(path, data={"csrf_token": token, "name": "Intrång"}).status_code == 404, path
    coordinator = app.test_client()
    _login(coordinator, db_session)
    for path in pages:
        assert coordinator.get(path).status_code == 200, path


# --- the organisation page ----------------------------------------------------------------------------------------


def test_the_page_lists_municipalities_and_schools_by_municipality_then_name(
    client: FlaskClient, db_session: Session
) -> None:
    ale = f.municipality(db_session, name="Ale", code="1440")
    ockero = f.municipality(db_session, name="Öckerö", code="1407")
    f.municipality(db_session, name="Tjörn", code="1419")
    f.school(db_session, municipality=ockero, name="Alfaskolan", code="11111111", address="Hamnen 1, 475 30 Öckerö")
    f.school(db_session, municipality=ale, name="Zetaskolan", code="22222222", need_index=1.4)
    f.school(db_session, municipality=ale, name="Ängsskolan", code="33333333", geo_status=GeoStatus.PENDING)
    _login(client, db_session)
    html = client.get("/coordinator/organisation").get_data(as_text=True)
    names = re.findall(r'<tr id="school-\d+">\s*<th scope="row"><a href="/coordinator/schools/\d+">([^<]+)</a>', html)
    assert names == ["Zetaskolan", "Ängsskolan", "Alfaskolan"]
    row = re.search(rf'<tr id="municipality-{ale.id}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert re.findall(r"<td>([^<]*)</td>", row.group(1)) == ["1440", "2"]
    assert "Tjörn" in html
    assert "1.40" in html
    assert "Väntar på att adressen slås upp" in html
    assert "Placerad med angivna koordinater" in html
    assert 'href="/coordinator/schools/new"' in html
    assert "Lägg till skola" in html
    assert 'href="/coordinator/schools/import"' in html
    assert 'id="add-municipality"' in html
    assert '<th scope="col">' in html


def test_add_and_rename_a_municipality(client: FlaskClient, db_session: Session) -> None:
    f.municipality(db_session, name="Göteborg", code="1480")
    _login(client, db_session)
    page = "/coordinator/organisation"
    html = _post(
        client, "/coordinator/municipalities", page, {"new-name": " Lilla  Edet", "new-code": "1462"}, prefix="new-"
    )
    assert "Kommunen Lilla Edet är tillagd." in html
    added = _SESSIONS[-1].scalars(select(m.Municipality).where(m.Municipality.name == "Lilla Edet")).one()
    assert added.code == "1462"

    edit = f"{page}?municipality={added.id}"
    form = client.get(edit).get_data(as_text=True)
    assert 'id="edit-municipality"' in form
    assert 'value="Lilla Edet"' in form
    html = _post(
        client,
        "/coordinator/municipalities/update",
        edit,
        {"edit-municipality": str(added.id), "edit-name": "Lilla Edet kommun", "edit-code": ""},
        prefix="edit-",
    )
    assert "Kommunen Lilla Edet kommun är sparad." in html
    _SESSIONS[-1].refresh(added)
    assert (added.name, added.code) == ("Lilla Edet kommun", None)
    actions = _SESSIONS[-1].scalars(select(m.AuditEvent.action).where(m.AuditEvent.entity_id == added.id)).all()
    assert set(actions) >= {"municipality.create", "municipality.update"}


def test_a_bad_or_taken_municipality_is_shown_at_its_field(client: FlaskClient, db_session: Session) -> None:
    goteborg = f.municipality(db_session, name="Göteborg", code="1480")
    other = f.municipality(db_session, name="Mölndal", code="1481")
    _login(client, db_session)
    before = _count(db_session, m.Municipality)
    page = "/coordinator/organisation"
    html = _post(
        client, "/coordinator/municipalities", page, {"new-name": "", "new-code": "14"}, prefix="new-", status=400
    )
    assert _errors(html, "new-name")
    assert "fyra siffror" in _errors(html, "new-code")
    html = _post(client, "/coordinator/municipalities", page, {"new-name": "göteborg"}, prefix="new-", status=409)
    assert "Det finns redan en kommun som heter Göteborg." in _errors(html, "new-name")
    html = _post(
        client,
        "/coordinator/municipalities/update",
        page,
        {"edit-municipality": str(other.id), "edit-name": "Mölndal", "edit-code": "1480"},
        prefix="edit-",
        status=409,
    )
    assert "Kommunkoden används redan av Göteborg." in _errors(html, "edit-code")
    assert _count(db_session, m.Municipality) == before
    _SESSIONS[-1].refresh(other)
    assert other.code == "1481"
    assert goteborg.code == "1480"
    token = csrf_token(client, page)
    missing = client.post(
        "/coordinator/municipalities/update",
        data={"csrf_token": token, "edit-csrf_token": token, "edit-municipality": "987654321", "edit-name": "X"},
    )
    assert missing.status_code == 404


# --- a school -----------------------------------------------------------------------------------------------------


def test_add_a_school_without_coordinates_and_without_geocoder(client: FlaskClient, db_session: Session) -> None:
    municipality = f.municipality(db_session, name="Göteborg")
    _login(client, db_session)
    page = "/coordinator/schools/new"
    form = client.get(page).get_data(as_text=True)
    assert '<label for="name">' in form
    assert '<label for="need_index">' in form
    html = _post(client, page, page, _school_data(municipality=str(municipality.id)))
    school = _school(_SESSIONS[-1], "21503625")
    assert (school.name, school.municipality_id, school.address) == ("Äppelviksskolan", municipality.id, GOTEBORG_TYPED)
    assert (school.lat, school.lon, school.geo_status, school.need_index) == (None, None, GeoStatus.PENDING, 1.0)
    assert "Skolan Äppelviksskolan är sparad." in html
    assert 'id="no-geocoder"' in html  # the page says why the school is not on the map
    assert "Väntar på att adressen slås upp" in html


def test_add_a_school_with_coordinates(client: FlaskClient, db_session: Session, nominatim: NominatimStub) -> None:
    municipality = f.municipality(db_session)
    _login(client, db_session)
    page = "/coordinator/schools/new"
    data = _school_data(municipality=str(municipality.id), lat="57,6557", lon="12.0136", need_index="1,25")
    html = _post(client, page, page, data)
    school = _school(_SESSIONS[-1], "21503625")
    assert (school.lat, school.lon, school.geo_status, school.need_index) == (57.6557, 12.0136, GeoStatus.MANUAL, 1.25)
    assert nominatim.queries == []
    assert "Placerad med angivna koordinater" in html
    assert 'class="map"' in html


def test_add_a_school_geocoded_by_its_address(
    client: FlaskClient, db_session: Session, nominatim: NominatimStub
) -> None:
    municipality = f.municipality(db_session)
    _login(client, db_session)
    page = "/coordinator/schools/new"
    html = _post(client, page, page, _school_data(municipality=str(municipality.id)))
    school = _school(_SESSIONS[-1], "21503625")
    assert school.geo_status is GeoStatus.OK
    assert (school.lat, school.lon) == pytest.approx(GOTEBORG_POINT)
    assert nominatim.queries == [GOTEBORG]
    assert "Placerad efter adressen" in html


def test_edit_a_school_moves_it_and_keeps_an_unchanged_place(
    client: FlaskClient, db_session: Session, nominatim: NominatimStub
) -> None:
    school = f.school(db_session, code="S001", address=GOTEBORG_TYPED, lat=57.70, lon=11.97, geo_status=GeoStatus.OK)
    other = f.municipality(db_session, name="Mölndal")
    _login(client, db_session)
    page = f"/coordinator/schools/{school.id}"
    form = client.get(page).get_data(as_text=True)
    assert 'value="S001"' in form
    assert re.search(r'<input id="lat"[^>]* value="">', form)  # a geocoded place is not offered as given coordinates

    # The old local code may stay; the address is unchanged, so nothing is looked up.
    _post(client, page, page, _school_data(code="S001", name="Nytt namn", municipality=str(school.municipality_id)))
    _SESSIONS[-1].refresh(school)
    assert (school.code, school.name, school.geo_status) == ("S001", "Nytt namn", GeoStatus.OK)
    assert nominatim.queries == []

    html = _post(client, page, page, _school_data(code="S001", address=MOLNDAL_TYPED, municipality=str(other.id)))
    _SESSIONS[-1].refresh(school)
    assert school.municipality_id == other.id
    assert school.geo_status is GeoStatus.OK
    assert (school.lat, school.lon) == pytest.approx(MOLNDAL_POINT)
    assert nominatim.queries == [MOLNDAL]
    assert "Skolan Äppelviksskolan är sparad." in html

    _post(client, page, page, _school_data(code="S001", lat="57.1", lon="12.2", municipality=str(other.id)))
    _SESSIONS[-1].refresh(school)
    assert (school.lat, school.lon, school.geo_status) == (57.1, 12.2, GeoStatus.MANUAL)
    form = client.get(page).get_data(as_text=True)
    assert re.search(r'<input id="lat"[^>]* value="57.1">', form)  # given coordinates are shown to be kept or changed


def test_a_geocoder_that_fails_leaves_the_school_saved_and_says_so(
    app: Flask, client: FlaskClient, db_session: Session
) -> None:
    municipality = f.municipality(db_session)
    app.config["GEOCODER_URL"] = f"http://127.0.0.1:{closed_port()}"
    app.config["GEOCODER_USER_AGENT"] = "praktik-tests (test@example.se)"
    _login(client, db_session)
    page = "/coordinator/schools/new"
    html = _post(client, page, page, _school_data(municipality=str(municipality.id)))
    school = _school(_SESSIONS[-1], "21503625")
    assert (school.lat, school.geo_status) == (None, GeoStatus.FAILED)
    assert "Skolan Äppelviksskolan är sparad." in html
    assert "Uppslagningen misslyckades" in html

    with NominatimStub(default_answers()) as stub:  # the geocoder is back: saving again looks the address up
        app.config["GEOCODER_URL"] = stub.url
        page = f"/coordinator/schools/{school.id}"
        _post(client, page, page, _school_data(municipality=str(municipality.id)))
        assert stub.queries == [GOTEBORG]
    _SESSIONS[-1].refresh(school)
    assert school.geo_status is GeoStatus.OK


def test_bad_fields_are_named_and_nothing_is_saved(client: FlaskClient, db_session: Session) -> None:
    school = f.school(db_session, code="S001", name="Skolan", address=GOTEBORG_TYPED)
    _login(client, db_session)
    page = f"/coordinator/schools/{school.id}"
    bad = _school_data(
        code="1234", name="", address="", lat="57.7", lon="", need_index="0", municipality=str(school.municipality_id)
    )
    html = _post(client, page, page, bad, status=400)
    assert "åtta siffror" in _errors(html, "code")
    assert _errors(html, "name")
    assert _errors(html, "address")
    assert "både latitud och longitud" in _errors(html, "lat")
    assert "1,0 är genomsnittet" in _errors(html, "need_index")
    assert 'aria-invalid="true"' in html
    assert 'class="error-summary"' in html
    html = _post(
        client, page, page, _school_data(need_index="mycket", lat="x", lon="200", municipality="0"), status=400
    )
    assert _errors(html, "need_index")
    assert _errors(html, "lat")
    assert _errors(html, "lon")
    assert _errors(html, "municipality")
    _SESSIONS[-1].refresh(school)
    assert (school.code, school.name, school.address) == ("S001", "Skolan", GOTEBORG_TYPED)
    assert _SESSIONS[-1].scalars(select(m.AuditEvent).where(m.AuditEvent.action == "school.update")).all() == []


def test_a_taken_code_is_refused(client: FlaskClient, db_session: Session) -> None:
    taken = f.school(db_session, code="48632059", name="Örby skola")
    _login(client, db_session)
    before = _count(db_session, m.School)
    page = "/coordinator/schools/new"
    html = _post(
        client, page, page, _school_data(code="4863 2059", municipality=str(taken.municipality_id)), status=409
    )
    assert "Koden används redan av Örby skola." in _errors(html, "code")
    assert _count(db_session, m.School) == before
    mine = f.school(db_session, code="21503625", name="Min skola")
    html = _post(
        client,
        f"/coordinator/schools/{mine.id}",
        f"/coordinator/schools/{mine.id}",
        _school_data(code="48632059", municipality=str(mine.municipality_id)),
        status=409,
    )
    assert "Koden används redan av Örby skola." in _errors(html, "code")
    _SESSIONS[-1].refresh(mine)
    assert (mine.code, mine.name) == ("21503625", "Min skola")


def test_the_school_page_links_to_its_staff_when_that_page_exists(
    app: Flask, client: FlaskClient, db_session: Session
) -> None:
    school = f.school(db_session)
    _login(client, db_session)
    html = client.get(f"/coordinator/schools/{school.id}").get_data(as_text=True)
    if "coordinator.school_staff" in app.view_functions:
        assert f'href="/coordinator/schools/{school.id}/staff"' in html
        assert "Personal och inbjudningar" in html
    else:
        assert "Personal och inbjudningar" not in html


def test_new_school_without_municipalities_says_to_add_one(client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session)
    if _count(db_session, m.Municipality):
        pytest.skip("the database has municipalities")
    html = client.get("/coordinator/schools/new").get_data(as_text=True)
    assert 'id="no-municipality"' in html


# --- the school register upload -----------------------------------------------------------------------------------


def test_the_upload_previews_then_confirms_every_row(client: FlaskClient, db_session: Session) -> None:
    user = _login(client, db_session)
    before = _count(db_session, m.School)
    page = client.get("/coordinator/schools/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    assert '<label for="file">' in page
    html = _upload(client, _csv(REGISTER))
    assert re.search(r'id="would-create">3<', html)
    assert re.search(r'id="would-municipalities">2<', html)
    assert 'municipality "Göteborg" (1480) is new' in unescape(html)
    assert "Skolform" in html  # reported as not used
    _refresh()
    assert _count(db_session, m.School) == before  # the preview saved nothing
    assert _staged(db_session) == 1

    html = _confirm(client, _token(html))
    assert "3 nya skolor, 0 ändrade, 0 oförändrade, 2 nya kommuner." in html
    assert _count(db_session, m.School) == before + 3
    school = _school(db_session, "71649302")
    assert (school.name, school.municipality.name, school.address) == (
        "Kvarnbyskolan",
        "Mölndal",
        "Kvarnbygatan 1, 431 30 Mölndal",
    )
    assert school.geo_status is GeoStatus.PENDING
    assert _staged(db_session) == 0  # the waiting file is gone
    event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "import.schools")).one()
    assert event.actor_id == user.id


def test_a_bad_file_lists_every_problem_and_saves_nothing(client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session)
    before = _count(db_session, m.School), _count(db_session, m.Municipality)
    bad = [*REGISTER, ["12 34", "Trasig skola", "1480", "Göteborg", "Grundskola", "Gatan 1", "4111", "Göteborg"]]
    html = _upload(client, _csv(bad))
    assert 'id="import-problems"' in html
    assert 'row 5, field "Skolenhetskod": "12 34" is not an eight-digit school unit code' in unescape(html)
    assert "Postnummer" in html
    assert 'id="confirm-form"' not in html
    html = _upload(client, b"\x00\x01not a spreadsheet", "skolor.xlsx")
    assert 'id="import-problems"' in html
    _refresh()
    assert (_count(db_session, m.School), _count(db_session, m.Municipality)) == before
    assert _staged(db_session) == 0

    wrong_type = client.post(
        "/coordinator/schools/import",
        data={"csrf_token": csrf_token(client, "/coordinator/schools/import"), "file": (io.BytesIO(b"x"), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert wrong_type.status_code == 400
    assert "CSV eller XLSX" in wrong_type.get_data(as_text=True)


def test_a_reimport_updates_schools_by_their_code(client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session)
    _confirm(client, _token(_upload(client, _csv(REGISTER))))
    first = _school(db_session, "21503625")
    first.lat, first.lon, first.geo_status = 57.7, 11.9, GeoStatus.OK
    db_session.flush()
    moved = [row[:] for row in REGISTER]
    moved[2][5] = "Nya vägen 1"  # Örby skola has moved
    moved[3][1] = "Kvarnbyskolan F-9"
    html = _upload(client, _csv(moved))
    assert re.search(r'id="would-create">0<', html)
    assert re.search(r'id="would-update">2<', html)
    assert re.search(r'id="would-keep">1<', html)
    html = _confirm(client, _token(html))
    assert "0 nya skolor, 2 ändrade, 1 oförändrade, 0 nya kommuner." in html
    assert _school(db_session, "48632059").address == "Nya vägen 1, 418 72 Göteborg"
    assert _school(db_session, "48632059").geo_status is GeoStatus.PENDING
    assert _school(db_session, "71649302").name == "Kvarnbyskolan F-9"
    kept = _school(db_session, "21503625")
    assert (kept.lat, kept.geo_status) == (57.7, GeoStatus.OK)  # unchanged address: its place stays


def test_a_token_works_once_and_only_in_the_session_that_uploaded(app: Flask, db_session: Session) -> None:
    client = app.test_client()
    _login(client, db_session)
    token = _token(_upload(client, _csv(REGISTER)))
    other = app.test_client()
    _login(other, db_session)
    _confirm(other, token, status=404)
    _confirm(client, "../../etc/passwd", status=404)
    assert _SESSIONS[-1].scalars(select(m.School).where(m.School.code == "71649302")).first() is None
    _confirm(client, token)
    _confirm(client, token, status=404)


# --- a municipality's coordinator ---------------------------------------------------------------------------------


def test_a_municipality_coordinator_sees_and_edits_only_its_own(client: FlaskClient, db_session: Session) -> None:
    own = f.municipality(db_session, name="Härryda", code="1401")
    other = f.municipality(db_session, name="Partille", code="1402")
    mine = f.school(db_session, municipality=own, name="Mölnlyckeskolan", code="11112222")
    theirs = f.school(db_session, municipality=other, name="Partilleskolan", code="33334444")
    _login(client, db_session, municipality=own)

    html = client.get("/coordinator/organisation").get_data(as_text=True)
    assert "Mölnlyckeskolan" in html
    assert "Partilleskolan" not in html
    assert "Partille" not in html
    assert 'id="add-municipality"' not in html
    assert "?municipality=" not in html

    assert client.get(f"/coordinator/schools/{mine.id}").status_code == 200
    assert client.get(f"/coordinator/schools/{theirs.id}").status_code == 404
    assert client.get(f"/coordinator/organisation?municipality={own.id}").status_code == 404
    assert client.get(f"/coordinator/organisation?municipality={other.id}").status_code == 404
    page = "/coordinator/organisation"
    token = csrf_token(client, page)
    for path, data in [
        ("/coordinator/municipalities", {"new-csrf_token": token, "new-name": "Ny kommun"}),
        (
            "/coordinator/municipalities/update",
            {"edit-csrf_token": token, "edit-municipality": str(own.id), "edit-name": "Nytt namn"},
        ),
        (f"/coordinator/schools/{theirs.id}", _school_data(code="33334444", municipality=str(other.id))),
    ]:
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 404, path

    # A new school can only be of its own municipality.
    form = client.get("/coordinator/schools/new").get_data(as_text=True)
    assert "Partille" not in form
    assert f'name="municipality" value="{own.id}"' in form
    before = _count(db_session, m.School)
    _post(
        client,
        "/coordinator/schools/new",
        "/coordinator/schools/new",
        _school_data(municipality=str(other.id)),
        status=400,
    )
    assert _count(db_session, m.School) == before
    _post(client, "/coordinator/schools/new", "/coordinator/schools/new", _school_data(municipality=str(own.id)))
    assert _school(_SESSIONS[-1], "21503625").municipality_id == own.id
    _refresh()
    db_session.refresh(own)
    db_session.refresh(other)
    assert (own.name, other.name) == ("Härryda", "Partille")


def test_a_municipality_coordinators_import_refuses_another_municipalitys_rows(
    client: FlaskClient, db_session: Session
) -> None:
    own = f.municipality(db_session, name="Göteborg", code="1480")
    other = f.municipality(db_session, name="Mölndal", code="1481")
    f.school(db_session, municipality=other, code="21503625", name="Mölndals skola")
    _login(client, db_session, municipality=own)
    before = _count(db_session, m.School)
    page = client.get("/coordinator/schools/import").get_data(as_text=True)
    assert 'id="import-scope"' in page
    assert "Göteborg" in page
    html = _upload(client, _csv(REGISTER))
    assert 'id="import-problems"' in html
    assert "school unit 21503625 is a school of another municipality" in html
    assert '"Mölndal" is not "Göteborg", the municipality this import is for' in unescape(html)
    assert 'id="confirm-form"' not in html
    _refresh()
    assert _count(db_session, m.School) == before

    own_rows = [REGISTER[0], REGISTER[2]]
    html = _upload(client, _csv(own_rows))
    assert re.search(r'id="would-create">1<', html)
    html = _confirm(client, _token(html))
    assert "1 nya skolor" in html
    assert _school(db_session, "48632059").municipality_id == own.id


@pytest.mark.parametrize(("lat", "lon", "need"), [("nan", "nan", "nan"), ("1e400", "-inf", "inf"), ("57,7x", "", "")])
def test_odd_numbers_are_refused_at_their_fields(
    client: FlaskClient, db_session: Session, lat: str, lon: str, need: str
) -> None:
    school = f.school(db_session, code="S001", name="Skolan", address=GOTEBORG_TYPED)
    _login(client, db_session)
    page = f"/coordinator/schools/{school.id}"
    data = _school_data(lat=lat, lon=lon, need_index=need, municipality=str(school.municipality_id))
    html = _post(client, page, page, data, status=400)
    assert _errors(html, "lat")
    assert _errors(html, "need_index")
    assert _errors(html, "lat").count("<li>") == 1  # said once
    _SESSIONS[-1].refresh(school)
    assert (school.lat, school.need_index) == (57.70, 1.0)


def test_the_regions_coordinator_names_the_region_and_its_address_shows_on_the_public_pages(
    client: FlaskClient, db_session: Session
) -> None:
    assert "Prao i regionen" in client.get("/").get_data(as_text=True)
    _login(client, db_session)
    bad = _post(
        client,
        "/coordinator/region",
        "/coordinator/organisation",
        {"name": "", "contact_email": "inte-en-adress"},
        status=400,
    )
    assert 'id="name-errors"' in bad
    assert 'id="contact_email-errors"' in bad
    assert db_session.get(m.Region, 1) is None
    _post(
        client,
        "/coordinator/region",
        "/coordinator/organisation",
        {"name": "Göteborgsregionen", "contact_email": "prao@goteborgsregionen.example"},
    )
    region = db_session.get(m.Region, 1)
    assert region is not None
    assert (region.name, region.contact_email) == ("Göteborgsregionen", "prao@goteborgsregionen.example")
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/coordinator/")})
    home = client.get("/").get_data(as_text=True)
    assert "Prao i Göteborgsregionen" in home
    assert 'href="mailto:prao@goteborgsregionen.example"' in home


def test_a_municipalitys_coordinator_does_not_name_the_region(client: FlaskClient, db_session: Session) -> None:
    _login(client, db_session, f.municipality(db_session, name="Ale"))
    assert 'id="region-form"' not in client.get("/coordinator/organisation").get_data(as_text=True)
    token = csrf_token(client, "/coordinator/organisation")
    response = client.post("/coordinator/region", data={"csrf_token": token, "name": "Ale"})
    assert response.status_code == 404
    assert db_session.get(m.Region, 1) is None
