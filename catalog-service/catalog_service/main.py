"""The catalog's ASGI app: `uvicorn --factory catalog_service.main:create_app`."""

from fastapi import FastAPI
from starlette.middleware import Middleware

from catalog_service.cache import CatalogCache, document_revalidation
from catalog_service.cli import migrate
from catalog_service.config import CatalogSettings
from catalog_service.routes import movies, named
from shared.app import create_app as create_service_app
from shared.db import Database


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    settings = settings or CatalogSettings()
    database = Database.for_service(settings)
    routers = [movies.router, named.genres, named.directors]
    cache = Middleware(
        CatalogCache,
        database=database,
        enabled=settings.cache_enabled,
        routes=[route for router in routers for route in router.routes],
        max_entries=settings.cache_max_entries,
        max_bytes=settings.cache_max_bytes,
        max_body=settings.cache_max_body_bytes,
        check_interval=settings.cache_check_interval_seconds,
    )
    app = create_service_app(
        title="Kinoarchive catalog",
        description="Movies, genres and directors (read-only).",
        settings=settings,
        database=database,
        routers=routers,
        middleware=[cache],
        migrate=migrate,
    )
    document_revalidation(app)
    return app
