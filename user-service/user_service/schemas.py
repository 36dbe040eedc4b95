"""The user service's wire shapes (docs/api.md, User and Sessions).

Both spellings of the favourite genre are read and both are written, for the clients
written from the brief (`favorite_genre`, `{password_1, password_2}`) and for the
course's frontend (`favourite_genre`, `{old_password, new_password}`).
"""

import unicodedata
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import Row

from shared.errors import FieldError, ValidationFailed
from user_service.auth import AuthSession
from user_service.models import NAME_MAX_LENGTH, Profile


class ProfileOut(BaseModel):
    id: int
    email: str
    name: str | None
    surname: str | None
    favorite_genre: int | None
    favourite_genre: int | None

    @classmethod
    def of(cls, profile: Profile | Row[Any]) -> "ProfileOut":
        """From the model, or from a row of the same columns."""
        return cls(
            id=profile.user_id,
            email=profile.email,
            name=profile.name,
            surname=profile.surname,
            favorite_genre=profile.favourite_genre_id,
            favourite_genre=profile.favourite_genre_id,
        )


def _genre_id(value: Any) -> int | None:
    """An integer, a string of digits (`"4"`, as the frontend sends it) or null."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("A genre id is an integer (or a string of digits) or null.")
    return value


def _person_name(value: Any) -> str | None:
    """Trimmed; blank means null; no control characters (PostgreSQL refuses NUL)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("Give a string or null.")
    value = value.strip()
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("Control characters are not allowed.")
    if len(value) > NAME_MAX_LENGTH:
        raise ValueError(f"At most {NAME_MAX_LENGTH} characters.")
    return value or None


GenreId = Annotated[int | None, BeforeValidator(_genre_id)]
PersonName = Annotated[str | None, BeforeValidator(_person_name)]


class ProfileUpdate(BaseModel):
    """What PATCH may change; any other field (`id`, `email`, ...) is ignored."""

    model_config = ConfigDict(extra="ignore")

    name: PersonName = Field(default=None, description="Up to 100 characters; blank clears.")
    surname: PersonName = Field(default=None, description="Up to 100 characters; blank clears.")
    favorite_genre: GenreId = Field(default=None, description="A genre id, or null to clear.")
    favourite_genre: GenreId = Field(default=None, description="Same as `favorite_genre`.")

    def changes(self) -> dict[str, Any]:
        """The profile columns to set, from the fields the client actually sent."""
        given = self.model_fields_set
        changes: dict[str, Any] = {
            key: getattr(self, key) for key in ("name", "surname") if key in given
        }
        spellings = [key for key in ("favorite_genre", "favourite_genre") if key in given]
        values = {getattr(self, key) for key in spellings}
        if len(values) > 1:
            raise ValidationFailed(
                [
                    FieldError(
                        field="favorite_genre",
                        message="favorite_genre and favourite_genre disagree; send one of them.",
                    )
                ]
            )
        if spellings:
            changes["favourite_genre_id"] = values.pop()
        return changes


class PasswordChange(BaseModel):
    """`{password_1, password_2}` or `{old_password, new_password}`: current, then new.

    Length and strength rules belong to the auth service, which answers 422 when the
    new password breaks them; that answer is passed on.
    """

    model_config = ConfigDict(extra="ignore")

    password_1: str | None = Field(default=None, description="The current password.")
    password_2: str | None = Field(default=None, description="The new password.")
    old_password: str | None = Field(default=None, description="Same as `password_1`.")
    new_password: str | None = Field(default=None, description="Same as `password_2`.")

    @property
    def field_names(self) -> dict[str, str]:
        """The auth service's field names -> the ones this client used (for its errors)."""
        if self.old_password is None and self.new_password is None:
            return {"current_password": "password_1", "new_password": "password_2"}
        return {"current_password": "old_password", "new_password": "new_password"}

    def passwords(self) -> tuple[str, str]:
        """(current, new), or 422 naming what is missing or contradictory."""
        return (
            _one_of(self.password_1, self.old_password, "password_1", "old_password", "current"),
            _one_of(self.password_2, self.new_password, "password_2", "new_password", "new"),
        )


def _one_of(first: str | None, second: str | None, name: str, alias: str, which: str) -> str:
    if first is not None and second is not None and first != second:
        message = f"{name} and {alias} disagree; send one of them."
        raise ValidationFailed([FieldError(field=name, message=message)])
    value = first if first is not None else second
    if not value:
        message = f"The {which} password is required (as {name} or {alias})."
        raise ValidationFailed([FieldError(field=name, message=message)])
    return value


class SessionOut(BaseModel):
    """One of the user's active sessions (one per login, kept alive by refreshes)."""

    id: str
    created_at: datetime = Field(description="When its login happened.")
    last_used_at: datetime = Field(description="Its latest login or refresh.")
    client_address: str | None = Field(description="Where its login came from.")
    user_agent: str | None = Field(description="The browser or program that logged in.")
    current: bool = Field(description="True for the session of the access token asking.")

    @classmethod
    def of(cls, session: AuthSession, current_id: str | None) -> "SessionOut":
        return cls(**session.model_dump(), current=session.id == current_id)
