"""`auth-service` commands.

auth-service migrate     create or upgrade the schema (AUTH_DATABASE_URL)
"""

from auth_service import MIGRATIONS
from auth_service.config import AuthSettings
from shared.cli import migrate, service_parser


def main(argv: list[str] | None = None) -> int:
    parser, _commands = service_parser("auth-service", "AUTH", __doc__)
    args = parser.parse_args(argv)
    return migrate(MIGRATIONS, args.database_url or AuthSettings().database_url, "auth")
