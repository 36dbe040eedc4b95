"""Readers: how a route that only reads runs its Core statements, without a session.

Each statement runs on its own and sees the latest commit, as each statement of a
session does on PostgreSQL (READ COMMITTED); its rows come back whole, and no connection
is held between statements, so none is held across an await.

On PostgreSQL the reader's connections are in autocommit mode, in a pool of their own
(`Database`), so that a SELECT is one round trip instead of three (BEGIN, SELECT,
ROLLBACK), and so is the check `pool_pre_ping` makes at each checkout: on a connection
that a session had used, it too was three. A route that runs several statements in a
row (a search runs four or more) runs them in `async with reader.together() as reader:`,
which holds one connection for the block and for nothing else. On 2026-12-06 (2-core
Intel Xeon VM), a checkout and a one-row SELECT took 0.74 ms through the pool shared
with the sessions, 0.48 ms through the readers' own, and a further statement on a held
connection about 0.25 ms.

On a SQLite file the reader is `SqliteReader`, the one fast path of the data layer, and
the place its cost is accounted for. It calls SQLite synchronously in the event loop's
thread, through a synchronous SQLAlchemy engine, instead of through aiosqlite, which
hands every call (cursor, execute, fetch, close) to a worker thread and back. A read in
WAL mode never waits for a lock, and SQLite's own work for an indexed read is a few
microseconds, less than one hand-off. Statements marked `reused` (module constants) go
further: compiled once, they are given to the sqlite3 driver directly (`DirectStatement`).
What it is worth is measured by bench/'s case 2 row "read through aiosqlite": on
2026-12-06 (2-core Intel Xeon VM), the uncached catalog page served 1,965 req/s on one
core with this reader and 826 req/s through aiosqlite, 0.42 of it. Writes take aiosqlite
(a unit of work may wait for SQLite's write lock, which must not stop the loop).
"""

import sqlite3
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, Executable, PoolProxiedConnection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Params = Mapping[str, Any] | None
Rows = Sequence[Any]  # rows: tuples whose fields are also attributes (`row.email`)

# The execution option that `reused` sets.
REUSED = "kinoarchive_reused"

_Statement = TypeVar("_Statement", bound=Executable)


def reused(statement: _Statement) -> _Statement:
    """Mark a statement that is built once and run again and again (a module constant):
    `SqliteReader` compiles it once and gives it to the driver itself from then on.
    Other readers run it as any other."""
    return statement.execution_options(**{REUSED: True})


class Reader(Protocol):
    """What a read-only route reads with (see the module's docstring).

    `dialect` is the database's SQLAlchemy dialect name ("sqlite", "postgresql"), for the
    few queries written once per database (the catalog's search).
    """

    dialect: str

    async def rows(self, statement: Executable, parameters: Params = None, /) -> Rows: ...

    async def scalar(self, statement: Executable, parameters: Params = None, /) -> Any: ...

    def together(self) -> AbstractAsyncContextManager["Reader"]:
        """A reader whose statements share one connection until the block ends."""
        ...


class ConnectionReader:
    """Any database: a connection of the engine's pool for each statement.

    On PostgreSQL, an engine in autocommit mode (`create_engine(autocommit=True)`, as
    `Database` makes it); on SQLite through aiosqlite, the writer's engine.
    """

    __slots__ = ("_engine", "dialect")

    def __init__(self, engine: AsyncEngine) -> None:
        self.dialect = engine.dialect.name
        self._engine = engine

    async def rows(self, statement: Executable, parameters: Params = None, /) -> Rows:
        async with self._engine.connect() as connection:
            return (await connection.execute(statement, parameters)).all()

    async def scalar(self, statement: Executable, parameters: Params = None, /) -> Any:
        async with self._engine.connect() as connection:
            return await connection.scalar(statement, parameters)

    @asynccontextmanager
    async def together(self) -> AsyncIterator[Reader]:
        async with self._engine.connect() as connection:
            yield HeldReader(connection)


class HeldReader:
    """`ConnectionReader.together`'s reader: every statement on one connection."""

    __slots__ = ("_connection", "dialect")

    def __init__(self, connection: AsyncConnection) -> None:
        self.dialect = connection.dialect.name
        self._connection = connection

    async def rows(self, statement: Executable, parameters: Params = None, /) -> Rows:
        return (await self._connection.execute(statement, parameters)).all()

    async def scalar(self, statement: Executable, parameters: Params = None, /) -> Any:
        return await self._connection.scalar(statement, parameters)

    def together(self) -> AbstractAsyncContextManager[Reader]:
        return nullcontext(self)


