"""The app factory's behaviour, on a tiny app built with it."""

import json
import logging
import sqlite3
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shared.app import create_app
from shared.db import ReaderDep, WriterDep
from shared.errors import (
    Conflict,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    database_unreachable,
    error_responses,
)
from shared.logging import JsonFormatter, request_id_var
from shared.settings import ServiceSettings

router = APIRouter()


class Item(BaseModel):
    name: str
    size: int


@router.get("/things")
async def list_things() -> list[str]:
    return ["a"]


@router.post("/things")
async def create_thing(item: Item) -> Item:
    return item


@router.get("/conflict")
async def conflict() -> None:
    raise Conflict("That email is taken.", code="email_taken")


@router.get("/slow-down")
async def slow_down() -> None:
    raise RateLimited(retry_after=42)


@router.get("/queue-full")
async def queue_full() -> None:
    raise ServiceUnavailable("Too busy.", retry_after=3)


@router.get("/outage")
async def outage() -> None:
    raise ServiceUnavailable()


@router.get("/who")
async def who() -> None:
    raise Unauthorized()


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals: postgresql://user:pw@db-host/x")


@router.get("/database-down")
async def database_down() -> None:
    # What asyncpg raises while PostgreSQL is stopped: no SQLAlchemy wrapper around it.
    raise ConnectionRefusedError(111, "Connect call failed ('db-host', 5432)")


@router.get("/no-such-table")
async def read_a_missing_table(reader: ReaderDep) -> None:
    await reader.rows(text("SELECT * FROM missing_table"))


@router.post("/no-such-table")
async def write_a_missing_table(writer: WriterDep) -> None:
    async with writer() as session:
        await session.execute(text("INSERT INTO missing_table VALUES (1)"))


async def test_trailing_slash_is_served_without_redirect(client: httpx.AsyncClient) -> None:
    for path in ("/things", "/things/", "/things//"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.json() == ["a"]


async def test_domain_errors_render_as_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/conflict")
    assert response.status_code == 409
    assert response.json() == {"message": "That email is taken.", "code": "email_taken"}
    limited = await client.get("/slow-down")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "42"
    assert limited.json()["code"] == "rate_limited"
    unauthorized = await client.get("/who")
    assert unauthorized.headers["www-authenticate"] == "Bearer"


async def test_validation_errors_name_the_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={"name": "x", "size": "big"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == "size"
    assert body["message"].startswith("size:")


async def test_bad_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/things", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body", "message": "The body is not valid JSON."}
    ]


@pytest.mark.parametrize(
    "body",
    [b'{"name": "\xff\xfe"}', b"\xef\xbb\xbf\x0c\xd7", b"[" * 100_000 + b"]" * 100_000],
    ids=["not-utf-8", "garbage", "too-deep"],
)
async def test_undecodable_json_is_422_too(client: httpx.AsyncClient, body: bytes) -> None:
    """Found by the fuzzer: FastAPI answers these with a bare 400 of its own."""
    response = await client.post(
        "/things", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "message": "body: The body is not valid JSON.",
        "code": "validation_error",
        "errors": [{"field": "body", "message": "The body is not valid JSON."}],
    }


def test_openapi_documents_our_error_body(app: FastAPI) -> None:
    """422 is `{message, code, errors}` everywhere, as the handler answers it."""
    document = app.openapi()
    answer = document["paths"]["/things"]["post"]["responses"]["422"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    schemas = document["components"]["schemas"]
    assert {"ErrorBody", "FieldError"} <= set(schemas)
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)
    assert "HTTPValidationError" not in json.dumps(document)
    assert app.openapi() is document  # built once


def test_error_headers_are_documented() -> None:
    responses = error_responses(401, 404, 429, 503)
    assert responses[401]["headers"]["WWW-Authenticate"]["required"] is True
    assert responses[429]["headers"]["Retry-After"]["required"] is True
    assert responses[503]["headers"]["Retry-After"]["required"] is False
    assert "headers" not in responses[404]


async def test_a_503_carries_retry_after_only_when_it_is_known(client: httpx.AsyncClient) -> None:
    busy = await client.get("/queue-full")
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "3"
    assert busy.json() == {"message": "Too busy.", "code": "service_unavailable"}
    down = await client.get("/outage")
    assert down.status_code == 503
    assert "retry-after" not in down.headers
    assert down.json()["code"] == "service_unavailable"
    assert ServiceUnavailable(retry_after=0).retry_after == 1  # never "retry at once"


async def test_unexpected_error_is_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "message": "Something went wrong on our side.",
        "code": "internal_error",
    }
    assert "postgresql" not in response.text
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


async def test_unreachable_database_is_503_not_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/database-down")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "db-host" not in response.text


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_sql_error_is_a_500_with_its_traceback_in_the_log(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    """The database answered, so this is a bug to fix, not an outage to wait out."""
    with caplog.at_level(logging.ERROR):
        response = await client.request(method, "/no-such-table")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "missing_table" not in response.text
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert logged
    assert "no such table" in str(logged[-1].exc_info[1])  # type: ignore[index]


@pytest.mark.parametrize(
    ("error", "unreachable"),
    [
        (sqlite3.OperationalError("database is locked"), "SQLITE_BUSY"),
        (sqlite3.OperationalError("unable to open database file"), "SQLITE_CANTOPEN"),
        (sqlite3.OperationalError("disk I/O error"), "SQLITE_IOERR_WRITE"),
        (sqlite3.OperationalError("no such table: x"), "SQLITE_ERROR"),
        (sqlite3.OperationalError("near 'SELEC': syntax error"), "SQLITE_ERROR"),
    ],
)
def test_which_sqlite_errors_mean_unreachable(error: sqlite3.Error, unreachable: str) -> None:
    error.sqlite_errorname = unreachable
    wrapped = OperationalError("SELECT 1", {}, error)
    assert database_unreachable(wrapped) is (unreachable != "SQLITE_ERROR")


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    wrong = await client.delete("/things")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


async def test_health_checks_the_database(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/health/ready")).json() == {"status": "ready"}


async def test_readiness_fails_when_the_database_is_unreachable() -> None:
    settings = ServiceSettings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(title="probe", description="", settings=settings, routers=[])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://probe.test"
    ) as client:
        assert (await client.get("/health")).status_code == 200
        response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    await app.state.database.dispose()


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord("access", logging.INFO, __file__, 1, "GET /x 200", None, None)
    token = request_id_var.set("req-1")
    try:
        record.request_id = request_id_var.get()
        record.service = "probe"
        record.status = 200
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "req-1"
    assert line["service"] == "probe"
    assert line["status"] == 200
    assert line["message"] == "GET /x 200"


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="probe", data_dir=tmp_path)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/probe.db"
    explicit = ServiceSettings(database_url="postgresql+asyncpg://u@h/d")
    assert explicit.database_url == "postgresql+asyncpg://u@h/d"
