"""The ``praktik`` command line, run as a user would, against real database files."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import solver
from placement import audit
from placement import models as m
from placement.db import make_engine
from placement.enums import GeoStatus, Sector
from placement.migrate import current_revision, heads, upgrade
from placement.rounds import setup as rounds
from tests import factories as f
from tests.nominatim_stub import GOTEBORG, OSLO, NominatimStub, default_answers
from web.app import create_app
from web.cli import main
from web.config import TEST_CONFIG
from web.extensions import db


@pytest.fixture
def sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A migrated SQLite file that the CLI reaches through PRAKTIK_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("PRAKTIK_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_db_migrates_an_empty_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    monkeypatch.setenv("PRAKTIK_DATABASE_URL", url)
    result = run("init-db")
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert current_revision(make_engine(url)) == heads()[0]
    assert run("init-db").exit_code == 0  # running it again changes nothing


def test_export_round_writes_the_instance(sqlite_file: Engine, tmp_path: Path) -> None:
    with Session(sqlite_file) as session, session.begin():
        w45 = f.period(session, code="w45", start_date=dt.date(2026, 11, 2))
        pupil = f.pupil(session, school_class=f.school_class(session, period=w45))
        offer = f.offer(
            session, sector=Sector.IT, places={w45: 2}, risk_assessment_confirmed_at=dt.datetime.now(dt.UTC)
        )
        session.add(m.Preference(pupil=pupil, offer=offer, rank=1))
        round_id = rounds.create_round(session, "Höst", ["w45"], actor=audit.CLI).id
    out = tmp_path / "round.json"
    result = run("export-round", str(round_id), "-o", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["format"] == "praktik-instance/1"
    assert document["name"] == "Höst"
    assert document["students"][0]["preferences"] == [document["offers"][0]["id"]]
    assert not list(tmp_path.glob(".*.tmp"))


def test_export_of_an_unknown_round_fails_cleanly(sqlite_file: Engine, tmp_path: Path) -> None:
    out = tmp_path / "round.json"
    result = CliRunner().invoke(main, ["export-round", "999", "-o", str(out)])
    assert result.exit_code == 2
    assert "allocation round 999 does not exist" in result.output
    assert not out.exists()


def test_geocode_locates_pending_addresses(sqlite_file: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with Session(sqlite_file) as session, session.begin():
        f.school(session, code="S01", address=GOTEBORG, lat=None, lon=None, geo_status=GeoStatus.PENDING)
        f.workplace(session, address=OSLO, lat=None, lon=None, geo_status=GeoStatus.PENDING)
    with NominatimStub(default_answers()) as stub:
        monkeypatch.setenv("PRAKTIK_GEOCODER_URL", stub.url)
        monkeypatch.setenv("PRAKTIK_GEOCODER_USER_AGENT", "praktik-tests (test@example.se)")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        result = run("geocode")
        assert result.exit_code == 0, result.output
        assert sorted(q or "" for q in stub.queries) == sorted([GOTEBORG, OSLO])
    with Session(sqlite_file) as session:
        school = session.scalars(select(m.School)).one()
        workplace = session.scalars(select(m.Workplace)).one()
        assert school.geo_status is GeoStatus.OK
        assert school.lat is not None
        assert workplace.geo_status is GeoStatus.IMPLAUSIBLE
        assert workplace.lat is None


def test_geocode_needs_a_user_agent(sqlite_file: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRAKTIK_GEOCODER_USER_AGENT", "")
    result = CliRunner().invoke(main, ["geocode"])
    assert result.exit_code == 2
    assert "PRAKTIK_GEOCODER_USER_AGENT" in result.output


def test_load_demo_fills_the_configured_database_on_either_engine(
    live_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRAKTIK_DATABASE_URL", live_database_url)
    result = run("load-demo")
    assert result.exit_code == 0, result.output
    assert "samordnare@demo.praktik.se" in result.output
    engine = make_engine(live_database_url)
    with Session(engine) as session:
        pupils = session.scalar(select(func.count(m.Pupil.id))) or 0
        located = session.scalar(select(func.count(m.School.id)).where(m.School.lat.is_not(None))) or 0
        workplaces = session.scalar(select(func.count(m.Workplace.id)).where(m.Workplace.lat.is_not(None))) or 0
        distances = session.scalar(select(func.count()).select_from(m.SchoolDistance)) or 0
        rounds_made = session.scalar(select(func.count(m.AllocationRound.id)))
    assert pupils > 4000
    assert distances == located * workplaces > 0  # every pair, though the rows went in past the ORM
    assert rounds_made == 1
    again = run("load-demo")  # a database that holds data is never overwritten
    assert again.exit_code == 2
    assert "empty database" in again.output
    with Session(engine) as session:
        assert session.scalar(select(func.count(m.Pupil.id))) == pupils
    engine.dispose()


def test_demo_region_exports_a_round_the_solver_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "demo.sqlite"
    result = run("demo", "--no-serve", "--database", str(database))
    assert result.exit_code == 0, result.output
    assert "samordnare@demo.praktik.se" in result.output
    assert "13 municipalities, 40 schools" in result.output

    monkeypatch.setenv("PRAKTIK_DATABASE_URL", f"sqlite:///{database}")
    page = create_app(TEST_CONFIG).test_client().get("/").get_data(as_text=True)
    db.remove()
    assert "Göteborg" in page
    assert "Öckerö" in page

    out = tmp_path / "round.json"
    result = run("export-round", "1", "-o", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    instance = solver.load_instance(document)  # raises with every problem if the file breaks the format
    assert len(instance.students) > 4000
    with Session(make_engine(f"sqlite:///{database}")) as session:
        periods = list(session.scalars(select(m.Period).order_by(m.Period.start_date)))
        window = session.scalars(select(m.PreferenceWindow)).one()
    assert {p.id for p in instance.periods} == {p.code for p in periods}
    assert len(periods) == 3
    # The season is laid on today: the window is open now, the periods follow it.
    now = dt.datetime.now(dt.UTC)
    assert window.opens_at < now < window.closes_at
    assert window.closes_at.date() < periods[0].start_date
    assert all(student["school"] for student in document["students"])

    solved = tmp_path / "result.json"
    result = run("solve", str(out), "-o", str(solved))
    assert result.exit_code == 0, result.output
    outcome = solver.result_from_dict(json.loads(solved.read_text(encoding="utf-8")))
    assert solver.check(instance, outcome) == []
    assert outcome.metrics.placed == outcome.placed_max


def test_purge_dry_run_then_purge(sqlite_file: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRAKTIK_RETENTION_MONTHS", "12")
    with Session(sqlite_file) as session, session.begin():
        old = f.period(session, code="v2024", start_date=dt.date(2024, 11, 4))
        recent = f.period(session, code="v2026", start_date=dt.date(2026, 11, 2))
        f.pupil(session, school_class=f.school_class(session, period=old), first_name="Gammal")
        f.pupil(session, school_class=f.school_class(session, period=recent), first_name="Ny")

    preview = run("purge", "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "Would purge 1 pupils" in preview.output
    with Session(sqlite_file) as session:
        assert len(session.scalars(select(m.Pupil)).all()) == 2

    result = run("purge")
    assert result.exit_code == 0, result.output
    assert "pupil: 1" in result.output
    with Session(sqlite_file) as session:
        assert [p.first_name for p in session.scalars(select(m.Pupil))] == ["Ny"]
        assert len(session.scalars(select(m.PurgeRecord)).all()) == 1
    assert run("purge").output.strip() == "Nothing to purge."


def test_check_config_names_every_unsafe_or_missing_production_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRAKTIK_DATABASE_URL", f"sqlite:///{tmp_path / 'c.sqlite'}")
    for name in (
        "PRAKTIK_BASE_URL",
        "PRAKTIK_SECURE_COOKIES",
        "PRAKTIK_MAIL_SENDER",
        "PRAKTIK_GEOCODER_USER_AGENT",
        "PRAKTIK_PROXIES",
    ):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 1
    for expected in (
        "unsafe: PRAKTIK_BASE_URL",
        "missing: PRAKTIK_BASE_URL",
        "missing: PRAKTIK_MAIL_SENDER",
        "missing: PRAKTIK_GEOCODER_USER_AGENT",
        "note: PRAKTIK_DATABASE_URL",
    ):
        assert expected in result.output
    monkeypatch.setenv("PRAKTIK_BASE_URL", "https://prao.kommun.example")
    monkeypatch.setenv("PRAKTIK_MAIL_SENDER", "Praktik <prao@kommun.example>")
    monkeypatch.setenv("PRAKTIK_GEOCODER_USER_AGENT", "Praktik, Kommunen, it@kommun.example")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 1
    assert "unsafe: PRAKTIK_SECURE_COOKIES" in result.output  # HTTPS without secure cookies
    assert "unsafe: PRAKTIK_PROXIES" in result.output  # HTTPS is a proxy's: the clients' addresses are lost
    monkeypatch.setenv("PRAKTIK_SECURE_COOKIES", "true")
    monkeypatch.setenv("PRAKTIK_PROXIES", "1")
    monkeypatch.setenv("PRAKTIK_SECRET_KEY", "s" * 48)
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0, result.output
    assert "unsafe" not in result.output
    assert "missing" not in result.output
