"""`user-service` commands.

user-service migrate     create or upgrade the schema (USER_DATABASE_URL)
"""

import argparse
from pathlib import Path

from shared.migrations import upgrade
from user_service.config import UserSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="user-service", description=__doc__)
    parser.add_argument("--database-url", help="overrides USER_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the schema")
    args = parser.parse_args(argv)
    url = args.database_url or UserSettings().database_url
    upgrade(MIGRATIONS, url)
    print("user schema is up to date")
    return 0
