import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from auth_service import cli
from auth_service.models import metadata
from shared.db import create_engine
from shared.migrations import upgrade
from shared.testing import temporary_database


async def test_migrations_match_the_models() -> None:
    async with temporary_database("auth_schema") as url:
        await asyncio.to_thread(upgrade, cli.MIGRATIONS, url)
        engine = create_engine(url)
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
        await engine.dispose()
    assert diff == []


async def test_migrate_command(tmp_path, capsys) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    assert await asyncio.to_thread(cli.main, ["--database-url", url, "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert await asyncio.to_thread(cli.main, ["--database-url", url, "migrate"]) == 0