class DirectStatement:
    """A reused SELECT compiled once, run on the sqlite3 connection without SQLAlchemy's
    execution (a checkout, an execution context, a result object per statement). The
    compiled string and `positiontup` given to the driver are what SQLAlchemy's FAQ
    shows for running a compiled statement on a DBAPI cursor ("Rendering POSTCOMPILE
    Parameters as Bound Parameters"); nothing private of SQLAlchemy or sqlite3 is used.

    It applies where SQLAlchemy would hand values through as they are: no parameter to
    expand (`IN` lists) and no type that converts a value on the way in or out (dates,
    say); `of` returns None for any other statement, which then takes the ordinary way.
    Rows are named tuples with the column names as fields, as SQLAlchemy's rows have them.
    """

    __slots__ = ("compiled", "make_row", "names", "sql")

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        self.compiled = statement.compile(dialect=dialect)
        self.sql = self.compiled.string
        self.names = tuple(self.compiled.positiontup or ())
        row = namedtuple("Row", statement.selected_columns.keys(), rename=True)  # type: ignore[misc]
        self.make_row: Callable[[Iterable[Any]], tuple[Any, ...]] = row._make

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect) -> "DirectStatement | None":
        if not isinstance(statement, Select):
            return None
        direct = cls(statement, dialect)
        compiled = direct.compiled
        if compiled.literal_execute_params or compiled.post_compile_params:
            return None
        types = [bind.type for bind in compiled.binds.values()]
        if any(kind.dialect_impl(dialect).bind_processor(dialect) for kind in types):
            return None
        columns = statement.selected_columns
        if any(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns):
            return None
        return direct

    def fetch(self, driver: sqlite3.Connection, parameters: Params) -> list[Any]:
        values = self.compiled.construct_params(parameters)
        arguments = [values[name] for name in self.names]
        try:
            found = driver.execute(self.sql, arguments).fetchall()
        except sqlite3.Error as error:  # as SQLAlchemy would raise it
            raise DBAPIError.instance(self.sql, arguments, error, sqlite3.Error) from error
        make_row = self.make_row
        return [make_row(row) for row in found]


class SqliteReader:
    """`Reader` on a SQLite file, in the event loop's thread (see the module's docstring).

    `engine` is `engines.create_sqlite_reader_engine`'s: read-only connections.
    """

    MAX_DIRECT = 256  # reused statements are module constants: a few dozen at most
    dialect = "sqlite"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._direct: dict[Executable, DirectStatement | None] = {}
        self._held: PoolProxiedConnection | None = None

    def _direct_form(self, statement: Executable) -> DirectStatement | None:
        if not statement.get_execution_options().get(REUSED):
            return None
        try:
            return self._direct[statement]
        except KeyError:
            pass
        if len(self._direct) >= self.MAX_DIRECT:
            self._direct.clear()
        direct = self._direct[statement] = DirectStatement.of(statement, self._engine.dialect)
        return direct

    def _driver(self) -> sqlite3.Connection:
        # One connection kept out of the pool for the direct statements: nothing awaits
        # while it runs, so nothing else can be using it.
        if self._held is None:
            self._held = self._engine.raw_connection()
        driver: sqlite3.Connection = self._held.driver_connection  # type: ignore[assignment]
        return driver

    async def rows(self, statement: Executable, parameters: Params = None, /) -> Rows:
        direct = self._direct_form(statement)
        if direct is not None:
            return direct.fetch(self._driver(), parameters)
        with self._engine.connect() as connection:
            return connection.execute(statement, parameters).all()

    async def scalar(self, statement: Executable, parameters: Params = None, /) -> Any:
        direct = self._direct_form(statement)
        if direct is not None:
            found = direct.fetch(self._driver(), parameters)
            return found[0][0] if found else None
        with self._engine.connect() as connection:
            return connection.execute(statement, parameters).scalar()

    def together(self) -> AbstractAsyncContextManager[Reader]:
        # One connection already serves every statement, and none waits on another.
        return nullcontext(self)

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
        self._engine.dispose()
