"""Every query of the user service. Writes flush (the session's owner commits); reads
that need no session take a `Reader`.

Written for concurrency on both databases:
- a profile is created with INSERT ... ON CONFLICT, so two first requests at once make
  one row and no error;
- a bookmark is added inside a savepoint and the unique (user, movie) pair decides:
  of ten simultaneous adds one inserts and nine hit the constraint.
On SQLite the first statement of such a transaction is the write itself, so a request
waits for the write lock (busy timeout) rather than failing on a stale read snapshot.
"""

from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Reader, reused
from shared.pagination import Page
from user_service.models import Bookmark, Profile, utc_now


def _insert_profile(session: AsyncSession) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(Profile)
    return sqlite.insert(Profile)


async def ensure_profile(session: AsyncSession, user_id: int, email: str) -> Profile:
    """The user's profile, created on first use; its email follows the token's."""
    now = utc_now()
    statement = _insert_profile(session).values(
        user_id=user_id, email=email, created_at=now, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Profile.user_id],
        set_={"email": statement.excluded.email, "updated_at": now},
        where=Profile.email != statement.excluded.email,
    )
    await session.execute(statement)
    query = (
        select(Profile).where(Profile.user_id == user_id).execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one()


# Built once and `reused`: see shared/db/readers.py for what that saves.
_PROFILE_OF_USER = reused(
    select(
        Profile.user_id, Profile.email, Profile.name, Profile.surname, Profile.favourite_genre_id
    ).where(Profile.user_id == bindparam("user_id"))
)


async def find_profile(reader: Reader, user_id: int) -> Row[Any] | None:
    """The profile's columns as a row, or None before the user's first request.

    A GET reads here, without a session, and writes (`ensure_profile`) only when the
    row is missing or the token's email changed: nearly every request writes nothing.
    """
    rows = await reader.rows(_PROFILE_OF_USER, {"user_id": user_id})
    return rows[0] if rows else None


async def update_profile(
    session: AsyncSession, user_id: int, email: str, changes: dict[str, Any]
) -> Profile:
    """Set the given columns (`name`, `surname`, `favourite_genre_id`) and no others."""
    profile = await ensure_profile(session, user_id, email)
    if any(getattr(profile, key) != value for key, value in changes.items()):
        for key, value in changes.items():
            setattr(profile, key, value)
        profile.updated_at = utc_now()
        await session.flush()
    return profile


async def add_bookmark(session: AsyncSession, user_id: int, movie_id: int) -> bool:
    """Bookmark the movie; False when the user had already bookmarked it."""
    try:
        async with session.begin_nested():
            await session.execute(
                insert(Bookmark).values(user_id=user_id, movie_id=movie_id, created_at=utc_now())
            )
    except IntegrityError:
        return False
    return True


async def remove_bookmark(session: AsyncSession, user_id: int, movie_id: int) -> None:
    await session.execute(
        delete(Bookmark).where(Bookmark.user_id == user_id, Bookmark.movie_id == movie_id)
    )


_BOOKMARK_COUNT = reused(
    select(func.count()).select_from(Bookmark).where(Bookmark.user_id == bindparam("user_id"))
)
_BOOKMARKED_IDS = reused(
    select(Bookmark.movie_id)
    .where(Bookmark.user_id == bindparam("user_id"))
    .order_by(Bookmark.created_at.desc(), Bookmark.id.desc())
)
# A page of them: the bounds as parameters, so that one statement serves every page.
_BOOKMARKED_IDS_PAGE = reused(_BOOKMARKED_IDS.offset(bindparam("skip")).limit(bindparam("size")))


async def list_bookmarked_movie_ids(
    reader: Reader, user_id: int, page: Page
) -> tuple[list[int], int]:
    """One page (or all) of the user's bookmarked movie ids, newest first, and the total."""
    total = int(await reader.scalar(_BOOKMARK_COUNT, {"user_id": user_id}))
    if total == 0 or page.is_past(total):
        return [], total
    if page.number is None:
        rows = await reader.rows(_BOOKMARKED_IDS, {"user_id": user_id})
    else:
        bounds = {"user_id": user_id, "skip": page.offset, "size": page.limit}
        rows = await reader.rows(_BOOKMARKED_IDS_PAGE, bounds)
    return [row.movie_id for row in rows], total
