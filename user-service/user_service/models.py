from datetime import UTC, datetime

from sqlalchemy import DateTime, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

EMAIL_MAX_LENGTH = 320
NAME_MAX_LENGTH = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


class UserBase(DeclarativeBase):
    """The user service's own metadata: its tables and nobody else's."""


class Profile(UserBase):
    """One person's profile, keyed by the auth service's user id (the token's `sub`)."""

    __tablename__ = "profiles"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    name: Mapped[str | None] = mapped_column(String(NAME_MAX_LENGTH))
    surname: Mapped[str | None] = mapped_column(String(NAME_MAX_LENGTH))
    # A catalog genre id; the catalog lives in another database, so no foreign key.
    favourite_genre_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Bookmark(UserBase):
    """A movie a user keeps; the pair (user, movie) is unique in the database itself."""

    __tablename__ = "bookmarks"

    # The surrogate id breaks ties between bookmarks made within the same instant.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    movie_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    __table_args__ = (
        UniqueConstraint("user_id", "movie_id", name="uq_bookmarks_user_id_movie_id"),
        # A user's list, newest first, walks this index backwards.
        Index("ix_bookmarks_user_id_created_at_id", "user_id", "created_at", "id"),
    )


metadata = UserBase.metadata
