"""Run the migrations that ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"

#: Tables that the migrations create but another library owns the shape of:
#: APScheduler's job store.  Autogenerate leaves them alone.
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: compare every table but the foreign ones."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


def alembic_config() -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision`` (default: the newest).

    SQLite alters a table by re-creating it: the old table is dropped and the
    new one renamed.  With foreign keys on, dropping the old table would
    delete or null every row that refers to it, so, as the SQLite manual
    prescribes for such changes, foreign keys are off while the migrations
    run and checked before the transaction commits.
    """
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver = connection.connection.driver_connection
        assert driver is not None
        if sqlite:
            driver.execute("PRAGMA foreign_keys=OFF")  # outside any transaction, where it takes effect
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left rows that refer to missing rows: {broken[:10]}")
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys=ON")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())
