"""The auth service's ASGI app: `uvicorn --factory auth_service.main:create_app`."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from auth_service import MIGRATIONS
from auth_service.config import AuthSettings
from auth_service.passwords import Argon2Parameters, Passwords
from auth_service.routes import auth, internal
from auth_service.throttle import FailureLog, LoginThrottle, MemoryFailureLog, RedisFailureLog
from auth_service.tokens import Tokens, purge_expired
from shared.app import create_app as create_service_app
from shared.db import Database
from shared.jwt import JwtSettings, TokenCodec

logger = logging.getLogger(__name__)


async def purge_periodically(
    database: Database,
    interval: float,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Delete expired refresh-token rows now and then every `interval` seconds."""
    while True:
        try:
            purged = await purge_expired(database)
        except Exception:  # a database outage must not end the loop
            logger.exception("could not purge expired refresh tokens")
        else:
            if purged:
                logger.info("purged %d expired refresh tokens", purged)
        await sleep(interval)


async def _start(app: FastAPI) -> None:
    settings: AuthSettings = app.state.settings
    passwords: Passwords = app.state.passwords
    await passwords.dummy_hash()  # the first unknown-email login costs no more than others
    app.state.purge_task = asyncio.create_task(
        purge_periodically(app.state.database, settings.purge_interval_seconds),
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
    production, without INTERNAL_API_TOKEN and OWASP-grade argon2 parameters."""
    settings = settings or AuthSettings()
    codec = TokenCodec(jwt_settings or JwtSettings(), can_sign=True)
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
        migrations=MIGRATIONS,
    )
    app.state.tokens = Tokens(codec)
    app.state.passwords = Passwords(
        Argon2Parameters.from_settings(settings), concurrency=settings.hash_concurrency
    )
    app.state.throttle = LoginThrottle(
        log,
        prefix=settings.redis_key_prefix,
        max_per_email=settings.login_max_failures_per_email,
        max_per_address=settings.login_max_failures_per_address,
        window_seconds=settings.login_failure_window_seconds,
    )
    return app
