"""Every catalog query. Rows come back as plain dicts in the wire shape.

The lists select columns rather than ORM objects: a page is read and serialized
without building an identity map, which matters for the full list.
"""

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.models import Director, Genre, Movie, search_key
from shared.pagination import Page

Record = dict[str, Any]
AnySelect = Select[*tuple[Any, ...]]
_Q = TypeVar("_Q", bound=AnySelect)

_MOVIE_COLUMNS = (
    Movie.id,
    Movie.title,
    Movie.description,
    Movie.trailer,
    Movie.year,
    Movie.rating,
    Movie.genre_id,
    Movie.director_id,
    Genre.name.label("genre_name"),
    Director.name.label("director_name"),
)


@dataclass(frozen=True, slots=True)
class MovieFilters:
    genre_id: int | None = None
    director_id: int | None = None
    year: int | None = None
    q: str | None = None
    ids: tuple[int, ...] | None = None
    newest_first: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.genre_id is not None:
            conditions.append(Movie.genre_id == self.genre_id)
        if self.director_id is not None:
            conditions.append(Movie.director_id == self.director_id)
        if self.year is not None:
            conditions.append(Movie.year == self.year)
        if self.q:
            conditions.append(Movie.search_title.contains(search_key(self.q), autoescape=True))
        if self.ids is not None:
            conditions.append(Movie.id.in_(self.ids))
        return conditions


def _movie_record(row: Any) -> Record:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "trailer": row.trailer,
        "year": row.year,
        "rating": row.rating,
        "genre_id": row.genre_id,
        "director_id": row.director_id,
        "genre": {"id": row.genre_id, "name": row.genre_name},
        "director": {"id": row.director_id, "name": row.director_name},
    }


def _movies_select() -> AnySelect:
    return (
        select(*_MOVIE_COLUMNS)
        .join(Genre, Genre.id == Movie.genre_id)
        .join(Director, Director.id == Movie.director_id)
    )


def _paged(query: _Q, page: Page) -> _Q:
    if page.number is None:
        return query
    return query.offset(page.offset).limit(page.limit)


async def count_movies(session: AsyncSession, filters: MovieFilters) -> int:
    query = select(func.count()).select_from(Movie).where(*filters.conditions())
    return (await session.execute(query)).scalar_one()


async def list_movies(
    session: AsyncSession, filters: MovieFilters, page: Page
) -> tuple[list[Record], int]:
    """One page (or all) of the movies matching `filters`, and how many match in all."""
    total = await count_movies(session, filters)
    if total == 0 or page.is_past(total):
        return [], total
    order = (Movie.year.desc(), Movie.id.desc()) if filters.newest_first else (Movie.id,)
    query = _paged(_movies_select().where(*filters.conditions()).order_by(*order), page)
    rows = await session.execute(query)
    return [_movie_record(row) for row in rows], total


async def get_movie(session: AsyncSession, movie_id: int) -> Record | None:
    row = (await session.execute(_movies_select().where(Movie.id == movie_id))).first()
    return None if row is None else _movie_record(row)


async def list_named(
    session: AsyncSession, model: type[Genre] | type[Director], page: Page
) -> tuple[list[Record], int]:
    """Genres or directors, in id order."""
    total = (await session.execute(select(func.count()).select_from(model))).scalar_one()
    if total == 0 or page.is_past(total):
        return [], total
    rows = await session.execute(_paged(select(model.id, model.name).order_by(model.id), page))
    return [{"id": row.id, "name": row.name} for row in rows], total


async def get_named(
    session: AsyncSession, model: type[Genre] | type[Director], record_id: int
) -> Record | None:
    row = (await session.execute(select(model.id, model.name).where(model.id == record_id))).first()
    return None if row is None else {"id": row.id, "name": row.name}
