"""The migrations build the schema from empty, match the models, and go back down."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

import placement.models  # noqa: F401
from placement.db import Base
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
