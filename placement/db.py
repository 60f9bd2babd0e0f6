"""Database foundation: declarative base, naming convention, engines and sessions.

SQLite is the embedded default and PostgreSQL the production database; both
are reached through one URL.  On SQLite every connection gets foreign keys,
WAL and a busy timeout.  A transaction there begins as a reader (``BEGIN``),
which in WAL mode neither waits for nor blocks anyone, so pages, parsing an
upload and checking a password never hold the database's single write lock.
It becomes a writer at its first write, its first ``SELECT ... FOR UPDATE``
or :func:`take_write_lock`, whichever comes first: the reader's snapshot is
ended and the transaction starts again with ``BEGIN IMMEDIATE``, which queues
on the busy timeout for the write lock.  This gives SQLite the semantics
PostgreSQL has at READ COMMITTED with row locks: what was read before the
lock may have changed, what is read after it cannot change until commit; so
the code that checks and then writes (free places, throttles, ranks) locks
first and counts after, on both databases.  (A deferred transaction that is
upgraded in place instead would fail with ``SQLITE_BUSY_SNAPSHOT`` whenever
another writer committed since it first read.)
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, TypeVar

from sqlalchemy import JSON, DateTime, Engine, Enum, MetaData, create_engine, event, func
from sqlalchemy.orm import DeclarativeBase, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored as UTC on every engine.

    SQLite has no time zones; PostgreSQL has ``timestamptz``.  Naive values are
    refused so that no local time ever reaches the database by accident.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC datetimes")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads this class attribute)
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


# Enums are stored by value as plain strings with a named CHECK constraint, so
# migrations stay portable and values read like the domain ("proposed").
def enum_column(enum_cls: type[enum.StrEnum], **kwargs: Any) -> Any:
    return mapped_column(
        Enum(
            enum_cls,
            values_callable=lambda e: [m.value for m in e],
            native_enum=False,
            create_constraint=True,
            validate_strings=True,
            length=max(len(m.value) for m in enum_cls),
            name=enum_cls.__name__.lower(),
        ),
        **kwargs,
    )


intpk = Annotated[int, mapped_column(primary_key=True)]
created_at = Annotated[dt.datetime, mapped_column(default=utcnow, server_default=func.now())]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings Praktik relies on."""
    if is_sqlite(url):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
        **kwargs,
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own handling breaks savepoints).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        writer = conn.info.pop(_WRITER_NEXT, False)
        conn.info[_WRITER] = writer
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    @event.listens_for(engine, "before_execute", named=True)
    def _on_execute(conn: Any, clauseelement: Any, **_kw: Any) -> None:
        # SQLite drops FOR UPDATE from the SQL: the write lock stands in for the row lock.
        if getattr(clauseelement, "_for_update_arg", None) is not None:
            _become_writer(conn)

    @event.listens_for(engine, "before_cursor_execute", named=True)
    def _on_cursor_execute(conn: Any, statement: str, **_kw: Any) -> None:
        if not conn.info.get(_WRITER, True) and _first_word(statement) in _WRITING:
            _become_writer(conn)


#: Statements that make an SQLite transaction a writer: data and schema changes, and savepoints
#: (which only writers take, and which must not be open when the reader's snapshot ends).
_WRITING = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT"})
_WRITER = "praktik.sqlite_writer"
_WRITER_NEXT = "praktik.sqlite_writer_next"


def _first_word(statement: str) -> str:
    return statement.lstrip(" \n\t(").split(None, 1)[0].upper() if statement.strip() else ""


def _become_writer(conn: Any) -> None:
    """End a reading SQLite transaction's snapshot and begin it again as the writer (``BEGIN IMMEDIATE``)."""
    if not conn.in_transaction():
        conn.info[_WRITER_NEXT] = True  # the statement's own transaction begins as the writer
        return
    if conn.info.get(_WRITER, True):
        return
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection.in_transaction:
        dbapi_connection.execute("COMMIT")  # it has only read: nothing to lose
    dbapi_connection.execute("BEGIN IMMEDIATE")
    conn.info[_WRITER] = True


def take_write_lock(session: Any) -> None:
    """Make the session's transaction the database's writer now, before it reads what it will decide on.

    On SQLite this waits for the write lock (and holds it until the
    transaction ends), for code that checks and then writes without a row to
    lock, such as counting recent failures; on PostgreSQL, which locks rows
    and keys instead, it does nothing.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        _become_writer(connection)


def make_sessionmaker(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def violated_constraint(exc: Exception) -> str | None:
    """The name of the constraint an IntegrityError broke, on either engine.

    PostgreSQL reports the name; SQLite reports ``UNIQUE constraint failed:
    table.a, table.b`` for unique constraints and indexes, which is mapped back
    to the named constraint through the metadata.
    """
    orig = getattr(exc, "orig", exc)
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return str(diag.constraint_name)
    message = str(orig)
    for prefix in ("CHECK constraint failed: ",):
        if message.startswith(prefix):
            return message.removeprefix(prefix).strip()
    if message.startswith("UNIQUE constraint failed: "):
        columns = [c.strip() for c in message.removeprefix("UNIQUE constraint failed: ").split(",")]
        table_name = columns[0].split(".")[0]
        names = {c.split(".")[1] for c in columns}
        table = Base.metadata.tables.get(table_name)
        if table is None:
            return None
        for constraint in table.constraints:
            if {c.name for c in getattr(constraint, "columns", [])} == names and constraint.name:
                return str(constraint.name)
        for index in table.indexes:
            if index.unique and {c.name for c in index.columns} == names and index.name:
                return str(index.name)
    return None


T = TypeVar("T")


def chunks(ids: Sequence[T], size: int = 900) -> Iterable[list[T]]:
    """Split id lists for IN clauses (SQLite allows a limited number of parameters)."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])
