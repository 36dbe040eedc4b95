import asyncio

from auth_service import cli
from auth_service.cli import MIGRATIONS
from auth_service.models import metadata
from shared.testing import schema_drift


async def test_migrations_match_the_models() -> None:
    assert await schema_drift(MIGRATIONS, metadata) == []


async def test_migrate_command(tmp_path, capsys) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    assert await asyncio.to_thread(cli.main, ["--database-url", url, "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert await asyncio.to_thread(cli.main, ["--database-url", url, "migrate"]) == 0
