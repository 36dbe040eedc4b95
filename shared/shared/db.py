"""Engines, sessions and readers, the same for SQLite (embedded default) and PostgreSQL.

The session dependency owns the transaction: it commits when the route returns and
rolls back when it raises. Repositories `flush()`, never `commit()`.

A route that only reads takes a reader instead (`ReaderDep`): Core statements, each on
its own, without the ORM session and its transaction.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine, Executable, event, make_url, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_

from shared import sqlite_inline
from shared.settings import ServiceSettings
from shared.sqlite_inline import REUSED, InlineReader


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and transactions that SQLAlchemy controls.

    The sqlite3 driver opens transactions lazily on its own, which breaks SAVEPOINT
    (used by the tests' rolled-back transactions). Handing BEGIN to SQLAlchemy is the
    documented fix.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        _set_pragmas(dbapi_connection, _PRAGMAS)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    _queue_writers(engine)


_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


def _set_pragmas(dbapi_connection: Any, pragmas: tuple[str, ...]) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in pragmas:
        cursor.execute(pragma)
    cursor.close()


def _create_inline_reader_engine(path: str, *, echo: bool) -> Engine:
    """Synchronous connections to the SQLite file, for `InlineReader`.

    Called in the event loop's thread, as shared/sqlite_inline.py explains: in WAL mode
    a reader never waits for a lock, and `query_only` keeps these connections readers.
    A connection is held only while one statement runs and its rows are fetched, with
    no await in between, so one connection serves the whole process; the pool may open
    more but never waits for one (a wait here would stop the loop).
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
        _set_pragmas(dbapi_connection, (*_PRAGMAS, "PRAGMA query_only=ON"))

    return engine


_WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
WRITER_WAIT_SECONDS = 25.0  # under the gateway's 30 s upstream timeout


