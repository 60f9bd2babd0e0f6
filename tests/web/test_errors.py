"""Errors reach users as plain pages, never as stack traces, and nothing half-done is kept."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from sqlalchemy import func, select

from placement import models as m
from placement.db import make_engine
from placement.errors import Conflict, NotFound
from web.app import create_app
from web.config import TEST_CONFIG
from web.extensions import db


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    @app.route("/boom")
    def boom() -> str:
        db.add(m.Municipality(name="Halvfärdig kommun"))
        db.flush()
        raise RuntimeError("secret detail that must not leak")

    @app.route("/conflict")
    def conflict() -> str:
        raise Conflict("offer O0001 has no free place in w45")

    @app.route("/missing")
    def missing() -> str:
        raise NotFound("pupil 17 does not exist")

    return app


def test_unexpected_error_shows_a_generic_page_and_keeps_nothing(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Något gick fel" in html
    assert "secret detail" not in html
    assert "Traceback" not in html
    assert db.scalar(select(func.count()).select_from(m.Municipality).where(m.Municipality.name.like("Halv%"))) == 0


def test_domain_conflict_is_a_409_naming_the_problem(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/conflict")
    assert response.status_code == 409
    assert "offer O0001 has no free place in w45" in response.get_data(as_text=True)


def test_not_found_is_a_404_page(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/missing")
    assert response.status_code == 404
    assert "Sidan finns inte" in response.get_data(as_text=True)


def test_database_down_gives_503_quickly() -> None:
    app = create_app(TEST_CONFIG, engine=make_engine("postgresql://postgres@127.0.0.1:9/none"))
    started = time.monotonic()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "tillfälligt otillgänglig" in response.get_data(as_text=True)
    assert time.monotonic() - started < 5
    db.remove()
