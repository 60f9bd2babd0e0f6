"""The pupil's pages through the test client: code login, offers, ranking, placement, calendar file, evaluation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html as html_lib
import json
import re
from collections.abc import Iterator, Mapping

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.cohorts import login_codes
from placement.enums import AssignmentStatus, Role, Sector
from placement.organisation import accounts
from placement.rounds.setup import create_round
from tests import factories as f
from tests.conftest import csrf_token

LOGIN = "/pupil-login/"
HONESTY = "Ta med alla erbjudanden som du kan tänka dig"  # no round yet: the advice for the optimisation


@dataclasses.dataclass
class World:
    """One school's class with a period ahead, an open window of three choices, and offers of every kind."""

    period: m.Period
    school: m.School
    klass: m.SchoolClass
    pupil: m.Pupil
    window: m.PreferenceWindow
    offers: dict[str, m.Offer]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@pytest.fixture
def world(db_session: Session) -> World:
    now = dt.datetime.now(dt.UTC)
    start = _today() + dt.timedelta(days=30)
    period = f.period(db_session, code="pw1", name="Vecka P1", start_date=start, end_date=start + dt.timedelta(days=4))
    other_period = f.period(db_session, code="pw2", start_date=start + dt.timedelta(days=60))
    school = f.school(db_session, name="Kvarnlundsskolan", lat=57.70, lon=11.97)
    other_school = f.school(db_session, lat=57.60, lon=11.90)
    klass = f.school_class(db_session, school=school, name="8A", period=period)
    pupil = f.pupil(db_session, school_class=klass, first_name="Alva", birth_year=2012, birth_month=5)
    window = m.PreferenceWindow(
        name="Prao", opens_at=now - dt.timedelta(days=1), closes_at=now + dt.timedelta(days=7), max_choices=3
    )
    db_session.add(window)
    confirmed = f.RISK_CONFIRMED

    def offer(key: str, title: str, **kw: object) -> m.Offer:
        lat = kw.pop("lat", 57.705)
        employer = f.employer(db_session, name=kw.pop("employer_name", f"{title} AB"))
        workplace = f.workplace(db_session, employer=employer, lat=lat, lon=kw.pop("lon", 11.97))
        kw.setdefault("risk_assessment_confirmed_at", confirmed)
        places = kw.pop("places", {period: 2})
        return f.offer(db_session, workplace=workplace, title=title, code=f"T{key}", places=places, **kw)  # type: ignore[arg-type]

    offers = {
        "web": offer("web", "Webbutveckling", sector=Sector.IT, description="Bygg en hemsida"),
        "shop": offer("shop", "Butiksarbete", sector=Sector.RETAIL, lat=57.95),  # about 28 km north
        "bake": offer("bake", "Bagare", sector=Sector.HOSPITALITY, employer_name="Bageriet Solrosen AB"),
        "vet": offer("vet", "Djurklinik", sector=Sector.AGRICULTURE),
        "old": offer("old", "Lager med truck", min_age=16),
        "elsewhere": offer("elsewhere", "Annan skolas plats", schools=[other_school]),
        "later": offer("later", "Fel vecka", places={other_period: 3}),
        "unsafe": offer("unsafe", "Utan riskbedömning", risk_assessment_confirmed_at=None),
        "nocoords": offer("nocoords", "Okänd adress", lat=None, lon=None),
    }
    db_session.flush()
    return World(period, school, klass, pupil, window, offers)


def _login_code(client: FlaskClient, session: Session, pupil: m.Pupil) -> str:
    code = login_codes.issue(session, pupil, actor=audit.CLI).code
    response = client.post(LOGIN, data={"code": code, "csrf_token": csrf_token(client, LOGIN)})
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    assert response.headers["Location"].endswith("/pupil/")
    return code


_SESSIONS: list[Session] = []


@pytest.fixture(autouse=True)
def _track_session(db_session: Session) -> Iterator[None]:
    _SESSIONS.append(db_session)
    yield
    _SESSIONS.pop()


def _post(client: FlaskClient, path: str, page: str, data: Mapping[str, object], status: int = 200) -> str:
    """Submit a form of ``page`` as the browser would; the test's session then sees what the request stored."""
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, page), **data},
        headers={"Referer": f"http://localhost{page}"},
        follow_redirects=True,
    )
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    from web.extensions import db

    db.expire_all()
    _SESSIONS[-1].expire_all()
    return html_lib.unescape(response.get_data(as_text=True))


