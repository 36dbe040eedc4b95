"""The user service's ASGI app: `uvicorn --factory user_service.main:create_app`."""

from fastapi import FastAPI

from shared.app import create_app as create_service_app
from user_service.config import UserSettings


def create_app(settings: UserSettings | None = None) -> FastAPI:
    return create_service_app(
        title="Kinoarchive user",
        description="Profiles, password change and bookmarks.",
        settings=settings or UserSettings(),
        routers=[],
    )
