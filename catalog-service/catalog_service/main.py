"""The catalog's ASGI app: `uvicorn --factory catalog_service.main:create_app`."""

from fastapi import FastAPI

from catalog_service.config import CatalogSettings
from catalog_service.routes import movies, named
from shared.app import create_app as create_service_app


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    return create_service_app(
        title="Kinoarchive catalog",
        description="Movies, genres and directors (read-only).",
        settings=settings or CatalogSettings(),
        routers=[movies.router, named.genres, named.directors],
    )
