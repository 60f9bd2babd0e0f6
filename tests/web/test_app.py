"""The app shell: start page, language, login and logout, headers, errors."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from placement.enums import Role
from placement.organisation import accounts
from tests import factories as f
from tests.conftest import csrf_token, log_in_coordinator


def _login(client: FlaskClient, email: str, password: str) -> int:
    token = csrf_token(client)
    return client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token}).status_code


def test_start_page_shows_the_region(client: FlaskClient, db_session: Session) -> None:
    w = f.period(db_session, name="Vecka 45–46")
    f.school_class(db_session, period=w, school=f.school(db_session, name="Bergsjöskolan"))
    html = client.get("/").get_data(as_text=True)
    assert "Vecka 45–46" in html
    assert "Prao i regionen" in html


def test_the_start_page_leads_each_visitor_to_their_way_in_and_the_site_has_an_icon(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    for link in ('href="/pupil-login/"', 'href="/auth/login"', 'href="/register/"'):
        assert link in html
    assert 'rel="icon" type="image/svg+xml" href="/static/favicon.svg"' in html
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"
    icon.close()


def test_language_switch_to_english(client: FlaskClient) -> None:
    token = csrf_token(client, "/")
    response = client.post("/lang/en", data={"csrf_token": token, "next": "/"})
    assert response.status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert 'lang="en"' in html
    assert "Placements in the region" in html


def test_language_switch_needs_csrf(client: FlaskClient) -> None:
    assert client.post("/lang/en", data={"next": "/"}).status_code == 400


def test_login_and_logout_end_the_session(client: FlaskClient, db_session: Session) -> None:
    user = f.user(db_session, Role.COORDINATOR, email="samordnare@example.se")
    accounts.set_password(user, "ett-långt-lösenord")
    db_session.flush()
    assert _login(client, "samordnare@example.se", "ett-långt-lösenord") == 302
    assert user.display_name in client.get("/", follow_redirects=True).get_data(as_text=True)
    copied = client.get_cookie("session")
    assert copied is not None

    token = csrf_token(client, "/")
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert user.display_name not in client.get("/", follow_redirects=True).get_data(as_text=True)

    # Replaying the cookie captured before logout no longer authenticates.
    client.set_cookie("session", copied.value)
    assert user.display_name not in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_wrong_password_is_refused(client: FlaskClient, db_session: Session) -> None:
    user = f.user(db_session, Role.COORDINATOR, email="a@example.se")
    accounts.set_password(user, "ett-långt-lösenord")
    db_session.flush()
    assert _login(client, "a@example.se", "fel-lösenord!") == 401
    assert _login(client, "nobody@example.se", "fel-lösenord!") == 401


def test_login_redirect_stays_on_site(client: FlaskClient, db_session: Session) -> None:
    user = f.user(db_session, Role.COORDINATOR, email="b@example.se")
    accounts.set_password(user, "ett-långt-lösenord")
    db_session.flush()
    token = csrf_token(client)
    response = client.post(
        "/auth/login?next=https://evil.example/",
        data={"email": "b@example.se", "password": "ett-långt-lösenord", "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    for path in ("/", "/auth/login", "/no-such-page"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert client.get("/no-such-page").status_code == 404


def test_health_endpoint(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


@pytest.mark.parametrize(
    "path",
    [
        f"/coordinator/rounds/{2**31}",
        f"/coordinator/rounds/{2**63}",
        f"/coordinator/rounds/{2**64 + 5}",
        f"/school/pupils/{10**30}",
        f"/employer/offers/{2**63}",
    ],
)
def test_an_id_too_large_for_the_database_finds_nothing_instead_of_failing(
    client: FlaskClient, db_session: Session, path: str
) -> None:
    assert log_in_coordinator(client, db_session) == 302
    assert client.get(path).status_code == 404  # refused by the route itself, whatever the role may see
    assert client.get(f"/coordinator/rounds/{2**31 - 1}").status_code == 404  # the largest id: simply not there


@pytest.mark.parametrize(
    ("target", "lands"),
    [
        ("/coordinator/?tab=2", "/coordinator/?tab=2"),
        ("/\t/example.org", "/"),
        ("/\\example.org", "/"),
        ("//example.org", "/"),
        ("/a\nb", "/"),
        ("https://example.org/", "/"),
        ("", "/"),
    ],
)
def test_the_language_form_sends_the_user_back_only_to_this_site(client: FlaskClient, target: str, lands: str) -> None:
    response = client.post("/lang/en", data={"next": target, "csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302
    assert response.headers["Location"] == lands


@pytest.mark.parametrize(
    ("lang", "title", "limit"),
    [("sv", "Filen är för stor", "högst 1 MB"), ("en", "The file is too large", "at most 1 MB")],
)
def test_too_large_an_upload_is_told_in_the_users_language_with_the_limit(
    app: Flask, client: FlaskClient, lang: str, title: str, limit: str
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    client.post(f"/lang/{lang}", data={"next": "/", "csrf_token": csrf_token(client, "/")})
    response = client.post("/lang/sv", data={"next": "/", "blob": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert title in page
    assert limit in page
    assert "Request Entity Too Large" not in page
