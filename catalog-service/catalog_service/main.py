"""The catalog's ASGI app: `uvicorn --factory catalog_service.main:create_app`."""

import logging

from fastapi import FastAPI
from starlette.middleware import Middleware

from catalog_service import MIGRATIONS
from catalog_service.cache import CatalogCache, document_revalidation
from catalog_service.config import CatalogSettings
from catalog_service.routes import movies, named
from shared.app import create_app as create_service_app
from shared.db import Database

logger = logging.getLogger("catalog_service")


async def _seed_if_empty(app: FastAPI) -> None:
    """The bundled films for a catalog without movies (the local run's first start)."""
    from catalog_service.cli import load_into, seed_catalog  # noqa: PLC0415 (alembic)

    report = await load_into(app.state.database, seed_catalog(), replace=False, if_empty=True)
    if report is not None:
        logger.info("seeded the empty catalog: %s", "; ".join(str(report).splitlines()))


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
        migrations=MIGRATIONS,
        on_startup=[_seed_if_empty] if settings.prepare_on_start else [],
    )
    document_revalidation(app)
    return app
