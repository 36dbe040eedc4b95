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
"""

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


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
