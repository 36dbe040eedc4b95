"""Domain errors and the one place that renders every error as JSON.

    AppError                      500 internal_error (base; never raised as is)
     ├── BadRequest               400 bad_request
     ├── Unauthorized             401 unauthorized, with WWW-Authenticate: Bearer
     ├── Forbidden                403 forbidden
     ├── NotFound                 404 not_found
     ├── Conflict                 409 conflict
     ├── ValidationFailed         422 validation_error, with `errors`
     ├── RateLimited              429 rate_limited, with Retry-After
     └── ServiceUnavailable       503 service_unavailable, with Retry-After when it is known

Every error body is `{"message": <sentence>, "code": <stable word>}`, plus `errors`
(a list of `{field, message}`) for validation failures. Routes raise; they never
build error JSON by hand.
"""

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.responses import JSONResponse

logger = logging.getLogger("shared.errors")


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """The shape of every 4xx/5xx body (documented in each service's OpenAPI)."""

    message: str
    code: str
    errors: list[FieldError] | None = None


class AppError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code  # type: ignore[misc]  # a per-instance refinement
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        return {}

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "code": self.code}


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"
    default_message = "The request cannot be carried out."


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"
    default_message = "Authentication is required."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_error"
    default_message = "The request is not valid."

    def __init__(self, errors: Sequence[FieldError], message: str | None = None) -> None:
        self.errors = list(errors)
        if message is None and self.errors:
            first = self.errors[0]
            message = f"{first.field}: {first.message}"
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {**super().body(), "errors": [e.model_dump() for e in self.errors]}


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many attempts. Try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    default_message = "The service is temporarily unavailable."

    def __init__(
        self, message: str | None = None, *, code: str | None = None, retry_after: int | None = None
    ) -> None:
        """`retry_after`: seconds after which a retry is expected to work (a full queue);
        left out when nobody knows (an outage)."""
        self.retry_after = None if retry_after is None else max(1, int(retry_after))
        super().__init__(message, code=code)

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


# Codes for errors raised by the framework itself (unknown route, wrong method, ...).
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status_code: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers=headers)


def _field_name(loc: Sequence[int | str]) -> str:
    # ("query", "page") -> "page"; ("body", "email") -> "email"; ("body",) -> "body"
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "body"


# FastAPI's answer to a JSON body it cannot decode at all (bytes that are not UTF-8,
# nesting too deep for the parser): a plain 400, where the contract says 422.
_UNDECODABLE_BODY = "There was an error parsing the body"
_INVALID_JSON = "The body is not valid JSON."


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for item in exc.errors():
        if item.get("type") == "json_invalid":
            errors.append(FieldError(field="body", message=_INVALID_JSON))
            continue
        errors.append(FieldError(field=_field_name(item.get("loc", ())), message=item["msg"]))
    return errors


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc.status_code, exc.body(), exc.headers())


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error = ValidationFailed(validation_errors(exc))
    return error_response(error.status_code, error.body())


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 400 and exc.detail == _UNDECODABLE_BODY:
        invalid = ValidationFailed([FieldError(field="body", message=_INVALID_JSON)])
        return error_response(invalid.status_code, invalid.body())
    code = _HTTP_CODES.get(status, "error" if status < 500 else "internal_error")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    if status == 404 and message == "Not Found":
        message = "There is nothing at this address."
    elif status == 405:
        message = "This method is not allowed here."
    return error_response(status, {"message": message, "code": code}, exc.headers)


# PostgreSQL error classes that mean "the server cannot be used now", not "bad query":
# 08 connection exceptions, 53300 too many connections, 57P01-57P03 shutting down,
# crashed, starting up (asyncpg raises these unwrapped while it connects).
_UNREACHABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")
# SQLite's: the file cannot be opened or read or written (a disk), or the write lock did
# not come within the busy timeout. "no such table" and other SQL errors are not here.
_UNREACHABLE_SQLITE = frozenset(
    {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_PROTOCOL"}
)


def _sqlite_unreachable(error: sqlite3.Error) -> bool:
    name = error.sqlite_errorname or ""
    return name in _UNREACHABLE_SQLITE or name.startswith(("SQLITE_IOERR", "SQLITE_BUSY_"))


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be used now: down, restarting, refusing
    connections, a connection lost, its disk failing, or every connection busy. An outage
    (503), not a bug (500): any other database error, a SQL mistake or a missing table
    included, is a 500 with its traceback in the log."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.DisconnectionError | sa_exc.TimeoutError | OSError):
            return True  # OSError: a refused or broken connection, while connecting too
        if isinstance(current, sqlite3.Error) and _sqlite_unreachable(current):
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNREACHABLE_SQLSTATES):
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Reached by every exception no handler took, middleware's included.
    if database_unreachable(exc):
        logger.error("database unreachable on %s %s: %r", request.method, request.url.path, exc)
        error = ServiceUnavailable("The service is temporarily unavailable. Try again shortly.")
        return error_response(error.status_code, error.body(), error.headers())
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, AppError().body())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


# The headers that come with some errors (see the classes above), for the OpenAPI document.
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: the scheme that the request must authenticate with.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again, when the service knows.",
            "required": False,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the error body (and the headers that go
    with it: `WWW-Authenticate` on 401, `Retry-After` on 429 and maybe 503) for these statuses."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": HTTPStatus(status).phrase}
        if status in ERROR_HEADERS:
            entry["headers"] = ERROR_HEADERS[status]
        responses[status] = entry
    return responses
