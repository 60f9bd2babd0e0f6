"""Alembic environment: migrates the connection handed over by placement.migrate."""

from __future__ import annotations

from alembic import context

import placement.models  # noqa: F401  (registers every table on Base.metadata)
from placement.db import Base
from placement.migrate import include_name

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through placement.migrate, which passes a connection")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
