"""Helpers for the services' test suites (imported by tests only).

- `temporary_database(service)`: a fresh, empty database for one test session: a SQLite
  file by default, or a new PostgreSQL database when `TEST_DATABASE_URL` names a server
  (`postgresql://postgres@127.0.0.1:5432/postgres`); dropped afterwards.
- `rolled_back_session(engine)`: a session inside a transaction that is rolled back, so
  each test sees the same data whatever the others did. The session's own commits
  become savepoints.
"""

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

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
