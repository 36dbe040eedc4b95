"""Schema-driven fuzzing of a service's app (the services' `tests/test_fuzz.py`).

Schemathesis reads the app's own OpenAPI document and sends each operation generated
requests, valid and invalid, in-process (ASGI: no server, no port). Every answer must be
what the document says:

- `not_a_server_error`: no 5xx, whatever the input;
- `status_code_conformance`: the status is listed for the operation;
- `content_type_conformance`, `response_schema_conformance`,
  `response_headers_conformance`: the body and the headers are as documented.

`FUZZ_SETTINGS` bounds the run for CI (40 requests per operation, valid and invalid
mixed; derandomized: the same cases every run, so a failure reproduces). The three
services' fuzz tests take well under a minute together on SQLite.

Schemathesis runs every app it calls on one event loop of its own (a thread), lifespan
included: a fuzzed app gets a `Database` of its own rather than sharing the suite's
engine, which lives on pytest's loop. `stop_apps()` runs the shutdown hooks at the end.

(The tests parametrize over `operations(document)` themselves: schemathesis's
`pytest.from_fixture` does not work with pytest 9.)
"""

from collections.abc import Mapping
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

MAX_EXAMPLES = 40

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def operations(document: Mapping[str, Any]) -> list[str]:
    """`"GET /movies/{movie_id}"` for every operation of an OpenAPI document."""
    return [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in _METHODS
    ]


def load_schema(app: FastAPI) -> schemathesis.BaseSchema:
    """The app's OpenAPI document, as the app serves it."""
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def fuzz_operation(
    schema: schemathesis.BaseSchema, label: str, *, headers: Mapping[str, str] | None = None
) -> None:
    """Send one operation valid and invalid generated requests; fail on any check.

    `headers` go with every request (a valid token for the protected routes); the
    generated negative cases still try the others (missing, malformed).
    """
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    fixed = dict(headers or {})
    strategy = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    @FUZZ_SETTINGS
    @given(case=strategy)
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(checks=CHECKS, headers=fixed)

    run()


def stop_apps() -> None:
    """Run the shutdown of the apps that schemathesis started."""
    asgi.shutdown_lifespans()
