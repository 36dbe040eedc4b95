import asyncio

import httpx

from auth_service import cli
from auth_service.cli import MIGRATIONS
from auth_service.config import AuthSettings
from auth_service.main import create_app
from auth_service.models import metadata
from shared.jwt import JwtSettings
from shared.testing import schema_drift


async def test_migrations_match_the_models() -> None:
    assert await schema_drift(MIGRATIONS, metadata) == []


async def test_migrate_command(tmp_path, capsys) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    assert await asyncio.to_thread(cli.main, ["--database-url", url, "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert await asyncio.to_thread(cli.main, ["--database-url", url, "migrate"]) == 0


async def test_the_service_migrates_its_empty_database_when_asked(
    tmp_path, jwt_settings: JwtSettings
) -> None:
    settings = AuthSettings(data_dir=tmp_path, environment="test", prepare_on_start=True)
    app = create_app(settings, jwt_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as client:
            response = await client.post(
                "/auth/register/", json={"email": "first@example.com", "password": "a" * 12}
            )
    assert response.status_code == 201
    assert response.json()["email"] == "first@example.com"
