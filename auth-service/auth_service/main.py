"""The auth service's ASGI app: `uvicorn --factory auth_service.main:create_app`."""

from fastapi import FastAPI

from auth_service.config import AuthSettings
from shared.app import create_app as create_service_app


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    return create_service_app(
        title="Kinoarchive auth",
        description="Accounts, token pairs with rotation, throttled login.",
        settings=settings or AuthSettings(),
        routers=[],
    )
