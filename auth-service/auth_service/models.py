"""The auth service's tables: accounts, sessions and refresh tokens.

A session is one login: every refresh token born of it by rotation belongs to it. It
records the account's credential version when it began; a password change bumps the
account's version, so a session of an older version can never issue another token,
however its requests interleave with the change (repository.py explains the statements).
A session ends when it is revoked (logout, reuse of a retired token, the user ending it,
a password change, too many sessions) or reaches its maximum age, however often it is
refreshed.

A refresh token is kept by its `jti` only (never the token itself). Retiring one token
sets `used_at`; presenting a retired token again revokes its session.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.jwt import MAX_SESSION_ID_LENGTH

EMAIL_MAX_LENGTH = 320
SESSION_ID_MAX_LENGTH = MAX_SESSION_ID_LENGTH  # ids are hex; the `sid` claim holds them
CLIENT_ADDRESS_MAX_LENGTH = 64  # an IPv6 address with a zone fits in 45
USER_AGENT_MAX_LENGTH = 256  # longer User-Agent headers are cut to this


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
    # Bumped by every password change, in the statement that stores the new hash; never
    # by a rehash of the same password.
    credential_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __table_args__ = (UniqueConstraint("email", name="uq_users_email"),)


class UserSession(AuthBase):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(SESSION_ID_MAX_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_sessions_user_id_users"),
        index=True,
    )
    # The account's credential version when the session began; it never changes.
    credential_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # created_at + AUTH_SESSION_MAX_AGE_SECONDS: no refresh goes past it.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, index=True
    )
    client_address: Mapped[str | None] = mapped_column(String(CLIENT_ADDRESS_MAX_LENGTH))
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX_LENGTH))


class RefreshToken(AuthBase):
    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE", name="fk_refresh_tokens_session_id_sessions"),
        index=True,
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_refresh_tokens_user_id_users"),
        index=True,
    )
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


metadata = AuthBase.metadata
