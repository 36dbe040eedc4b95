"""Alembic glue shared by the services' migration histories.

A service's `migrations/env.py` is two lines: import its metadata, call `run_env`.
`migrate()` is what each service's one migrate entry point (`<service>_service.cli.migrate`)
runs: compose's migrate jobs, `make run` (as each service starts) and the tests' databases.

Alembic is imported only when a function here runs: it weighs about 11 MB in a process,
which a service that is not asked to migrate should not carry.
"""

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData

from shared.db import create_engine

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection


def _run_sync(connection: "Connection", metadata: MetaData) -> None:
    from alembic import context  # noqa: PLC0415 (see the module's docstring)

    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync, metadata)
            await connection.commit()
    finally:
        await engine.dispose()


def run_env(metadata: MetaData) -> None:
    """Body of a service's env.py."""
    from alembic import context  # noqa: PLC0415

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("No database URL given to Alembic (sqlalchemy.url).")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run_online(url, metadata))


def alembic_config(script_location: Path, url: str) -> "Config":
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(script_location))
    # ConfigParser interpolation would read "%" in a password as a variable.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision`. Runs its own event loop."""
    from alembic import command  # noqa: PLC0415

    command.upgrade(alembic_config(script_location, url), revision)


def head_revisions(script_location: Path) -> set[str]:
    """The newest revisions of the history, as Alembic reads it."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return set(ScriptDirectory(str(script_location)).get_heads())


async def current_revisions(url: str) -> set[str]:
    """The revisions the database at `url` is at (none for an empty database)."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    def read(connection: "Connection") -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def migrate(script_location: Path, url: str) -> str:
    """Bring the database at `url` to the head of the history; say what was done.

    A database at the head already costs one connection: Alembic's own API compares the
    history's heads with the database's version table, and nothing else runs.
    """
    heads = head_revisions(script_location)
    current = await current_revisions(url)
    head = ", ".join(sorted(heads))
    if current == heads:
        return f"schema up to date (revision {head})"
    await asyncio.to_thread(upgrade, script_location, url)
    was = ", ".join(sorted(current)) or "empty"
    return f"schema upgraded from {was} to {head}"
