"""Every catalog query. Rows come back as plain dicts in the wire shape.

The catalog only reads: every query is a Core statement run by a `Reader`, with no ORM
session, so a page is read and serialized without building an identity map.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import InstrumentedAttribute

from catalog_service.models import Director, Genre, Movie, search_key
from shared.db import Database, Reader, reused
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
    # Unpacked in `_MOVIE_COLUMNS` order: reading each column by name cost eight times more.
    movie_id, title, description, trailer, year, rating, genre_id, director_id, genre, director = (
        row
    )
    return {
        "id": movie_id,
        "title": title,
        "description": description,
        "trailer": trailer,
        "year": year,
        "rating": rating,
        "genre_id": genre_id,
        "director_id": director_id,
        "genre": {"id": genre_id, "name": genre},
        "director": {"id": director_id, "name": director},
    }


# Built once: constructing the statement costs more than SQLite's work for a page.
# Statements are immutable (`.where()` and the rest return new ones), so sharing is safe.
_MOVIES_SELECT: AnySelect = (
    select(*_MOVIE_COLUMNS)
    .join(Genre, Genre.id == Movie.genre_id)
    .join(Director, Director.id == Movie.director_id)
)
_UNFILTERED_COUNT = reused(select(func.coalesce(func.max(Movie.store_rank), 0)))
# A page of the whole catalog, in either order: a range of positions (as quick at any
# depth), with the bounds as parameters so that one statement serves every page. A
# statement computes its cache key once; building one per request redid that each time.
_UNFILTERED_PAGE = {
    newest_first: reused(
        _MOVIES_SELECT.where(rank > bindparam("after")).order_by(rank).limit(bindparam("size"))
    )
    for newest_first, rank in ((False, Movie.store_rank), (True, Movie.new_rank))
}


def _movies_select() -> AnySelect:
    return _MOVIES_SELECT


def _paged(query: _Q, page: Page) -> _Q:  # genres and directors: short lists
    if page.number is None:
        return query
    return query.offset(page.offset).limit(page.limit)


def _order(filters: MovieFilters) -> InstrumentedAttribute[int]:
    # The rank columns hold the positions in the two orders (id ascending; year, then id,
    # descending), so ordering by them is ordering by what they stand for.
    return Movie.new_rank if filters.newest_first else Movie.store_rank


async def count_movies(reader: Reader, filters: MovieFilters) -> int:
    conditions = filters.conditions()
    if not conditions:  # the ranks run 1..n: the highest one is the count, from an index
        query = _UNFILTERED_COUNT
    else:
        query = select(func.count()).select_from(Movie).where(*conditions)
    return int(await reader.scalar(query))


async def list_movies(
    reader: Reader, filters: MovieFilters, page: Page
) -> tuple[list[Record], int]:
    """One page (or all) of the movies matching `filters`, and how many match in all.

    The count and the page are two statements: an import committed between them makes
    the total disagree with the page for that one answer, never the page itself.
    """
    total = await count_movies(reader, filters)
    if total == 0 or page.is_past(total):
        return [], total
    conditions = filters.conditions()
    if page.number is not None and not conditions:
        statement = _UNFILTERED_PAGE[filters.newest_first]
        rows = await reader.rows(statement, {"after": page.offset, "size": page.limit})
        return [_movie_record(row) for row in rows], total
    query = _movies_select().where(*conditions).order_by(_order(filters))
    if page.number is not None:
        query = query.offset(page.offset).limit(page.limit)
    rows = await reader.rows(query)
    return [_movie_record(row) for row in rows], total


async def stream_movies(
    database: Database, filters: MovieFilters, batch: int = 1000
) -> AsyncIterator[list[Record]]:
    """Every movie matching `filters`, in batches, from a connection of its own.

    For the whole list without `page`: memory holds one batch, not the catalog.
    """
    query = _movies_select().where(*filters.conditions()).order_by(_order(filters))
    async with database.engine.connect() as connection:
        result = await connection.stream(query.execution_options(yield_per=batch))
        async for rows in result.partitions(batch):
            yield [_movie_record(row) for row in rows]


_MOVIE_BY_ID = reused(_MOVIES_SELECT.where(Movie.id == bindparam("movie_id")))


async def get_movie(reader: Reader, movie_id: int) -> Record | None:
    rows = await reader.rows(_MOVIE_BY_ID, {"movie_id": movie_id})
    return _movie_record(rows[0]) if rows else None


async def list_named(
    reader: Reader, model: type[Genre] | type[Director], page: Page
) -> tuple[list[Record], int]:
    """Genres or directors, in id order."""
    total = int(await reader.scalar(select(func.count()).select_from(model)))
    if total == 0 or page.is_past(total):
        return [], total
    rows = await reader.rows(_paged(select(model.id, model.name).order_by(model.id), page))
    return [{"id": row.id, "name": row.name} for row in rows], total


async def get_named(
    reader: Reader, model: type[Genre] | type[Director], record_id: int
) -> Record | None:
    rows = await reader.rows(select(model.id, model.name).where(model.id == record_id))
    return {"id": rows[0].id, "name": rows[0].name} if rows else None
