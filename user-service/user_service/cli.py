"""`user-service` commands.

user-service migrate     create or upgrade the schema (USER_DATABASE_URL)
"""

import asyncio

from shared.cli import service_parser
from shared.migrations import migrate as migrate_schema
from user_service import MIGRATIONS
from user_service.config import UserSettings


async def migrate(url: str) -> str:
    """The user service's one migrate entry point: compose's `user-migrate` job, the
    service itself under `make run` (USER_PREPARE_ON_START) and the tests all call it."""
    return "user: " + await migrate_schema(MIGRATIONS, url)


def main(argv: list[str] | None = None) -> int:
    parser, _commands = service_parser("user-service", "USER", __doc__)
    args = parser.parse_args(argv)
    print(asyncio.run(migrate(args.database_url or UserSettings().database_url)))
    return 0
