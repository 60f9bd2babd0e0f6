"""Sessions, logins, headers, CSRF and password storage."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash
from werkzeug.test import TestResponse

from placement import audit
from placement import models as m
from placement.cohorts import login_codes
from placement.db import utcnow
from placement.enums import Role
from placement.organisation import accounts
from tests import factories as f
from tests.conftest import csrf_token
from tests.web.test_access import PASSWORD, log_in, routes
from web.app import content_security_policy

THROTTLED = "För många misslyckade inloggningar. Försök igen om en stund."
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def _staff(session: Session, role: Role = Role.COORDINATOR, **kw: object) -> m.User:
    if role is Role.EMPLOYER_CONTACT:
        kw.setdefault("email_verified_at", utcnow())
    user = f.user(session, role, **kw)
    accounts.set_password(user, PASSWORD)
    session.flush()
    return user


def _post_login(client: FlaskClient, email: str, password: str) -> TestResponse:
    token = csrf_token(client)
    return client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token})


def _failures(session: Session, key: str) -> int:
    return session.scalar(select(func.count()).select_from(m.LoginFailure).where(m.LoginFailure.key == key)) or 0


# --- throttling ------------------------------------------------------------------------------------------------------


def test_more_than_five_failures_in_the_window_throttle_the_key(db_session: Session) -> None:
    key = "email:someone@example.se"
    for n in range(accounts.MAX_FAILURES):
        accounts.record_failure(db_session, key, now=T0 + dt.timedelta(minutes=n))
    assert not accounts.throttled(db_session, key, now=T0 + dt.timedelta(minutes=5))
    accounts.record_failure(db_session, key, now=T0 + dt.timedelta(minutes=5))
    assert accounts.throttled(db_session, key, now=T0 + dt.timedelta(minutes=5))
    assert not accounts.throttled(db_session, "email:other@example.se", now=T0 + dt.timedelta(minutes=5))
    # Free again once the oldest failure has left the window: a delay, not a lock-out.
    assert accounts.retry_after(db_session, key, now=T0 + dt.timedelta(minutes=5)) == 10 * 60 + 1
    assert accounts.throttled(db_session, key, now=T0 + dt.timedelta(minutes=14, seconds=59))
    assert not accounts.throttled(db_session, key, now=T0 + dt.timedelta(minutes=15))
    assert accounts.retry_after(db_session, key, now=T0 + dt.timedelta(minutes=15)) == 0


def test_clearing_and_pruning_failures(db_session: Session) -> None:
    for n in range(accounts.MAX_FAILURES + 1):
        accounts.record_failure(db_session, "email:a@example.se", now=T0 + dt.timedelta(minutes=n))
        accounts.record_failure(db_session, "ip:192.0.2.1", now=T0 + dt.timedelta(minutes=n))
    accounts.clear_failures(db_session, "email:a@example.se")
    assert _failures(db_session, "email:a@example.se") == 0
    assert accounts.throttled(db_session, "ip:192.0.2.1", now=T0 + dt.timedelta(minutes=6))
    assert accounts.prune_failures(db_session, T0 + dt.timedelta(minutes=3)) == 3
    assert _failures(db_session, "ip:192.0.2.1") == 3


def test_repeated_wrong_passwords_answer_429_without_checking_the_password(
    client: FlaskClient, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _staff(db_session, email="throttle@example.se")
    for _ in range(accounts.MAX_FAILURES + 1):
        assert _post_login(client, "throttle@example.se", "fel-lösenord!").status_code == 401
    checked: list[str] = []
    monkeypatch.setattr(accounts, "authenticate", lambda *args: checked.append("called"))
    response = _post_login(client, "Throttle@Example.se", PASSWORD)
    assert response.status_code == 429
    assert THROTTLED in response.get_data(as_text=True)
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert checked == []
    assert client.get("/coordinator/").status_code == 302  # not logged in
    assert user.last_login_at is None


def test_failures_are_kept_though_the_attempt_is_rolled_back(client: FlaskClient, db_session: Session) -> None:
    _staff(db_session, email="kept@example.se")
    assert _post_login(client, "kept@example.se", "fel-lösenord!").status_code == 401
    assert _failures(db_session, "email:kept@example.se") == 1
    assert _failures(db_session, "ip:127.0.0.1") == 1


def test_one_address_trying_many_accounts_is_throttled(client: FlaskClient, db_session: Session) -> None:
    for n in range(accounts.FAILURES_PER_ADDRESS + 1):
        assert _post_login(client, f"guess{n}@example.se", "fel-lösenord!").status_code == 401
    assert _post_login(client, "guess-new@example.se", "fel-lösenord!").status_code == 429
    # Another address is not affected.
    other = {"environ_base": {"REMOTE_ADDR": "198.51.100.7"}}
    token = csrf_token(client)
    response = client.post(
        "/auth/login", data={"email": "guess-new@example.se", "password": "x", "csrf_token": token}, **other
    )
    assert response.status_code == 401


def test_others_failures_from_elsewhere_slow_down_the_guesser_not_the_accounts_owner(
    client: FlaskClient, db_session: Session
) -> None:
    _staff(db_session, email="owner@example.se")
    guesser = {"environ_base": {"REMOTE_ADDR": "203.0.113.66"}}
    for _ in range(accounts.FAILURES_PER_ACCOUNT_AND_ADDRESS + 1):
        response = client.post(
            "/auth/login",
            data={"email": "owner@example.se", "password": "gissning", "csrf_token": csrf_token(client)},
            **guesser,
        )
        assert response.status_code == 401
    again = client.post(
        "/auth/login",
        data={"email": "owner@example.se", "password": "gissning", "csrf_token": csrf_token(client)},
        **guesser,
    )
    assert again.status_code == 429
    # The owner, at their own address, logs in.
    assert _post_login(client, "owner@example.se", PASSWORD).status_code == 302


def test_a_successful_login_clears_the_accounts_failures(client: FlaskClient, db_session: Session) -> None:
    _staff(db_session, email="clear@example.se")
    for _ in range(accounts.MAX_FAILURES):
        _post_login(client, "clear@example.se", "fel-lösenord!")
    assert _post_login(client, "clear@example.se", PASSWORD).status_code == 302
    assert _failures(db_session, "email:clear@example.se") == 0
    assert _failures(db_session, "ip:127.0.0.1") == accounts.MAX_FAILURES  # the address's record stays


# --- the login page --------------------------------------------------------------------------------------------------


def test_the_login_page_leads_pupils_to_the_code_login(client: FlaskClient) -> None:
    html = client.get("/auth/login").get_data(as_text=True)
    assert 'href="/pupil-login/"' in html


def test_an_employer_contact_must_verify_the_email_first(client: FlaskClient, db_session: Session) -> None:
    contact = _staff(db_session, Role.EMPLOYER_CONTACT, email="ny@example.se", email_verified_at=None)
    response = _post_login(client, "ny@example.se", PASSWORD)
    assert response.status_code == 403
    assert "Din e-postadress är inte bekräftad ännu" in response.get_data(as_text=True)
    assert client.get("/employer/").status_code == 302  # not logged in
    assert contact.last_login_at is None

    contact.email_verified_at = utcnow()
    db_session.flush()
    assert _post_login(client, "ny@example.se", PASSWORD).status_code == 302
    assert client.get("/employer/").status_code != 302


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.SCHOOL_STAFF])
def test_staff_need_no_email_verification(client: FlaskClient, db_session: Session, role: Role) -> None:
    user = _staff(db_session, role, email_verified_at=None)
    assert _post_login(client, user.email or "", PASSWORD).status_code == 302


# --- sessions --------------------------------------------------------------------------------------------------------


def test_login_gives_a_new_session(client: FlaskClient, db_session: Session) -> None:
    user = _staff(db_session)
    client.get("/auth/login")
    before = client.get_cookie("session")
    assert before is not None
    _post_login(client, user.email or "", PASSWORD)
    after = client.get_cookie("session")
    assert after is not None
    assert after.value != before.value


def test_logout_ends_the_session_even_for_a_copied_cookie(app: Flask, db_session: Session) -> None:
    user = _staff(db_session)
    client = app.test_client()
    assert _post_login(client, user.email or "", PASSWORD).status_code == 302
    assert client.get("/coordinator/").status_code == 200
    copied = client.get_cookie("session")
    assert copied is not None

    token = csrf_token(client, "/coordinator/")
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/coordinator/").status_code == 302

    # The cookie captured before logout, replayed from another browser: not logged in.
    thief = app.test_client()
    thief.set_cookie("session", copied.value)
    response = thief.get("/coordinator/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    assert thief.post("/coordinator/rounds", data={"csrf_token": token}).status_code in (302, 400)
    # Pages of other roles stay refused too.
    assert thief.get("/employer/").status_code == 302


def test_a_disabled_account_loses_its_live_session(client: FlaskClient, db_session: Session) -> None:
    user = _staff(db_session)
    _post_login(client, user.email or "", PASSWORD)
    assert client.get("/coordinator/").status_code == 200
    user.active = False
    db_session.flush()
    assert client.get("/coordinator/").status_code == 302


def test_a_new_password_ends_other_sessions(client: FlaskClient, db_session: Session) -> None:
    user = _staff(db_session)
    _post_login(client, user.email or "", PASSWORD)
    accounts.set_password(user, "ett-annat-långt-lösenord")
    db_session.flush()
    assert client.get("/coordinator/").status_code == 302


# --- headers ---------------------------------------------------------------------------------------------------------


def _assert_headers(response: TestResponse, what: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp, f"{what}: CSP lacks {directive}"
    assert "script-src 'self'" in csp, what
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", what
    assert response.headers.get("X-Frame-Options") == "DENY", what


def test_security_headers_on_every_kind_of_response(app: Flask, client: FlaskClient, db_session: Session) -> None:
    @app.route("/test-boom")
    def boom() -> str:
        raise RuntimeError("boom")

    user = _staff(db_session)
    responses = {
        "html": client.get("/auth/login"),
        "json": client.get("/healthz"),
        "static": client.get("/static/praktik.css"),
        "404": client.get("/no-such-page"),
        "405": client.get("/auth/logout"),
        "500": client.get("/test-boom"),
        "redirect": client.get("/coordinator/"),
        "csrf 400": client.post("/auth/login", data={"email": "a@example.se", "password": "x"}),
        "401": _post_login(client, "a@example.se", "fel-lösenord!"),
    }
    assert [name for name, r in responses.items() if r.status_code >= 300] == [
        "404",
        "405",
        "500",
        "redirect",
        "csrf 400",
        "401",
    ]
    _post_login(client, user.email or "", PASSWORD)
    responses["logged-in html"] = client.get("/coordinator/")
    responses["logged-in redirect"] = client.get("/")
    for what, response in responses.items():
        _assert_headers(response, what)
        if what != "static":
            assert response.headers.get("Cache-Control") == "no-store", what
    assert responses["static"].status_code == 200
    assert "no-store" not in responses["static"].headers.get("Cache-Control", "")
    for response in responses.values():
        response.close()  # the static file is streamed from an open file


def test_throttled_answer_has_the_headers(client: FlaskClient) -> None:
    for _ in range(accounts.MAX_FAILURES + 1):
        _post_login(client, "x@example.se", "fel-lösenord!")
    response = _post_login(client, "x@example.se", "fel-lösenord!")
    assert response.status_code == 429
    _assert_headers(response, "429")


def test_hsts_when_cookies_are_secure(app: Flask, client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers
    app.config["SESSION_COOKIE_SECURE"] = True
    hsts = client.get("/healthz").headers["Strict-Transport-Security"]
    assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts)
    assert int(hsts.split("=")[1].split(";")[0]) >= 31_536_000


def test_images_come_only_from_the_site_and_the_tile_server(app: Flask, client: FlaskClient) -> None:
    assert "img-src 'self' data:;" in client.get("/auth/login").headers["Content-Security-Policy"]
    app.config["MAP_TILES_URL"] = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    csp = client.get("/auth/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in csp
    assert "https:;" not in csp
    assert "https: " not in csp


@pytest.mark.parametrize(
    ("tiles", "img_src"),
    [
        ("", "'self' data:"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "'self' data: https://*.tile.example.org"),
        ("http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png", "'self' data: http://127.0.0.1:8080"),
        ("javascript:alert(1)", "'self' data:"),
        ("https://evil.example; script-src *", "'self' data:"),
    ],
)
def test_img_src_from_the_tile_url(tiles: str, img_src: str) -> None:
    assert f"img-src {img_src};" in content_security_policy(tiles)


# --- CSRF on every form ----------------------------------------------------------------------------------------------


def _user_for(session: Session, role: Role | None) -> m.User | None:
    if role is None:
        return None
    if role is Role.PUPIL:
        return login_codes.pupil_account(session, f.pupil(session))
    return _staff(session, role)


def test_every_post_route_refuses_a_request_without_csrf_token(app: Flask, db_session: Session) -> None:
    clients: dict[Role | None, FlaskClient] = {}
    checked = []
    problems = []
    for route in routes(app):
        if route.method in ("GET", "HEAD", "OPTIONS"):
            continue
        role = route.role if route.kind == "role" else Role.COORDINATOR if route.kind == "any" else None
        if role not in clients:
            clients[role] = log_in(app, _user_for(db_session, role))
        url = route.url(lambda conv, name: 1 if conv == "int" else "x")
        for data in ({}, {"csrf_token": "forged"}):
            response = clients[role].open(url, method=route.method, data=data)
            checked.append(url)
            if response.status_code != 400 or "CSRF" not in response.get_data(as_text=True):
                problems.append(f"{route.label} as {role} {data}: {response.status_code}")
    assert len(checked) > 10
    assert not problems, "\n".join(problems)


def test_a_token_of_another_session_is_refused(app: Flask, db_session: Session) -> None:
    user = _staff(db_session)
    client = log_in(app, user)
    stranger = app.test_client()
    foreign_token = csrf_token(stranger)
    response = client.post("/coordinator/season/periods", data={"csrf_token": foreign_token})
    assert response.status_code == 400


# --- password storage ------------------------------------------------------------------------------------------------


def test_passwords_are_stored_as_scrypt_hashes(db_session: Session) -> None:
    user = f.user(db_session, Role.COORDINATOR)
    accounts.set_password(user, PASSWORD)
    assert user.password_hash is not None
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash
    assert check_password_hash(user.password_hash, PASSWORD)
    assert accounts.hash_secret(PASSWORD) != user.password_hash  # salted


def test_pupil_codes_are_stored_as_scrypt_hashes(db_session: Session) -> None:
    pupil = f.pupil(db_session)
    issued = login_codes.issue(db_session, pupil, actor=audit.CLI)
    account = login_codes.pupil_account(db_session, pupil)
    assert account.login_code_hash is not None
    assert account.login_code_hash.startswith("scrypt:")
    assert issued.code not in account.login_code_hash


def test_a_short_password_is_refused(db_session: Session) -> None:
    from placement.errors import ValidationError

    user = f.user(db_session, Role.COORDINATOR)
    with pytest.raises(ValidationError):
        accounts.set_password(user, "kort")


def test_behind_a_proxy_each_clients_own_address_is_throttled_not_the_proxys(
    engine: Engine, db_session: Session
) -> None:
    from web.app import create_app
    from web.config import TEST_CONFIG
    from web.extensions import db

    behind = create_app({**TEST_CONFIG, "PROXIES": 1}, engine=engine)
    naive = create_app(TEST_CONFIG, engine=engine)
    db.configure(bind=db_session.connection(), join_transaction_mode="create_savepoint")

    def failed_logins(app: Flask, client_address: str) -> list[int]:
        client = app.test_client()
        codes = []
        for _ in range(accounts.FAILURES_PER_ACCOUNT_AND_ADDRESS + 2):
            response = client.post(
                "/auth/login",
                data={"email": "kim@kommun.example", "password": "fel-lösenord", "csrf_token": csrf_token(client)},
                headers={"X-Forwarded-For": client_address},
                environ_base={"REMOTE_ADDR": "10.0.0.1"},  # every request reaches the app from the proxy
            )
            codes.append(response.status_code)
        return codes

    try:
        assert failed_logins(behind, "203.0.113.7")[-1] == 429  # one client's guesses slow that client down
        assert failed_logins(behind, "198.51.100.9")[0] == 401  # another client behind the same proxy is not
        # Without the setting every client has the proxy's address, and shares its throttle.
        assert failed_logins(naive, "192.0.2.1")[:2] == [401, 401]
        assert failed_logins(naive, "192.0.2.2")[0] == 429
    finally:
        db.remove()
        db.session_factory.kw.pop("join_transaction_mode", None)
        db.configure(bind=engine)
