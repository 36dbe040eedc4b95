import httpx

from user_service.config import UserSettings
from user_service.main import create_app


async def test_health_answers(tmp_path) -> None:
    app = create_app(UserSettings(data_dir=tmp_path, environment="test"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://user.test") as client:
        assert (await client.get("/health/")).json() == {"status": "ok"}
        assert (await client.get("/health/ready")).json() == {"status": "ready"}
    await app.state.database.dispose()
