"""Backing the database up and restoring it, on SQLite and on PostgreSQL.

* SQLite: the online backup API of the ``sqlite3`` module copies the live
  database page by page into a new file (readers and writers carry on), and
  the copy is checked with ``PRAGMA integrity_check``.  A restore copies the
  file back the same way, in one step.
* PostgreSQL: ``pg_dump --format=custom`` (the archive ``pg_restore`` reads),
  checked by listing it with ``pg_restore --list``; a restore is
  ``pg_restore --clean --if-exists --no-owner --no-privileges
  --single-transaction``, all or nothing.  Both tools must be those of the
  server's major version or newer.

A restore refuses a database that already holds data unless ``replace`` is
given: restoring over a live database is a decision, never an accident.
After a restore, ``praktik init-db`` upgrades the schema if the backup is of
an older version.  Passwords in the database URL reach the PostgreSQL tools
through the environment (``PGPASSWORD``), never their command line.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine, func, inspect, make_url, select, table

from placement.db import is_sqlite

logger = logging.getLogger(__name__)

#: Tables that hold the records a restore must not overwrite by accident.
_DATA_TABLES = ("user_account", "school", "employer", "pupil", "allocation_round")


class BackupError(Exception):
    """A backup or restore could not be made; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class BackupReport:
    path: Path
    size_bytes: int
    #: How the copy was checked: SQLite's integrity check, or pg_restore's listing of the archive.
    checked: str


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"database {url}: an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as PostgreSQL's tools read it, and the environment carrying its password."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install PostgreSQL's client tools (Debian: postgresql-client)")
    return found


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def backup(url: str, target: Path) -> BackupReport:
    """Write a consistent copy of the database at ``url`` to ``target`` (which must not exist yet)."""
    if target.exists():
        raise BackupError(f"{target}: exists already; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(url):
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError(f"database {source}: does not exist")
        with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
            live.backup(copy)
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            target.unlink(missing_ok=True)
            raise BackupError(f"{target}: the copy failed SQLite's integrity check: {verdict}")
        checked = "SQLite integrity check: ok"
    else:
        address, env = _libpq(url)
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), address], env)
        listing = _run([_tool("pg_restore"), "--list", str(target)], env)
        entries = sum(1 for line in listing.stdout.splitlines() if line and not line.startswith(";"))
        checked = f"pg_restore --list: {entries} entries"
    report = BackupReport(target, target.stat().st_size, checked)
    logger.info(
        "Backup of %s written to %s (%d bytes; %s)",
        make_url(url).render_as_string(),
        target,
        report.size_bytes,
        checked,
    )
    return report


def holds_data(engine: Engine) -> bool:
    """Whether the database has any of Praktik's records (users, schools, employers, pupils, rounds)."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        return any(
            connection.scalar(select(func.count()).select_from(table(name))) for name in _DATA_TABLES if name in present
        )


def restore(url: str, engine: Engine, source: Path, *, replace: bool = False) -> None:
    """Replace the database at ``url`` with the backup ``source``, all or nothing.

    Refused when the database holds data and ``replace`` is not given.
    """
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    if holds_data(engine) and not replace:
        raise BackupError(
            "the database holds data already; restore into an empty database, or give --replace to overwrite it"
        )
    engine.dispose()  # no pooled connection may hold the old database open
    if is_sqlite(url):
        with sqlite3.connect(source) as backup_file:
            if backup_file.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source}: not a sound SQLite database")
            with sqlite3.connect(_sqlite_path(url)) as live:
                backup_file.backup(live)
    else:
        address, env = _libpq(url)
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--dbname",
                address,
                str(source),
            ],
            env,
        )
    logger.info("Database %s restored from %s", make_url(url).render_as_string(), source)
