"""SQLite calls made in the event loop's own thread instead of aiosqlite's worker thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit) in a thread of its own
and wakes the event loop when it is done: a thread hand-off per call, about a dozen per
request. Measured (bench/): a 12-movie page cost ~5 ms of hand-offs, and one read session
of the user service (BEGIN, SELECT, COMMIT) 1.7 ms against 0.8 ms inline, while SQLite's
own work is a few microseconds; under load each hand-off also waits for the GIL. An
indexed read or a small write on a local file is quicker than one hand-off.

An inline call must never wait for a lock, or it stops the loop (and every request) while
it waits. In WAL mode readers never wait. Writers wait for each other, and that wait is
kept out of SQLite: `shared.db` queues the writing transactions of one process on an
asyncio lock, taken before a transaction's first write and given back when it ends, so
when SQLite is asked to write no other connection of the process holds the write lock.
What is left is a writer in another process (an import or a second replica on the same
file): the catalog only reads, so an import never stops it; the services that write run
one process per file, and `database_sqlite_inline=false` is the way back to aiosqlite
for anyone who runs them otherwise.

`connect(path)` returns an object with the surface of `aiosqlite.Connection` that
SQLAlchemy's aiosqlite dialect uses; pass it as `async_creator` to `create_async_engine`.

`InlineReader` is `shared.db.Reader` for such a file: synchronous SQLAlchemy Core, and
for the statements marked as reused, the driver itself (see `DirectStatement`).
"""

import asyncio
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, Executable, PoolProxiedConnection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

# The execution option that `shared.db.reused` sets.
REUSED = "kinoarchive_reused"


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> "InlineCursor":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> "InlineCursor":
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> "InlineCursor":
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Immediate:
    """aiosqlite's request queue, as SQLAlchemy uses it: run the call now."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:  # handed to the awaiting side, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _Immediate(connection)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        return InlineCursor(self._conn.execute(sql, parameters))

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def connect(database: str) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine` that opens `database` inline."""

    async def creator() -> InlineConnection:
        # The pool may close a connection from another thread (garbage collection).
        return InlineConnection(sqlite3.connect(database, check_same_thread=False))

    return creator


class DirectStatement:
    """A reused SELECT compiled once, run on the sqlite3 connection without SQLAlchemy.

    Through a SQLAlchemy connection, one indexed read cost 45-65 us, of which SQLite's
    own work was 3 us (bench/): checking a connection out and in, an execution context,
    a result. Compiling once and keeping the SQL and the order of its parameters leaves
    only the driver call. It applies where SQLAlchemy would hand values through as they
    are: no parameter to expand (`IN` lists) and no type that converts a value on the way
    in or out (dates, say); `of` returns None for any other statement, which then takes
    the ordinary way. Rows are named tuples with the column names as fields, as
    SQLAlchemy's rows have them.
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

    def fetch(self, driver: sqlite3.Connection, parameters: Mapping[str, Any] | None) -> list[Any]:
        values = self.compiled.construct_params(parameters)
        arguments = [values[name] for name in self.names]
        try:
            found = driver.execute(self.sql, arguments).fetchall()
        except sqlite3.Error as error:  # as SQLAlchemy would raise it
            raise DBAPIError.instance(self.sql, arguments, error, sqlite3.Error) from error
        make_row = self.make_row
        return [make_row(row) for row in found]


class InlineReader:
    """`shared.db.Reader` on a SQLite file, in the event loop's thread: a synchronous
    connection (a fifth of the cost of a session's read), and for reused statements the
    driver itself."""

    MAX_DIRECT = 256  # reused statements are module constants: a few dozen at most

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

    async def rows(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None, /
    ) -> Sequence[Any]:
        direct = self._direct_form(statement)
        if direct is not None:
            return direct.fetch(self._driver(), parameters)
        with self._engine.connect() as connection:
            return connection.execute(statement, parameters).all()

    async def scalar(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None, /
    ) -> Any:
        direct = self._direct_form(statement)
        if direct is not None:
            found = direct.fetch(self._driver(), parameters)
            return found[0][0] if found else None
        with self._engine.connect() as connection:
            return connection.execute(statement, parameters).scalar()

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
