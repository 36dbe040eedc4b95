import asyncio

from shared.testing import schema_drift, temporary_database
from user_service.cli import MIGRATIONS, main
from user_service.models import metadata


async def test_migrations_match_the_models() -> None:
    assert await schema_drift(MIGRATIONS, metadata) == []


async def test_migrate_command_is_repeatable(capsys) -> None:
    async with temporary_database("user_cli") as url:
        for _ in range(2):
            assert await asyncio.to_thread(main, ["--database-url", url, "migrate"]) == 0
    assert capsys.readouterr().out.count("user schema is up to date") == 2
