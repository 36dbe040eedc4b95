"""User service tests.

Ordinary tests share one migrated database (SQLite, or PostgreSQL with TEST_DATABASE_URL)
and run each in a transaction rolled back after it. catalog-service and auth-service are
faked at the HTTP boundary (tests/fakes.py); tokens are minted here with the shared codec.
Tests that need real commits (the races) make their own database: see `committing_app`.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.db import Database
from shared.http import create_client
from shared.jwt import JwtSettings, TokenCodec, TokenType
from testkit.database import migrated_database, rolled_back_session, use_session
from tests.fakes import AUTH_URL, CATALOG_URL, INTERNAL_TOKEN, FakeAuth, FakeCatalog, Upstream
from user_service import cli as user_cli
from user_service.config import UserSettings
from user_service.main import create_app

JWT_SECRET = "a-test-secret-that-is-long-enough-for-hs512-too-" + "0123456789abcdef" * 2
BASE_URL = "http://user.test"

Headers = dict[str, str]
TokenFactory = Callable[..., Headers]


def user_settings(database_url: str, **overrides: object) -> UserSettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": "test",
        "catalog_url": CATALOG_URL,
        "auth_url": AUTH_URL,
        "internal_api_token": INTERNAL_TOKEN,
        **overrides,
    }
    return UserSettings.model_validate(values)


@pytest.fixture(scope="session")
def jwt_settings() -> JwtSettings:
    return JwtSettings(secret=JWT_SECRET)


@pytest.fixture(scope="session")
def signer(jwt_settings: JwtSettings) -> TokenCodec:
    """What the auth service holds: the codec that can sign."""
    return TokenCodec(jwt_settings, can_sign=True)


@pytest.fixture(scope="session")
def bearer(signer: TokenCodec) -> TokenFactory:
    """`bearer(7, "a@x.io")` -> the Authorization header of a fresh access token
    (`session_id=...`: one that names its session, as auth-service's do)."""

    def headers(
        user_id: int = 7,
        email: str = "a@x.io",
        now: float | None = None,
        session_id: str | None = None,
    ) -> Headers:
        issued = signer.issue(
            subject=str(user_id),
            email=email,
            token_type=TokenType.ACCESS,
            now=now,
            session_id=session_id,
        )
        return {"Authorization": f"Bearer {issued.token}"}

    return headers


@pytest.fixture(scope="session")
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture(scope="session")
async def http_client(upstream: Upstream) -> AsyncIterator[httpx.AsyncClient]:
    client = create_client(transport=httpx.MockTransport(upstream.handle))
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    async with migrated_database("user", user_cli.migrate) as url:
        yield url


@pytest.fixture(scope="session")
async def app(
    database_url: str, jwt_settings: JwtSettings, http_client: httpx.AsyncClient
) -> AsyncIterator[FastAPI]:
    application = create_app(
        user_settings(database_url), jwt_settings=jwt_settings, http_client=http_client
    )
    yield application
    await application.state.database.dispose()


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> AsyncEngine:
    database: Database = app.state.database
    return database.engine


@pytest.fixture
def catalog(upstream: Upstream) -> FakeCatalog:
    upstream.catalog = FakeCatalog()
    return upstream.catalog


@pytest.fixture
def auth_service(upstream: Upstream) -> FakeAuth:
    upstream.auth = FakeAuth(passwords={7: "old password 1", 8: "other password 8"})
    return upstream.auth


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with rolled_back_session(engine) as session:
        yield session


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
async def client(
    app: FastAPI, session: AsyncSession, catalog: FakeCatalog, auth_service: FakeAuth
) -> AsyncIterator[httpx.AsyncClient]:
    use_session(app, session)
    app.state.genre_cache.clear()
    async with serve(app) as client:
        yield client
    app.dependency_overrides.clear()


@pytest.fixture
async def committing_app(
    jwt_settings: JwtSettings,
    http_client: httpx.AsyncClient,
    catalog: FakeCatalog,
    auth_service: FakeAuth,
) -> AsyncIterator[FastAPI]:
    """An app on a database of its own, whose sessions really commit (no overrides)."""
    async with migrated_database("user_race", user_cli.migrate) as url:
        application = create_app(
            user_settings(url), jwt_settings=jwt_settings, http_client=http_client
        )
        yield application
        await application.state.database.dispose()
