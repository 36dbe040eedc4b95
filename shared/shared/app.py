"""The app factory every service builds on: middleware, errors, health, metrics, lifespan."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.db import Database
from shared.errors import ErrorBody, install_error_handlers
from shared.health import health_router
from shared.logging import RequestContextMiddleware, configure_logging
from shared.metrics import MetricsMiddleware, metrics_router
from shared.settings import ServiceSettings

Hook = Callable[[FastAPI], Awaitable[None]]
# A service's migrate entry point (`<service>_service.cli.migrate`): the database URL in,
# a line saying what was done out.
Migrate = Callable[[str], Awaitable[str]]

logger = logging.getLogger(__name__)


class TrailingSlashMiddleware:
    """Serve `/movies/` and `/movies` alike, with no redirect.

    Routes are declared without the slash; this strips it before routing. A redirect
    would point at the service's internal address behind the gateway.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope)
                scope["path"] = path.rstrip("/") or "/"
                raw = scope.get("raw_path")
                if raw:
                    scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


_ERROR_BODY_REF = "#/components/schemas/ErrorBody"
# FastAPI's own validation error shapes, which our handler never sends.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def errors_as_error_body(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as the error handlers answer: every 422 is our ErrorBody
    (`{message, code, errors}`), never FastAPI's default `HTTPValidationError`."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas.setdefault("ErrorBody", error_schema)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            answer = (
                operation.get("responses", {}).get("422") if isinstance(operation, dict) else None
            )
            if answer is None:
                continue
            answer["description"] = "Unprocessable Content: the request is not valid."
            answer["content"] = {"application/json": {"schema": {"$ref": _ERROR_BODY_REF}}}
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def _install_openapi(app: FastAPI) -> None:
    """`app.openapi()` builds FastAPI's document once, then corrects it (see above)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors_as_error_body(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented recipe


def create_app(
    *,
    title: str,
    description: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter],
    database: Database | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    middleware: Sequence[Middleware] = (),
    migrate: Migrate | None = None,
) -> FastAPI:
    """A service's app. `middleware` is the service's own, innermost (closest to routes).

    With `settings.prepare_on_start`, `migrate` (the service's migrate entry point) runs
    before the `on_startup` hooks and before any request is served.
    """
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    database = database or Database.for_service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.prepare_on_start and migrate is not None:
            logger.info("%s", await migrate(settings.database_url))
        for hook in on_startup:
            await hook(app)
        try:
            yield
        finally:
            for hook in on_shutdown:
                await hook(app)
            await database.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        redirect_slashes=False,
        # Metrics are Prometheus' (shared.metrics); FastAPI's native OpenTelemetry would
        # only ask the environment for providers on every request (bench/).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.database = database
    install_error_handlers(app)
    _install_openapi(app)
    app.include_router(health_router())
    app.include_router(metrics_router(database))
    for router in routers:
        app.include_router(router)
    # Each add wraps what is there: the service's own go innermost, and the request id is
    # set before anything else runs or logs. The metrics see every request (a service's
    # cache answers too) with the path the routes see (no trailing slash).
    for item in reversed(middleware):
        app.add_middleware(item.cls, *item.args, **item.kwargs)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(TrailingSlashMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app
