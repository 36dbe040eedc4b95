"""Fuzzing the auth service's OpenAPI document (testkit.fuzzing): every generated request,
valid or not, gets a documented answer and never a 5xx. On a committed database of its
own, with cheap hashing; the throttle's 429 is one of the documented answers."""

from collections.abc import AsyncIterator, Iterator

import pytest
import schemathesis

from auth_service import cli as auth_cli
from auth_service.main import create_app
from shared.jwt import JwtSettings
from testkit.database import migrated_database
from testkit.fuzzing import fuzz_operation, load_schema, operations, stop_apps
from tests.conftest import INTERNAL_TOKEN, auth_settings

# The document needs no database: an app that never connects lists the operations.
OPERATIONS = operations(
    create_app(auth_settings("sqlite+aiosqlite://"), JwtSettings(secret="x" * 32)).openapi()
)


@pytest.fixture(scope="module")
async def fuzz_database_url() -> AsyncIterator[str]:
    async with migrated_database("auth_fuzz", auth_cli.migrate) as url:
        yield url


@pytest.fixture(scope="module")
def auth_schema(
    fuzz_database_url: str, jwt_settings: JwtSettings
) -> Iterator[schemathesis.BaseSchema]:
    yield load_schema(create_app(auth_settings(fuzz_database_url), jwt_settings))
    stop_apps()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_answer_is_documented(auth_schema: schemathesis.BaseSchema, operation: str) -> None:
    # The internal endpoints get the services' credential, to reach past the 403.
    internal = " /internal/" in operation
    fuzz_operation(
        auth_schema, operation, headers={"X-Internal-Token": INTERNAL_TOKEN} if internal else None
    )
