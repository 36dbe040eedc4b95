"""Prometheus metrics, the same in every service: `GET /metrics` (not routed by the gateway).

- `MetricsMiddleware` (pure ASGI) counts every HTTP request and times it, labelled by
  method, route template (`/movies/{movie_id}`, never the raw path, so that ids do not
  make a new series each) and status code. A request that matches no route is labelled
  `route="unmatched"`.
- `metrics_router(database)` serves the text exposition format: the process's default
  registry (these request metrics, the counters below, and the process and Python
  collectors of prometheus-client) plus the database pool gauges of this app's engine.
- `login_failures_total` and `refresh_reuse_detections_total` are incremented by the
  auth service; they live here so that every service exposes one set of names.

One process serves one service (scale with replicas, not uvicorn workers), so the
default, single-process registry is the right one.
"""

from collections.abc import Iterable
from time import perf_counter
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import Database

# The `*_created` timestamp series double the output and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]

UNMATCHED_ROUTE = "unmatched"

http_requests_total = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
http_request_duration_seconds = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, in seconds.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

login_failures_total = Counter(
    "login_failures_total",
    "Failed logins (unknown email or wrong password). The auth service increments it.",
)
"""Failed logins: the auth service calls `login_failures_total.inc()` on each one."""

refresh_reuse_detections_total = Counter(
    "refresh_reuse_detections_total",
    "Retired refresh tokens presented again (the family is revoked). "
    "The auth service increments it.",
)
"""Refresh-token reuse (theft) detections: the auth service calls `.inc()` on each one."""


def _template(route: object) -> str | None:
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else None


class MetricsMiddleware:
    """Counts and times every HTTP request; pure ASGI like the logging middleware.

    The route comes from the scope, where the router writes the one it chose. A request
    answered before it reached the router (by a cache in a service's middleware) is
    matched against the routes already seen here, and then against the app's top-level
    routes; a route that matches the path but not the method (405) names it too.
    Place this middleware inside the trailing-slash one: it must see the path that the
    routes are matched with.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._seen: dict[str, BaseRoute] = {}
        # The counter and histogram of each (method, route, status): `labels()` looks them
        # up under a lock on every call.
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def route_template(self, scope: Scope) -> str:
        """The template of the request's route (`/movies/{movie_id}`), or "unmatched"."""
        route = scope.get("route")
        template = _template(route)
        if template:
            if isinstance(route, BaseRoute) and template not in self._seen:
                self._seen[template] = route
            return template
        router = getattr(scope.get("app"), "router", None)
        partial: str | None = None
        for candidate in (*self._seen.values(), *getattr(router, "routes", ())):
            if not isinstance(candidate, BaseRoute) or _template(candidate) is None:
                continue
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                return _template(candidate) or UNMATCHED_ROUTE
            if match is Match.PARTIAL and partial is None:
                partial = _template(candidate)
        return partial or UNMATCHED_ROUTE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            labels = (scope["method"], self.route_template(scope), str(status))
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = (
                    http_requests_total.labels(*labels),
                    http_request_duration_seconds.labels(*labels),
                )
            series[0].inc()
            series[1].observe(perf_counter() - started)


class DatabasePoolCollector(Collector):
    """Gauges of the database's connection pools, read at scrape time, labelled by
    role (`pool`: "writer", and "reader" where the reads have a pool of their own).

    Only queue pools (PostgreSQL, SQLite files) keep these numbers; for other pools
    (an in-memory SQLite database) nothing is reported.
    """

    _GAUGES = (
        ("db_pool_size", "Connections the pool keeps open."),
        ("db_pool_checked_out", "Connections in use now."),
        ("db_pool_checked_in", "Idle connections in the pool."),
        ("db_pool_overflow", "Connections open beyond the pool size."),
    )

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterable[Metric]:
        pools = {
            role: pool
            for role, pool in self.database.pools().items()
            if isinstance(pool, QueuePool)
        }
        if not pools:
            return
        families = [GaugeMetricFamily(name, text, labels=["pool"]) for name, text in self._GAUGES]
        for role, pool in pools.items():
            readings = (pool.size(), pool.checkedout(), pool.checkedin(), max(0, pool.overflow()))
            for family, value in zip(families, readings, strict=True):
                family.add_metric([role], value)
        yield from families


def metrics_router(database: Database) -> APIRouter:
    """`GET /metrics` in the Prometheus text format (left out of the OpenAPI schema)."""
    pool_registry = CollectorRegistry(auto_describe=False)
    pool_registry.register(DatabasePoolCollector(database))
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def read_metrics() -> Response:
        """Every metric of this process, and the pool of this app's database."""
        body = generate_latest(REGISTRY) + generate_latest(pool_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router


def sample_value(name: str, labels: dict[str, str] | None = None) -> float:
    """The current value of one sample in the default registry (0 when absent); for tests."""
    value: Any = REGISTRY.get_sample_value(name, labels or {})
    return float(value or 0.0)
