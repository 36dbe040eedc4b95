"""Every auth query. Functions flush (through the session); the unit of work commits.

Writes that decide a race are single conditional statements whose row count says who won:
two replicas, or two requests on one, can never both retire the same refresh token.

Credential versions: a password change stores the new hash and bumps the account's
version in one UPDATE, conditional on the version its check of the current password read,
then revokes the account's sessions. The guarantee, on SQLite and on PostgreSQL's READ
COMMITTED alike, is that once the change has committed no session of an older version
issues a token that can be refreshed:

- A login opens its session with one INSERT ... SELECT from the account's row, only while
  the version it read with the hash is still the account's, and holds that row locked
  (FOR NO KEY UPDATE, the lock the change's UPDATE also takes) until it commits. So either
  the change committed first and the login inserts nothing, or the login committed first
  and the change's revocation, a later statement, sees and revokes its session. Logins of
  one account are serialized by the same lock, which keeps the per-account limit exact.
- A refresh retires its token only while the token's session is live AND of the account's
  current version, in the same UPDATE. A refresh whose statement began before the change
  committed may still issue a token, but into a session of the old version, which no
  later refresh passes.

SQLite has one writer at a time, so the same orders hold there; every transaction below
writes before it reads, so none has to turn a stale read snapshot into a write.
"""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Row,
    String,
    Table,
    bindparam,
    delete,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import RefreshToken, User, UserSession
from shared.db import Reader, reused

_NO_SYNC = {"synchronize_session": False}


async def _rowcount(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement.execution_options(**_NO_SYNC))
    count: int = result.rowcount  # type: ignore[attr-defined]  # a CursorResult for DML
    return count


# --- Accounts -------------------------------------------------------------------------


async def create_user(session: AsyncSession, email: str, password_hash: str) -> User | None:
    """The new account, or None when the email is taken (the UNIQUE constraint decides)."""
    user = User(email=email, password_hash=password_hash)
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        return None
    return user


_CREDENTIALS_BY_EMAIL = reused(
    select(User.id, User.email, User.password_hash, User.credential_version).where(
        User.email == bindparam("email")
    )
)


async def find_credentials(reader: Reader, email: str) -> Row[Any] | None:
    """The account's id, email, password hash and credential version, read without a
    session (a login reads this, then hashes for 20 ms: no transaction stays open
    meanwhile)."""
    rows = await reader.rows(_CREDENTIALS_BY_EMAIL, {"email": email})
    return rows[0] if rows else None


_CREDENTIALS_BY_ID = reused(
    select(User.id, User.email, User.password_hash, User.credential_version).where(
        User.id == bindparam("user_id")
    )
)


async def find_credentials_by_id(reader: Reader, user_id: int) -> Row[Any] | None:
    """As `find_credentials`, by the account's id (a password change reads this)."""
    rows = await reader.rows(_CREDENTIALS_BY_ID, {"user_id": user_id})
    return rows[0] if rows else None


async def upgrade_password_hash(
    session: AsyncSession, user_id: int, old_hash: str, new_hash: str
) -> bool:
    """A new hash of the same password (stronger parameters), only if the old one is
    still there. The credential version stays: no session ends."""
    statement = (
        update(User)
        .where(User.id == user_id, User.password_hash == old_hash)
        .values(password_hash=new_hash)
    )
    return await _rowcount(session, statement) == 1


async def change_password_hash(
    session: AsyncSession, user_id: int, version: int, new_hash: str
) -> bool:
    """Store the hash of a new password and bump the credential version, only while the
    version is still `version` (the one read with the hash that was checked): of two
    concurrent changes one wins, and a rehash in between does not matter."""
    statement = (
        update(User)
        .where(User.id == user_id, User.credential_version == version)
        .values(password_hash=new_hash, credential_version=version + 1)
    )
    return await _rowcount(session, statement) == 1


# --- Sessions ---------------------------------------------------------------------------


def _current_version() -> Any:
    return (
        select(User.credential_version)
        .where(User.id == UserSession.user_id)
        .correlate(UserSession)
        .scalar_subquery()
    )


def _live(now: datetime) -> list[ColumnElement[bool]]:
    """A session that may still issue tokens: not revoked, not past its maximum age, and
    of the account's current credential version."""
    return [
        UserSession.revoked_at.is_(None),
        UserSession.expires_at > now,
        UserSession.credential_version == _current_version(),
    ]


_SESSIONS = cast(Table, UserSession.__table__)


async def open_session(
    session: AsyncSession,
    *,
    session_id: str,
    user_id: int,
    credential_version: int,
    now: datetime,
    expires_at: datetime,
    client_address: str | None,
    user_agent: str | None,
) -> bool:
    """Start a session, only while `credential_version` is the account's; False when it
    is no longer (the password changed since it was read). Locks the account's row until
    the transaction ends (see the module's docstring)."""
    when = DateTime(timezone=True)
    source = (
        select(
            literal(session_id, String()),
            User.id,
            User.credential_version,
            literal(now, when),
            literal(now, when),
            literal(expires_at, when),
            literal(client_address, String()),
            literal(user_agent, String()),
        )
        .where(User.id == user_id, User.credential_version == credential_version)
        .with_for_update(key_share=True)
    )
    statement = insert(_SESSIONS).from_select(
        [
            "id",
            "user_id",
            "credential_version",
            "created_at",
            "last_used_at",
            "expires_at",
            "client_address",
            "user_agent",
        ],
        source,
    )
    return await _rowcount(session, statement) == 1


