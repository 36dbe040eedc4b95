"""SQLite engines (inline calls, and writers queued so that no inline call waits for a
lock), the readers, and the session opener."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    column,
    func,
    insert,
    select,
    table,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from shared.db import ConnectionReader, Database, InlineReader, get_session_opener, reused
from shared.settings import ServiceSettings
from shared.sqlite_inline import DirectStatement, InlineConnection
from shared.testing import temporary_database


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}", inline_sqlite=True)
    async with database.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"))
    yield database
    await database.dispose()


async def driver_connection(database: Database) -> object:
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        return raw.driver_connection


async def test_inline_is_the_default_for_a_service_on_sqlite(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path, service_name="probe")
    database = Database.for_service(settings)
    try:
        assert isinstance(await driver_connection(database), InlineConnection)
    finally:
        await database.dispose()


async def test_the_setting_turns_inline_off(tmp_path: Path) -> None:
    settings = ServiceSettings(
        data_dir=tmp_path, service_name="probe", database_sqlite_inline=False
    )
    database = Database.for_service(settings)
    try:
        assert not isinstance(await driver_connection(database), InlineConnection)
    finally:
        await database.dispose()


async def test_an_in_memory_database_is_never_inline() -> None:
    database = Database("sqlite+aiosqlite:///:memory:", inline_sqlite=True)
    try:
        assert not isinstance(await driver_connection(database), InlineConnection)
    finally:
        await database.dispose()


async def test_a_second_writer_waits_in_line_without_stopping_the_loop(
    database: Database,
) -> None:
    """The first transaction holds SQLite's write lock across an await; the second must
    wait for it on the asyncio lock, not in SQLite's busy handler (which, inline, would
    freeze the loop: the ticker would stop, and the first could never commit)."""
    order: list[str] = []
    ticks = 0
    first_wrote = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    async def first() -> None:
        async with database.sessionmaker() as session:
            await session.execute(text("INSERT INTO item (id, name) VALUES (1, 'first')"))
            first_wrote.set()
            await asyncio.sleep(0.2)  # holding the write lock
            await session.commit()
            order.append("first")

    async def second() -> None:
        await first_wrote.wait()
        async with database.sessionmaker() as session:
            await session.execute(text("INSERT INTO item (id, name) VALUES (2, 'second')"))
            await session.commit()
            order.append("second")

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=10)
    ticking.cancel()
    assert order == ["first", "second"]
    assert time.perf_counter() - started < 4  # far from the 5 s busy timeout
    assert ticks >= 10  # the loop kept running while the second waited
    async with database.engine.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM item ORDER BY id"))).scalars()
        assert list(names) == ["first", "second"]


async def test_a_reader_is_not_held_up_by_an_open_write(database: Database) -> None:
    async with database.sessionmaker() as writer:
        await writer.execute(text("INSERT INTO item (id, name) VALUES (1, 'pending')"))
        async with database.sessionmaker() as reader:
            count = (await reader.execute(text("SELECT count(*) FROM item"))).scalar_one()
            assert count == 0  # the write is not committed yet
        await writer.commit()


async def test_a_failed_write_gives_the_lock_back(database: Database) -> None:
    async with database.sessionmaker() as session:
        await session.execute(text("INSERT INTO item (id, name) VALUES (1, 'one')"))
        await session.commit()
    async with database.sessionmaker() as session:
        with pytest.raises(IntegrityError):
            await session.execute(text("INSERT INTO item (id, name) VALUES (1, 'again')"))
        await session.rollback()
    async with database.sessionmaker() as session:
        await asyncio.wait_for(
            session.execute(text("INSERT INTO item (id, name) VALUES (2, 'two')")), timeout=2
        )
        await session.commit()


# Readers: each statement on its own, its rows whole, no connection held in between.


async def test_a_service_on_sqlite_reads_inline(tmp_path: Path) -> None:
    inline = Database.for_service(ServiceSettings(data_dir=tmp_path, service_name="probe"))
    threaded = Database.for_service(
        ServiceSettings(data_dir=tmp_path, service_name="probe", database_sqlite_inline=False)
    )
    try:
        assert isinstance(inline.reader, InlineReader)
        assert isinstance(threaded.reader, ConnectionReader)
    finally:
        await inline.dispose()
        await threaded.dispose()


@pytest.fixture
async def any_database() -> AsyncIterator[Database]:
    """SQLite (inline), or PostgreSQL under `make test-postgres`."""
    async with temporary_database("reader") as url:
        database = Database(url, inline_sqlite=True)
        async with database.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"))
        yield database
        await database.dispose()


ITEMS = table("item", column("id"), column("name"))
NAMES = select(ITEMS.c.name).order_by(ITEMS.c.id)


async def test_each_read_sees_the_latest_commit(any_database: Database) -> None:
    reader = any_database.reader
    assert await reader.rows(NAMES) == []
    assert await reader.scalar(select(func.count()).select_from(ITEMS)) == 0
    async with any_database.sessionmaker() as session:
        await session.execute(insert(ITEMS).values(id=1, name="one"))
        assert await reader.rows(NAMES) == []  # not committed yet
        await session.commit()
    rows = await reader.rows(NAMES)
    assert [row.name for row in rows] == ["one"]
    by_id = select(ITEMS.c.name).where(ITEMS.c.id == bindparam("id"))
    assert await reader.scalar(by_id, {"id": 1}) == "one"
    assert await reader.scalar(by_id, {"id": 2}) is None


async def test_a_reader_holds_no_connection_between_statements(any_database: Database) -> None:
    """Rows come back whole, so a thousand reads in flight at once need no pool slot."""
    async with any_database.sessionmaker() as session:
        await session.execute(insert(ITEMS), [{"id": i, "name": str(i)} for i in range(1, 51)])
        await session.commit()

    # The pool the reader takes its connections from (a private one when inline).
    engine = any_database._inline_reader_engine or any_database.engine.sync_engine
    held: list[int] = []

    async def read_then_wait() -> int:
        rows = await any_database.reader.rows(NAMES)
        held.append(engine.pool.checkedout())  # kept across the await below?
        await asyncio.sleep(0)
        return len(rows)

    lengths = await asyncio.wait_for(
        asyncio.gather(*(read_then_wait() for _ in range(1000))), timeout=30
    )
    assert set(lengths) == {50}
    assert engine.pool.checkedout() == 0
    if any_database._inline_reader_engine is not None:
        # Inline, no other read can be halfway through when one is sampled.
        assert set(held) == {0}


async def test_the_inline_reader_cannot_write(database: Database) -> None:
    with pytest.raises(OperationalError, match="readonly"):
        await database.reader.rows(text("INSERT INTO item (id, name) VALUES (1, 'x')"))
    assert await database.reader.rows(NAMES) == []


# The session opener: a session only for the route that asks for one.


async def test_an_opened_session_commits_when_the_block_ends(any_database: Database) -> None:
    app = FastAPI()
    app.state.database = any_database
    request = Request({"type": "http", "app": app})
    open_session = await get_session_opener(request)

    async def add(item_id: int, name: str, *, fail: bool = False) -> None:
        async with open_session() as session:
            await session.execute(insert(ITEMS).values(id=item_id, name=name))
            if fail:
                raise RuntimeError(name)

    await add(1, "kept")
    with pytest.raises(RuntimeError):
        await add(2, "dropped", fail=True)
    assert [row.name for row in await any_database.reader.rows(NAMES)] == ["kept"]


# Reused statements: compiled once and run on the driver itself, where nothing converts.

KINDS = Table(
    "kinds",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(50)),
    Column("score", Float),
    Column("seen_at", DateTime(timezone=True)),
)


@pytest.fixture
async def kinds(database: Database) -> Database:
    async with database.engine.begin() as connection:
        await connection.run_sync(KINDS.metadata.create_all)
        await connection.execute(
            insert(KINDS),
            [
                {"id": 1, "name": "Ёж", "score": 7.5, "seen_at": datetime(2026, 1, 2, tzinfo=UTC)},
                {"id": 2, "name": None, "score": None, "seen_at": None},
            ],
        )
    return database


BY_ID = select(KINDS.c.id, KINDS.c.name.label("title"), KINDS.c.score).where(
    KINDS.c.id == bindparam("id")
)


async def test_a_reused_statement_reads_what_sqlalchemy_reads(kinds: Database) -> None:
    reader = kinds.reader
    assert isinstance(reader, InlineReader)
    assert DirectStatement.of(BY_ID, kinds.engine.dialect) is not None
    for item_id in (1, 2, 3):
        expected = await reader.rows(BY_ID, {"id": item_id})
        found = await reader.rows(reused(BY_ID), {"id": item_id})
        assert [tuple(row) for row in found] == [tuple(row) for row in expected]
        assert all(row._fields == ("id", "title", "score") for row in found)
    assert (await reader.rows(reused(BY_ID), {"id": 1}))[0].title == "Ёж"
    everything = reused(select(func.count()).select_from(KINDS))
    assert await reader.scalar(everything) == 2
    assert await reader.scalar(reused(BY_ID), {"id": 3}) is None


async def test_statements_that_convert_or_expand_take_the_ordinary_way(kinds: Database) -> None:
    dialect = kinds.engine.dialect
    dated = reused(select(KINDS.c.seen_at).where(KINDS.c.id == 1))
    listed = reused(select(KINDS.c.id).where(KINDS.c.id.in_([1, 2])).order_by(KINDS.c.id))
    assert DirectStatement.of(dated, dialect) is None
    assert DirectStatement.of(listed, dialect) is None
    assert await kinds.reader.scalar(dated) == datetime(2026, 1, 2)  # SQLite keeps no zone
    assert [row.id for row in await kinds.reader.rows(listed)] == [1, 2]


async def test_a_reused_statement_fails_as_sqlalchemy_would(kinds: Database) -> None:
    missing = reused(select(column("id")).select_from(table("nowhere")))
    with pytest.raises(OperationalError, match="no such table"):
        await kinds.reader.rows(missing)
    with pytest.raises(SQLAlchemyError, match="A value is required for bind parameter 'id'"):
        await kinds.reader.rows(reused(BY_ID), {})
    assert len(await kinds.reader.rows(reused(BY_ID), {"id": 1})) == 1  # still usable
