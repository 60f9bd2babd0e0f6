"""School staff's pages through the test client: classes, import, period, choices, own placements, codes, export."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Iterator

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.cohorts import for_school as school_pupils
from placement.cohorts import login_codes
from placement.cohorts.for_school import PupilStatus
from placement.enums import AssignmentStatus, OfferKind, OfferStatus, Role, RoundStatus, Sector
from placement.errors import NotFound
from placement.organisation import accounts
from placement.reports import for_school as school_status
from placement.uploads import UPLOAD_TTL, UploadStore
from tests import factories as f
from tests.conftest import csrf_token, in_language
from web import labels

PASSWORD = "ett-långt-lösenord"
NOW = dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class World:
    staff: m.User | None
    school: m.School
    klass: m.SchoolClass
    pupils: list[m.Pupil]
    offers: list[m.Offer]
    period: m.Period
    other_period: m.Period
    foreign_school: m.School
    foreign_class: m.SchoolClass
    foreign_pupil: m.Pupil


_SESSIONS: list[Session] = []


@pytest.fixture(autouse=True)
def _track_session(db_session: Session) -> Iterator[None]:
    _SESSIONS.append(db_session)
    yield
    _SESSIONS.pop()


def _staged(session: Session) -> int:
    """How many uploads wait for their confirmation."""
    return session.scalar(select(func.count(m.StagedUpload.id))) or 0


def _world(session: Session) -> World:
    w45 = f.period(session, code="w45", name="Vecka 45–46", start_date=dt.date(2026, 11, 2))
    w07 = f.period(session, code="w07", name="Vecka 7–8", start_date=dt.date(2027, 2, 15))
    school = f.school(session, name="Kvarnlundsskolan")
    klass = f.school_class(session, school=school, name="8A", period=w45)
    pupils = [
        f.pupil(session, school_class=klass, first_name="Sagal", last_name="Karlsson"),
        f.pupil(session, school_class=klass, first_name="Leo", last_name="Åberg"),
        f.pupil(session, school_class=klass, first_name="=HYPERLINK(1)", last_name="-Formel"),
    ]
    offers = [
        f.offer(session, places={w45: 2}, risk_assessment_confirmed_at=f.RISK_CONFIRMED, code=f"O9{n:03d}", title=t)
        for n, t in enumerate(["Bageri", "Bilverkstad", "Förskola"], start=1)
    ]
    session.add(
        m.PreferenceWindow(name="Val", opens_at=NOW - dt.timedelta(days=3), closes_at=NOW + dt.timedelta(days=3))
    )
    foreign_school = f.school(session, name="Annanskolan")
    foreign_class = f.school_class(session, school=foreign_school, name="9Z", period=w45)
    foreign_pupil = f.pupil(session, school_class=foreign_class, first_name="Främling", last_name="Annansson")
    session.flush()
    return World(None, school, klass, pupils, offers, w45, w07, foreign_school, foreign_class, foreign_pupil)


def _login(client: FlaskClient, session: Session, world: World | None = None, role: Role = Role.SCHOOL_STAFF) -> m.User:
    user = f.user(session, role)
    accounts.set_password(user, PASSWORD)
    if world is not None:
        session.add(m.SchoolMembership(user=user, school=world.school))
        world.staff = user
    session.flush()
    token = csrf_token(client)
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return user


def _refresh() -> None:
    from web.extensions import db

    db.expire_all()
    _SESSIONS[-1].expire_all()


def _post(
    client: FlaskClient, path: str, page: str, data: dict[str, object] | None = None, *, status: int = 200
) -> str:
    """Submit a form of ``page`` as the browser would; the test's session then sees what the request stored."""
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, page), **(data or {})},
        headers={"Referer": f"http://localhost{page}"},
        follow_redirects=True,
    )
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    _refresh()
    return response.get_data(as_text=True)


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    return out.getvalue().encode("utf-8")


HEADER = ["Förnamn", "Efternamn", "Klass", "Födelseår", "Kön"]
GOOD = [HEADER, ["Ali", "Hassan", "8B", "2012", "Pojke"], ["Maja", "Lind", "8B", "2012", "Flicka"]]


