"""A forgotten password: the same answer for every address, a mailed link that works once, and a throttle."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from placement import models as m
from placement.enums import MailKind, Role
from placement.organisation import accounts
from tests import factories as f
from tests.conftest import csrf_token
from web.auth.views import RESETS_PER_ADDRESS

PATH = "/auth/forgot-password"
LINK = re.compile(r"http://127\.0\.0\.1:5000(/auth/set-password/\S+)")


def _ask(client: FlaskClient, email: str) -> TestResponse:
    return client.post(PATH, data={"csrf_token": csrf_token(client, PATH), "email": email})


def _messages(session: Session) -> list[m.OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id)))


def test_a_forgotten_password_is_replaced_through_a_mailed_link_that_works_once(
    client: FlaskClient, db_session: Session
) -> None:
    user = f.user(db_session, Role.SCHOOL_STAFF, email="asa@skola.example", display_name="Åsa Ö")
    accounts.set_password(user, "det-gamla-lösenordet")
    db_session.commit()
    login_page = client.get("/auth/login").get_data(as_text=True)
    assert f'href="{PATH}"' in login_page

    response = _ask(client, " ASA@skola.example ")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")
    flashed = client.get("/auth/login").get_data(as_text=True)
    assert "Om adressen hör till ett konto har vi skickat en länk" in flashed
    [message] = _messages(db_session)
    assert (message.kind, message.recipient) == (MailKind.PASSWORD_RESET, "asa@skola.example")
    assert "Åsa Ö" in message.body
    found = LINK.search(message.body)
    assert found is not None
    path = found[1]

    token = csrf_token(client, path)
    new = "ett-nytt-långt-lösenord"
    assert client.post(path, data={"csrf_token": token, "password": new, "password_again": new}).status_code == 302
    db_session.expire_all()
    assert accounts.authenticate(db_session, "asa@skola.example", new) is not None
    assert client.get(path).status_code == 404  # used once, gone
    # The old password no longer works.
    old = client.post(
        "/auth/login",
        data={"csrf_token": csrf_token(client), "email": "asa@skola.example", "password": "det-gamla-lösenordet"},
    )
    assert old.status_code == 401


def test_the_answer_is_the_same_for_unknown_addresses_pupils_and_deactivated_accounts(
    client: FlaskClient, db_session: Session
) -> None:
    known = f.user(db_session, Role.EMPLOYER_CONTACT, email="per@bageriet.example")
    f.user(db_session, Role.COORDINATOR, email="slutat@kommun.example", active=False)
    db_session.commit()
    answers = {}
    for address in ("okand@example.se", "slutat@kommun.example", "per@bageriet.example"):
        response = _ask(client, address)
        answers[address] = (response.status_code, response.headers.get("Location"))
    assert len(set(answers.values())) == 1
    assert [message.recipient for message in _messages(db_session)] == [known.email]


def test_asking_again_and_again_is_throttled_for_an_address_whether_or_not_it_has_an_account(
    client: FlaskClient, db_session: Session
) -> None:
    f.user(db_session, Role.SCHOOL_STAFF, email="asa@skola.example")
    db_session.commit()
    for address in ("asa@skola.example", "okand@example.se"):
        statuses = [_ask(client, address).status_code for _ in range(RESETS_PER_ADDRESS + 2)]
        assert statuses == [302] * (RESETS_PER_ADDRESS + 1) + [429], address
    throttled = _ask(client, "asa@skola.example")
    assert "Försök igen om en stund" in throttled.get_data(as_text=True)
    assert int(throttled.headers["Retry-After"]) > 0
    # The messages sent before the throttle are at most one a minute (dedup), never one per click.
    assert db_session.scalar(select(func.count(m.OutboxMessage.id))) == 1