def _queue_writers(engine: AsyncEngine) -> None:
    """One writing transaction at a time per process, waiting in line on an asyncio lock.

    SQLite has one writer. Without this, every connection of the pool that wants to write
    sleeps in SQLite's busy handler, which polls (every 100 ms at worst) and is not fair:
    under load a writer can lose every round to newcomers until the busy timeout fails it
    (measured: a 503 "database is locked" in bench/'s 200-client mixed workload). Here a
    transaction takes the lock before its first write statement and gives it back when it
    commits or rolls back (or its connection goes back to the pool); the waiters are
    served in order and never spin. Readers are not involved (WAL).
    """
    lock = asyncio.Lock()
    key = "kinoarchive_writer"

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before_write(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if connection.info.get(key) or not _WRITE_STATEMENT.match(statement):
            return
        try:
            await_(asyncio.wait_for(lock.acquire(), WRITER_WAIT_SECONDS))
        except TimeoutError as exc:
            raise OperationalError(statement, None, exc) from exc
        connection.info[key] = True

    def _release(info: dict[str, Any]) -> None:
        if info.pop(key, False) and lock.locked():
            lock.release()

    @event.listens_for(engine.sync_engine, "commit")
    def _on_commit(connection: Any) -> None:
        _release(connection.info)

    @event.listens_for(engine.sync_engine, "rollback")
    def _on_rollback(connection: Any) -> None:
        _release(connection.info)

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        if record is not None:
            _release(record.info)


def _on_disk(url: URL) -> bool:
    return bool(url.database) and url.database != ":memory:"


def _is_inline_candidate(url: URL) -> bool:
    """A SQLite file named plainly: options in the URL keep the aiosqlite driver."""
    return is_sqlite(url) and _on_disk(url) and not url.query


def create_engine(
    url: str, *, echo: bool = False, pool_size: int = 10, inline_sqlite: bool = False
) -> AsyncEngine:
    """`inline_sqlite`: SQLite calls in the event loop's thread (see shared/sqlite_inline.py);
    no effect on other databases."""
    parsed = make_url(url)
    if is_sqlite(parsed):
        if _on_disk(parsed):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
        if inline_sqlite and _is_inline_candidate(parsed):
            engine = create_async_engine(
                parsed, echo=echo, async_creator=sqlite_inline.connect(parsed.database or "")
            )
        else:
            engine = create_async_engine(parsed, echo=echo)
        _configure_sqlite(engine)
        return engine
    # pool_pre_ping lets a service recover by itself after the database restarts.
    return create_async_engine(
        parsed, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


Params = Mapping[str, Any] | None
Rows = Sequence[Any]  # rows: tuples whose fields are also attributes (`row.email`)

_Statement = TypeVar("_Statement", bound=Executable)


def reused(statement: _Statement) -> _Statement:
    """Mark a statement that is built once and run again and again (a module constant):
    a reader on SQLite compiles it once and gives it to the driver itself from then on
    (shared/sqlite_inline.py, `DirectStatement`). Other readers run it as any other."""
    return statement.execution_options(**{REUSED: True})


class Reader(Protocol):
    """How a route that only reads runs its Core statements, without an ORM session.

    Each statement runs on its own and sees the latest commit, as each statement of a
    session does on PostgreSQL (READ COMMITTED); its rows come back whole, and no
    connection is held between statements, so none is held across an await.
    """

    async def rows(self, statement: Executable, parameters: Params = None, /) -> Rows: ...

    async def scalar(self, statement: Executable, parameters: Params = None, /) -> Any: ...


class ConnectionReader:
    """Any other database: a connection of the engine's pool for each statement.

    On PostgreSQL the connection is in autocommit mode, so a SELECT is one round trip
    instead of three (BEGIN, SELECT, ROLLBACK). SQLite keeps its transactions, which
    `_configure_sqlite` begins itself.
    """

    __slots__ = ("_engine",)

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = (
            engine
            if engine.dialect.name == "sqlite"
            else engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    async def rows(self, statement: Executable, parameters: Params = None, /) -> Rows:
        async with self._engine.connect() as connection:
            return (await connection.execute(statement, parameters)).all()

    async def scalar(self, statement: Executable, parameters: Params = None, /) -> Any:
        async with self._engine.connect() as connection:
            return await connection.scalar(statement, parameters)


class Database:
    """One engine, session factory and reader per process."""

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = 10, inline_sqlite: bool = False
    ) -> None:
        self.url = url
        self.engine = create_engine(
            url, echo=echo, pool_size=pool_size, inline_sqlite=inline_sqlite
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        parsed = make_url(url)
        self._inline_reader_engine: Engine | None = None
        if inline_sqlite and _is_inline_candidate(parsed):
            self._inline_reader_engine = _create_inline_reader_engine(
                parsed.database or "", echo=echo
            )
            self.reader: Reader = InlineReader(self._inline_reader_engine)
        else:
            self.reader = ConnectionReader(self.engine)

    @classmethod
    def for_service(cls, settings: ServiceSettings) -> "Database":
        """The database a service's settings describe."""
        return cls(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            inline_sqlite=settings.database_sqlite_inline,
        )

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means "not ready"
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
        if isinstance(self.reader, InlineReader):
            self.reader.close()
        if self._inline_reader_engine is not None:
            self._inline_reader_engine.dispose()


async def get_database(request: Request) -> Database:
    """Async although it never waits: FastAPI would run a plain function in a thread."""
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


@asynccontextmanager
async def committing(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Commit the session when the block ends, roll it back when the block raises."""
    try:
        yield session
    except BaseException:
        await session.rollback()
        raise
    await session.commit()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with (await get_database(request)).sessionmaker() as session, committing(session):
        yield session


# scope="function": the commit happens before the response is sent, so a client that
# received 201 can rely on the write being durable.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

SessionOpener = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def get_session_opener(request: Request) -> SessionOpener:
    """For a route that writes only now and then: `async with open_session() as session`
    gives what `SessionDep` gives, and costs nothing when it is not called (a session
    dependency cost 0.14-0.22 ms a request, used or not; bench/)."""
    database = await get_database(request)

    @asynccontextmanager
    async def open_session() -> AsyncIterator[AsyncSession]:
        async with database.sessionmaker() as session, committing(session):
            yield session

    return open_session


OpenSessionDep = Annotated[SessionOpener, Depends(get_session_opener)]


async def get_reader(request: Request) -> Reader:
    """The database's reader (a dependency, so that tests can read in their session)."""
    return (await get_database(request)).reader


ReaderDep = Annotated[Reader, Depends(get_reader)]


# Ids are 32-bit integer columns; a larger number can name no row.
INT32_MAX = 2_147_483_647
