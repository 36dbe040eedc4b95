"""`/metrics` and the request metrics, on a tiny app built with the app factory."""

import re
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.app import create_app
from shared.db import is_sqlite
from shared.errors import NotFound
from shared.metrics import (
    login_failures_total,
    refresh_reuse_detections_total,
    sample_value,
)
from shared.settings import ServiceSettings
from testkit.database import temporary_database

router = APIRouter()


@router.get("/things/{thing_id}")
async def read_thing(thing_id: int) -> dict[str, int]:
    if thing_id == 404:
        raise NotFound("No such thing.")
    return {"id": thing_id}


@router.get("/crash")
async def crash() -> None:
    raise RuntimeError("boom")


def requests_count(route: str, status: str, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": status}
    return sample_value("http_requests_total", labels)


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> [(labels, value)] of a text exposition."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


async def test_metrics_are_served_in_the_prometheus_text_format(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = parse(response.text)
    for name in (
        "login_failures_total",
        "refresh_reuse_detections_total",
        "db_pool_size",
        "db_pool_checked_out",
        "db_pool_checked_in",
        "db_pool_overflow",
        "process_cpu_seconds_total",
    ):
        assert name in samples, name
    assert not any(name.endswith("_created") for name in samples)
    assert (await client.get("/metrics/")).status_code == 200  # the slash rule holds here too


async def test_metrics_route_is_not_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/metrics" not in paths
    assert "/health/ready" in paths


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    ok_before = requests_count("/things/{thing_id}", "200")
    missing_before = requests_count("/things/{thing_id}", "404")
    invalid_before = requests_count("/things/{thing_id}", "422")
    for path in ("/things/1", "/things/2/", "/things/3"):
        assert (await client.get(path)).status_code == 200
    assert (await client.get("/things/404")).status_code == 404
    assert (await client.get("/things/abc")).status_code == 422
    assert requests_count("/things/{thing_id}", "200") == ok_before + 3
    assert requests_count("/things/{thing_id}", "404") == missing_before + 1
    assert requests_count("/things/{thing_id}", "422") == invalid_before + 1

    text = (await client.get("/metrics")).text
    assert 'route="/things/1"' not in text  # raw paths never become labels
    durations = {
        labels["status"]: value
        for labels, value in parse(text)["http_request_duration_seconds_count"]
        if labels["route"] == "/things/{thing_id}"
    }
    assert durations["200"] >= 3
    assert durations["404"] >= 1


async def test_unknown_paths_share_one_label(client: httpx.AsyncClient) -> None:
    before = requests_count("unmatched", "404")
    for path in ("/nope", "/nope/1", "/some/other/thing"):
        assert (await client.get(path)).status_code == 404
    assert requests_count("unmatched", "404") == before + 3
    assert "/nope" not in (await client.get("/metrics")).text


async def test_a_crash_is_counted_as_500(client: httpx.AsyncClient) -> None:
    before = requests_count("/crash", "500")
    assert (await client.get("/crash")).status_code == 500
    assert requests_count("/crash", "500") == before + 1


def pool_gauges(text: str) -> dict[tuple[str, str], float]:
    """(gauge, pool) -> value of the `db_pool_*` gauges."""
    return {
        (name, labels["pool"]): value
        for name, samples in parse(text).items()
        if name.startswith("db_pool_")
        for labels, value in samples
    }


async def test_pool_gauges_follow_the_connections_in_use(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    idle = pool_gauges((await client.get("/metrics")).text)
    assert idle[("db_pool_checked_out", "writer")] == 0
    assert {pool for _, pool in idle} == {"writer"}  # a SQLite file's reader has no pool
    async with app.state.database.engine.connect():
        busy = pool_gauges((await client.get("/metrics")).text)
    assert busy[("db_pool_checked_out", "writer")] == 1
    assert busy[("db_pool_size", "writer")] >= 1


async def test_reads_on_postgresql_have_a_pool_of_their_own() -> None:
    """Its connections are in autocommit mode from the start (shared/db/readers.py), and
    its gauges are labelled apart from the writer's."""
    async with temporary_database("metrics") as url:
        if is_sqlite(url):
            pytest.skip("PostgreSQL only (make test-postgres)")
        settings = ServiceSettings(database_url=url, environment="test")
        app = create_app(title="probe", description="", settings=settings, routers=[])
        database = app.state.database
        try:
            assert set(database.pools()) == {"writer", "reader"}
            assert database.reader_engine is not None
            async with database.reader_engine.connect() as connection:
                first = await connection.scalar(text("SELECT txid_current()"))
                second = await connection.scalar(text("SELECT txid_current()"))
            assert first != second  # each statement its own transaction
            async with (
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://probe.test"
                ) as client,
                database.reader.together() as held,
            ):
                assert await held.scalar(text("SELECT 1")) == 1
                busy = pool_gauges((await client.get("/metrics")).text)
            assert busy[("db_pool_checked_out", "reader")] == 1
            assert busy[("db_pool_checked_out", "writer")] == 0
        finally:
            await database.dispose()


async def test_auth_counters_are_exposed(client: httpx.AsyncClient) -> None:
    failures = sample_value("login_failures_total")
    reuses = sample_value("refresh_reuse_detections_total")
    login_failures_total.inc()
    login_failures_total.inc()
    refresh_reuse_detections_total.inc()
    text = (await client.get("/metrics")).text
    assert re.search(rf"^login_failures_total {failures + 2}$", text, re.MULTILINE)
    assert re.search(rf"^refresh_reuse_detections_total {reuses + 1}$", text, re.MULTILINE)


class AnswersThingSeven:
    """Like the catalog's cache: answers one path itself, before the router runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["method"], scope["path"]) == ("GET", "/things/7"):
            await PlainTextResponse("cached")(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def test_answers_from_a_service_middleware_keep_their_route(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="probe", data_dir=tmp_path, environment="test")
    app = create_app(
        title="probe",
        description="",
        settings=settings,
        routers=[router],
        middleware=[Middleware(AnswersThingSeven)],
    )
    before = requests_count("/things/{thing_id}", "200")
    not_allowed_before = requests_count("/things/{thing_id}", "405", method="DELETE")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://probe.test"
    ) as client:
        assert (await client.get("/things/1")).status_code == 200  # through the router
        assert (await client.get("/things/7/")).text == "cached"
        assert (await client.delete("/things/7")).status_code == 405
    await app.state.database.dispose()
    assert requests_count("/things/{thing_id}", "200") == before + 2
    assert requests_count("/things/{thing_id}", "405", method="DELETE") == not_allowed_before + 1


async def test_in_memory_database_has_no_pool_gauges() -> None:
    settings = ServiceSettings(database_url="sqlite+aiosqlite:///:memory:")
    app = create_app(title="probe", description="", settings=settings, routers=[])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://probe.test"
    ) as client:
        response = await client.get("/metrics")
    await app.state.database.dispose()
    assert response.status_code == 200
    assert "db_pool_size" not in response.text
    assert "http_requests_total" in response.text
