"""Engines for SQLite (the embedded default) and PostgreSQL, and how each begins.

SQLite has one writer at a time. A transaction that may write says so when it begins:
the sessions of `Database.writer` run on an engine whose connections begin with
`BEGIN IMMEDIATE`, which takes the write lock first, waiting in SQLite's busy handler
(in aiosqlite's thread, so the event loop keeps serving) until the writer before it
commits. Once begun, nothing in the transaction waits for a lock again, so a
transaction that reads and then writes never fails halfway on a snapshot that another
writer made stale. Every other connection begins with a plain (deferred) `BEGIN`: in
WAL mode a reader never waits for a writer.
"""

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, make_url
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

# Execution option naming how a SQLite transaction begins ("IMMEDIATE" for writers).
SQLITE_BEGIN = "kinoarchive_sqlite_begin"

# How long a SQLite writer waits for the one before it: under the gateway's 30 s
# upstream timeout, so the client hears a 503 from the service rather than a 504.
WRITER_WAIT_MS = 25_000

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)
# A reader in the event loop's thread should never wait (WAL); if SQLite ever makes it
# (recovering a crashed writer's log), it waits briefly and fails rather than stall.
_READER_PRAGMAS = (*_PRAGMAS, "PRAGMA busy_timeout=1000", "PRAGMA query_only=ON")


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def on_disk(url: URL) -> bool:
    return bool(url.database) and url.database != ":memory:"


def _set_pragmas(dbapi_connection: Any, pragmas: tuple[str, ...]) -> None:
    # sqlite3 would open transactions by itself, which breaks SAVEPOINT (used by the
    # tests' rolled-back transactions); with no isolation level, BEGIN is ours to send.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in pragmas:
        cursor.execute(pragma)
    cursor.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        _set_pragmas(dbapi_connection, (*_PRAGMAS, f"PRAGMA busy_timeout={WRITER_WAIT_MS}"))

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "")
        connection.exec_driver_sql(f"BEGIN {mode}".rstrip())


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, autocommit: bool = False
) -> AsyncEngine:
    """`autocommit`: PostgreSQL connections in autocommit mode from the start, for a
    reader's pool of its own (readers.py); SQLite ignores it."""
    parsed = make_url(url)
    if is_sqlite(parsed):
        if on_disk(parsed):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
        engine = create_async_engine(parsed, echo=echo)
        _configure_sqlite(engine.sync_engine)
        return engine
    mode: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    # pool_pre_ping lets a service recover by itself after the database restarts.
    return create_async_engine(
        parsed, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **mode
    )


def writing(engine: AsyncEngine) -> AsyncEngine:
    """The engine for transactions that may write: on SQLite they begin IMMEDIATE."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})


def create_sqlite_reader_engine(path: str, *, echo: bool) -> Engine:
    """Synchronous, read-only connections to a SQLite file (`SqliteReader`'s).

    A connection is held only while one statement runs and its rows are fetched, with no
    await in between, so one connection serves the whole process; the pool may open more
    but never waits for one (a wait would stop the event loop).
    """
    engine = create_sync_engine(
        URL.create("sqlite", database=path),
        echo=echo,
        pool_size=1,
        max_overflow=-1,
        pool_reset_on_return=None,  # no transaction is ever left open
        connect_args={"check_same_thread": False},  # the pool may close one elsewhere
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        _set_pragmas(dbapi_connection, _READER_PRAGMAS)

    return engine
