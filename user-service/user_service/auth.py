"""The password change, forwarded to auth-service's internal endpoint.

auth-service owns the credential and the refresh tokens: it checks the current password,
stores the new hash and revokes every refresh token issued before. This module only
translates its answers into ours:

    204                       done
    400 {code, message}       400 with the same code (`wrong_password`) and message
    422 {errors, message}     422 with the same errors, named as our client named the fields
    429 Retry-After           429 with the same Retry-After
    404 unknown user          401: the token names an account that no longer exists
    401/403 bad internal token, 5xx, unreachable, anything else
                              503: our misconfiguration or their outage, not the client's fault
"""

import logging
from typing import Any

import httpx
from pydantic import SecretStr

from shared.errors import BadRequest, FieldError, RateLimited, Unauthorized, ValidationFailed
from shared.http import call_service, unavailable

logger = logging.getLogger("user_service.auth")

SERVICE = "auth"
INTERNAL_TOKEN_HEADER = "X-Internal-Token"  # noqa: S105 (a header name)


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
        if self.token is None:
            logger.error("INTERNAL_API_TOKEN is not set: the password cannot be changed")
            raise unavailable(SERVICE)
        response = await call_service(
            self.http,
            "PUT",
            f"{self.base_url}/internal/users/{user_id}/password",
            service=SERVICE,
            headers={INTERNAL_TOKEN_HEADER: self.token.get_secret_value()},
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
        if status in (401, 403):
            logger.error(
                "auth-service refused our internal token (%s): check INTERNAL_API_TOKEN", status
            )
        else:
            logger.error("auth-service answered the password change with %s", status)
        raise unavailable(SERVICE)


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
