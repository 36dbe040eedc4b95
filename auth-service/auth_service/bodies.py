"""Request bodies that arrive as JSON or as an HTML form (application/x-www-form-urlencoded).

`json_or_form(Model)` is a dependency parsing either into one Pydantic model. Failures
are the usual 422 (bad JSON included, rendered by the shared handler); any other media
type is 415.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from shared.errors import AppError

M = TypeVar("M", bound=BaseModel)

FORM = "application/x-www-form-urlencoded"
_MAX_FORM_FIELDS = 20


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    default_message = "Send the body as JSON or as a form (application/x-www-form-urlencoded)."


def _invalid(type_: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": type_, "loc": ("body",), "msg": message, "input": None}]
    )


def _decode(media_type: str, raw: bytes) -> Any:
    if media_type == FORM:
        try:
            text = raw.decode("utf-8")
            return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS))
        except ValueError as exc:
            raise _invalid("form_invalid", "The body is not a valid form.") from exc
    if media_type in ("", "application/json") or media_type.endswith("+json"):
        try:
            return json.loads(raw) if raw else None
        except (ValueError, RecursionError) as exc:
            raise _invalid("json_invalid", "The body is not valid JSON.") from exc
    raise UnsupportedMediaType()


def json_or_form(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    async def parse(request: Request) -> M:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        data = _decode(media_type, await request.body())
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = [
                {**error, "loc": ("body", *error["loc"])}
                for error in exc.errors(include_url=False, include_context=False)
            ]
            raise RequestValidationError(errors) from exc

    parse.__name__ = f"parse_{model.__name__.lower()}"
    return parse


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` documenting a body read by `json_or_form`."""
    schema = model.model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, FORM: {"schema": schema}},
        }
    }
