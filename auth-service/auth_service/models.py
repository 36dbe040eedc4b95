"""The auth service's tables: accounts and refresh tokens.

A refresh token is kept by its `jti` only (never the token itself), in a family: every
token born of one login by rotation shares the family id. Retiring one token sets
`used_at`; revoking a family sets `revoked_at` on all of its rows.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

EMAIL_MAX_LENGTH = 320


def utcnow() -> datetime:
    return datetime.now(UTC)


class AuthBase(DeclarativeBase):
    """The auth service's own metadata: its tables and nobody else's."""


class User(AuthBase):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored trimmed and lowercased, so that the constraint makes `A@x.io` and `a@x.io` one.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("email", name="uq_users_email"),)


class RefreshToken(AuthBase):
    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_refresh_tokens_user_id_users"),
        index=True,
    )
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


metadata = AuthBase.metadata
