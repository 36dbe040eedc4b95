"""shared.db: units of work that declare themselves writers (BEGIN IMMEDIATE on SQLite),
the readers and their SQLite fast path, and the dependencies routes take."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
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
    event,
    func,
    insert,
    select,
    table,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from shared.app import create_app
from shared.db import (
    ConnectionReader,
    Database,
    DirectStatement,
    SqliteReader,
    WriterDep,
    get_writer,
    reused,
)
from shared.settings import ServiceSettings
from testkit.database import temporary_database


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}", sqlite_reader=True)
    async with database.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"))
    yield database
    await database.dispose()


@pytest.fixture
async def any_database() -> AsyncIterator[Database]:
    """SQLite (its fast reader), or PostgreSQL under `make test-postgres`."""
    async with temporary_database("reader") as url:
        database = Database(url, sqlite_reader=True)
        async with database.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"))
            await connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INT)"))
            await connection.execute(text("INSERT INTO counter (id, n) VALUES (1, 0)"))
        yield database
        await database.dispose()


ITEMS = table("item", column("id"), column("name"))
NAMES = select(ITEMS.c.name).order_by(ITEMS.c.id)
COUNTER = table("counter", column("id"), column("n"))


# Units of work: the writers.


async def test_a_unit_of_work_commits_when_the_block_ends(any_database: Database) -> None:
    app = FastAPI()
    app.state.database = any_database
    writer = await get_writer(Request({"type": "http", "app": app}))

    async def add(item_id: int, name: str, *, fail: bool = False) -> None:
        async with writer() as session:
            await session.execute(insert(ITEMS).values(id=item_id, name=name))
            if fail:
                raise RuntimeError(name)

    await add(1, "kept")
    with pytest.raises(RuntimeError):
        await add(2, "dropped", fail=True)
    assert [row.name for row in await any_database.reader.rows(NAMES)] == ["kept"]


async def test_concurrent_read_then_write_units_lose_nothing(any_database: Database) -> None:
    """Each unit reads the counter, lets the others run, then writes what it read plus
    one. Begun IMMEDIATE on SQLite, each waits for the write lock before its read, so
    none fails on a snapshot another made stale ("database is locked", which a deferred
    BEGIN gives here at once, without waiting) and no increment is lost. PostgreSQL
    (READ COMMITTED) would lose increments this way; the row lock makes it wait too."""
    by_one = 30
    lock_row = any_database.engine.dialect.name != "sqlite"

    async def increment() -> None:
        async with any_database.writer() as session:
            read = select(COUNTER.c.n).where(COUNTER.c.id == 1)
            n = await session.scalar(read.with_for_update() if lock_row else read)
            assert n is not None
            await asyncio.sleep(0)  # every other unit starts meanwhile
            await session.execute(update(COUNTER).where(COUNTER.c.id == 1).values(n=n + 1))

    results = await asyncio.wait_for(
        asyncio.gather(*(increment() for _ in range(by_one)), return_exceptions=True), 60
    )
    assert [r for r in results if r is not None] == []
    assert await any_database.reader.scalar(select(COUNTER.c.n)) == by_one


async def test_concurrent_read_then_write_requests_all_succeed(any_database: Database) -> None:
    """The same, as requests to an app built by the shared factory: every one is a 200."""
    router = APIRouter()

    @router.post("/increment")
    async def increment(writer: WriterDep) -> int:
        async with writer() as session:
            read = select(COUNTER.c.n).where(COUNTER.c.id == 1)
            if session.get_bind().dialect.name != "sqlite":
                read = read.with_for_update()
            n = await session.scalar(read)
            assert n is not None
            await asyncio.sleep(0)
            await session.execute(update(COUNTER).where(COUNTER.c.id == 1).values(n=n + 1))
        return int(n) + 1

    settings = ServiceSettings(service_name="probe", environment="test")
    app = create_app(
        title="probe", description="", settings=settings, routers=[router], database=any_database
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe.test") as client:
        responses = await asyncio.wait_for(
            asyncio.gather(*(client.post("/increment") for _ in range(30))), 60
        )
    assert [r.status_code for r in responses] == [200] * 30
    assert sorted(r.json() for r in responses) == list(range(1, 31))


async def test_a_writer_on_sqlite_begins_immediate_and_others_plainly(database: Database) -> None:
    sent: list[str] = []

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    async with database.writer() as session:
        await session.execute(insert(ITEMS).values(id=1, name="one"))
    async with database.engine.begin() as connection:  # what migrations and tests use
        await connection.execute(select(ITEMS.c.id))
    assert [s for s in sent if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE", "BEGIN"]


async def test_a_waiting_writer_leaves_the_event_loop_free(database: Database) -> None:
    """The second unit waits for the first one's lock in aiosqlite's thread: meanwhile the
    loop serves readers, and the first can finish."""
    first_holds = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with database.writer() as session:
            await session.execute(insert(ITEMS).values(id=1, name="first"))
            first_holds.set()
            await release.wait()
        order.append("first")

    async def second() -> None:
        await first_holds.wait()
        async with database.writer() as session:
            count = await session.scalar(select(func.count()).select_from(ITEMS))
            await session.execute(insert(ITEMS).values(id=2, name=f"second after {count}"))
        order.append("second")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_holds.wait()
    for _ in range(20):  # the loop turns and reads while the second waits
        assert await database.reader.rows(NAMES) == []
        await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    assert order == ["first", "second"]
    names = [row.name for row in await database.reader.rows(NAMES)]
    assert names == ["first", "second after 1"]  # the second read the first's commit


async def test_a_failed_unit_rolls_back_and_the_next_one_writes(database: Database) -> None:
    async with database.writer() as session:
        await session.execute(insert(ITEMS).values(id=1, name="one"))

    async def add_two_then_a_duplicate() -> None:
        async with database.writer() as session:
            await session.execute(insert(ITEMS).values(id=2, name="two"))
            await session.execute(insert(ITEMS).values(id=1, name="again"))

    with pytest.raises(IntegrityError):
        await add_two_then_a_duplicate()
    async with database.writer() as session:
        await session.execute(insert(ITEMS).values(id=3, name="three"))
    assert [row.name for row in await database.reader.rows(NAMES)] == ["one", "three"]


# Readers: each statement on its own, its rows whole, no connection held in between.


async def test_which_reader_a_database_gets(tmp_path: Path) -> None:
    fast = Database.for_service(ServiceSettings(data_dir=tmp_path, service_name="probe"))
    plain = Database.for_service(
        ServiceSettings(data_dir=tmp_path, service_name="probe", database_sqlite_inline=False)
    )
    in_memory = Database("sqlite+aiosqlite:///:memory:", sqlite_reader=True)
    with_options = Database(
        f"sqlite+aiosqlite:///{tmp_path / 'x.db'}?timeout=3", sqlite_reader=True
    )
    try:
        assert isinstance(fast.reader, SqliteReader)
        for database in (plain, in_memory, with_options):
            assert isinstance(database.reader, ConnectionReader)
    finally:
        for database in (fast, plain, in_memory, with_options):
            await database.dispose()


async def test_each_read_sees_the_latest_commit(any_database: Database) -> None:
    reader = any_database.reader
    assert await reader.rows(NAMES) == []
    assert await reader.scalar(select(func.count()).select_from(ITEMS)) == 0
    async with any_database.writer() as session:
        await session.execute(insert(ITEMS).values(id=1, name="one"))
        await session.flush()
        assert await reader.rows(NAMES) == []  # not committed yet
    rows = await reader.rows(NAMES)
    assert [row.name for row in rows] == ["one"]
    by_id = select(ITEMS.c.name).where(ITEMS.c.id == bindparam("id"))
    assert await reader.scalar(by_id, {"id": 1}) == "one"
    assert await reader.scalar(by_id, {"id": 2}) is None


def pool_traffic(database: Database) -> tuple[Counter[str], Counter[str]]:
    """(checkouts, checkins) of each of the database's pools, by role, from now on."""
    checkouts: Counter[str] = Counter()
    checkins: Counter[str] = Counter()
    for role, pool in database.pools().items():
        event.listen(pool, "checkout", lambda *_args, role=role: checkouts.update([role]))
        event.listen(pool, "checkin", lambda *_args, role=role: checkins.update([role]))
    return checkouts, checkins


