"""A service's database: its engine, its reader and its writer, and their dependencies."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Pool, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db.engines import (
    create_engine,
    create_sqlite_reader_engine,
    is_sqlite,
    on_disk,
    writing,
)
from shared.db.readers import ConnectionReader, Reader, SqliteReader
from shared.settings import ServiceSettings

# `async with writer() as session:` a unit of work (see the package's docstring).
Writer = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class Database:
    """One engine, reader and session factory per process.

    `sessionmaker` makes sessions for transactions that may write (begun IMMEDIATE on
    SQLite, engines.py); `writer` is the unit of work that routes use.
    """

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = 10, sqlite_reader: bool = False
    ) -> None:
        """`sqlite_reader`: read a plainly named SQLite file with `SqliteReader` (no
        effect on other databases, or on a URL with options, which keeps aiosqlite)."""
        self.url = url
        self.engine = create_engine(url, echo=echo, pool_size=pool_size)
        self.sessionmaker = async_sessionmaker(writing(self.engine), expire_on_commit=False)
        parsed = make_url(url)
        self.reader: Reader
        self.reader_engine: AsyncEngine | None = None  # PostgreSQL: the reads' own pool
        if sqlite_reader and is_sqlite(parsed) and on_disk(parsed) and not parsed.query:
            engine = create_sqlite_reader_engine(parsed.database or "", echo=echo)
            self.reader = SqliteReader(engine)
        elif is_sqlite(parsed):
            self.reader = ConnectionReader(self.engine)
        else:  # connections in autocommit mode from the start (readers.py says why)
            self.reader_engine = create_engine(url, echo=echo, pool_size=pool_size, autocommit=True)
            self.reader = ConnectionReader(self.reader_engine)

    @classmethod
    def for_service(cls, settings: ServiceSettings) -> "Database":
        """The database a service's settings describe."""
        return cls(
            settings.database_url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            sqlite_reader=settings.database_sqlite_inline,
        )

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends, rolls back when it raises."""
        async with self.sessionmaker() as session, committing(session):
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means "not ready"
            return False
        return True

    def pools(self) -> dict[str, Pool]:
        """The connection pools by role: "writer" always (sessions, and the reads on
        SQLite through aiosqlite), "reader" where the reads have a pool of their own."""
        pools = {"writer": self.engine.pool}
        if self.reader_engine is not None:
            pools["reader"] = self.reader_engine.pool
        return pools

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.reader_engine is not None:
            await self.reader_engine.dispose()
        if isinstance(self.reader, SqliteReader):
            self.reader.close()


@asynccontextmanager
async def committing(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Commit the session when the block ends, roll it back when the block raises."""
    try:
        yield session
    except BaseException:
        await session.rollback()
        raise
    await session.commit()


async def get_database(request: Request) -> Database:
    """Async although it never waits: FastAPI would run a plain function in a thread."""
    database: Database = request.app.state.database
    return database


async def get_reader(request: Request) -> Reader:
    return (await get_database(request)).reader


async def get_writer(request: Request) -> Writer:
    return (await get_database(request)).writer


DatabaseDep = Annotated[Database, Depends(get_database)]
ReaderDep = Annotated[Reader, Depends(get_reader)]
WriterDep = Annotated[Writer, Depends(get_writer)]
