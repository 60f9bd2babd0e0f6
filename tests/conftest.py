"""Shared fixtures.

Every database test runs twice: on SQLite and on PostgreSQL.  The engine is
migrated once per session with ``alembic upgrade head`` (not ``create_all``),
so the migrations are exercised; each test runs inside a transaction that is
rolled back afterwards (the savepoint pattern from SQLAlchemy's docs).

PostgreSQL is found at ``PRAKTIK_TEST_POSTGRES_URL`` (default: a database
``praktik_test_<pid>`` on ``postgresql://postgres@127.0.0.1:5432``, created for
this run and dropped after it, so that parallel runs never meet).  Without a reachable server the PostgreSQL half is
skipped with a visible reason, except under CI (``CI`` set), where its
absence fails the run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from placement.db import make_engine
from placement.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "PRAKTIK_TEST_POSTGRES_URL", f"postgresql://postgres@127.0.0.1:5432/praktik_test_{os.getpid()}"
)
OWN_POSTGRES_DATABASE = "PRAKTIK_TEST_POSTGRES_URL" not in os.environ
DATABASES = ["sqlite", "postgresql"]


def _prepare_postgres(url: str) -> None:
    """Create the test database if needed and empty it."""
    target = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _drop_postgres(url: str) -> None:
    target = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def postgres_or_skip(url: str = POSTGRES_URL) -> None:
    try:
        _prepare_postgres(url)
    except OperationalError as exc:
        message = f"PostgreSQL not reachable at {url}: {exc.orig}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (required under CI)")
        pytest.skip(f"{message}: PostgreSQL half skipped")


@pytest.fixture(scope="session", params=DATABASES)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if db_kind == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'praktik.sqlite'}"
    postgres_or_skip()
    return POSTGRES_URL


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()
    if database_url == POSTGRES_URL and OWN_POSTGRES_DATABASE:
        _drop_postgres(database_url)


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, commits included."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"


@pytest.fixture
def app(engine: Engine, db_session: Session) -> Iterator[Flask]:
    """The app, its request sessions joined to the test's rolled-back transaction."""
    from web.app import create_app
    from web.config import TEST_CONFIG
    from web.extensions import db

    application = create_app(TEST_CONFIG, engine=engine)
    db.configure(bind=db_session.connection(), join_transaction_mode="create_savepoint")
    yield application
    db.remove()
    db.session_factory.kw.pop("join_transaction_mode", None)
    db.configure(bind=engine)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


STAFF_PASSWORD = "rätt-lösenord-1"


def log_in_coordinator(client: FlaskClient, session: Session, email: str = "kim@kommun.example") -> int:
    """Make a coordinator with :data:`STAFF_PASSWORD` and log in through the login form; the response's status."""
    from placement.enums import Role
    from placement.organisation import accounts
    from tests import factories

    user = factories.user(session, Role.COORDINATOR, email=email)
    accounts.set_password(user, STAFF_PASSWORD)
    session.flush()
    response = client.post(
        "/auth/login", data={"email": email, "password": STAFF_PASSWORD, "csrf_token": csrf_token(client)}
    )
    return response.status_code


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    """The CSRF token of the form on ``path``, as a browser would send it back."""
    import re

    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def live_database_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of its own whose commits are real: for worker processes and a live server."""
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    else:
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/praktik_live_{os.getpid()}"
        postgres_or_skip(url)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    if db_kind == "postgresql":
        _drop_postgres(url)


@contextlib.contextmanager
def in_language(locale: str) -> Iterator[None]:
    """Render lazy strings as the web app does for a user of ``locale``, outside a request (its catalogues)."""
    from flask import Flask
    from flask_babel import Babel, force_locale

    app = Flask("web", root_path=str(Path(__file__).resolve().parent.parent / "web"))
    Babel(app)
    with app.app_context(), force_locale(locale):
        yield


def placement_headers(locale: str) -> list[str]:
    """The placement lists' column headers as the web layer gives them to a user of ``locale``."""
    from placement.reports import exports
    from web import labels

    with in_language(locale):
        return labels.headers(exports.COLUMNS, labels.PLACEMENT_COLUMNS)


def placements_sheet(locale: str) -> str:
    from web import labels

    with in_language(locale):
        return str(labels.PLACEMENTS_SHEET)
