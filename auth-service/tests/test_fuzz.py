"""Fuzzing the auth service's OpenAPI document (shared/fuzzing.py): every generated request,
valid or not, gets a documented answer and never a 5xx. On a committed database of its
own, with cheap hashing; the throttle's 429 is one of the documented answers."""

from collections.abc import AsyncIterator, Iterator

import pytest
import schemathesis

from auth_service.cli import MIGRATIONS
from auth_service.main import create_app
from shared.fuzzing import fuzz_operation, load_schema, operations, stop_apps
from shared.jwt import JwtSettings
from shared.testing import migrated_database
from tests.conftest import INTERNAL_TOKEN, auth_settings

# The document needs no database: an app that never connects lists the operations.
OPERATIONS = operations(
    create_app(auth_settings("sqlite+aiosqlite://"), JwtSettings(secret="x" * 32)).openapi()
)


@pytest.fixture(scope="module")
async def fuzz_database_url() -> AsyncIterator[str]:
    async with migrated_database("auth_fuzz", MIGRATIONS) as url:
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
