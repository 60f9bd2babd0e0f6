"""A big upload holds no lock that other requests wait for.

A threaded server on loopback serves the app.  A counsellor previews a
large cohort file — 20,000 pupils, or a workbook of a million empty rows —
and the test holds the request in the middle of reading the file, after
it has looked up the counsellor and the school.  Meanwhile other clients
ask: the health check (a read) and failed logins (each one a write: the
attempt is recorded against its throttles, and its password is hashed).
Every one of them is answered in well under a second, on both databases.
Before, on SQLite, every request held the database's write lock from its
first query, so they all waited for the upload (24 s and then "database is
locked" for the million empty rows on gunicorn).
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import models as m
from placement.cohorts import imports as cohort_imports
from placement.db import make_engine
from placement.enums import Role
from placement.organisation import accounts
from tests import factories as f
from tests.placement.test_imports import _minimal_xlsx
from tests.web.browser import live_server
from web.app import create_app

pytestmark = pytest.mark.slow
PASSWORD = "kuratorns-långa-lösenord"
#: "Well under a second" for a request made while the upload is being worked on.
ANSWERED_WITHIN_S = 1.0
#: Failed logins sent meanwhile: fewer than the address's throttle lets through.
LOGINS = 5


def _twenty_thousand_pupils() -> tuple[str, bytes]:
    lines = ["Förnamn;Efternamn;Klass;Födelseår;Kön"]
    lines += [
        f"Elev{n};Efternamn{n};8{'ABCDEFGHJK'[n % 10]};2012;{'Flicka' if n % 2 else 'Pojke'}" for n in range(20_000)
    ]
    return "elever.csv", ("\n".join(lines) + "\n").encode()


def _a_million_empty_rows() -> tuple[str, bytes]:
    rows = "".join(f'<row r="{n}"/>' for n in range(2, 1_000_002))
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Förnamn</t></is></c></row>' + rows + "</sheetData></worksheet>"
    )
    return "elever.xlsx", _minimal_xlsx(sheet)


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert found is not None
    return found[1]


def _multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _timed(call: Callable[[], int]) -> tuple[int, float, float]:
    """(status, seconds taken, when it was answered)."""
    started = time.monotonic()
    try:
        status = call()
    except urllib.error.HTTPError as exc:
        status = exc.code
    answered = time.monotonic()
    return status, answered - started, answered


@pytest.mark.parametrize("upload", [_twenty_thousand_pupils, _a_million_empty_rows], ids=["20000-pupils", "1e6-empty"])
def test_other_requests_are_answered_at_once_while_a_big_upload_is_previewed(
    live_database_url: str, upload: Callable[[], tuple[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    reading, release = threading.Event(), threading.Event()

    def held(data: bytes, filename: str) -> object:
        """Read the file as the import does, then hold the request there until the other clients are done."""
        try:
            return real_read(data, filename)
        finally:
            reading.set()
            release.wait(60)

    real_read = cohort_imports.read
    monkeypatch.setattr(cohort_imports, "read", held)
    engine = make_engine(live_database_url)
    with Session(engine) as session, session.begin():
        school = f.school(session, name="Storskolan")
        staff = f.user(session, Role.SCHOOL_STAFF, email="kurator@skola.example")
        accounts.set_password(staff, PASSWORD)
        session.add(m.SchoolMembership(user=staff, school=school))
        session.flush()
        school_id = school.id
    filename, data = upload()
    app = create_app({"DATABASE_URL": live_database_url, "SECRET_KEY": "short", "TESTING": False})
    with live_server(app) as base:
        jar = http.cookiejar.CookieJar()
        counsellor = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = urllib.parse.urlencode(
            {
                "email": "kurator@skola.example",
                "password": PASSWORD,
                "csrf_token": _token(counsellor.open(base + "/auth/login").read().decode()),
            }
        )
        landed = counsellor.open(base + "/auth/login", data=login.encode())
        assert landed.geturl().endswith("/school/")
        body, content_type = _multipart(
            {"csrf_token": _token(counsellor.open(base + "/school/import").read().decode()), "school": str(school_id)},
            filename,
            data,
        )
        preview: dict[str, object] = {}

        def previewing() -> None:
            request = urllib.request.Request(base + "/school/import", data=body, headers={"Content-Type": content_type})
            try:
                with counsellor.open(request, timeout=300) as answer:
                    preview["status"], preview["page"] = answer.status, answer.read().decode()
            except urllib.error.HTTPError as exc:
                preview["status"], preview["page"] = exc.code, exc.read().decode()
            preview["done"] = time.monotonic()

        guest_jar = http.cookiejar.CookieJar()
        guest = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(guest_jar))
        guest_token = _token(guest.open(base + "/auth/login").read().decode())

        def health() -> int:
            with guest.open(base + "/healthz", timeout=30) as answer:
                return int(answer.status)

        def failed_login(n: int) -> Callable[[], int]:
            form = {"email": f"gissning{n}@example.org", "password": "fel-lösenord-här", "csrf_token": guest_token}
            return lambda: int(guest.open(base + "/auth/login", data=urllib.parse.urlencode(form).encode()).status)

        worker = threading.Thread(target=previewing)
        worker.start()
        assert reading.wait(120), "the upload never reached the reading of its file"
        answers = [
            (kind, *_timed(call))
            for n in range(LOGINS)
            for kind, call in (("health", health), ("login", failed_login(n)))
        ]
        still_held = worker.is_alive()
        release.set()
        worker.join(300)

    assert still_held  # every answer below came while the upload was in the middle of its file
    assert [(kind, status) for kind, status, _took, _at in answers] == [("health", 200), ("login", 401)] * LOGINS
    slowest = max(took for _kind, _status, took, _at in answers)
    assert slowest < ANSWERED_WITHIN_S, answers
    assert preview["status"] == 200, str(preview.get("page"))[:500]
    page = str(preview["page"])
    if filename.endswith(".csv"):  # the preview itself came out whole: every pupil counted as new
        assert re.search(r"20[\s\u00a0]?000", page), page[:2000]
    else:
        assert "empty ones included" in page or "tomma rader" in page, page[:2000]  # refused at the row limit
    with Session(engine) as session:  # every failed login was recorded: each was a write
        recorded = session.scalar(select(func.count(m.LoginFailure.id)).where(m.LoginFailure.key == "ip:127.0.0.1"))
    engine.dispose()
    assert recorded == LOGINS
