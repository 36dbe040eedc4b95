"""Databases and sessions for the services' test suites.

- `temporary_database(service)`: a fresh, empty database for one test session: a SQLite
  file by default, or a new PostgreSQL database when `TEST_DATABASE_URL` names a server
  (`postgresql://postgres@127.0.0.1:5432/postgres`); dropped afterwards.
- `migrated_database(service, migrate)`: the same, brought to the latest schema by the
  service's migrate entry point (`<service>_service.cli.migrate`).
- `rolled_back_session(engine)`: a session inside a transaction that is rolled back, so
  each test sees the same data whatever the others did. The session's own commits
  become savepoints.
- `use_session(app, session)`: the app's writer and reader dependencies answer with
  that session, so a test's reads see its own uncommitted writes.
- `schema_drift(migrate, metadata)`: what the migrations and the models disagree on.
"""

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import Executable, MetaData, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from shared.db import (
    Params,
    Rows,
    Writer,
    committing,
    create_engine,
    get_reader,
    get_writer,
)

TEST_DATABASE_ENV = "TEST_DATABASE_URL"


def _asyncpg_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


@asynccontextmanager
async def temporary_database(service: str) -> AsyncIterator[str]:
    server = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if not server or make_url(server).get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"test-{service}-") as folder:
            yield f"sqlite+aiosqlite:///{Path(folder) / (service + '.db')}"
        return
    admin_url = _asyncpg_url(server)
    name = f"test_{service}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def rolled_back_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@asynccontextmanager
async def migrated_database(
    service: str, migrate: Callable[[str], Awaitable[str]]
) -> AsyncIterator[str]:
    async with temporary_database(service) as url:
        await migrate(url)
        yield url


class SessionReader:
    """A `shared.db.Reader` that reads in a session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        bind = session.bind
        assert bind is not None, "the session is bound to one engine or connection"
        self.dialect = bind.dialect.name

    async def rows(self, statement: Executable, parameters: Params = None, /) -> Rows:
        return (await self.session.execute(statement, parameters)).all()

    async def scalar(self, statement: Executable, parameters: Params = None, /) -> Any:
        return await self.session.scalar(statement, parameters)

    def together(self) -> AbstractAsyncContextManager["SessionReader"]:
        return nullcontext(self)


def use_session(app: FastAPI, session: AsyncSession) -> None:
    """Swap the app's writer and reader for the test's session: each unit of work commits
    and rolls back as `shared.db.Database.writer` does, its commits savepoints of the
    test's transaction, and reads see the test's own writes."""
    reader = SessionReader(session)

    async def write_in_session() -> Writer:
        return lambda: committing(session)

    async def read_in_session() -> SessionReader:
        return reader

    app.dependency_overrides[get_writer] = write_in_session
    app.dependency_overrides[get_reader] = read_in_session


async def schema_drift(migrate: Callable[[str], Awaitable[str]], metadata: MetaData) -> list[Any]:
    """Alembic's list of differences between the migrated schema and the models."""
    async with migrated_database("schema", migrate) as url:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                differences: list[Any] = await connection.run_sync(  # alembic says Any
                    lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
                )
                return differences
        finally:
            await engine.dispose()
