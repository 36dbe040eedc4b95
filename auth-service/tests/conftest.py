"""Auth tests: one migrated database per session (SQLite, or PostgreSQL with
TEST_DATABASE_URL); each ordinary test runs in a transaction rolled back after it.

The race tests need real commits and concurrent sessions: they take `committed_app`,
an app on a fresh database of its own, without overrides.
"""

import base64
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from auth_service import cli as auth_cli
from auth_service.config import AuthSettings
from auth_service.main import create_app, install_throttles
from auth_service.throttle import LoginThrottle, MemoryFailureLog, Throttles
from shared.db import Database
from shared.jwt import JwtSettings
from testkit.database import migrated_database, rolled_back_session, use_session

INTERNAL_TOKEN = "internal-" + "x" * 40
PASSWORD = "correct horse battery staple"
# Cheap hashing for tests; the defaults are checked in test_settings.py.
TEST_ARGON2 = {"argon2_memory_kib": 64, "argon2_time_cost": 1, "argon2_parallelism": 1}


def auth_settings(database_url: str, **overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "environment": "test",
        "internal_api_token": INTERNAL_TOKEN,
        "redis_url": None,
        **TEST_ARGON2,
        **overrides,
    }
    return AuthSettings(**values)


def fresh_throttle(
    app: FastAPI, *, clock: Callable[[], float] = time.time, **overrides: Any
) -> LoginThrottle:
    """New in-memory throttles on `app` (login, password change, registration): limits
    from its settings, but for `overrides` (AuthSettings fields); the login throttle."""
    settings: AuthSettings = app.state.settings.model_copy(update=overrides)
    install_throttles(app, Throttles.from_settings(settings, MemoryFailureLog(), clock=clock))
    throttle: LoginThrottle = app.state.throttle
    return throttle


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
        signature,
    )


@pytest.fixture(scope="session")
def jwt_settings() -> JwtSettings:
    return JwtSettings(secret=SecretStr(secrets.token_urlsafe(32)))


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    async with migrated_database("auth", auth_cli.migrate) as url:
        yield url


@pytest.fixture(scope="session")
async def app(database_url: str, jwt_settings: JwtSettings) -> AsyncIterator[FastAPI]:
    application = create_app(auth_settings(database_url), jwt_settings)
    yield application
    await application.state.database.dispose()


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> AsyncEngine:
    database: Database = app.state.database
    return database.engine


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with rolled_back_session(engine) as session:
        yield session


def asgi_client(app: FastAPI, client: tuple[str, int] = ("127.0.0.1", 40000)) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://auth.test")


@pytest.fixture
async def client(app: FastAPI, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    use_session(app, session)
    fresh_throttle(app)
    async with asgi_client(app) as client:
        yield client
    app.dependency_overrides.clear()


@pytest.fixture
def make_client(
    app: FastAPI, session: AsyncSession
) -> Iterator[Callable[[str], httpx.AsyncClient]]:
    """Clients connecting from a chosen address (on the same rolled-back session)."""
    use_session(app, session)
    fresh_throttle(app)

    def make(address: str) -> httpx.AsyncClient:
        return asgi_client(app, (address, 40000))

    yield make
    app.dependency_overrides.clear()


@pytest.fixture
async def committed_app(jwt_settings: JwtSettings) -> AsyncIterator[FastAPI]:
    """An app on a fresh database of its own, committing for real (races, purge)."""
    async with migrated_database("auth_race", auth_cli.migrate) as url:
        application = create_app(auth_settings(url), jwt_settings)
        yield application
        await application.state.database.dispose()


async def register(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> int:
    response = await client.post("/auth/register/", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    user_id: int = response.json()["id"]
    return user_id


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/auth/login/", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


CLOCK_START = 1_000_000.0


class Clock:
    """A throttle's clock that moves only when a test moves it (`clock.now = ...`)."""

    def __init__(self) -> None:
        self.now = CLOCK_START

    def __call__(self) -> float:
        return self.now


def assert_rate_limited(response: httpx.Response, window: int) -> int:
    """A throttle's 429, with a Retry-After within the window; returns the Retry-After."""
    assert response.status_code == 429, response.text
    assert response.json() == {
        "message": "Too many attempts. Try again later.",
        "code": "rate_limited",
    }
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    return retry_after
