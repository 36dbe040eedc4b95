"""Helpers for the services' test suites (imported by tests only).

- `temporary_database(service)`: a fresh, empty database for one test session: a SQLite
  file by default, or a new PostgreSQL database when `TEST_DATABASE_URL` names a server
  (`postgresql://postgres@127.0.0.1:5432/postgres`); dropped afterwards.
- `migrated_database(service, migrations)`: the same, brought to the latest schema.
- `rolled_back_session(engine)`: a session inside a transaction that is rolled back, so
  each test sees the same data whatever the others did. The session's own commits
  become savepoints.
- `use_session(app, session)`: the app's session and reader dependencies answer with
  that session, so a test's reads see its own uncommitted writes.
- `schema_drift(migrations, metadata)`: what the migrations and the models disagree on.
- `threaded_callables(app)`: route functions and dependencies FastAPI runs in a thread.
- `write_key_pair(folder, algorithm)`: a new RS256 or EdDSA key pair as PEM files.
"""

import asyncio
import inspect
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import Executable, MetaData, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from shared.db import (
    Params,
    Rows,
    SessionOpener,
    committing,
    create_engine,
    get_reader,
    get_session,
    get_session_opener,
)
from shared.migrations import upgrade

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
async def migrated_database(service: str, migrations: Path) -> AsyncIterator[str]:
    async with temporary_database(service) as url:
        await asyncio.to_thread(upgrade, migrations, url)
        yield url


class SessionReader:
    """A `shared.db.Reader` that reads in a session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows(self, statement: Executable, parameters: Params = None, /) -> Rows:
        return (await self.session.execute(statement, parameters)).all()

    async def scalar(self, statement: Executable, parameters: Params = None, /) -> Any:
        return await self.session.scalar(statement, parameters)


def use_session(app: FastAPI, session: AsyncSession) -> None:
    """Swap the app's sessions for the test's, committing and rolling back as
    `shared.db.get_session` does (its commits are savepoints of the test's transaction),
    and read in it too."""
    reader = SessionReader(session)

    async def session_dependency() -> AsyncIterator[AsyncSession]:
        async with committing(session):
            yield session

    async def session_opener() -> SessionOpener:
        return lambda: committing(session)

    async def read_in_session() -> SessionReader:
        return reader

    app.dependency_overrides[get_session] = session_dependency
    app.dependency_overrides[get_session_opener] = session_opener
    app.dependency_overrides[get_reader] = read_in_session


async def schema_drift(migrations: Path, metadata: MetaData) -> list[Any]:
    """Alembic's list of differences between the migrated schema and the models."""
    async with migrated_database("schema", migrations) as url:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
                )
        finally:
            await engine.dispose()


def threaded_callables(app: FastAPI) -> list[str]:
    """The route functions and dependencies of `app` written as plain functions, which
    FastAPI runs in a worker thread: a thread hand-off per request for no gain when the
    function never blocks (bench/ measured it in the catalog and the auth service)."""
    found: set[str] = set()

    def visit(dependant: Dependant) -> None:
        call = dependant.call
        if call is not None:
            function = call if inspect.isroutine(call) else type(call).__call__
            if not (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
                found.add(f"{call.__module__}.{getattr(call, '__qualname__', call)}")
        for sub in dependant.dependencies:
            visit(sub)

    def routes(items: list[Any]) -> None:
        for route in items:
            if isinstance(route, APIRoute):
                visit(route.dependant)
            elif (router := getattr(route, "original_router", None)) is not None:
                routes(router.routes)  # a router included with include_router

    routes(app.router.routes)
    return sorted(found)


def write_key_pair(folder: Path, algorithm: str = "EdDSA", name: str = "jwt") -> tuple[Path, Path]:
    """A new key pair for `algorithm` (RS256 or EdDSA), written to `folder` as
    `{name}-private.pem` (PKCS#8) and `{name}-public.pem`: (private, public)."""
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ed25519.Ed25519PrivateKey.generate()
    )
    private, public = folder / f"{name}-private.pem", folder / f"{name}-public.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public
