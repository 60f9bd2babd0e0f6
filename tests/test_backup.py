"""praktik backup and praktik restore: a backup restored into an empty database holds every row, on both databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.orm import Session

from placement import models as m
from placement.db import make_engine
from placement.migrate import upgrade
from placement.organisation import accounts
from tests import factories as f
from tests.conftest import POSTGRES_URL, _drop_postgres, postgres_or_skip
from web.cli import main


@pytest.fixture
def second_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A second, migrated, empty database to restore into."""
    if db_kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'restored.sqlite'}"
    else:
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/praktik_restore_{os.getpid()}"
        postgres_or_skip(url)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    if db_kind == "postgresql":
        _drop_postgres(url)


def _fill(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        f.small_round(session)  # schools, classes, pupils with choices, employers, offers, a round
        coordinator = f.user(session, email="kim@kommun.example", display_name="Kim Å")
        accounts.set_password(coordinator, "ett-långt-lösenord")


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {
            name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
            for name, table in metadata.tables.items()
        }


def _run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"PRAKTIK_DATABASE_URL": url}, catch_exceptions=False)
    return result.exit_code, result.output


def test_a_backup_restored_into_an_empty_database_holds_every_row(
    live_database_url: str, second_url: str, tmp_path: Path
) -> None:
    source = make_engine(live_database_url)
    _fill(source)
    expected = _rows(source)
    source.dispose()
    assert sum(len(rows) for rows in expected.values()) > 20

    file = tmp_path / "praktik.backup"
    code, output = _run(live_database_url, "backup", str(file))
    assert code == 0, output
    assert "Backup written" in output
    assert file.stat().st_size > 0
    # A second backup to the same file is refused; nothing is overwritten.
    code, output = _run(live_database_url, "backup", str(file))
    assert code == 2
    assert "exists already" in output

    code, output = _run(second_url, "restore", str(file))
    assert code == 0, output
    restored = make_engine(second_url)
    try:
        assert _rows(restored) == expected
        with Session(restored) as session:
            user = session.scalars(select(m.User).where(m.User.email == "kim@kommun.example")).one()
            assert accounts.authenticate(session, "kim@kommun.example", "ett-långt-lösenord") == user
    finally:
        restored.dispose()


def test_a_database_that_holds_data_is_not_overwritten_without_replace(
    live_database_url: str, second_url: str, tmp_path: Path
) -> None:
    for url in (live_database_url, second_url):
        engine = make_engine(url)
        _fill(engine)
        engine.dispose()
    file = tmp_path / "praktik.backup"
    assert _run(live_database_url, "backup", str(file))[0] == 0
    code, output = _run(second_url, "restore", str(file))
    assert code == 2
    assert "holds data already" in output
    code, output = _run(second_url, "restore", "--replace", str(file))
    assert code == 0, output
    first, second = make_engine(live_database_url), make_engine(second_url)
    try:
        assert _rows(second) == _rows(first)
    finally:
        first.dispose()
        second.dispose()
