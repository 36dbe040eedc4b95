"""SQLite calls made in the event loop's own thread, for a service that only reads.

aiosqlite runs every call (cursor, execute, fetch, close, commit) in a thread of its own
and wakes the event loop when it is done: a thread hand-off per call, about a dozen per
request. Measured (bench/): a 12-movie page cost ~5 ms of hand-offs against well under
1 ms of SQLite work, and under load each hand-off also waits for the GIL. An indexed
read on a local file is quicker than one hand-off, so for a read-only service the calls
are better made inline.

Only for a service that never writes to its database (the catalog): in WAL mode a reader
never waits for a lock, so an inline call never blocks the loop on another connection.
A service that writes must keep aiosqlite: an inline write waiting for the lock held by
another of its own connections would stop the very loop that has to release it.

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
