import asyncio

from testkit.database import schema_drift, temporary_database
from user_service import cli as user_cli
from user_service.cli import main
from user_service.models import metadata


async def test_migrations_match_the_models() -> None:
    assert await schema_drift(user_cli.migrate, metadata) == []


async def test_migrate_command_is_repeatable(capsys) -> None:
    async with temporary_database("user_cli") as url:
        for _ in range(2):
            assert await asyncio.to_thread(main, ["--database-url", url, "migrate"]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first == "user: schema upgraded from empty to 0001"
    assert second == "user: schema up to date (revision 0001)"
