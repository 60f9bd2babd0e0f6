"""Starting for real: the first coordinator from the command line, and the one-time link to set a password."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import itsdangerous.timed
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.db import make_engine
from placement.enums import MailKind, Role
from placement.errors import Conflict, NotFound, ValidationError
from placement.migrate import upgrade
from placement.organisation import accounts, password_links
from tests import factories as f
from tests.conftest import csrf_token
from web.app import create_app
from web.cli import main
from web.config import TEST_CONFIG

SECRET = "first-day-secret"
LINK = re.compile(r"http://127\.0\.0\.1:5000(/auth/set-password/\S+)")


@pytest.fixture
def empty_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated, empty SQLite file that the CLI reaches through the environment, as in production."""
    url = f"sqlite:///{tmp_path / 'region.sqlite'}"
    monkeypatch.setenv("PRAKTIK_DATABASE_URL", url)
    monkeypatch.setenv("PRAKTIK_SECRET_KEY", SECRET)
    monkeypatch.setenv("PRAKTIK_BASE_URL", "http://127.0.0.1:5000")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _engine(url: str) -> Engine:
    return make_engine(url)


def test_the_first_coordinator_is_created_on_the_command_line_and_sets_a_password_in_the_browser(
    empty_database: str,
) -> None:
    result = CliRunner().invoke(main, ["create-coordinator", "--email", " Kim@Kommun.Example ", "--name", "Kim S"])
    assert result.exit_code == 0, result.output
    assert "kim@kommun.example" in result.output
    assert "48 hours" in result.output
    found = LINK.search(result.output)
    assert found is not None, result.output
    path = found[1]

    app = create_app({**TEST_CONFIG, "DATABASE_URL": empty_database, "SECRET_KEY": SECRET})
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    assert "kim@kommun.example" in page.get_data(as_text=True)
    token = csrf_token(client, path)
    short = client.post(path, data={"csrf_token": token, "password": "kort", "password_again": "kort"})
    assert short.status_code == 400
    saved = client.post(
        path, data={"csrf_token": token, "password": "ett-långt-lösenord", "password_again": "ett-långt-lösenord"}
    )
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith("/auth/login")
    # The link worked once.
    assert client.get(path).status_code == 404
    login = client.post(
        "/auth/login",
        data={"email": "kim@kommun.example", "password": "ett-långt-lösenord", "csrf_token": csrf_token(client)},
    )
    assert login.status_code == 302
    assert client.get("/coordinator/").status_code == 200

    with Session(_engine(empty_database)) as session:
        user = session.scalars(select(m.User).where(m.User.email == "kim@kommun.example")).one()
        assert user.role is Role.COORDINATOR
        assert user.display_name == "Kim S"
        actions = set(session.scalars(select(m.AuditEvent.action).where(m.AuditEvent.entity_id == user.id)))
        assert {"user.create", "user.set_password"} <= actions


def test_an_address_that_has_an_account_is_refused_with_a_clear_message(empty_database: str) -> None:
    first = CliRunner().invoke(main, ["create-coordinator", "--email", "kim@kommun.example", "--name", "Kim"])
    assert first.exit_code == 0
    again = CliRunner().invoke(main, ["create-coordinator", "--email", "KIM@kommun.example", "--name", "Kim 2"])
    assert again.exit_code == 2
    assert "kim@kommun.example already has an account" in again.output
    bad = CliRunner().invoke(main, ["create-coordinator", "--email", "inte-en-adress", "--name", "X"])
    assert bad.exit_code == 2
    assert "coordinator: email" in bad.output
    with Session(_engine(empty_database)) as session:
        assert session.scalar(select(func.count(m.User.id))) == 1


def test_a_link_is_refused_when_expired_reused_tampered_with_or_signed_with_another_key(db_session: Session) -> None:
    user = password_links.create_coordinator(db_session, email="ada@kommun.example", name="Ada", actor=audit.CLI)
    token = password_links.token_for(user, secret_key=SECRET)
    with pytest.raises(ValidationError, match="expired"):
        password_links.user_for(db_session, token, secret_key=SECRET, max_age=dt.timedelta(seconds=-1))
    with pytest.raises(NotFound):
        password_links.user_for(
            db_session, token[:-2] + ("A" if token[-1] != "A" else "B") + token[-1], secret_key=SECRET
        )
    with pytest.raises(NotFound):
        password_links.user_for(db_session, token, secret_key="another-key")
    other = password_links.token_for(f.user(db_session), secret_key=SECRET)
    assert password_links.user_for(db_session, other, secret_key=SECRET) is not user

    assert password_links.set_password(db_session, token, "ett-långt-lösenord", secret_key=SECRET) is user
    assert accounts.authenticate(db_session, "ada@kommun.example", "ett-långt-lösenord") is user
    assert user.email_verified_at is not None
    with pytest.raises(NotFound, match="used"):
        password_links.set_password(db_session, token, "ett-annat-lösenord", secret_key=SECRET)
    with pytest.raises(ValidationError, match="at least"):
        password_links.set_password(
            db_session, password_links.token_for(user, secret_key=SECRET), "kort", secret_key=SECRET
        )


