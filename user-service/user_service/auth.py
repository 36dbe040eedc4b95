"""The password change and the sessions, forwarded to auth-service's internal endpoints.

auth-service owns the credential, the sessions and their refresh tokens: it checks the
current password, stores the new hash and ends every session; it lists and ends
sessions. This module only translates its answers into ours. The password change:

    204                       done
    400 {code, message}       400 with the same code (`wrong_password`) and message
    422 {errors, message}     422 with the same errors, named as our client named the fields
    429 Retry-After           429 with the same Retry-After
    404 unknown user          401: the token names an account that no longer exists

The sessions (GET and DELETE /internal/users/{id}/sessions[/{session_id}]):

    200 [sessions] / 204      done (a list that is not the expected shape: 503)
    404 on ending one         404: the caller has no live session by that id

And for every call:

    401/403 bad internal token, 5xx, unreachable, anything else
                              503: our misconfiguration or their outage, not the client's fault
                              (with auth's Retry-After when its 503 had one: hashing is busy)
"""

import logging
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from shared.errors import (
    BadRequest,
    FieldError,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)
from shared.http import call_service, json_body, unavailable

logger = logging.getLogger("user_service.auth")

SERVICE = "auth"
INTERNAL_TOKEN_HEADER = "X-Internal-Token"  # noqa: S105 (a header name)
NO_SUCH_SESSION_MESSAGE = "You have no active session with this id."


class AuthSession(BaseModel):
    """One live session as auth-service lists it."""

    id: str
    created_at: datetime
    last_used_at: datetime
    client_address: str | None
    user_agent: str | None


_SESSIONS = TypeAdapter(list[AuthSession])


class AuthClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: SecretStr | None) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token

    async def change_password(
        self, user_id: int, current: str, new: str, *, field_names: dict[str, str]
    ) -> None:
        """Ask auth-service to change the password; `field_names` maps its field names
        (`current_password`, `new_password`) to the ones our client used."""
        response = await self._call(
            "PUT",
            f"/internal/users/{user_id}/password",
            json={"current_password": current, "new_password": new},
        )
        status = response.status_code
        if status in (200, 204):
            return
        if status == 400:
            body = _error_body(response)
            raise BadRequest(
                _text(body.get("message")) or "The current password is wrong.",
                code=_text(body.get("code")) or "wrong_password",
            )
        if status == 422:
            raise _validation_error(_error_body(response), field_names)
        if status == 429:
            raise RateLimited(_retry_after(response), _text(_error_body(response).get("message")))
        if status == 404:
            raise Unauthorized("Your account no longer exists.")
        raise _unexpected(response, "the password change")

    async def list_sessions(self, user_id: int) -> list[AuthSession]:
        """The account's live sessions, the most recently used first."""
        response = await self._call("GET", f"/internal/users/{user_id}/sessions")
        if response.status_code != 200:
            raise _unexpected(response, "the list of sessions")
        try:
            return _SESSIONS.validate_python(json_body(response, service=SERVICE))
        except ValidationError as exc:
            logger.error("auth-service listed sessions in an unexpected shape: %s", exc)
            raise unavailable(SERVICE) from exc

    async def end_session(self, user_id: int, session_id: str) -> None:
        """End one of the account's sessions; NotFound when it has no live one by that id.
        `session_id` must be safe in a path (the route checks it)."""
        response = await self._call("DELETE", f"/internal/users/{user_id}/sessions/{session_id}")
        if response.status_code == 404:
            raise NotFound(NO_SUCH_SESSION_MESSAGE)
        if response.status_code not in (200, 204):
            raise _unexpected(response, "ending a session")

    async def end_sessions(self, user_id: int, *, keep: str | None) -> None:
        """End every session of the account but `keep` (all of them without it)."""
        response = await self._call(
            "DELETE",
            f"/internal/users/{user_id}/sessions",
            params={"keep": keep} if keep is not None else None,
        )
        if response.status_code not in (200, 204):
            raise _unexpected(response, "ending sessions")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        if self.token is None:
            logger.error("INTERNAL_API_TOKEN is not set: auth-service cannot be asked")
            raise unavailable(SERVICE)
        return await call_service(
            self.http,
            method,
            f"{self.base_url}{path}",
            service=SERVICE,
            headers={INTERNAL_TOKEN_HEADER: self.token.get_secret_value()},
            json=json,
            params=params,
        )


def _unexpected(response: httpx.Response, what: str) -> ServiceUnavailable:
    """503 for an answer we have no translation for, logged with its reason."""
    status = response.status_code
    if status in (401, 403):
        logger.error(
            "auth-service refused our internal token (%s): check INTERNAL_API_TOKEN", status
        )
    else:
        logger.error("auth-service answered %s with %s", what, status)
    return unavailable(SERVICE)


def _error_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON error body, or {} when there is none worth reading."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _validation_error(body: dict[str, Any], field_names: dict[str, str]) -> ValidationFailed:
    errors: list[FieldError] = []
    for item in body.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("message"), str):
            field = str(item.get("field") or "body")
            errors.append(FieldError(field=field_names.get(field, field), message=item["message"]))
    if not errors:
        errors = [
            FieldError(
                field=field_names.get("new_password", "new_password"),
                message="The new password is not acceptable.",
            )
        ]
    message = _text(body.get("message"))
    if message is not None:
        for theirs, ours in field_names.items():
            message = message.replace(theirs, ours)
    return ValidationFailed(errors, message)


def _retry_after(response: httpx.Response) -> int:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isascii() and value.isdigit() else 60
