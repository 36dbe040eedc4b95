import httpx
from fastapi import FastAPI

from auth_service.config import AuthSettings
from auth_service.main import create_app
from shared.jwt import JwtSettings
from testkit.apps import threaded_callables


async def test_health_answers(tmp_path, jwt_settings: JwtSettings) -> None:
    app = create_app(AuthSettings(data_dir=tmp_path, environment="test"), jwt_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as client:
        assert (await client.get("/health/")).json() == {"status": "ok"}
        assert (await client.get("/health/ready")).json() == {"status": "ready"}
    await app.state.database.dispose()


def test_no_route_or_dependency_runs_in_a_worker_thread(app: FastAPI) -> None:
    """FastAPI runs a plain `def` in a thread: a hand-off per request for nothing."""
    assert threaded_callables(app) == []