def test_a_link_for_a_deactivated_account_is_refused(db_session: Session) -> None:
    user = password_links.create_coordinator(db_session, email="bo@kommun.example", name="Bo", actor=audit.CLI)
    token = password_links.token_for(user, secret_key=SECRET)
    user.active = False
    db_session.flush()
    with pytest.raises(NotFound):
        password_links.user_for(db_session, token, secret_key=SECRET)


def test_an_expired_link_shows_a_page_that_says_so(
    client: FlaskClient, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = password_links.create_coordinator(db_session, email="cy@kommun.example", name="Cy", actor=audit.CLI)
    db_session.commit()
    real = time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() - 49 * 3600)  # signed 49 hours ago
    token = password_links.token_for(user, secret_key=str(TEST_CONFIG["SECRET_KEY"]))
    monkeypatch.setattr(itsdangerous.timed.time, "time", real)
    response = client.get(f"/auth/set-password/{token}")
    assert response.status_code == 410
    assert "48 timmar" in response.get_data(as_text=True)
    assert client.get("/auth/set-password/not-a-token").status_code == 404


def test_taken_addresses_differ_only_in_case_are_refused_by_the_service(db_session: Session) -> None:
    password_links.create_coordinator(db_session, email="eva@kommun.example", name="Eva", actor=audit.CLI)
    with pytest.raises(Conflict, match=r"eva@kommun\.example already has an account"):
        password_links.create_coordinator(db_session, email="EVA@Kommun.example", name="Eva", actor=audit.CLI)


def test_a_coordinator_of_one_municipality_is_scoped_to_it_and_the_municipality_found_whatever_its_case(
    empty_database: str,
) -> None:
    first = CliRunner().invoke(
        main, ["create-coordinator", "--email", "lo@kommun.example", "--name", "Lo", "--municipality", "Ale"]
    )
    assert first.exit_code == 0, first.output
    assert "(of Ale)" in first.output
    second = CliRunner().invoke(
        main, ["create-coordinator", "--email", "mo@kommun.example", "--name", "Mo", "--municipality", "ALE"]
    )
    assert second.exit_code == 0, second.output
    region = CliRunner().invoke(main, ["create-coordinator", "--email", "no@kommun.example", "--name", "No"])
    assert "(of the whole region)" in region.output
    with Session(_engine(empty_database)) as session:
        assert session.scalars(select(m.Municipality.name)).all() == ["Ale"]
        scopes = dict(session.execute(select(m.User.email, m.User.municipality_id)).all())
        ale = session.scalars(select(m.Municipality.id)).one()
        assert scopes == {"lo@kommun.example": ale, "mo@kommun.example": ale, "no@kommun.example": None}


def test_with_a_mail_server_named_the_same_link_is_queued_for_the_coordinator(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = CliRunner().invoke(main, ["create-coordinator", "--email", "a@kommun.example", "--name", "A"])
    assert "queued for e-mail" not in quiet.output
    monkeypatch.setenv("PRAKTIK_MAIL_HOST", "127.0.0.1")
    result = CliRunner().invoke(main, ["create-coordinator", "--email", "b@kommun.example", "--name", "Bea B"])
    assert result.exit_code == 0, result.output
    assert "queued for e-mail to b@kommun.example" in result.output
    printed = LINK.search(result.output)
    assert printed is not None
    with Session(_engine(empty_database)) as session:
        messages = session.scalars(select(m.OutboxMessage)).all()
        assert [(message.recipient, message.kind) for message in messages] == [
            ("b@kommun.example", MailKind.ACCOUNT_CREATED)
        ]
        assert printed[0] in messages[0].body
        assert "Bea B" in messages[0].body
        assert "48 timmar" in messages[0].body
