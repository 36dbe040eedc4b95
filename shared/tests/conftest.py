"""A tiny app built with the shared factory around the test module's `router`."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from shared.app import create_app
from shared.settings import ServiceSettings


@pytest.fixture
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = ServiceSettings(service_name="probe", data_dir=tmp_path, environment="test")
    application = create_app(
        title="probe", description="", settings=settings, routers=[request.module.router]
    )
    yield application
    await application.state.database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe.test") as client:
        yield client
