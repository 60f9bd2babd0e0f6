"""The migrations build the schema from empty, match the models, and go back down."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

import placement.models  # noqa: F401
from placement.db import Base, make_engine
from placement.migrate import alembic_config, current_revision, heads, include_name, upgrade


def test_there_is_exactly_one_head() -> None:
    assert len(heads()) == 1


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    # ``engine`` was migrated from empty by ``alembic upgrade head`` in conftest.
    assert current_revision(engine) == heads()[0]
    with engine.connect() as connection:
        options = {"compare_type": True, "compare_server_default": True, "include_name": include_name}
        context = MigrationContext.configure(connection, opts=options)
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_up_again(database_url: str, engine: Engine) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert "assignment" in inspect(engine).get_table_names()


def test_upgrading_sqlite_keeps_rows_that_refer_to_rebuilt_tables(tmp_path: Path) -> None:
    # SQLite re-creates a table to alter it; rows referring to it must survive (0003 and 0004 alter
    # allocation_round and user_account, which rounds, periods and the append-only audit log refer to).
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(engine, "0002")
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO user_account (role, email, display_name, locale, active, session_version, created_at)"
            " VALUES ('coordinator', 'a@kommun.example', 'A', 'sv', 1, 1, '2026-01-01')",
            "INSERT INTO period (code, name, start_date, end_date) VALUES ('w1', 'V1', '2026-01-05', '2026-01-16')",
            "INSERT INTO allocation_round (name, status, policy, created_at, created_by_id)"
            " VALUES ('Höst', 'draft', '{}', '2026-01-01', 1)",
            "INSERT INTO round_period (round_id, period_id) VALUES (1, 1)",
            "INSERT INTO audit_event (at, actor_id, actor, action, entity_type)"
            " VALUES ('2026-01-01', 1, 'user:1', 'x', 'y')",
        ):
            connection.exec_driver_sql(statement)
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT round_id, period_id FROM round_period").all() == [(1, 1)]
        assert connection.exec_driver_sql("SELECT created_by_id FROM allocation_round").all() == [(1,)]
        assert connection.exec_driver_sql("SELECT actor_id FROM audit_event").all() == [(1,)]
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_the_database_refuses_a_kind_outside_its_enumeration(engine: Engine) -> None:
    """Jobs, artifacts and outbox messages name their kind from an enumeration the database checks (0005)."""
    statements = {
        "solve_job": "INSERT INTO solve_job (round_id, kind, state, created_at) VALUES (:round, :kind, 'queued', :now)",
        "round_artifact": "INSERT INTO round_artifact (round_id, kind, body, sha256, created_at)"
        " VALUES (:round, :kind, '{}', '', :now)",
    }
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            connection.execute(
                text(
                    "INSERT INTO allocation_round (name, status, policy, created_at) VALUES ('R', 'draft', '{}', :now)"
                ),
                {"now": "2026-01-01"},
            )
            round_id = connection.execute(text("SELECT max(id) FROM allocation_round")).scalar_one()
            for table, statement in statements.items():
                good = {"solve_job": "initial", "round_artifact": "instance"}[table]
                connection.execute(text(statement), {"round": round_id, "kind": good, "now": "2026-01-01"})
                savepoint = connection.begin_nested()
                with pytest.raises(IntegrityError):
                    connection.execute(text(statement), {"round": round_id, "kind": "bogus", "now": "2026-01-01"})
                savepoint.rollback()
        finally:
            transaction.rollback()