def _upload(client: FlaskClient, world: World, data: bytes, name: str = "elever.csv") -> str:
    response = client.post(
        "/school/import",
        data={
            "csrf_token": csrf_token(client, "/school/import"),
            "school": str(world.school.id),
            "file": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_data(as_text=True)


def _pupil_count(session: Session, school: m.School) -> int:
    return session.scalar(select(func.count(m.Pupil.id)).where(m.Pupil.school_id == school.id)) or 0


# --- access ---------------------------------------------------------------------------------------------------------


def test_only_school_staff_reach_the_pages(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    assert client.get("/school/").status_code == 302  # to the login page
    _login(client, db_session, role=Role.COORDINATOR)
    for path in ("/school/", f"/school/classes/{world.klass.id}", "/school/import", "/school/export.csv"):
        assert client.get(path).status_code == 404


def test_a_school_sees_nothing_of_another_school(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    foreign_class, foreign_pupil = world.foreign_class.id, world.foreign_pupil.id
    for path in (
        f"/school/classes/{foreign_class}",
        f"/school/classes/{foreign_class}?status=placed",
        f"/school/pupils/{foreign_pupil}",
        f"/school/export.csv?school={world.foreign_school.id}",
        f"/school/export.xlsx?school={world.foreign_school.id}",
        "/school/export.csv?school=x",
        "/school/classes/999999",
        "/school/pupils/999999",
    ):
        assert client.get(path).status_code == 404, path
    token = csrf_token(client, "/school/")
    for path, data in (
        (f"/school/classes/{foreign_class}/period", {"period": world.other_period.id}),
        (f"/school/classes/{foreign_class}/codes", {"which": "all"}),
        (f"/school/pupils/{foreign_pupil}/choices", {"code": world.offers[0].code}),
        (f"/school/pupils/{foreign_pupil}/choices", {"op": f"remove:{world.offers[0].code}"}),
        (f"/school/pupils/{foreign_pupil}/self-arranged", {}),
        (f"/school/pupils/{foreign_pupil}/self-arranged/remove", {}),
        (f"/school/pupils/{foreign_pupil}/code", {}),
        (f"/school/pupils/{foreign_pupil}/code/revoke", {}),
    ):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 404, path
    # An import cannot be aimed at another school either.
    response = client.post(
        "/school/import",
        data={"csrf_token": token, "school": str(world.foreign_school.id), "file": (io.BytesIO(_csv(GOOD)), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    _refresh()
    assert world.foreign_class.period_id == world.period.id
    assert login_codes.has_code(db_session, [world.foreign_pupil.id]) == set()
    html = client.get("/school/").get_data(as_text=True) + client.get("/school/export.csv").get_data(as_text=True)
    assert "Annanskolan" not in html
    assert "Främling" not in html


def test_a_user_of_two_schools_sees_both(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    user = _login(client, db_session, world)
    db_session.add(m.SchoolMembership(user=user, school=world.foreign_school))
    db_session.flush()
    html = client.get("/school/").get_data(as_text=True)
    assert "Kvarnlundsskolan" in html
    assert "Annanskolan" in html
    assert client.get(f"/school/pupils/{world.foreign_pupil.id}").status_code == 200


# --- home and class -------------------------------------------------------------------------------------------------


def test_home_and_class_show_each_pupil_status(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    sagal, leo, formula = world.pupils
    db_session.add(m.Preference(pupil=sagal, offer=world.offers[0], rank=1))
    published = m.AllocationRound(name="Höst", status=RoundStatus.PUBLISHED)
    draft = m.AllocationRound(name="Utkast", status=RoundStatus.PROPOSED)
    db_session.add_all([published, draft])
    db_session.flush()
    db_session.add_all(
        [
            m.Assignment(
                round=published,
                pupil=leo,
                offer=world.offers[1],
                period=world.period,
                status=AssignmentStatus.CONFIRMED,
            ),
            # A proposal of an unpublished round is not shown to the school.
            m.Assignment(round=draft, pupil=sagal, offer=world.offers[2], period=world.period),
            m.Assignment(
                round=published,
                pupil=formula,
                offer=world.offers[2],
                period=world.period,
                status=AssignmentStatus.DECLINED,
                decline_reason="Ingen handledare",
            ),
        ]
    )
    db_session.flush()

    html = client.get("/school/").get_data(as_text=True)
    row = re.search(r'<tr data-class="8A">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert "Vecka 45–46" in cells[0]
    assert cells[1:] == ["3", "1", "0", "1", "1", "0"]  # pupils, with choices, placed, confirmed, declined, own

    page = f"/school/classes/{world.klass.id}"
    html = client.get(page).get_data(as_text=True)
    statuses = dict(re.findall(r'<tr data-pupil="(\d+)" data-status="(\w+)">', html))
    assert statuses == {str(sagal.id): "choices", str(leo.id): "confirmed", str(formula.id): "declined"}
    only = client.get(f"{page}?status=confirmed").get_data(as_text=True)
    assert re.findall(r'<tr data-pupil="(\d+)"', only) == [str(leo.id)]
    assert client.get(f"{page}?status=nonsense").status_code == 200  # an unknown filter shows everyone

    html = client.get(f"/school/pupils/{formula.id}").get_data(as_text=True)
    assert 'data-status="declined"' in html
    assert "Ingen handledare" in html
    assert "female" not in html  # gender is not shown


def test_the_class_period_is_set_from_the_class_page(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    page = f"/school/classes/{world.klass.id}"
    html = _post(client, f"{page}/period", page, {"period": world.other_period.id})
    assert "perioden är sparad" in html
    assert world.klass.period_id == world.other_period.id
    _post(client, f"{page}/period", page, {"period": 0})
    assert world.klass.period_id is None
    _post(client, f"{page}/period", page, {"period": 999999})  # not a choice: refused, nothing changes
    assert world.klass.period_id is None
    event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.entity_type == "school_class")).first()
    assert event is not None
    assert world.staff is not None
    assert event.actor_id == world.staff.id


# --- cohort import --------------------------------------------------------------------------------------------------


def test_the_preview_lists_every_problem_and_saves_nothing(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    before = _pupil_count(db_session, world.school)
    bad = [HEADER, ["Ali", "Hassan", "8B", "20x2", "Pojke"], ["Maja", "", "8B", "2012", "Flicka"], GOOD[1]]
    html = _upload(client, world, _csv(bad))
    assert 'id="import-problems"' in html
    assert "row 2, field &#34;Födelseår&#34;" in html or 'row 2, field "Födelseår"' in html
    assert "row 3" in html
    assert "Efternamn" in html
    assert 'id="confirm-form"' not in html
    _refresh()
    assert _pupil_count(db_session, world.school) == before
    assert _staged(db_session) == 0  # nothing waits for confirmation


def test_a_preview_then_confirm_imports_every_row(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    before = _pupil_count(db_session, world.school)
    first = re.search(r'name="token" type="hidden" value="([^"]+)"', _upload(client, world, _csv(GOOD)))
    assert first is not None
    html = _upload(client, world, _csv(GOOD))  # a second upload replaces the first
    assert re.search(r'id="would-create">2<', html)
    assert re.search(r'id="would-classes">1<', html)
    _refresh()
    assert _pupil_count(db_session, world.school) == before  # the preview saved nothing
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html)
    assert token is not None
    assert _staged(db_session) == 1
    replaced = client.post(
        "/school/import/confirm", data={"csrf_token": csrf_token(client, "/school/import"), "token": first.group(1)}
    )
    assert replaced.status_code == 404

    response = client.post(
        "/school/import/confirm",
        data={"csrf_token": csrf_token(client, "/school/import"), "token": token.group(1)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "2 nya elever" in response.get_data(as_text=True)
    _refresh()
    assert _pupil_count(db_session, world.school) == before + 2
    assert _staged(db_session) == 0  # the waiting file is gone
    event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "import.cohort")).one()
    assert world.staff is not None
    assert event.actor_id == world.staff.id
    # The token works once.
    again = client.post(
        "/school/import/confirm", data={"csrf_token": csrf_token(client, "/school/import"), "token": token.group(1)}
    )
    assert again.status_code == 404


def test_a_token_works_only_in_the_session_that_uploaded(client: FlaskClient, db_session: Session, app: Flask) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    html = _upload(client, world, _csv(GOOD))
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html)
    assert token is not None
    other = app.test_client()
    colleague = _login(other, db_session)
    db_session.add(m.SchoolMembership(user=colleague, school=world.school))
    db_session.flush()
    stolen = other.post(
        "/school/import/confirm", data={"csrf_token": csrf_token(other, "/school/import"), "token": token.group(1)}
    )
    assert stolen.status_code == 404
    forged = client.post(
        "/school/import/confirm", data={"csrf_token": csrf_token(client, "/school/import"), "token": "../../etc/passwd"}
    )
    assert forged.status_code == 404
    _refresh()
    assert _pupil_count(db_session, world.school) == 3


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"\x00\x01not a spreadsheet", "elever.xlsx", "xlsx"),
        (_csv([[*HEADER, "Personnummer"], ["Ali", "Hassan", "8B", "2012", "Pojke", "20120101-1234"]]), "a.csv", ""),
        (_csv([["Namn"], ["Ali"]]), "a.csv", "missing"),
    ],
)
def test_a_bad_file_imports_nothing(
    client: FlaskClient, db_session: Session, data: bytes, name: str, expected: str
) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    html = _upload(client, world, data, name)
    assert 'id="import-problems"' in html
    assert expected in html
    _refresh()
    assert _pupil_count(db_session, world.school) == 3


def test_a_file_of_the_wrong_type_is_refused_by_the_form(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    response = client.post(
        "/school/import",
        data={
            "csrf_token": csrf_token(client, "/school/import"),
            "school": str(world.school.id),
            "file": (io.BytesIO(b"x"), "elever.exe"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "CSV eller XLSX" in response.get_data(as_text=True)


def test_the_upload_store_keeps_files_private_and_short_lived(db_session: Session) -> None:
    owner, stranger = f.user(db_session, Role.SCHOOL_STAFF), f.user(db_session, Role.SCHOOL_STAFF)
    store = UploadStore(db_session)
    token = store.put(owner, 7, "../../elever.csv", b"data")
    staged = store.get(owner, token)
    assert (staged.school_id, staged.filename, staged.data) == (7, "elever.csv", b"data")
    stored = db_session.scalars(select(m.StagedUpload)).one()
    assert token not in stored.token_hash  # only a hash of the token is kept
    with pytest.raises(NotFound):
        store.get(stranger, token)
    with pytest.raises(NotFound):
        store.get(owner, token, now=dt.datetime.now(dt.UTC) + UPLOAD_TTL + dt.timedelta(seconds=1))
    with pytest.raises(NotFound):
        store.get(owner, "not/a/token")
    later = dt.datetime.now(dt.UTC) + 2 * UPLOAD_TTL
    assert store.purge(now=later) == 1
    with pytest.raises(NotFound):
        store.get(owner, token)


# --- preferences on the pupil's behalf ------------------------------------------------------------------------------


def test_preferences_are_entered_on_the_pupil_s_behalf(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    pupil = world.pupils[0]
    page = f"/school/pupils/{pupil.id}"
    path = f"{page}/choices"
    html = client.get(page).get_data(as_text=True)
    assert all(o.code in html for o in world.offers)  # every eligible offer can be picked

    def ranked() -> list[str]:
        return [p.offer.code for p in school_pupils.ranking(db_session, world.staff, pupil.id)]  # type: ignore[arg-type]

    _post(client, path, page, {"code": world.offers[0].code.lower()})
    _post(client, path, page, {"pick": world.offers[1].code})
    _post(client, path, page, {"code": world.offers[2].code, "pick": world.offers[2].code})
    assert ranked() == [o.code for o in world.offers]
    _post(client, path, page, {"op": f"up:{world.offers[2].code}"})
    assert ranked() == [world.offers[0].code, world.offers[2].code, world.offers[1].code]
    _post(client, path, page, {"op": f"down:{world.offers[0].code}"})
    assert ranked() == [world.offers[2].code, world.offers[0].code, world.offers[1].code]
    _post(client, path, page, {"op": f"remove:{world.offers[0].code}"})
    assert ranked() == [world.offers[2].code, world.offers[1].code]

    html = _post(client, path, page, {"code": "O404"})
    assert "offer O404 does not exist" in html
    html = _post(client, path, page, {})
    assert "Skriv en kod" in html
    assert ranked() == [world.offers[2].code, world.offers[1].code]

    events = list(db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "preferences.set")))
    assert len(events) == 6
    assert world.staff is not None
    assert {e.actor_id for e in events} == {world.staff.id}


def test_an_ineligible_offer_is_refused_with_the_reason(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    world.offers[0].min_age = 16
    db_session.flush()
    page = f"/school/pupils/{world.pupils[0].id}"
    html = _post(client, f"{page}/choices", page, {"code": world.offers[0].code})
    assert "requires age 16" in html
    assert school_pupils.ranking(db_session, world.staff, world.pupils[0].id) == []  # type: ignore[arg-type]


def test_choices_cannot_change_while_the_window_is_closed(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    window = db_session.scalars(select(m.PreferenceWindow)).one()
    window.closes_at = NOW - dt.timedelta(days=1)
    db_session.flush()
    page = f"/school/pupils/{world.pupils[0].id}"
    assert "Valperioden är stängd" in client.get(page).get_data(as_text=True)
    html = _post(client, f"{page}/choices", page, {"code": world.offers[0].code})
    assert "preference window is not open" in html


# --- self-arranged placements ---------------------------------------------------------------------------------------

SELF_ARRANGED = {
    "employer_name": "Mormors Bageri AB",
    "org_number": "556677-8899",
    "address": "Bagargatan 3, 424 85 Angered",
    "title": "Bagarlärling",
    "sector": Sector.HOSPITALITY.value,
    "supervisor_name": "Greta Mjöl",
    "supervisor_phone": "031-12 34 56",
    "supervisor_email": "",
    "risk_assessed": "y",
}


def test_a_self_arranged_placement_is_registered_and_removed(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    pupil = world.pupils[1]
    page = f"/school/pupils/{pupil.id}"
    html = _post(client, f"{page}/self-arranged", page, SELF_ARRANGED)
    assert "Den egna praoplatsen är registrerad" in html
    offer = pupil.self_arranged_offer
    assert offer is not None
    assert offer.kind is OfferKind.SELF_ARRANGED
    assert offer.employer.org_number == "556677-8899"
    assert offer.workplace.address == SELF_ARRANGED["address"]
    assert [(c.period_id, c.places) for c in offer.capacities] == [(world.period.id, 1)]
    assert offer.risk_assessment_confirmed_by_id == world.staff.id  # type: ignore[union-attr]
    assert 'data-status="self_arranged"' in html
    assert "Mormors Bageri AB" in client.get(f"/school/classes/{world.klass.id}").get_data(as_text=True)

    # A second one is refused until the first is removed; the same employer is then reused.
    html = _post(client, f"{page}/self-arranged", page, SELF_ARRANGED)
    assert pupil.self_arranged_offer_id == offer.id
    _post(client, f"{page}/self-arranged/remove", page)
    assert pupil.self_arranged_offer_id is None
    assert offer.status is OfferStatus.WITHDRAWN
    _post(client, f"{page}/self-arranged", page, SELF_ARRANGED)
    assert pupil.self_arranged_offer is not None
    assert pupil.self_arranged_offer.employer_id == offer.employer_id
    actions = set(db_session.scalars(select(m.AuditEvent.action).where(m.AuditEvent.entity_id == pupil.id)))
    assert {"pupil.self_arranged.set", "pupil.self_arranged.remove"} <= actions


def test_a_self_arranged_placement_needs_every_field(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    page = f"/school/pupils/{world.pupils[0].id}"
    html = _post(
        client, f"{page}/self-arranged", page, {**SELF_ARRANGED, "risk_assessed": "", "employer_name": ""}, status=400
    )
    assert "riskbedömningen" in html
    assert 'aria-invalid="true"' in html
    html = _post(client, f"{page}/self-arranged", page, {**SELF_ARRANGED, "org_number": "556677-8890"})
    assert "check digit" in html
    html = _post(client, f"{page}/self-arranged", page, {**SELF_ARRANGED, "supervisor_phone": ""})
    assert "phone or e-mail" in html
    assert world.pupils[0].self_arranged_offer_id is None


# --- login codes ----------------------------------------------------------------------------------------------------


def _codes(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-pupil="(\d+)">.*?<code class="code">([A-Z0-9-]+)</code>', html, re.S))


def test_login_sheets_give_codes_that_work_once_shown(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    page = f"/school/classes/{world.klass.id}"
    response = client.post(f"{page}/codes", data={"csrf_token": csrf_token(client, page), "which": "missing"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    codes = _codes(html)
    assert set(codes) == {str(p.id) for p in world.pupils}
    assert "http://127.0.0.1:5000/pupil-login/" in html
    assert 'lang="en"' in html
    for pupil in world.pupils:
        user = login_codes.authenticate(db_session, codes[str(pupil.id)])
        assert user.pupil_id == pupil.id
    stored = db_session.scalars(select(m.User.login_code_hash).where(m.User.pupil_id == world.pupils[0].id)).one()
    assert codes[str(world.pupils[0].id)] not in (stored or "")

    # Only those without: nobody now.
    again = client.post(f"{page}/codes", data={"csrf_token": csrf_token(client, page), "which": "missing"})
    assert _codes(again.get_data(as_text=True)) == {}

    # Revoked on the pupil page: the code stops working.
    pupil = world.pupils[0]
    _post(client, f"/school/pupils/{pupil.id}/code/revoke", f"/school/pupils/{pupil.id}")
    with pytest.raises(accounts.AuthenticationFailed):
        login_codes.authenticate(db_session, codes[str(pupil.id)])
    # Reissued: a new code works.
    response = client.post(
        f"/school/pupils/{pupil.id}/code", data={"csrf_token": csrf_token(client, f"/school/pupils/{pupil.id}")}
    )
    assert response.headers["Cache-Control"] == "no-store"
    new = _codes(response.get_data(as_text=True))[str(pupil.id)]
    _refresh()
    assert login_codes.authenticate(db_session, new).pupil_id == pupil.id
    actions = [e.action for e in db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.entity_id == pupil.id))]
    assert actions.count("pupil.login_code.issue") == 2
    assert "pupil.login_code.revoke" in actions


# --- export ---------------------------------------------------------------------------------------------------------


def test_the_export_lists_own_pupils_with_status_and_no_formulas(client: FlaskClient, db_session: Session) -> None:
    world = _world(db_session)
    _login(client, db_session, world)
    published = m.AllocationRound(name="Höst", status=RoundStatus.PUBLISHED)
    db_session.add(published)
    db_session.flush()
    db_session.add(
        m.Assignment(
            round=published,
            pupil=world.pupils[1],
            offer=world.offers[1],
            period=world.period,
            status=AssignmentStatus.PUBLISHED,
            rank=1,
        )
    )
    db_session.flush()

    response = client.get("/school/export.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:6] == ["Skola", "Klass", "Efternamn", "Förnamn", "Elevkod", "Status"]
    by_last = {r[2]: r for r in rows[1:]}
    assert set(by_last) == {"Karlsson", "Åberg", "'-Formel"}
    assert by_last["'-Formel"][3] == "'=HYPERLINK(1)"
    assert by_last["Åberg"][5] == "placerad, inväntar svar"
    assert by_last["Åberg"][7] == world.offers[1].employer.name
    assert by_last["Åberg"][11:13] == ["2026-11-02", "2026-11-13"]
    assert by_last["Karlsson"][5] == "inga val ännu"

    response = client.get(f"/school/export.xlsx?school={world.school.id}")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    cells = {v for row in values for v in row if v}
    assert "'=HYPERLINK(1)" in cells
    assert not any(isinstance(v, str) and v.startswith("=") for v in cells)
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert client.get("/school/export.pdf").status_code == 404
    event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "school.export")).first()
    assert event is not None


def test_the_status_export_in_english(db_session: Session) -> None:
    world = _world(db_session)
    user = f.user(db_session, Role.SCHOOL_STAFF)
    db_session.add(m.SchoolMembership(user=user, school=world.school))
    db_session.flush()
    rows = school_status.status_rows(db_session, user)
    assert {r.status for r in rows} == {PupilStatus.NO_CHOICES}
    with in_language("en_GB"):
        english = labels.pupil_statuses()
        headers = labels.headers(school_status.STATUS_COLUMNS, labels.STATUS_COLUMNS)
    assert {str(cell) for r in rows for cell in r.cells(english)} >= {"no choices yet"}
    assert headers[0] == "School"
    assert len(headers) == len(school_status.STATUS_COLUMNS)
    with pytest.raises(NotFound):
        school_status.status_rows(db_session, user, school_id=world.foreign_school.id)
    assert school_pupils.reordered(["A", "B"], "up", "A") == ["A", "B"]
    assert school_pupils.reordered(["A", "B"], "down", "B") == ["A", "B"]
    assert PupilStatus("placed") is PupilStatus.PLACED
    assert audit.Actor.of(user).user_id == user.id
