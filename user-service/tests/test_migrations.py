import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.db import create_engine
from shared.migrations import upgrade
from shared.testing import temporary_database
from user_service.cli import MIGRATIONS, main
from user_service.models import metadata


async def test_migrations_match_the_models() -> None:
    async with temporary_database("user_schema") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url)
        engine = create_engine(url)
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
        await engine.dispose()
    assert diff == []


async def test_migrate_command_is_repeatable(capsys) -> None:
    async with temporary_database("user_cli") as url:
        for _ in range(2):
            assert await asyncio.to_thread(main, ["--database-url", url, "migrate"]) == 0
    assert capsys.readouterr().out.count("user schema is up to date") == 2
