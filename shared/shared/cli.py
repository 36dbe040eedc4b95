"""What every service's command line has: `--database-url` and `migrate`."""

import argparse
from typing import Any


def service_parser(
    prog: str, env_prefix: str, description: str | None
) -> tuple[argparse.ArgumentParser, "argparse._SubParsersAction[Any]"]:
    """A parser with the shared option and `migrate`; a service adds its own commands.

    `migrate` calls the service's migrate entry point (`cli.migrate`), which compose's
    migrate job, `make run` and the tests call too.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help=f"overrides {env_prefix}_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the schema")
    return parser, commands
