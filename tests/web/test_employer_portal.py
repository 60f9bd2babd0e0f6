"""The employer's portal through the test client: registration and e-mail verification, workplaces,
offers, demand, answering placements, feedback, and that an employer sees only its own."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from placement import audit
from placement import models as m
from placement.employers import for_employer as employer_scope
from placement.employers import offers, registration
from placement.employers import registry as employers
from placement.enums import (
    AssignmentStatus,
    EmployerStatus,
    Gender,
    GeoStatus,
    OfferStatus,
    Role,
    RoundStatus,
    Sector,
)
from placement.errors import NotFound, ValidationError
from placement.organisation import accounts
from placement.rounds import for_employer as employer_placements
from tests import factories as f
from tests.conftest import csrf_token

PASSWORD = "ett-långt-lösenord"
SECRET = "test-secret-key"  # TEST_CONFIG's SECRET_KEY
ORG_NUMBER = "556677-8899"  # Luhn-valid
NOW = dt.datetime.now(dt.UTC)

_SESSIONS: list[Session] = []


@pytest.fixture(autouse=True)
def _track_session(db_session: Session) -> Iterator[None]:
    _SESSIONS.append(db_session)
    yield
    _SESSIONS.pop()


def _refresh() -> None:
    from web.extensions import db

    db.expire_all()
    _SESSIONS[-1].expire_all()


def _post(
    client: FlaskClient, path: str, data: dict[str, object] | None = None, *, page: str | None = None
) -> TestResponse:
    """Submit a form of ``page`` (default ``path``) as a browser would; returns the response, not followed."""
    page = page or path
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, page), **(data or {})},
        headers={"Referer": f"http://localhost{page}"},
    )
    _refresh()
    return response


def _contact(session: Session, employer: m.Employer, **kw: object) -> m.User:
    user = f.user(session, Role.EMPLOYER_CONTACT, email_verified_at=NOW, **kw)
    accounts.set_password(user, PASSWORD)
    session.add(m.EmployerMembership(user=user, employer=employer))
    session.flush()
    return user


def _login(client: FlaskClient, user: m.User) -> None:
    response = client.post(
        "/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]


def _logged_in_employer(client: FlaskClient, session: Session, **kw: object) -> tuple[m.Employer, m.User, m.Workplace]:
    employer = f.employer(session, **kw)
    workplace = f.workplace(session, employer=employer, name=f"Butiken hos {employer.name}")
    user = _contact(session, employer)
    _login(client, user)
    return employer, user, workplace


def _registration(**overrides: str) -> dict[str, object]:
    return {
        "name": "Bageriet Kanelbullen AB",
        "org_number": ORG_NUMBER,
        "contact_name": "Kim Bagare",
        "phone": "031-12 34 56",
        "email": "kim@bageriet.example",
        "password": PASSWORD,
        "password_again": PASSWORD,
    } | overrides


def _verify_path(session: Session, email: str) -> str:
    message = session.scalars(
        select(m.OutboxMessage).where(m.OutboxMessage.recipient == email, m.OutboxMessage.kind == "verify_email")
    ).one()
    match = re.search(r"/register/verify/\S+", message.body)
    assert match, message.body
    return match.group(0)


def _published(
    session: Session, offer: m.Offer, period: m.Period, pupils: list[m.Pupil], **kw: object
) -> list[m.Assignment]:
    allocation_round = m.AllocationRound(
        name="Hösten",
        status=kw.pop("round_status", RoundStatus.PUBLISHED),
        confirm_deadline=kw.pop("deadline", NOW + dt.timedelta(days=7)),
    )
    session.add(allocation_round)
    rows = [
        m.Assignment(
            round=allocation_round,
            pupil=pupil,
            offer=offer,
            period=period,
            rank=1,
            status=kw.get("status", AssignmentStatus.PUBLISHED),
        )
        for pupil in pupils
    ]
    session.add_all(rows)
    session.flush()
    return rows


# --- registration ----------------------------------------------------------------------------------------------------


def test_register_queues_a_verification_mail_and_the_link_logs_in(client: FlaskClient, db_session: Session) -> None:
    page = client.get("/register/").get_data(as_text=True)
    assert "Registrera er som arbetsgivare" in page

    response = _post(client, "/register/", _registration())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/register/sent")

    user = db_session.scalars(select(m.User).where(m.User.email == "kim@bageriet.example")).one()
    employer = db_session.scalars(select(m.Employer).where(m.Employer.org_number == ORG_NUMBER)).one()
    assert user.role is Role.EMPLOYER_CONTACT
    assert user.email_verified_at is None
    assert employer.status is EmployerStatus.PENDING
    message = db_session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "verify_email")).one()
    assert message.recipient == "kim@bageriet.example"
    assert message.user_id == user.id
    assert message.subject == "Bekräfta din e-postadress till PRAO-samordningen"
    assert "Hej Kim Bagare!" in message.body
    actions = set(db_session.scalars(select(m.AuditEvent.action)))
    assert {"employer.register", "user.create"} <= actions

    # Before verifying, logging in is refused with an explanation.
    refused = client.post(
        "/auth/login",
        data={"email": "kim@bageriet.example", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert refused.status_code == 403
    assert "inte bekräftad" in refused.get_data(as_text=True)
    assert client.get("/employer/").status_code == 302  # to the login page

    path = _verify_path(db_session, "kim@bageriet.example")
    verified = client.get(path)
    assert verified.status_code == 302
    assert verified.headers["Location"].endswith("/employer/organisation")
    _refresh()
    assert user.email_verified_at is not None
    assert "user.verify_email" in set(db_session.scalars(select(m.AuditEvent.action)))
    organisation = client.get("/employer/organisation").get_data(as_text=True)
    assert "Bageriet Kanelbullen AB" in organisation
    assert "Dina erbjudanden syns för elever först när samordnaren har godkänt er" in organisation

    # The link works once: used again it leads to the login page and logs nobody in.
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/employer/")})
    again = client.get(path)
    assert again.headers["Location"].endswith("/auth/login")
    assert client.get("/employer/").status_code == 302


def test_registration_errors_name_the_field(client: FlaskClient, db_session: Session) -> None:
    response = _post(
        client,
        "/register/",
        _registration(org_number="556677-8898", password="kort", password_again="annat", email="inte-en-adress"),
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Organisationsnummer: Kontrollsiffran stämmer inte" in page
    assert "Lösenord: " in page
    assert "Lösenorden är inte lika." in page
    assert "E-postadress: " in page
    response = _post(client, "/register/", _registration(org_number="12345"))
    assert "Skriv organisationsnumret med 10 siffror" in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count(m.Employer.id))) == 0
    assert db_session.scalar(select(func.count(m.OutboxMessage.id))) == 0


def test_a_registered_organisation_number_is_refused(client: FlaskClient, db_session: Session) -> None:
    f.employer(db_session, org_number=ORG_NUMBER)
    response = _post(client, "/register/", _registration())
    assert response.status_code == 409
    assert "Organisationen är redan registrerad" in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count(m.OutboxMessage.id))) == 0


def test_registering_with_an_address_that_has_an_account_answers_as_for_a_new_one_and_mails_its_owner(
    client: FlaskClient, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = f.user(db_session, Role.COORDINATOR, email="kim@bageriet.example", display_name="Kim Ägare")
    db_session.commit()
    hashed: list[str] = []
    real_hash = accounts.hash_secret
    monkeypatch.setattr(accounts, "hash_secret", lambda secret: hashed.append(secret) or real_hash(secret))
    taken = _post(client, "/register/", _registration())
    assert hashed == [PASSWORD]  # the password is hashed all the same: the answer takes as long
    fresh = _post(client, "/register/", _registration(org_number="556016-3007", email="ny@bageriet.example"))
    assert hashed == [PASSWORD, PASSWORD]
    assert taken.status_code == fresh.status_code == 302
    assert taken.headers["Location"] == fresh.headers["Location"]
    # Nothing was registered for the taken address; its owner is told how to log in or reset.
    assert db_session.scalars(select(m.Employer.org_number)).all() == ["556016-3007"]
    told = db_session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.user_id == owner.id)).one()
    assert told.kind == "account_exists"
    assert told.recipient == "kim@bageriet.example"
    assert "Kim Ägare" in told.body
    assert "http://127.0.0.1:5000/auth/forgot-password" in told.body
    assert owner.password_hash is None  # the account itself is untouched
    # A second attempt within the hour mails the owner no more.
    _post(client, "/register/", _registration())
    assert db_session.scalar(select(func.count(m.OutboxMessage.id)).where(m.OutboxMessage.user_id == owner.id)) == 1


def test_verification_links_expire_and_cannot_be_forged(client: FlaskClient, db_session: Session) -> None:
    _post(client, "/register/", _registration())
    path = _verify_path(db_session, "kim@bageriet.example")
    token = path.rsplit("/", 1)[1]
    with pytest.raises(ValidationError, match="expired"):
        registration.verify_email(db_session, token, secret_key=SECRET, max_age=dt.timedelta(seconds=-1))
    with pytest.raises(NotFound):
        registration.verify_email(db_session, token, secret_key="another-key")
    assert client.get(path[:-3] + "xyz").status_code == 404

    # A new link can be asked for; the answer is the same for unknown addresses.
    sent = client.get("/register/sent").get_data(as_text=True)
    assert "Fick du ingen länk" in sent
    for address in ("kim@bageriet.example", "okand@example.se"):
        response = _post(client, "/register/resend", {"email": address}, page="/register/sent")
        assert response.status_code == 302
    messages = db_session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.kind == "verify_email")).all()
    assert {msg.recipient for msg in messages} == {"kim@bageriet.example"}


def test_the_verification_mail_renders_in_english(db_session: Session) -> None:
    registered = registration.register(
        db_session,
        **{k: str(v) for k, v in _registration().items() if k not in ("password_again", "phone")},
        locale="en",
        secret_key=SECRET,
        base_url="https://praktik.example/",
    )
    assert registered is not None
    employer, user = registered
    message = db_session.scalars(select(m.OutboxMessage).where(m.OutboxMessage.user_id == user.id)).one()
    assert message.locale == "en"
    assert message.subject == "Confirm your e-mail address for the PRAO coordination"
    assert "https://praktik.example/register/verify/" in message.body
    assert user.locale == "en"
    assert employer.status is EmployerStatus.PENDING


def test_only_employer_contacts_reach_the_portal(client: FlaskClient, db_session: Session) -> None:
    for path in ("/employer/", "/employer/organisation", "/employer/offers", "/employer/demand"):
        assert client.get(path).status_code == 302
    coordinator = f.user(db_session, Role.COORDINATOR)
    accounts.set_password(coordinator, PASSWORD)
    db_session.flush()
    _login(client, coordinator)
    for path in ("/employer/", "/employer/organisation", "/employer/offers", "/employer/workplaces/new"):
        assert client.get(path).status_code == 404


# --- workplaces ------------------------------------------------------------------------------------------------------


def test_workplaces_are_added_and_changed_with_a_map_preview(client: FlaskClient, db_session: Session) -> None:
    employer, _user, _ = _logged_in_employer(client, db_session)

    response = _post(
        client, "/employer/workplaces/new", {"employer": employer.id, "name": "", "address": "", "lat": "57.7"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Arbetsplatsens namn: " in page
    assert "Adress: " in page
    assert "Fyll i både latitud och longitud" in page

    response = _post(
        client,
        "/employer/workplaces/new",
        {
            "employer": employer.id,
            "name": "Bageriet",
            "address": "Kungsgatan 5, Göteborg",
            "lat": "57.7049",
            "lon": "11.9668",
        },
    )
    assert response.status_code == 302
    workplace = db_session.scalars(select(m.Workplace).where(m.Workplace.name == "Bageriet")).one()
    assert (workplace.lat, workplace.lon, workplace.geo_status) == (57.7049, 11.9668, GeoStatus.MANUAL)
    page = client.get(f"/employer/workplaces/{workplace.id}").get_data(as_text=True)
    assert 'class="map"' in page
    assert "57.7049" in page
    assert "leaflet.js" in page

    # A new address without coordinates waits for the geocoder: no map until it is located.
    response = _post(
        client,
        f"/employer/workplaces/{workplace.id}",
        {"employer": employer.id, "name": "Bageriet", "address": "Avenyn 1, Göteborg", "lat": "", "lon": ""},
    )
    assert response.status_code == 302
    assert (workplace.address, workplace.lat, workplace.geo_status) == ("Avenyn 1, Göteborg", None, GeoStatus.PENDING)
    page = client.get(f"/employer/workplaces/{workplace.id}").get_data(as_text=True)
    assert 'class="map"' not in page
    assert "inte placerad på kartan" in page
    assert "Bageriet" in client.get("/employer/organisation").get_data(as_text=True)
    assert {"workplace.create", "workplace.update"} <= set(db_session.scalars(select(m.AuditEvent.action)))


# --- offers ----------------------------------------------------------------------------------------------------------


def _offer_data(workplace: m.Workplace, periods: list[m.Period], **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Baka bullar",
        "description": "Du bakar och säljer i butiken.",
        "sector": "hospitality",
        "workplace": workplace.id,
        "min_age": "14",
        "requirements": "Svenska, hygienpass",
        "hours": "07.00–14.00",
        "bring": "Sköna skor",
        "supervisor_name": "Kim Bagare",
        "supervisor_phone": "031-12 34 56",
        "supervisor_email": "kim@bageriet.example",
    }
    for n, period in enumerate(periods):
        data[f"places_{period.id}"] = str(n + 2)
    return data | overrides


def test_offers_with_places_per_period_and_risk_assessment(client: FlaskClient, db_session: Session) -> None:
    w45 = f.period(db_session, code="w45", start_date=dt.date(2026, 11, 2))
    w47 = f.period(db_session, code="w47", start_date=dt.date(2026, 11, 16))
    employer, user, workplace = _logged_in_employer(client, db_session)

    response = _post(client, "/employer/offers/new", _offer_data(workplace, [w45, w47], title="", min_age="11"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Rubrik: " in page
    assert "Lägsta ålder (frivilligt): " in page
    response = _post(client, "/employer/offers/new", _offer_data(workplace, [w45, w47], **{f"places_{w45.id}": "-1"}))
    assert response.status_code == 400

    response = _post(client, "/employer/offers/new", _offer_data(workplace, [w45, w47]))
    assert response.status_code == 302
    offer = db_session.scalars(select(m.Offer).where(m.Offer.title == "Baka bullar")).one()
    assert offer.employer_id == employer.id
    assert offer.sector is Sector.HOSPITALITY
    assert offer.min_age == 14
    assert offer.requirements == ["svenska", "hygienpass"]
    assert (offer.hours, offer.bring) == ("07.00–14.00", "Sköna skor")
    assert offers.places_in(offer, w45) == 2
    assert offers.places_in(offer, w47) == 3
    assert offer.risk_assessment_confirmed_at is None
    page = client.get(f"/employer/offers/{offer.id}").get_data(as_text=True)
    assert "riskbedömningen för minderåriga är inte bekräftad" in page
    assert 'data-visible="no"' in page

    data = _offer_data(workplace, [w45, w47], risk_assessment="y", hours="08.00–15.00", **{f"places_{w47.id}": "0"})
    response = _post(client, f"/employer/offers/{offer.id}", data)
    assert response.status_code == 302
    assert offer.risk_assessment_confirmed_at is not None
    assert offer.risk_assessment_confirmed_by_id == user.id
    assert offer.hours == "08.00–15.00"
    assert offers.places_in(offer, w47) == 0
    assert offers.visibility_problem(offer) is None
    assert offer in offers.visible_offers(db_session)
    page = client.get("/employer/offers").get_data(as_text=True)
    assert f'data-offer="{offer.id}" data-visible="yes"' in page
    actions = set(db_session.scalars(select(m.AuditEvent.action).where(m.AuditEvent.entity_id == offer.id)))
    assert {"offer.create", "offer.update", "offer.set_places", "offer.confirm_risk_assessment"} <= actions

    before = client.get(f"/employer/offers/{offer.id}").get_data(as_text=True)
    assert "0 elever har valt erbjudandet" in before  # what withdrawing touches, said beside the form
    assert "0 elever har redan fått plats här" in before
    response = _post(
        client, f"/employer/offers/{offer.id}/withdraw", {"reason": ""}, page=f"/employer/offers/{offer.id}"
    )
    assert offer.status is OfferStatus.ACTIVE
    response = _post(
        client, f"/employer/offers/{offer.id}/withdraw", {"reason": "Vi flyttar"}, page=f"/employer/offers/{offer.id}"
    )
    assert response.status_code == 302
    assert offer.status is OfferStatus.WITHDRAWN
    assert offer not in offers.visible_offers(db_session)
    assert "tillbakadraget" in client.get(f"/employer/offers/{offer.id}").get_data(as_text=True)


def test_a_new_offer_needs_a_workplace(client: FlaskClient, db_session: Session) -> None:
    employer = f.employer(db_session)
    _login(client, _contact(db_session, employer))
    response = client.get("/employer/offers/new")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/employer/workplaces/new")


def test_a_pending_employers_offers_are_invisible_until_approved(client: FlaskClient, db_session: Session) -> None:
    w45 = f.period(db_session, code="w45")
    employer, _user, workplace = _logged_in_employer(client, db_session, status=EmployerStatus.PENDING)
    response = _post(client, "/employer/offers/new", _offer_data(workplace, [w45], risk_assessment="y"))
    assert response.status_code == 302
    offer = db_session.scalars(select(m.Offer).where(m.Offer.employer_id == employer.id)).one()
    assert offer not in offers.visible_offers(db_session)
    assert employer_scope.visibility_code(offer) == "pending"
    page = client.get(f"/employer/offers/{offer.id}").get_data(as_text=True)
    assert "samordnaren har inte godkänt er ännu" in page
    assert "Dina erbjudanden syns för elever först när samordnaren har godkänt er" in client.get(
        "/employer/offers"
    ).get_data(as_text=True)

    employers.approve_employer(db_session, employer, actor=audit.CLI)
    assert offer in offers.visible_offers(db_session)
    assert employer_scope.visibility_code(offer) is None
    assert "Godkänd av samordnaren" in client.get("/employer/organisation").get_data(as_text=True)


# --- demand ----------------------------------------------------------------------------------------------------------


def test_demand_for_the_employers_sectors_and_periods(client: FlaskClient, db_session: Session) -> None:
    w45 = f.period(db_session, code="w45")
    _employer, _user, workplace = _logged_in_employer(client, db_session)
    own = f.offer(
        db_session, workplace=workplace, sector=Sector.RETAIL, places={w45: 1}, risk_assessment_confirmed_at=NOW
    )
    other = f.offer(db_session, sector=Sector.IT, places={w45: 5}, risk_assessment_confirmed_at=NOW)
    klass = f.school_class(db_session, period=w45)
    for _n in range(4):  # four pupils want retail first: three places are missing
        pupil = f.pupil(db_session, school_class=klass)
        db_session.add(m.Preference(pupil=pupil, offer=own, rank=1))
        db_session.add(m.Preference(pupil=pupil, offer=other, rank=2))
    db_session.flush()

    page = client.get("/employer/demand").get_data(as_text=True)
    own_table = page.split('id="own-demand"')[1].split("</table>")[0]
    assert 'class="over" data-sector="retail" data-period="w45"' in own_table
    assert "3 platser saknas" in own_table
    assert 'data-sector="it"' not in own_table  # only their own sectors
    assert "Handel" in page.split('id="shortages"')[1]
    assert "Testsson" not in page  # counts only, no pupil


# --- placements: answer and feedback --------------------------------------------------------------------------------


def test_confirm_and_decline_the_pupils_placed_with_the_employer(client: FlaskClient, db_session: Session) -> None:
    w45 = f.period(db_session, code="w45")
    _employer, _user, workplace = _logged_in_employer(client, db_session)
    offer = f.offer(db_session, workplace=workplace, places={w45: 3}, risk_assessment_confirmed_at=NOW)
    klass = f.school_class(db_session, period=w45, name="8C")
    anna = f.pupil(db_session, school_class=klass, first_name="Anna", last_name="Ekström", gender=Gender.FEMALE)
    bo = f.pupil(db_session, school_class=klass, first_name="Bo", last_name="Lind", gender=Gender.MALE)
    first, second = _published(db_session, offer, w45, [anna, bo])

    page = client.get("/employer/").get_data(as_text=True)
    table = page.split('id="employer-placements"')[1].split("</table>")[0]
    assert "Anna Ekström" in table
    assert "Bo Lind" in table
    assert f"{klass.school.name}, 8C" in table
    for private in ("2012", "flick", "pojk", "female", "male", "ålder"):
        assert private not in table  # name, school, class and dates only: no birth year, no gender

    response = _post(client, f"/employer/placements/{first.id}/confirm", page="/employer/")
    assert response.status_code == 302
    assert first.status is AssignmentStatus.CONFIRMED
    response = _post(client, f"/employer/placements/{second.id}/decline", {"reason": ""}, page="/employer/")
    assert second.status is AssignmentStatus.PUBLISHED
    response = _post(
        client, f"/employer/placements/{second.id}/decline", {"reason": "Handledaren är sjuk"}, page="/employer/"
    )
    assert second.status is AssignmentStatus.DECLINED
    assert second.decline_reason == "Handledaren är sjuk"


def test_feedback_after_the_placement_once(client: FlaskClient, db_session: Session) -> None:
    past = f.period(db_session, code="w10", start_date=dt.date(2025, 3, 3))
    future = f.period(db_session, code="w99", start_date=NOW.date() + dt.timedelta(days=30))
    _employer, user, workplace = _logged_in_employer(client, db_session)
    offer = f.offer(db_session, workplace=workplace, places={past: 2, future: 2}, risk_assessment_confirmed_at=NOW)
    done = f.pupil(db_session, first_name="Cilla", school_class=f.school_class(db_session, period=past))
    coming = f.pupil(db_session, first_name="Dani", school_class=f.school_class(db_session, period=future))
    (ended,) = _published(db_session, offer, past, [done], status=AssignmentStatus.CONFIRMED)
    (ahead,) = _published(db_session, offer, future, [coming], status=AssignmentStatus.CONFIRMED)

    listing = client.get("/employer/").get_data(as_text=True)
    assert f"/employer/placements/{ended.id}/feedback" in listing
    assert f"/employer/placements/{ahead.id}/feedback" not in listing
    assert client.get(f"/employer/placements/{ahead.id}/feedback").status_code == 409

    path = f"/employer/placements/{ended.id}/feedback"
    page = client.get(path).get_data(as_text=True)
    assert "Cilla" in page
    assert "fungerade mycket bra" in page
    response = _post(client, path, {"comment": "Bra"})
    assert response.status_code == 400
    assert "Välj ett betyg från 1 till 5." in response.get_data(as_text=True)
    response = _post(client, path, {"rating": "4", "comment": "  Nyfiken och punktlig.  "})
    assert response.status_code == 302
    feedback = db_session.scalars(select(m.PlacementFeedback)).one()
    assert (feedback.assignment_id, feedback.rating, feedback.comment, feedback.author_id) == (
        ended.id,
        4,
        "Nyfiken och punktlig.",
        user.id,
    )
    assert "Omdöme lämnat" in client.get("/employer/").get_data(as_text=True)
    assert client.get(path).status_code == 409  # once
    with pytest.raises(ValidationError, match="rating"):
        employer_placements.give_feedback(db_session, user, ahead.id, rating=6, today=dt.date(2099, 1, 1))


# --- isolation -------------------------------------------------------------------------------------------------------


def test_an_employer_never_reaches_another_employers_records(client: FlaskClient, db_session: Session) -> None:
    w45 = f.period(db_session, code="w45", start_date=dt.date(2025, 3, 3))
    other = f.employer(db_session, name="Konkurrenten AB")
    other_workplace = f.workplace(db_session, employer=other, name="Konkurrentens lager")
    other_offer = f.offer(db_session, workplace=other_workplace, places={w45: 2}, title="Lagerarbete")
    stranger = f.pupil(
        db_session, first_name="Greta", last_name="Hemlig", school_class=f.school_class(db_session, period=w45)
    )
    (foreign,) = _published(db_session, other_offer, w45, [stranger], status=AssignmentStatus.CONFIRMED)

    _employer, user, workplace = _logged_in_employer(client, db_session)
    own_offer = f.offer(db_session, workplace=workplace, places={w45: 1}, title="Egen praktik")
    mine = f.pupil(db_session, first_name="Hugo", last_name="Egen", school_class=f.school_class(db_session, period=w45))
    _published(db_session, own_offer, w45, [mine])

    gets = [
        f"/employer/workplaces/{other_workplace.id}",
        f"/employer/offers/{other_offer.id}",
        f"/employer/placements/{foreign.id}/feedback",
        "/employer/workplaces/999999",
        "/employer/offers/999999",
    ]
    for path in gets:
        assert client.get(path).status_code == 404, path
    posts = [
        f"/employer/workplaces/{other_workplace.id}",
        f"/employer/offers/{other_offer.id}",
        f"/employer/offers/{other_offer.id}/withdraw",
        f"/employer/placements/{foreign.id}/confirm",
        f"/employer/placements/{foreign.id}/decline",
        f"/employer/placements/{foreign.id}/feedback",
    ]
    for path in posts:
        response = client.post(
            path,
            data={"csrf_token": csrf_token(client, "/employer/"), "reason": "x", "rating": "5", "name": "x"},
        )
        assert response.status_code == 404, path
    # Another employer's workplace cannot be chosen for an offer.
    response = _post(client, "/employer/offers/new", _offer_data(other_workplace, [w45]))
    assert response.status_code == 400
    with pytest.raises(NotFound):
        employer_scope.own_employer(db_session, user, other.id)

    _refresh()
    assert other_offer.status is OfferStatus.ACTIVE
    assert foreign.status is AssignmentStatus.CONFIRMED
    assert db_session.scalar(select(func.count(m.PlacementFeedback.id))) == 0
    for path in ("/employer/", "/employer/organisation", "/employer/offers", "/employer/demand"):
        page = client.get(path).get_data(as_text=True)
        for secret in ("Greta", "Hemlig", "Konkurrent", "Lagerarbete"):
            assert secret not in page, (path, secret)
    assert "Hugo Egen" in client.get("/employer/").get_data(as_text=True)


def test_a_placement_a_school_entered_with_the_employers_number_waits_on_its_page_until_taken_in(
    client: FlaskClient, db_session: Session
) -> None:
    from placement.cohorts import self_arranged
    from placement.cohorts.self_arranged import SelfArranged

    employer, _user, _workplace = _logged_in_employer(client, db_session, org_number=ORG_NUMBER, name="Bageriet AB")
    period = f.period(db_session)
    school = f.school(db_session, name="Ängsskolan")
    pupil = f.pupil(db_session, school_class=f.school_class(db_session, school=school, period=period))
    entry = SelfArranged(
        employer_name="Bageriet",
        org_number=ORG_NUMBER,
        address="Bagargatan 3, 424 85 Angered",
        title="Bagarlärling",
        sector=Sector.HOSPITALITY,
        supervisor_name="Greta Mjöl",
        supervisor_phone="031-12 34 56",
        risk_assessed=True,
    )
    offer = self_arranged.register_self_arranged(db_session, pupil, entry, actor=audit.Actor("skolan"))
    db_session.commit()
    # The school's entry is not among the employer's own offers, but waits on its organisation page.
    assert "Bagarlärling" not in client.get("/employer/offers").get_data(as_text=True)
    page = client.get("/employer/organisation").get_data(as_text=True)
    assert "Praoplatser som skolor har lagt in" in page
    assert pupil.full_name in page
    assert "Ängsskolan" in page
    taken = _post(client, f"/employer/entries/{offer.employer_id}/accept", page="/employer/organisation")
    assert taken.status_code == 302
    db_session.expire_all()
    assert db_session.get(m.Offer, offer.id).employer_id == employer.id  # type: ignore[union-attr]
    assert "Praoplatser som skolor har lagt in" not in client.get("/employer/organisation").get_data(as_text=True)