def _page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return html_lib.unescape(response.get_data(as_text=True))


def _ranked(session: Session, pupil: m.Pupil) -> list[str]:
    return list(
        session.scalars(
            select(m.Offer.code)
            .join(m.Preference, m.Preference.offer_id == m.Offer.id)
            .where(m.Preference.pupil_id == pupil.id)
            .order_by(m.Preference.rank)
        )
    )


def _listed(html: str) -> list[str]:
    return re.findall(r'<li class="offer" data-offer="([^"]+)"', html)


# --- logging in ------------------------------------------------------------------------------------------------------


def test_a_pupil_logs_in_with_the_code_and_sees_the_window(
    client: FlaskClient, db_session: Session, world: World
) -> None:
    assert client.get("/pupil/").status_code == 302  # to the login page
    page = _page(client, LOGIN)
    assert "Din kod" in page
    assert 'name="csrf_token"' in page
    code = login_codes.issue(db_session, world.pupil, actor=audit.CLI).code
    typed = code.lower().replace("-", " ")  # as a pupil might type it
    response = client.post(LOGIN, data={"code": typed, "csrf_token": csrf_token(client, LOGIN)})
    assert response.status_code == 302
    home = _page(client, "/pupil/")
    assert "Hej Alva!" in home
    assert 'data-state="open"' in home
    assert "Du har rangordnat 0 av högst 3 val." in home
    assert HONESTY in home
    assert "Vecka P1" in home


def test_a_wrong_code_is_refused_with_401_and_reveals_nothing(
    client: FlaskClient, db_session: Session, world: World
) -> None:
    code = login_codes.issue(db_session, world.pupil, actor=audit.CLI).code
    wrong_secret = code[:-1] + ("A" if code[-1] != "A" else "B")
    answers = []
    for attempt in (wrong_secret, "ZZZZ-ZZZZ-ZZZZ", "x"):
        response = client.post(LOGIN, data={"code": attempt, "csrf_token": csrf_token(client, LOGIN)})
        assert response.status_code == 401
        text = html_lib.unescape(response.get_data(as_text=True))
        assert "Koden fungerade inte" in text
        answers.append(re.sub(r'value="[^"]*"', "", text))
    assert answers[0] == answers[1], "a known code id and an unknown one get the same answer"
    assert client.get("/pupil/").status_code == 302
    # Without the CSRF token nothing is tried.
    assert client.post(LOGIN, data={"code": code}).status_code == 400  # CSRFProtect
    assert client.get("/pupil/").status_code == 302


def _try(client: FlaskClient, code: str) -> int:
    return client.post(LOGIN, data={"code": code, "csrf_token": csrf_token(client, LOGIN)}).status_code


def test_guessing_codes_from_an_address_is_slowed_down_there_without_locking_out_its_pupils(
    client: FlaskClient, db_session: Session, world: World
) -> None:
    code = login_codes.issue(db_session, world.pupil, actor=audit.CLI).code
    assert [_try(client, "AAAA-BBBB-CCCC") for _ in range(login_codes.FAILURES_PER_ADDRESS + 1)] == [401] * (
        login_codes.FAILURES_PER_ADDRESS + 1
    )
    assert db_session.scalar(select(func.count(m.LoginFailure.id)).where(m.LoginFailure.key == "code:127.0.0.1"))
    # The guesses from this address now wait: guessing gains nothing.
    response = client.post(LOGIN, data={"code": "QQQQ-RRRR-SSSS", "csrf_token": csrf_token(client, LOGIN)})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "För många försök" in html_lib.unescape(response.get_data(as_text=True))
    # A pupil at the same school address with the right code still gets in.
    assert _try(client, code) == 302
    assert client.get("/pupil/").status_code == 200


