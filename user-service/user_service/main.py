"""The user service's ASGI app: `uvicorn --factory user_service.main:create_app`."""

import httpx
from fastapi import FastAPI

from shared.app import create_app as create_service_app
from shared.http import create_client
from shared.jwt import JwtSettings, TokenCodec
from user_service.catalog import GenreCache
from user_service.cli import migrate
from user_service.config import UserSettings
from user_service.routes import favorites, profile, sessions


def create_app(
    settings: UserSettings | None = None,
    *,
    jwt_settings: JwtSettings | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    """The app; `http_client` replaces the pooled client (tests fake the other services).

    The token codec verifies only: the user service holds no signing key.
    """
    settings = settings or UserSettings()
    codec = TokenCodec(jwt_settings or JwtSettings())

    async def open_http_client(app: FastAPI) -> None:
        if http_client is None:
            app.state.http = create_client(timeout=settings.http_timeout)

    async def close_http_client(app: FastAPI) -> None:
        if http_client is None:
            await app.state.http.aclose()

    app = create_service_app(
        title="Kinoarchive user",
        description="Profiles, password change, sessions and bookmarks.",
        settings=settings,
        routers=[profile.router, sessions.router, favorites.router],
        on_startup=[open_http_client],
        on_shutdown=[close_http_client],
        migrate=migrate,
    )
    app.state.token_codec = codec
    app.state.genre_cache = GenreCache(settings.genre_cache_ttl_seconds)
    if http_client is not None:
        app.state.http = http_client
    return app
