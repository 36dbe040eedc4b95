"""`auth-service` commands.

auth-service migrate     create or upgrade the schema (AUTH_DATABASE_URL)
"""

import asyncio

from auth_service import MIGRATIONS
from auth_service.config import AuthSettings
from shared.cli import service_parser
from shared.migrations import migrate as migrate_schema


async def migrate(url: str) -> str:
    """The auth service's one migrate entry point: compose's `auth-migrate` job, the
    service itself under `make run` (AUTH_PREPARE_ON_START) and the tests all call it."""
    return "auth: " + await migrate_schema(MIGRATIONS, url)


def main(argv: list[str] | None = None) -> int:
    parser, _commands = service_parser("auth-service", "AUTH", __doc__)
    args = parser.parse_args(argv)
    print(asyncio.run(migrate(args.database_url or AuthSettings().database_url)))
    return 0