def test_one_pupils_typos_slow_down_that_code_and_a_classrooms_its_class_only(
    app: Flask, db_session: Session, world: World
) -> None:
    other_class = f.school_class(db_session, school=world.school, name="8B", period=world.period)
    classmates = [f.pupil(db_session, school_class=world.klass) for _ in range(login_codes.FAILURES_PER_CLASS)]
    neighbour = f.pupil(db_session, school_class=other_class)
    codes = {
        p.id: login_codes.issue(db_session, p, actor=audit.CLI).code for p in [world.pupil, *classmates, neighbour]
    }

    def typo(code: str) -> str:
        return code[:-1] + ("2" if code[-1] != "2" else "3")

    client = app.test_client()
    # One pupil mistypes their own code again and again: that code waits, nobody else does.
    own = codes[world.pupil.id]
    assert [_try(client, typo(own)) for _ in range(login_codes.FAILURES_PER_CODE + 1)][-1] == 401
    assert _try(client, own) == 429
    # A whole classroom mistyping (one each, as a class does on its first morning): that class waits...
    for pupil in classmates:
        _try(app.test_client(), typo(codes[pupil.id]))
    assert _try(app.test_client(), codes[classmates[0].id]) == 429
    # ...but the class next door, behind the same school address, logs in.
    neighbour_client = app.test_client()
    assert _try(neighbour_client, codes[neighbour.id]) == 302
    assert neighbour_client.get("/pupil/").status_code == 200


def test_a_revoked_or_replaced_code_no_longer_works_and_ends_the_session(
    client: FlaskClient, db_session: Session, world: World
) -> None:
    old = _login_code(client, db_session, world.pupil)
    assert client.get("/pupil/").status_code == 200
    login_codes.revoke(db_session, world.pupil, actor=audit.CLI)
    db_session.flush()
    assert client.get("/pupil/").status_code == 302, "the session of a revoked code ends"
    response = client.post(LOGIN, data={"code": old, "csrf_token": csrf_token(client, LOGIN)})
    assert response.status_code == 401
    new = login_codes.issue(db_session, world.pupil, actor=audit.CLI).code
    response = client.post(LOGIN, data={"code": old, "csrf_token": csrf_token(client, LOGIN)})
    assert response.status_code == 401
    response = client.post(LOGIN, data={"code": new, "csrf_token": csrf_token(client, LOGIN)})
    assert response.status_code == 302


