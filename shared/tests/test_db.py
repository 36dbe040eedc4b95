"""SQLite engines: inline calls, and writers queued so that no inline call waits for a lock."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared.db import Database
from shared.settings import ServiceSettings
from shared.sqlite_inline import InlineConnection


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
