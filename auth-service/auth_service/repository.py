"""Every auth query. Functions flush (through the session); the session dependency commits.

Writes that decide a race are single conditional statements whose row count says who won:
two replicas, or two requests on one, can never both retire the same refresh token.
"""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    Update,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import RefreshToken, User
from shared.db import Reader, reused

_NO_SYNC = {"synchronize_session": False}


async def _rowcount(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement.execution_options(**_NO_SYNC))
    count: int = result.rowcount  # type: ignore[attr-defined]  # a CursorResult for DML
    return count


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
    select(User.id, User.email, User.password_hash).where(User.email == bindparam("email"))
)


async def find_credentials(reader: Reader, email: str) -> Row[Any] | None:
    """The account's id, email and password hash, read without a session (a login reads
    this, then hashes for 20 ms: no transaction stays open meanwhile)."""
    rows = await reader.rows(_CREDENTIALS_BY_EMAIL, {"email": email})
    return rows[0] if rows else None


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def replace_password_hash(
    session: AsyncSession, user_id: int, old_hash: str, new_hash: str
) -> bool:
    """Set the new hash only if the old one is still there (no lost update)."""
    statement = (
        update(User)
        .where(User.id == user_id, User.password_hash == old_hash)
        .values(password_hash=new_hash)
    )
    return await _rowcount(session, statement) == 1


# A Core INSERT on the table, built once: the ORM's unit of work, and building the
# statement per login, cost more than the write itself (bench/).
_ADD_REFRESH_TOKEN = insert(cast(Table, RefreshToken.__table__))


async def add_refresh_token(
    session: AsyncSession, *, jti: str, family_id: str, user_id: int, expires_at: datetime
) -> None:
    values = {"jti": jti, "family_id": family_id, "user_id": user_id, "expires_at": expires_at}
    await session.execute(_ADD_REFRESH_TOKEN, values)


def _active() -> list[ColumnElement[bool]]:
    return [RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None)]


async def retire_refresh_token(
    session: AsyncSession, *, jti: str, user_id: int, now: datetime
) -> str | None:
    """Mark a live token used and return its family; None when it was not live.

    One conditional UPDATE: of many simultaneous calls with one jti exactly one wins.
    """
    statement: Update = (
        update(RefreshToken)
        .where(RefreshToken.jti == jti, RefreshToken.user_id == user_id, *_active())
        .values(used_at=now)
    )
    if await _rowcount(session, statement) != 1:
        return None
    family = await session.execute(select(RefreshToken.family_id).where(RefreshToken.jti == jti))
    return family.scalar_one()


async def revoke_family_of(session: AsyncSession, jti: str, now: datetime) -> int:
    """Revoke every token of the family `jti` belongs to (none when `jti` is unknown)."""
    family = select(RefreshToken.family_id).where(RefreshToken.jti == jti).scalar_subquery()
    statement = (
        update(RefreshToken)
        .where(RefreshToken.family_id == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return await _rowcount(session, statement)


async def revoke_user_tokens(session: AsyncSession, user_id: int, now: datetime) -> int:
    """Revoke every refresh family of the user (after a password change)."""
    statement = (
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return await _rowcount(session, statement)


async def purge_expired_tokens(session: AsyncSession, now: datetime) -> int:
    """Delete the rows of tokens past their expiry: their JWTs are refused anyway."""
    return await _rowcount(session, delete(RefreshToken).where(RefreshToken.expires_at < now))


async def get_refresh_token(session: AsyncSession, jti: str) -> RefreshToken | None:
    return await session.get(RefreshToken, jti)