def test_the_pupil_pages_are_for_pupils_only(client: FlaskClient, db_session: Session, world: World) -> None:
    staff = f.user(db_session, Role.SCHOOL_STAFF)
    accounts.set_password(staff, "ett-långt-lösenord")
    db_session.flush()
    response = client.post(
        "/auth/login",
        data={"email": staff.email, "password": "ett-långt-lösenord", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    for path in ("/pupil/", "/pupil/offers", "/pupil/choices", "/pupil/placement", "/pupil/placement.ics"):
        assert client.get(path).status_code == 404, path
    # A logged-in user going to the code login is sent home.
    assert client.get(LOGIN).status_code == 302


# --- offers ----------------------------------------------------------------------------------------------------------


def test_the_offer_list_holds_only_offers_the_pupil_can_choose_and_filters_them(
    client: FlaskClient, db_session: Session, world: World
) -> None:
    _login_code(client, db_session, world.pupil)
    page = _page(client, "/pupil/offers")
    codes = {f"T{key}" for key in ("web", "shop", "bake", "vet", "nocoords")}
    assert set(_listed(page)) == codes
    assert "Vecka P1" in page  # the pupil's period is shown
    assert "5 erbjudanden." in page
    assert 'class="map"' in page
    markers = json.loads(html_lib.unescape(re.search(r"data-markers='([^']*)'", page).group(1)))  # type: ignore[union-attr]
    assert len(markers) == 4  # the offer without coordinates has no marker
    assert "Webbutveckling" in page

    # Sector.
    it = _page(client, "/pupil/offers?sector=it")
    assert _listed(it) == ["Tweb"]
    assert "1 erbjudande." in it
    # Distance from the school: the shop lies about 28 km away; no coordinates, no known distance.
    near = _listed(_page(client, "/pupil/offers?max_km=10"))
    assert set(near) == {"Tweb", "Tbake", "Tvet"}
    assert "Tshop" in _listed(_page(client, "/pupil/offers?max_km=40"))
    # Keyword: title, description or employer, ignoring case.
    assert _listed(_page(client, "/pupil/offers?q=solrosen")) == ["Tbake"]
    assert _listed(_page(client, "/pupil/offers?q=HEMSIDA")) == ["Tweb"]
    assert _listed(_page(client, "/pupil/offers?q=finns+inte")) == []
    assert "Inga erbjudanden passar" in _page(client, "/pupil/offers?q=finns+inte")
    # Sorted by distance: the farthest known distance last, the unknown one after it.
    by_distance = _listed(_page(client, "/pupil/offers?order=distance"))
    assert by_distance[-2:] == ["Tshop", "Tnocoords"]
    # A bad filter is named and filters nothing.
    bad = _page(client, "/pupil/offers?max_km=-5")
    assert "Högst så här långt från skolan (km)" in bad
    assert set(_listed(bad)) == codes


def test_the_offer_list_pages_through_every_offer_once_nearest_first(
    client: FlaskClient, db_session: Session, world: World
) -> None:
    """45 more offers: three pages of 20, each offer on exactly one, nearest first; by title in Swedish order."""
    from placement.cohorts.for_pupil import PER_PAGE

    titles = ["Ängsgården", "Åkeriet", "Örtagården", "Zoo", "Ateljé", "Ateljén"]
    for n in range(45):
        employer = f.employer(db_session, name=f"Företag {n}")
        workplace = f.workplace(db_session, employer=employer, lat=57.70 + 0.002 * (45 - n), lon=11.97)
        f.offer(
            db_session,
            workplace=workplace,
            title=f"{titles[n % len(titles)]} {n:02d}",
            code=f"P{n:02d}",
            places={world.period: 1},
            risk_assessment_confirmed_at=f.RISK_CONFIRMED,
        )
    db_session.flush()
    _login_code(client, db_session, world.pupil)
    pages = [_listed(_page(client, f"/pupil/offers?page={n}")) for n in (1, 2, 3)]
    assert [len(page) for page in pages] == [PER_PAGE, PER_PAGE, 50 - 2 * PER_PAGE]
    listed = [code for page in pages for code in page]
    assert len(listed) == len(set(listed)) == 50  # the 45 and the five of the world, each once
    assert "Sida 2 av 3" in _page(client, "/pupil/offers?page=2")
    assert _listed(_page(client, "/pupil/offers?page=99")) == pages[2]  # past the end: the last page
    # Nearest first by default: the new offers lie nearer the school the higher their number.
    new = [code for code in listed if code.startswith("P")]
    assert new[:3] == ["P44", "P43", "P42"]
    # By title, in Swedish order (å, ä, ö after z; é as e), over all pages.
    by_title = [c for n in (1, 2, 3) for c in _listed(_page(client, f"/pupil/offers?order=title&page={n}"))]
    firsts = [code for code in by_title if code.startswith("P")]
    words = [titles[int(code[1:]) % len(titles)] for code in firsts]
    assert words == sorted(words, key=["Ateljé", "Ateljén", "Zoo", "Åkeriet", "Ängsgården", "Örtagården"].index)
    # A keyword narrows before paging: eight offers named Zoo fit on one page.
    assert len(_listed(_page(client, "/pupil/offers?q=zoo"))) == len([n for n in range(45) if n % 6 == 3])
    assert _listed(_page(client, "/pupil/offers?q=%C3%B6rtag%C3%A5rden+07")) == []
    assert _listed(_page(client, "/pupil/offers?q=%C3%96RTAG%C3%85RDEN+02")) == ["P02"]


def test_a_class_without_a_period_sees_no_offers(client: FlaskClient, db_session: Session, world: World) -> None:
    world.klass.period = None
    db_session.flush()
    _login_code(client, db_session, world.pupil)
    page = _page(client, "/pupil/offers")
    assert _listed(page) == []
    assert "Din klass har ingen praoperiod" in page


# --- ranking ---------------------------------------------------------------------------------------------------------


def test_ranking_up_to_the_maximum_reordering_and_removing(
    client: FlaskClient, db_session: Session, world: World
) -> None:
    _login_code(client, db_session, world.pupil)
    for key in ("web", "bake", "vet"):
        page = _post(client, "/pupil/choices/add", "/pupil/offers", {"offer": f"T{key}", "next": "/pupil/offers"})
    assert "Du har nu 3 val." in page
    assert _ranked(db_session, world.pupil) == ["Tweb", "Tbake", "Tvet"]
    assert "Ditt val nummer 2" in page
    assert "Du har valt så många som du får" in page
    assert 'class="add"' not in page

    # Beyond the maximum: refused, nothing changes.
    page = _post(client, "/pupil/choices/add", "/pupil/offers", {"offer": "Tshop"})
    assert "Du har redan valt så många erbjudanden som du får" in page
    assert _ranked(db_session, world.pupil) == ["Tweb", "Tbake", "Tvet"]
    # Adding one already ranked changes nothing.
    _post(client, "/pupil/choices/add", "/pupil/offers", {"offer": "Tweb"})
    assert _ranked(db_session, world.pupil) == ["Tweb", "Tbake", "Tvet"]

    page = _page(client, "/pupil/choices")
    assert HONESTY in page
    assert re.findall(r'<li data-offer="([^"]+)"', page) == ["Tweb", "Tbake", "Tvet"]

    page = _post(client, "/pupil/choices/move", "/pupil/choices", {"offer": "Tvet", "direction": "up"})
    assert "Ordningen är sparad." in page
    assert _ranked(db_session, world.pupil) == ["Tweb", "Tvet", "Tbake"]
    _post(client, "/pupil/choices/move", "/pupil/choices", {"offer": "Tweb", "direction": "down"})
    assert _ranked(db_session, world.pupil) == ["Tvet", "Tweb", "Tbake"]
    _post(client, "/pupil/choices/move", "/pupil/choices", {"offer": "Tvet", "direction": "up"})  # already first
    assert _ranked(db_session, world.pupil) == ["Tvet", "Tweb", "Tbake"]
    _post(client, "/pupil/choices/move", "/pupil/choices", {"offer": "Tvet", "direction": "sideways"})
    assert _ranked(db_session, world.pupil) == ["Tvet", "Tweb", "Tbake"]

    page = _post(client, "/pupil/choices/remove", "/pupil/choices", {"offer": "Tweb"})
    assert "Valet är borttaget." in page
    assert _ranked(db_session, world.pupil) == ["Tvet", "Tbake"]
    _post(client, "/pupil/choices/add", "/pupil/offers", {"offer": "Tshop"})
    assert _ranked(db_session, world.pupil) == ["Tvet", "Tbake", "Tshop"]

    events = db_session.scalars(
        select(m.AuditEvent).where(m.AuditEvent.action == "preferences.set", m.AuditEvent.entity_id == world.pupil.id)
    ).all()
    assert len(events) == 7
    assert events[-1].after == {"offers": ["Tvet", "Tbake", "Tshop"]}


def test_offers_the_pupil_cannot_choose_are_refused(client: FlaskClient, db_session: Session, world: World) -> None:
    _login_code(client, db_session, world.pupil)
    for key in ("old", "elsewhere", "later", "unsafe"):
        page = _post(client, "/pupil/choices/add", "/pupil/offers", {"offer": f"T{key}"})
        assert "Det erbjudandet kan du inte välja." in page, key
    page = _post(client, "/pupil/choices/add", "/pupil/offers", {"offer": "NO-SUCH"})
    assert "Det erbjudandet kan du inte välja." in page
    page = _post(client, "/pupil/choices/move", "/pupil/choices", {"offer": "Tweb", "direction": "up"})
    assert "Det erbjudandet kan du inte välja." in page  # not among the choices
    assert _ranked(db_session, world.pupil) == []


def test_choices_cannot_change_after_the_window_closed(client: FlaskClient, db_session: Session, world: World) -> None:
    _login_code(client, db_session, world.pupil)
    _post(client, "/pupil/choices/add", "/pupil/offers", {"offer": "Tweb"})
    _post(client, "/pupil/choices/add", "/pupil/offers", {"offer": "Tbake"})
    world.window.closes_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    db_session.flush()
    for path, page, data in (
        ("/pupil/choices/add", "/pupil/offers", {"offer": "Tvet"}),
        ("/pupil/choices/move", "/pupil/choices", {"offer": "Tbake", "direction": "up"}),
        ("/pupil/choices/remove", "/pupil/choices", {"offer": "Tweb"}),
    ):
        html = _post(client, path, page, data)
        assert "Valet är stängt" in html or "Valperioden är stängd" in html
    assert _ranked(db_session, world.pupil) == ["Tweb", "Tbake"]
    page = _page(client, "/pupil/choices")
    assert "Valet är stängt, så dina val kan inte ändras längre." in page
    assert 'class="up"' not in page
    assert 'class="remove"' not in page
    assert 'class="add"' not in _page(client, "/pupil/offers")
    home = _page(client, "/pupil/")
    assert 'data-state="closed"' in home
    assert "Du rangordnade 2 val." in home


# --- placement -------------------------------------------------------------------------------------------------------


def _assignment(session: Session, world: World, status: AssignmentStatus, key: str = "web") -> m.Assignment:
    allocation_round = create_round(session, "Höst", [world.period.code], actor=audit.CLI)
    offer = world.offers[key]
    offer.hours = "08.00–14.00, lunch 11.30"
    offer.bring = "Oömma kläder och matlåda"
    offer.supervisor_name = "Kim Handledare"
    offer.supervisor_phone = "031-12 34 56"
    offer.supervisor_email = "kim@example.se"
    assignment = m.Assignment(
        round=allocation_round, pupil=world.pupil, offer=offer, period=world.period, rank=1, status=status
    )
    session.add(assignment)
    session.flush()
    return assignment


def test_the_placement_is_shown_only_after_publication(client: FlaskClient, db_session: Session, world: World) -> None:
    _login_code(client, db_session, world.pupil)
    page = _page(client, "/pupil/placement")
    assert "Din praoplats är inte klar ännu." in page
    assert client.get("/pupil/placement.ics").status_code == 404
    assert client.get("/pupil/evaluation").status_code == 404

    assignment = _assignment(db_session, world, AssignmentStatus.PROPOSED)
    page = _page(client, "/pupil/placement")
    assert "Din praoplats är inte klar ännu." in page, "a proposal is not shown before publication"
    assert "Webbutveckling" not in page
    assert "Webbutveckling" not in _page(client, "/pupil/")
    assert client.get("/pupil/placement.ics").status_code == 404

    assignment.status = AssignmentStatus.PUBLISHED
    db_session.flush()
    page = _page(client, "/pupil/placement")
    for text in (
        "Webbutveckling AB",
        "Storgatan 1, 411 38 Göteborg",
        "Vecka P1",
        "08.00–14.00, lunch 11.30",
        "Kim Handledare",
        "031-12 34 56",
        "kim@example.se",
        "Oömma kläder och matlåda",
        "publicerad, inväntar svar",
    ):
        assert text in page, text
    assert 'data-status="published"' in page
    markers = json.loads(re.search(r"data-markers='([^']*)'", page).group(1))  # type: ignore[union-attr]
    assert markers == [{"lat": 57.705, "lon": 11.97, "label": "Webbutveckling AB"}]
    assert 'id="ics-link"' in page
    home = _page(client, "/pupil/")
    assert 'id="home-placement"' in home
    assert "Webbutveckling" in home

    assignment.status = AssignmentStatus.CONFIRMED
    db_session.flush()
    assert "bekräftad" in _page(client, "/pupil/placement")


def test_the_calendar_file_downloads_and_parses(client: FlaskClient, db_session: Session, world: World) -> None:
    _login_code(client, db_session, world.pupil)
    _assignment(db_session, world, AssignmentStatus.CONFIRMED)
    response = client.get("/pupil/placement.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == 'attachment; filename="prao.ics"'
    calendar = icalendar.Calendar.from_ical(response.data)
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    event = events[0]
    assert event.decoded("dtstart") == world.period.start_date
    assert event.decoded("dtend") == world.period.end_date + dt.timedelta(days=1)
    assert "Webbutveckling" in str(event["summary"])
    assert str(event["location"]) == "Storgatan 1, 411 38 Göteborg"
    assert "Kim Handledare" in str(event["description"])
    assert "Elev: Alva" in str(event["description"])


# --- evaluation ------------------------------------------------------------------------------------------------------


def test_the_evaluation_opens_on_the_last_day_and_is_stored_once(
    client: FlaskClient, db_session: Session, world: World
) -> None:
    _login_code(client, db_session, world.pupil)
    assignment = _assignment(db_session, world, AssignmentStatus.CONFIRMED)
    page = _page(client, "/pupil/evaluation")
    assert 'id="evaluation-not-open"' in page
    answer = {"rating": "4", "recommend": "yes", "comment": "Roligt!"}
    response = client.post("/pupil/evaluation", data={"csrf_token": csrf_token(client, "/pupil/placement"), **answer})
    assert response.status_code == 409
    assert "när praon är slut" in html_lib.unescape(response.get_data(as_text=True))

    world.period.start_date = _today() - dt.timedelta(days=11)
    world.period.end_date = _today()
    db_session.flush()
    page = _page(client, "/pupil/placement")
    assert 'id="evaluation-link"' in page
    page = _page(client, "/pupil/evaluation")
    assert 'id="evaluation-form"' in page
    assert 'type="radio"' in page

    response = client.post(
        "/pupil/evaluation", data={"csrf_token": csrf_token(client, "/pupil/evaluation"), "rating": "9"}
    )
    assert response.status_code == 400
    page = _post(client, "/pupil/evaluation", "/pupil/evaluation", answer)
    assert "Tack för ditt svar!" in page
    assert 'id="evaluation-done"' in page
    stored = db_session.scalars(select(m.PupilEvaluation)).one()
    assert (stored.assignment_id, stored.rating, stored.recommend, stored.comment) == (
        assignment.id,
        4,
        True,
        "Roligt!",
    )
    assert db_session.scalar(select(m.AuditEvent).where(m.AuditEvent.action == "pupil_evaluation.create"))

    # A second answer is refused; the first stays.
    response = client.post(
        "/pupil/evaluation",
        data={"csrf_token": csrf_token(client, "/pupil/"), "rating": "1", "recommend": "no"},
    )
    assert response.status_code == 409
    assert "Du har redan svarat" in html_lib.unescape(response.get_data(as_text=True))
    db_session.expire_all()
    assert db_session.scalar(select(func.count(m.PupilEvaluation.id))) == 1
    assert db_session.scalars(select(m.PupilEvaluation)).one().rating == 4


# --- a pupil sees only themself --------------------------------------------------------------------------------------


def test_a_pupil_never_sees_another_pupils_choices_or_placement(
    client: FlaskClient, db_session: Session, world: World
) -> None:
    classmate = f.pupil(db_session, school_class=world.klass, first_name="Bo")
    world.offers["vet"].title = "Djurklinik Unik"
    db_session.add_all(
        [
            m.Preference(pupil=classmate, offer=world.offers["vet"], rank=1),
            m.Preference(pupil=classmate, offer=world.offers["shop"], rank=2),
        ]
    )
    allocation_round = create_round(db_session, "Höst", [world.period.code], actor=audit.CLI)
    db_session.add(
        m.Assignment(
            round=allocation_round,
            pupil=classmate,
            offer=world.offers["vet"],
            period=world.period,
            rank=1,
            status=AssignmentStatus.CONFIRMED,
        )
    )
    db_session.flush()
    _login_code(client, db_session, world.pupil)
    _post(client, "/pupil/choices/add", "/pupil/offers", {"offer": "Tweb"})

    choices = _page(client, "/pupil/choices")
    assert re.findall(r'<li data-offer="([^"]+)"', choices) == ["Tweb"]
    assert "Djurklinik Unik" not in choices
    assert "Bo " not in choices
    # Query strings naming another pupil change nothing: no view reads a pupil id.
    for path in (
        f"/pupil/choices?pupil_id={classmate.id}",
        f"/pupil/placement?pupil={classmate.id}",
        f"/pupil/?pupil_id={classmate.id}",
    ):
        page = _page(client, path)
        assert "Djurklinik Unik" not in page, path
    assert "Din praoplats är inte klar ännu." in _page(client, "/pupil/placement")
    assert client.get("/pupil/placement.ics").status_code == 404
    # Removing or moving the classmate's choice touches only the pupil's own ranking.
    _post(client, "/pupil/choices/remove", "/pupil/choices", {"offer": "Tvet"})
    _post(client, "/pupil/choices/move", "/pupil/choices", {"offer": "Tshop", "direction": "up"})
    assert _ranked(db_session, classmate) == ["Tvet", "Tshop"]
    assert _ranked(db_session, world.pupil) == ["Tweb"]
    # The offer list marks only the pupil's own choices.
    offers = _page(client, "/pupil/offers")
    assert offers.count("Ditt val nummer") == 1
