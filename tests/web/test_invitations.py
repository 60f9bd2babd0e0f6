"""Staff accounts by invitation, through the pages: invite, accept by the mailed link, resend, withdraw, remove."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from placement import models as m
from placement.enums import MailKind, Role
from placement.organisation import accounts
from tests import factories as f
from tests.conftest import csrf_token

PASSWORD = "ett-långt-lösenord"
LINK = re.compile(r"http://127\.0\.0\.1:5000(/auth/invitation/\S+)")


def _log_in(client: FlaskClient, user: m.User) -> None:
    response = client.post(
        "/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def _staff(session: Session, school: m.School, **kw: object) -> m.User:
    user = f.user(session, Role.SCHOOL_STAFF, **kw)
    accounts.set_password(user, PASSWORD)
    session.add(m.SchoolMembership(user=user, school=school))
    session.flush()
    return user


def _post(client: FlaskClient, path: str, page: str, **data: object) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def _invitation_link(session: Session, email: str) -> str:
    session.expire_all()
    messages = session.scalars(
        select(m.OutboxMessage)
        .where(m.OutboxMessage.kind == MailKind.INVITATION, m.OutboxMessage.recipient == email)
        .order_by(m.OutboxMessage.id.desc())
    ).all()
    assert messages, f"no invitation mailed to {email}"
    found = LINK.search(messages[0].body)
    assert found is not None
    return found[1]


def _accept(app: Flask, path: str, name: str = "Bo Ny") -> FlaskClient:
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "name": name, "password": PASSWORD, "password_again": PASSWORD},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def test_school_staff_invite_a_colleague_who_accepts_by_the_link_and_can_be_removed_again(
    app: Flask, client: FlaskClient, db_session: Session
) -> None:
    school = f.school(db_session, name="Ängsskolan")
    other = f.school(db_session, name="Björkskolan")
    asa = _staff(db_session, school, display_name="Åsa Öberg", email="asa@skola.example")
    db_session.commit()
    _log_in(client, asa)
    page = client.get("/school/staff").get_data(as_text=True)
    assert "Ängsskolan" in page
    assert "Björkskolan" not in page
    invited = _post(
        client, f"/school/schools/{school.id}/invitations", "/school/staff", name="Bo Ny", email="bo@skola.example"
    )
    assert invited.status_code == 302
    listing = client.get("/school/staff").get_data(as_text=True)
    assert "bo@skola.example" in listing
    assert "väntar på svar" in listing
    # Inviting to a school that is not the user's is a 404.
    assert (
        _post(client, f"/school/schools/{other.id}/invitations", "/school/staff", name="X", email="x@skola.example")
    ).status_code == 404

    path = _invitation_link(db_session, "bo@skola.example")
    bo_client = _accept(app, path, name="Bo Nyström")
    assert "Ängsskolan" in bo_client.get("/school/").get_data(as_text=True)
    assert app.test_client().get(path).status_code == 404  # it worked once
    bo = db_session.scalars(select(m.User).where(m.User.email == "bo@skola.example")).one()
    assert bo.display_name == "Bo Nyström"
    assert "mottagen" in client.get("/school/staff").get_data(as_text=True)

    removed = _post(client, f"/school/schools/{school.id}/staff/{bo.id}/remove", "/school/staff")
    assert removed.status_code == 302
    # Bo's session has ended, and he is no longer staff of the school.
    assert bo_client.get("/school/").status_code == 302
    db_session.expire_all()
    assert db_session.scalars(select(m.SchoolMembership).where(m.SchoolMembership.user_id == bo.id)).all() == []
    # Nobody removes themselves.
    assert _post(client, f"/school/schools/{school.id}/staff/{asa.id}/remove", "/school/staff").status_code == 409


def test_a_resent_invitation_voids_the_old_link_a_withdrawn_one_works_no_more_and_an_expired_one_says_so(
    app: Flask, client: FlaskClient, db_session: Session
) -> None:
    school = f.school(db_session)
    asa = _staff(db_session, school, email="asa@skola.example")
    db_session.commit()
    _log_in(client, asa)
    _post(client, f"/school/schools/{school.id}/invitations", "/school/staff", name="Bo", email="bo@skola.example")
    first = _invitation_link(db_session, "bo@skola.example")
    invitation = db_session.scalars(select(m.Invitation)).one()
    _post(client, f"/school/invitations/{invitation.id}/resend", "/school/staff")
    second = _invitation_link(db_session, "bo@skola.example")
    assert first != second
    assert app.test_client().get(first).status_code == 404
    assert app.test_client().get(second).status_code == 200

    db_session.expire_all()
    invitation = db_session.get(m.Invitation, invitation.id)
    assert invitation is not None
    invitation.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    db_session.commit()
    expired = app.test_client().get(second)
    assert expired.status_code == 410
    assert "7 dagar" in expired.get_data(as_text=True)
    assert "har gått ut" in client.get("/school/staff").get_data(as_text=True)

    _post(client, f"/school/invitations/{invitation.id}/withdraw", "/school/staff")
    assert app.test_client().get(second).status_code == 404
    assert "återkallad" in client.get("/school/staff").get_data(as_text=True)


def test_an_address_with_an_account_accepts_by_logging_in(app: Flask, client: FlaskClient, db_session: Session) -> None:
    first, second = f.school(db_session, name="Ängsskolan"), f.school(db_session, name="Björkskolan")
    coordinator = f.user(db_session, Role.COORDINATOR, email="kim@kommun.example")
    accounts.set_password(coordinator, PASSWORD)
    bo = _staff(db_session, first, email="bo@skola.example")
    db_session.commit()
    _log_in(client, coordinator)
    staff_page = f"/coordinator/schools/{second.id}/staff"
    assert "Björkskolan" in client.get(staff_page).get_data(as_text=True)
    _post(client, f"{staff_page}/invitations", staff_page, name="Bo", email="bo@skola.example")
    path = _invitation_link(db_session, "bo@skola.example")

    bo_client = app.test_client()
    page = bo_client.get(path).get_data(as_text=True)
    assert "har redan ett konto" in page
    _log_in(bo_client, bo)
    assert "Ta emot inbjudan" in bo_client.get(path).get_data(as_text=True)
    assert _post(bo_client, path, path).status_code == 302
    home = bo_client.get("/school/").get_data(as_text=True)
    assert "Ängsskolan" in home
    assert "Björkskolan" in home


def test_an_employer_contact_invites_a_colleague(app: Flask, client: FlaskClient, db_session: Session) -> None:
    employer = f.employer(db_session, name="Bageriet AB")
    per = f.user(
        db_session, Role.EMPLOYER_CONTACT, email="per@bageriet.example", email_verified_at=dt.datetime.now(dt.UTC)
    )
    accounts.set_password(per, PASSWORD)
    db_session.add(m.EmployerMembership(user=per, employer=employer))
    db_session.commit()
    _log_in(client, per)
    assert "Bageriet AB" in client.get("/employer/colleagues").get_data(as_text=True)
    _post(
        client,
        f"/employer/employers/{employer.id}/invitations",
        "/employer/colleagues",
        name="Lisa",
        email="lisa@bageriet.example",
    )
    lisa = _accept(app, _invitation_link(db_session, "lisa@bageriet.example"), name="Lisa Bagare")
    assert lisa.get("/employer/organisation").status_code == 200
    assert "Bageriet AB" in lisa.get("/employer/organisation").get_data(as_text=True)


def test_a_coordinator_invites_a_coordinator_of_one_municipality_who_then_reaches_only_its_schools(
    app: Flask, client: FlaskClient, db_session: Session
) -> None:
    ale, kungalv = f.municipality(db_session, name="Ale"), f.municipality(db_session, name="Kungälv")
    ale_school = f.school(db_session, municipality=ale, name="Aleskolan")
    kungalv_school = f.school(db_session, municipality=kungalv, name="Kungälvsskolan")
    kim = f.user(db_session, Role.COORDINATOR, email="kim@kommun.example")
    accounts.set_password(kim, PASSWORD)
    db_session.commit()
    _log_in(client, kim)
    people = client.get("/coordinator/people").get_data(as_text=True)
    assert '<option value="0">hela regionen</option>' in people
    assert f'<option value="{ale.id}">Ale</option>' in people
    _post(
        client,
        "/coordinator/people/invitations",
        "/coordinator/people",
        name="Lo",
        email="lo@ale.example",
        municipality=str(ale.id),
    )
    lo_client = _accept(app, _invitation_link(db_session, "lo@ale.example"), name="Lo Ale")
    lo = db_session.scalars(select(m.User).where(m.User.email == "lo@ale.example")).one()
    assert (lo.role, lo.municipality_id) == (Role.COORDINATOR, ale.id)

    assert lo_client.get(f"/coordinator/schools/{ale_school.id}/staff").status_code == 200
    assert lo_client.get(f"/coordinator/schools/{kungalv_school.id}/staff").status_code == 404
    own = lo_client.get("/coordinator/people").get_data(as_text=True)
    assert '<option value="0">' not in own
    assert "Kungälv" not in own
    # Lo may not invite a coordinator of the whole region, nor of another municipality.
    for place in ("0", str(kungalv.id)):
        refused = _post(
            lo_client,
            "/coordinator/people/invitations",
            "/coordinator/people",
            name="X",
            email=f"x{place}@kommun.example",
            municipality=place,
        )
        assert refused.status_code == 302
    db_session.expire_all()
    assert db_session.scalars(select(m.Invitation.email).where(m.Invitation.email.like("x%"))).all() == []
    # And a regional coordinator cannot be removed by Lo.
    assert _post(lo_client, f"/coordinator/people/{kim.id}/remove", "/coordinator/people").status_code == 404
    # Kim ends Lo's access: the account is deactivated and the session ends.
    assert _post(client, f"/coordinator/people/{lo.id}/remove", "/coordinator/people").status_code == 302
    assert lo_client.get("/coordinator/").status_code == 302


def test_the_coordinator_lists_the_employers_so_an_imported_one_gets_its_first_contact(
    app: Flask, client: FlaskClient, db_session: Session
) -> None:
    ale, kungalv = f.municipality(db_session, name="Ale"), f.municipality(db_session, name="Kungälv")
    imported = f.employer(db_session, name="Importerade AB", municipality=ale)
    f.employer(db_session, name="Kungälvs Bygg AB", municipality=kungalv)
    kim = f.user(db_session, Role.COORDINATOR, email="kim@kommun.example")
    lo = f.user(db_session, Role.COORDINATOR, email="lo@ale.example", municipality_id=ale.id)
    for user in (kim, lo):
        accounts.set_password(user, PASSWORD)
    db_session.commit()
    _log_in(client, kim)
    listing = client.get("/coordinator/employers").get_data(as_text=True)
    assert "Importerade AB" in listing
    assert "Kungälvs Bygg AB" in listing
    row = re.search(rf'<tr data-employer="{re.escape(imported.code)}">.*?</tr>', listing, re.S)
    assert row is not None
    assert "<td>0</td>" in row[0]  # no contact person yet
    contacts = f"/coordinator/employers/{imported.id}/contacts"
    _post(client, f"{contacts}/invitations", contacts, name="Ida", email="ida@importerade.example")
    _accept(app, _invitation_link(db_session, "ida@importerade.example"), name="Ida Import")
    assert "<td>1</td>" in client.get("/coordinator/employers").get_data(as_text=True)

    lo_client = app.test_client()
    _log_in(lo_client, lo)
    own = lo_client.get("/coordinator/employers").get_data(as_text=True)
    assert "Importerade AB" in own
    assert "Kungälvs Bygg AB" not in own
