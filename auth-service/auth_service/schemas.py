"""The auth service's wire shapes (docs/api.md, Auth) and the password policy."""

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema

from auth_service.models import EMAIL_MAX_LENGTH
from shared.jwt import MAX_TOKEN_LENGTH

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 1024

_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+")


def normalize_email(value: str) -> str:
    """Trimmed and lowercased: the form in which emails are stored and compared."""
    email = value.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(email):
        raise ValueError("Enter a valid email address.")
    return email


Email = Annotated[
    str,
    AfterValidator(normalize_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": EMAIL_MAX_LENGTH}),
]
# Characters, not bytes; any Unicode; never trimmed, normalized or truncated.
NewPassword = Annotated[str, Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)]
# What a login may present: the policy may have changed since the password was set.
GivenPassword = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


OptionalToken = Annotated[Token | None, BeforeValidator(_empty_is_none)]


class Registration(BaseModel):
    email: Email
    password: NewPassword


class Credentials(BaseModel):
    email: Email
    password: GivenPassword


class RefreshRequest(BaseModel):
    refresh_token: Token
    access_token: OptionalToken = None


class LogoutRequest(BaseModel):
    refresh_token: Token


class PasswordChange(BaseModel):
    current_password: GivenPassword
    new_password: NewPassword


class UserOut(BaseModel):
    id: int
    email: str


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds the access token lives.")


class AccessToken(BaseModel):
    """The answer in cookie mode (`X-Token-Transport: cookie`): the refresh token is in
    the HttpOnly cookie, never in the body."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds the access token lives.")


class CookieModeBody(BaseModel):
    """PUT /auth/login/ and POST /auth/logout/ in cookie mode: the body may be empty.
    A `refresh_token` given here is used instead of the cookie's (the web app moves a
    pair it kept before cookie mode into the cookie this way)."""

    refresh_token: OptionalToken = None
    access_token: OptionalToken = None


def _in_utc(value: datetime) -> datetime:
    """SQLite gives back naive datetimes, stored in UTC; PostgreSQL aware ones."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]


class SessionOut(BaseModel):
    """A live session, as the internal endpoints list them."""

    id: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime
    client_address: str | None = Field(description="Where its login came from.")
    user_agent: str | None = Field(description="Its login's User-Agent, bounded.")