async def test_a_reader_holds_no_connection_between_statements(any_database: Database) -> None:
    """Rows come back whole, so a thousand reads in flight at once need no pool slot."""
    async with any_database.writer() as session:
        await session.execute(insert(ITEMS), [{"id": i, "name": str(i)} for i in range(1, 51)])
    checkouts, checkins = pool_traffic(any_database)

    async def read_then_wait() -> int:
        rows = await any_database.reader.rows(NAMES)
        await asyncio.sleep(0)
        return len(rows)

    lengths = await asyncio.wait_for(
        asyncio.gather(*(read_then_wait() for _ in range(1000))), timeout=60
    )
    assert set(lengths) == {50}
    if isinstance(any_database.reader, ConnectionReader):  # PostgreSQL: the readers' pool
        assert checkouts["reader"] == 1000
    assert checkins == checkouts  # every connection the readers took went back


async def test_statements_read_together_share_one_checkout(any_database: Database) -> None:
    """`together()`: one connection for the block (one checkout, one ping), given back
    when the block ends, and each statement still sees the latest commit."""
    checkouts, checkins = pool_traffic(any_database)
    async with any_database.reader.together() as held:
        assert held.dialect == any_database.reader.dialect
        assert await held.rows(NAMES) == []
        async with any_database.writer() as session:
            await session.execute(insert(ITEMS).values(id=1, name="one"))
        assert [row.name for row in await held.rows(NAMES)] == ["one"]
        assert await held.scalar(select(func.count()).select_from(ITEMS)) == 1
        async with held.together() as again:  # nested: the same reader
            assert again is held
    if isinstance(any_database.reader, ConnectionReader):  # PostgreSQL: a pool of its own
        assert checkouts == {"writer": 1, "reader": 1}
    else:  # the SQLite reader reads on its own connection, outside the pool
        assert checkouts == {"writer": 1}
    assert checkins == checkouts


async def test_the_sqlite_reader_cannot_write(database: Database) -> None:
    with pytest.raises(OperationalError, match="readonly"):
        await database.reader.rows(text("INSERT INTO item (id, name) VALUES (1, 'x')"))
    assert await database.reader.rows(NAMES) == []


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
    assert isinstance(reader, SqliteReader)
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
    missing = reused(select(column("id", Integer)).select_from(table("nowhere")))
    with pytest.raises(OperationalError, match="no such table"):
        await kinds.reader.rows(missing)
    with pytest.raises(SQLAlchemyError, match="A value is required for bind parameter 'id'"):
        await kinds.reader.rows(reused(BY_ID), {})
    assert len(await kinds.reader.rows(reused(BY_ID), {"id": 1})) == 1  # still usable
