"""`user-service` commands.

user-service migrate     create or upgrade the schema (USER_DATABASE_URL)
"""

from shared.cli import migrate, service_parser
from user_service import MIGRATIONS
from user_service.config import UserSettings


def main(argv: list[str] | None = None) -> int:
    parser, _commands = service_parser("user-service", "USER", __doc__)
    args = parser.parse_args(argv)
    return migrate(MIGRATIONS, args.database_url or UserSettings().database_url, "user")
