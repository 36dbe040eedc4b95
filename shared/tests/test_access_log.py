"""The access line: one JSON object per request with every field an operator filters on."""

import io
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from shared.app import create_app
from shared.logging import user_id_var
from shared.settings import ServiceSettings

router = APIRouter()


@router.get("/me")
async def read_me() -> dict[str, str]:
    user_id_var.set("7")  # what the user service's token dependency does
    return {"id": "7"}


@router.get("/public")
async def read_public() -> list[str]:
    return []


@pytest.fixture
async def json_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FastAPI, io.StringIO]]:
    output = io.StringIO()
    monkeypatch.setattr(sys, "stderr", output)  # the log handler writes to sys.stderr
    settings = ServiceSettings(
        service_name="probe", data_dir=tmp_path, environment="test", log_format="json"
    )
    app = create_app(title="probe", description="", settings=settings, routers=[router])
    yield app, output
    await app.state.database.dispose()


def access_lines(output: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == "access"]


async def test_one_json_access_line_per_request_with_every_field(
    json_app: tuple[FastAPI, io.StringIO],
) -> None:
    app, output = json_app
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://probe.test"
    ) as client:
        await client.get("/me/", headers={"X-Request-ID": "req-me"})
        await client.get("/public", headers={"X-Request-ID": "req-public"})
    me, public = access_lines(output)
    assert me.keys() >= {
        "time",
        "level",
        "service",
        "request_id",
        "method",
        "path",
        "status",
        "duration_ms",
        "user_id",
    }
    assert me["level"] == "info"
    assert me["service"] == "probe"
    assert me["request_id"] == "req-me"
    assert (me["method"], me["path"], me["status"]) == ("GET", "/me/", 200)
    assert isinstance(me["duration_ms"], float | int)
    assert me["duration_ms"] >= 0
    assert me["user_id"] == "7"
    assert me["time"].endswith("+00:00")
    # No user on a public request: the field is left out rather than null.
    assert public["request_id"] == "req-public"
    assert "user_id" not in public


async def test_a_request_without_an_id_gets_a_new_one_each_time(tmp_path: Path) -> None:
    settings = ServiceSettings(service_name="probe", data_dir=tmp_path, environment="test")
    app = create_app(title="probe", description="", settings=settings, routers=[router])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe.test") as client:
        ids = [(await client.get("/public")).headers["X-Request-ID"] for _ in range(200)]
        given = await client.get("/public", headers={"X-Request-ID": "bad id!"})
    await app.state.database.dispose()
    assert len(set(ids)) == len(ids)
    assert all(len(value) == 32 and set(value) <= set("0123456789abcdef") for value in ids)
    assert given.headers["X-Request-ID"] not in ("bad id!", *ids)