async def end_surplus_sessions(
    session: AsyncSession, user_id: int, keep: int, now: datetime
) -> int:
    """Revoke every session of the account but its `keep` newest live ones."""
    newest = (
        select(UserSession.id)
        .where(UserSession.user_id == user_id, *_live(now))
        .order_by(UserSession.created_at.desc(), UserSession.id.desc())
        .limit(keep)
    )
    statement = (
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.id.not_in(newest),
        )
        .values(revoked_at=now)
    )
    return await _rowcount(session, statement)


_LIVE_SESSIONS_OF = (
    UserSession.id,
    UserSession.created_at,
    UserSession.last_used_at,
    UserSession.client_address,
    UserSession.user_agent,
)


async def list_sessions(reader: Reader, user_id: int, now: datetime) -> list[Row[Any]]:
    """The account's live sessions, the most recently used first."""
    statement = (
        select(*_LIVE_SESSIONS_OF)
        .where(UserSession.user_id == user_id, *_live(now))
        .order_by(UserSession.last_used_at.desc(), UserSession.id)
    )
    return list(await reader.rows(statement))


async def end_session(session: AsyncSession, user_id: int, session_id: str, now: datetime) -> bool:
    """Revoke one live session of the account; False when it has none by that id."""
    statement = (
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.user_id == user_id, *_live(now))
        .values(revoked_at=now)
    )
    return await _rowcount(session, statement) == 1


async def end_sessions(
    session: AsyncSession, user_id: int, now: datetime, *, keep: str | None = None
) -> int:
    """Revoke every session of the account (after a password change), or all but `keep`."""
    conditions = [UserSession.user_id == user_id, UserSession.revoked_at.is_(None)]
    if keep is not None:
        conditions.append(UserSession.id != keep)
    return await _rowcount(session, update(UserSession).where(*conditions).values(revoked_at=now))


def _session_of(jti: str) -> Any:
    return select(RefreshToken.session_id).where(RefreshToken.jti == jti).scalar_subquery()


async def end_session_of_token(session: AsyncSession, jti: str, now: datetime) -> int:
    """Revoke the session `jti` belongs to (logout); 0 when unknown or already revoked."""
    statement = (
        update(UserSession)
        .where(UserSession.id == _session_of(jti), UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return await _rowcount(session, statement)


async def end_session_of_reused_token(session: AsyncSession, jti: str, now: datetime) -> int:
    """Revoke the session of `jti` if that token was already used: a replay, maybe of a
    stolen copy. 1 when it cut off a session that was not revoked yet."""
    used = (
        select(RefreshToken.session_id)
        .where(RefreshToken.jti == jti, RefreshToken.used_at.is_not(None))
        .scalar_subquery()
    )
    statement = (
        update(UserSession)
        .where(UserSession.id == used, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return await _rowcount(session, statement)


# --- Refresh tokens -------------------------------------------------------------------

# A Core INSERT on the table, built once: the ORM's unit of work, and building the
# statement per login, cost more than the write itself (bench/).
_ADD_REFRESH_TOKEN = insert(cast(Table, RefreshToken.__table__))


async def add_refresh_token(
    session: AsyncSession, *, jti: str, session_id: str, user_id: int, expires_at: datetime
) -> None:
    values = {"jti": jti, "session_id": session_id, "user_id": user_id, "expires_at": expires_at}
    await session.execute(_ADD_REFRESH_TOKEN, values)


async def retire_refresh_token(
    session: AsyncSession, *, jti: str, user_id: int, now: datetime
) -> str | None:
    """Mark a live token used and return its session (now marked used); None when the
    token was not live: used, unknown, or of a session that is not live.

    One conditional UPDATE: of many simultaneous calls with one jti exactly one wins, and
    none wins once the session is revoked, too old or of an older credential version.
    """
    live_session = (
        select(UserSession.id)
        .where(UserSession.id == RefreshToken.session_id, *_live(now))
        .correlate(RefreshToken)
        .exists()
    )
    statement = (
        update(RefreshToken)
        .where(
            RefreshToken.jti == jti,
            RefreshToken.user_id == user_id,
            RefreshToken.used_at.is_(None),
            live_session,
        )
        .values(used_at=now)
    )
    if await _rowcount(session, statement) != 1:
        return None
    session_id: str = (
        await session.execute(select(RefreshToken.session_id).where(RefreshToken.jti == jti))
    ).scalar_one()
    await _rowcount(
        session,
        update(UserSession).where(UserSession.id == session_id).values(last_used_at=now),
    )
    return session_id


# --- Purge ------------------------------------------------------------------------------


async def purge_expired_tokens(session: AsyncSession, now: datetime, limit: int) -> int:
    """Delete up to `limit` rows of tokens past their expiry: their JWTs are refused anyway."""
    batch = select(RefreshToken.jti).where(RefreshToken.expires_at < now).limit(limit)
    return await _rowcount(session, delete(RefreshToken).where(RefreshToken.jti.in_(batch)))


async def purge_ended_sessions(session: AsyncSession, now: datetime, limit: int) -> int:
    """Delete up to `limit` sessions that can never issue a token again (revoked, past
    their maximum age, or of an older credential version), with their tokens."""
    ended = or_(
        UserSession.revoked_at.is_not(None),
        UserSession.expires_at <= now,
        UserSession.credential_version != _current_version(),
    )
    batch = select(UserSession.id).where(ended).limit(limit)
    return await _rowcount(session, delete(UserSession).where(UserSession.id.in_(batch)))


async def get_refresh_token(session: AsyncSession, jti: str) -> RefreshToken | None:
    return await session.get(RefreshToken, jti)
