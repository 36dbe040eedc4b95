"""Alembic glue shared by the services' migration histories.

A service's `migrations/env.py` is two lines: import its metadata, call `run_env`.
`upgrade()` runs a history programmatically (the `migrate` command and the tests).
"""

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from shared.db import create_engine


def _run_sync(connection: Connection, metadata: MetaData) -> None:
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
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("No database URL given to Alembic (sqlalchemy.url).")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run_online(url, metadata))


def alembic_config(script_location: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    # ConfigParser interpolation would read "%" in a password as a variable.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision`. Runs its own event loop."""
    command.upgrade(alembic_config(script_location, url), revision)
