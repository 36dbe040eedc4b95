"""Fuzzing the user service's OpenAPI document (testkit.fuzzing): every generated request,
valid or not, gets a documented answer and never a 5xx. On a committed database of its
own, with a valid access token on every request and the catalog and auth faked."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import schemathesis

from shared.jwt import JwtSettings, TokenCodec, TokenType
from testkit.database import migrated_database
from testkit.fuzzing import fuzz_operation, load_schema, operations, stop_apps
from tests.conftest import JWT_SECRET, user_settings
from tests.fakes import FakeAuth, FakeCatalog, Upstream
from user_service import cli as user_cli
from user_service.main import create_app

USER_ID = 7

# The document needs no database: an app that never connects lists the operations.
OPERATIONS = operations(
    create_app(
        user_settings("sqlite+aiosqlite://"), jwt_settings=JwtSettings(secret=JWT_SECRET)
    ).openapi()
)


@pytest.fixture(scope="module")
async def fuzz_database_url() -> AsyncIterator[str]:
    async with migrated_database("user_fuzz", user_cli.migrate) as url:
        yield url


@pytest.fixture(scope="module")
def user_schema(
    fuzz_database_url: str, jwt_settings: JwtSettings
) -> Iterator[schemathesis.BaseSchema]:
    upstream = Upstream(catalog=FakeCatalog(), auth=FakeAuth(passwords={USER_ID: "old password 7"}))
    # The app's own client (schemathesis runs it on another event loop than pytest's).
    http = httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle))
    app = create_app(user_settings(fuzz_database_url), jwt_settings=jwt_settings, http_client=http)
    yield load_schema(app)
    stop_apps()


@pytest.fixture(scope="module")
def authorization(signer: TokenCodec) -> dict[str, str]:
    token = signer.issue(subject=str(USER_ID), email="fuzz@x.io", token_type=TokenType.ACCESS)
    return {"Authorization": f"Bearer {token.token}"}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_answer_is_documented(
    user_schema: schemathesis.BaseSchema, authorization: dict[str, str], operation: str
) -> None:
    fuzz_operation(user_schema, operation, headers=authorization)
