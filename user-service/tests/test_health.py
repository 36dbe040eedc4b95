import httpx
from fastapi import FastAPI

from shared.jwt import JwtSettings
from testkit.apps import threaded_callables
from tests.conftest import JWT_SECRET
from user_service.config import UserSettings
from user_service.main import create_app


async def test_health_answers(tmp_path) -> None:
    app = create_app(
        UserSettings(data_dir=tmp_path, environment="test"),
        jwt_settings=JwtSettings(secret=JWT_SECRET),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://user.test") as client:
        assert (await client.get("/health/")).json() == {"status": "ok"}
        assert (await client.get("/health/ready")).json() == {"status": "ready"}
    await app.state.database.dispose()


async def test_the_lifespan_opens_and_closes_the_pooled_client(tmp_path) -> None:
    app = create_app(
        UserSettings(data_dir=tmp_path, environment="test", http_read_timeout=2.5),
        jwt_settings=JwtSettings(secret=JWT_SECRET),
    )
    async with app.router.lifespan_context(app):
        client: httpx.AsyncClient = app.state.http
        assert not client.is_closed
        assert client.timeout == httpx.Timeout(connect=1.0, read=2.5, write=2.5, pool=1.0)
    assert client.is_closed


def test_no_route_or_dependency_runs_in_a_worker_thread(app: FastAPI) -> None:
    """FastAPI runs a plain `def` in a thread: a hand-off per request for nothing."""
    assert threaded_callables(app) == []
