"""The auth service's ASGI app: `uvicorn --factory auth_service.main:create_app`."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import FastAPI

from auth_service.cli import migrate
from auth_service.config import AuthSettings
from auth_service.passwords import Argon2Parameters, Passwords
from auth_service.routes import auth, internal
from auth_service.throttle import (
    FailureLog,
    LoginThrottle,
    MemoryFailureLog,
    RedisFailureLog,
    Throttles,
)
from auth_service.tokens import Tokens, purge_expired
from shared.app import create_app as create_service_app
from shared.db import Database
from shared.jwt import JwtSettings, TokenCodec

logger = logging.getLogger(__name__)


async def purge_periodically(
    database: Database,
    interval: float,
    *,
    batch_size: int,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Delete expired refresh-token rows and ended sessions now and then every
    `interval` seconds, `batch_size` rows at most per transaction."""
    while True:
        try:
            purged = await purge_expired(database, batch_size)
        except Exception:  # a database outage must not end the loop
            logger.exception("could not purge expired refresh tokens and ended sessions")
        else:
            if purged:
                logger.info("purged %d expired refresh tokens and ended sessions", purged)
        await sleep(interval)


async def _start(app: FastAPI) -> None:
    settings: AuthSettings = app.state.settings
    passwords: Passwords = app.state.passwords
    await passwords.dummy_hash()  # the first unknown-email login costs no more than others
    app.state.purge_task = asyncio.create_task(
        purge_periodically(
            app.state.database,
            settings.purge_interval_seconds,
            batch_size=settings.purge_batch_size,
        ),
        name="purge-refresh-tokens",
    )


async def _stop(app: FastAPI) -> None:
    task: asyncio.Task[None] | None = getattr(app.state, "purge_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    throttle: LoginThrottle = app.state.throttle
    await throttle.log.aclose()
    passwords: Passwords = app.state.passwords
    passwords.close()


def create_app(
    settings: AuthSettings | None = None, jwt_settings: JwtSettings | None = None
) -> FastAPI:
    """Refuses to build (pydantic ValidationError) without a usable JWT key or, in
    production, without INTERNAL_API_TOKEN and OWASP-grade argon2 parameters; refuses
    (ValueError) a session maximum age shorter than the refresh tokens' lifetime."""
    settings = settings or AuthSettings()
    codec = TokenCodec(jwt_settings or JwtSettings(), can_sign=True)
    if settings.session_max_age_seconds < codec.settings.refresh_ttl_seconds:
        raise ValueError(
            "AUTH_SESSION_MAX_AGE_SECONDS must be at least JWT_REFRESH_TTL_SECONDS: "
            "a session cannot end before the refresh tokens it issues."
        )
    log: FailureLog = (
        RedisFailureLog(settings.redis_url) if settings.redis_url else MemoryFailureLog()
    )
    app = create_service_app(
        title="Kinoarchive auth",
        description="Accounts, token pairs with rotation, throttled login.",
        settings=settings,
        routers=[auth.router, internal.router],
        on_startup=[_start],
        on_shutdown=[_stop],
        migrate=migrate,
    )
    app.state.tokens = Tokens(
        codec,
        session_max_age=timedelta(seconds=settings.session_max_age_seconds),
        max_sessions=settings.max_sessions_per_account,
    )
    app.state.passwords = Passwords(
        Argon2Parameters.from_settings(settings),
        concurrency=settings.hash_concurrency,
        queue_limit=settings.hash_queue_limit,
    )
    install_throttles(app, Throttles.from_settings(settings, log))
    return app


def install_throttles(app: FastAPI, throttles: Throttles) -> None:
    """`app.state.throttle` (logins), `.password_change_limiter`, `.registration_limiter`:
    one store for all (closed once, at shutdown)."""
    app.state.throttle = throttles.login
    app.state.password_change_limiter = throttles.password_change
    app.state.registration_limiter = throttles.registration
