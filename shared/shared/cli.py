"""What every service's command line has: `--database-url` and `migrate`."""

import argparse
from pathlib import Path
from typing import Any

from shared.migrations import upgrade


def service_parser(
    prog: str, env_prefix: str, description: str | None
) -> tuple[argparse.ArgumentParser, "argparse._SubParsersAction[Any]"]:
    """A parser with the shared option and `migrate`; a service adds its own commands."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help=f"overrides {env_prefix}_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the schema")
    return parser, commands


def migrate(migrations: Path, url: str, service: str) -> int:
    upgrade(migrations, url)
    print(f"{service} schema is up to date")
    return 0
