"""`auth-service` commands.

auth-service migrate     create or upgrade the schema (AUTH_DATABASE_URL)
"""

import argparse
from pathlib import Path

from auth_service.config import AuthSettings
from shared.migrations import upgrade

MIGRATIONS = Path(__file__).parent / "migrations"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="auth-service", description=__doc__)
    parser.add_argument("--database-url", help="overrides AUTH_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the schema")
    args = parser.parse_args(argv)
    url = args.database_url or AuthSettings().database_url
    upgrade(MIGRATIONS, url)
    print("auth schema is up to date")
    return 0
