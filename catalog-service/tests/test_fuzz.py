"""Fuzzing the catalog's OpenAPI document (testkit.fuzzing) on the seeded test catalog:
every generated request, valid or not, gets a documented answer and never a 5xx."""

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI

from catalog_service.config import CatalogSettings
from catalog_service.main import create_app
from testkit.fuzzing import fuzz_operation, load_schema, operations, stop_apps

# The document needs no database: an app that never connects lists the operations.
OPERATIONS = operations(
    create_app(CatalogSettings(database_url="sqlite+aiosqlite://", environment="test")).openapi()
)


@pytest.fixture(scope="module")
def catalog_schema(database_url: str) -> Iterator[schemathesis.BaseSchema]:
    app: FastAPI = create_app(CatalogSettings(database_url=database_url, environment="test"))
    yield load_schema(app)
    stop_apps()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_answer_is_documented(
    catalog_schema: schemathesis.BaseSchema, operation: str
) -> None:
    fuzz_operation(catalog_schema, operation)
