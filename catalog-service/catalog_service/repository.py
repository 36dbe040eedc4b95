"""Every catalog query. Rows come back as plain dicts in the wire shape.

The catalog only reads: every query is a Core statement run by a `Reader`, with no ORM
session, so a page is read and serialized without building an identity map.
"""

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from catalog_service import search
from catalog_service.models import (
    POSITION_ORDERS,
    SORTABLE,
    Director,
    Genre,
    Movie,
    MoviePosition,
    search_key,
)
from shared.db import Database, Reader, reused
from shared.pagination import Page

Record = dict[str, Any]
AnySelect = Select[*tuple[Any, ...]]
_Q = TypeVar("_Q", bound=AnySelect)

_MOVIE_COLUMNS = (
    Movie.id,
    Movie.title,
    Movie.original_title,
    Movie.description,
    Movie.trailer,
    Movie.year,
    Movie.rating,
    Movie.genre_id,
    Movie.director_id,
    Genre.name.label("genre_name"),
    Director.name.label("director_name"),
)


# The keys `sort` accepts, and the column each one orders by. Titles order by their
# search form (case-folded, "ё" as "е"), compared character by character.
SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {**dict(SORTABLE), "id": Movie.id}
RELEVANCE = "relevance"  # the position in the search's ranked list: only with `q`

SortKey = tuple[str, bool]  # (key, descending)


@dataclass(frozen=True, slots=True)
class MovieFilters:
    genre_ids: tuple[int, ...] = ()  # any of them; () for every genre
    director_ids: tuple[int, ...] = ()
    year: int | None = None
    year_from: int | None = None
    year_to: int | None = None
    rating_min: float | None = None
    q: str | None = None
    ids: tuple[int, ...] | None = None
    newest_first: bool = False
    # Ends with ("id", ...) when given (see `sort_keys`); () for the default order.
    sort: tuple[SortKey, ...] = ()

    def conditions(self) -> list[ColumnElement[bool]]:
        """Every filter but `q`, which the search resolves (`_search_page`)."""
        conditions: list[ColumnElement[bool]] = []
        if self.genre_ids:
            conditions.append(_one_of(Movie.genre_id, self.genre_ids))
        if self.director_ids:
            conditions.append(_one_of(Movie.director_id, self.director_ids))
        if self.year is not None:
            conditions.append(Movie.year == self.year)
        if self.year_from is not None:
            conditions.append(Movie.year >= self.year_from)
        if self.year_to is not None:
            conditions.append(Movie.year <= self.year_to)
        if self.rating_min is not None:
            conditions.append(Movie.rating >= self.rating_min)
        if self.ids is not None:
            conditions.append(Movie.id.in_(self.ids))
        return conditions

    def order(self) -> tuple[SortKey, ...]:
        """The order asked for, in full: `sort`, else relevance with `q` (unless
        `status=new`), else () for the ranks' orders."""
        if self.sort:
            return self.sort
        if self.q and not self.newest_first:
            return ((RELEVANCE, False), ("id", False))
        return ()


def sort_keys(raw: str, *, with_relevance: bool) -> tuple[SortKey, ...]:
    """`"-rating,title"` -> (("rating", True), ("title", False), ("id", False)).

    Raises ValueError with a message for a person on an unknown or repeated key.
    """
    allowed = [*SORT_COLUMNS, *([RELEVANCE] if with_relevance else [])]
    keys: list[SortKey] = []
    for item in raw.split(","):
        part = item.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part[1:] if descending else part
        if name not in allowed:
            hint = "" if with_relevance or name != RELEVANCE else " (relevance needs q)"
            raise ValueError(
                f"{part[:20]!r} is not a sort key{hint}; use {', '.join(allowed)},"
                " each with a leading - for descending."
            )
        if any(name == known for known, _ in keys):
            raise ValueError(f"{name!r} is given more than once.")
        keys.append((name, descending))
    if not keys:
        return ()
    if all(name != "id" for name, _ in keys):
        keys.append(("id", False))
    # Keys after id cannot change an order id already decides.
    cut = next(index for index, (name, _) in enumerate(keys) if name == "id")
    return tuple(keys[: cut + 1])


def _one_of(column: InstrumentedAttribute[int], values: tuple[int, ...]) -> ColumnElement[bool]:
    return column == values[0] if len(values) == 1 else column.in_(values)


def _movie_record(row: Any) -> Record:
    # Unpacked in `_MOVIE_COLUMNS` order: reading each column by name cost eight times more.
    (
        movie_id,
        title,
        original_title,
        description,
        trailer,
        year,
        rating,
        genre_id,
        director_id,
        genre,
        director,
    ) = row
    return {
        "id": movie_id,
        "title": title,
        "original_title": original_title,
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
# The same for a single-key `sort` of the whole catalog (see models.MoviePosition): one
# statement for every such order, which is a parameter too. The position table's primary
# key gives the page's movies, the joins then run for those twelve.
_POSITIONED_PAGE = reused(
    select(*_MOVIE_COLUMNS)
    .select_from(MoviePosition)
    .join(Movie, Movie.id == MoviePosition.movie_id)
    .join(Genre, Genre.id == Movie.genre_id)
    .join(Director, Director.id == Movie.director_id)
    .where(
        MoviePosition.sort_order == bindparam("order"), MoviePosition.position > bindparam("after")
    )
    .order_by(MoviePosition.position)
    .limit(bindparam("size"))
)
# id descending is store_rank read backwards, counted down from the highest rank in the
# same statement (a count read before it could be stale by an import in between).
_ID_DESCENDING_PAGE = reused(
    _MOVIES_SELECT.where(
        Movie.store_rank
        <= select(func.max(Movie.store_rank)).scalar_subquery() - bindparam("after")
    )
    .order_by(Movie.store_rank.desc())
    .limit(bindparam("size"))
)
# Each `sort` read as a range of positions when nothing filters the list, with the
# statement's parameters besides the bounds. The other sorts (several keys, or a single
# key then id descending) and every filtered list keep the order's index and OFFSET.
_RANGED_SORTS: dict[tuple[SortKey, ...], tuple[AnySelect, dict[str, str]]] = {
    (("id", False),): (_UNFILTERED_PAGE[False], {}),  # store_rank is the id order
    (("id", True),): (_ID_DESCENDING_PAGE, {}),
    **{
        ((order.lstrip("-"), order.startswith("-")), ("id", False)): (
            _POSITIONED_PAGE,
            {"order": order},
        )
        for order in POSITION_ORDERS
    },
}


def _movies_select() -> AnySelect:
    return _MOVIES_SELECT


def _paged(query: _Q, page: Page) -> _Q:  # genres and directors: short lists
    if page.number is None:
        return query
    return query.offset(page.offset).limit(page.limit)


def _order(filters: MovieFilters) -> list[ColumnElement[Any] | InstrumentedAttribute[Any]]:
    # The rank columns hold the positions in the two default orders (id ascending; year,
    # then id, descending), so ordering by them is ordering by what they stand for.
    # The other orders walk the listing indexes (see models.Movie).
    order = filters.order()
    if not order:
        return [Movie.new_rank if filters.newest_first else Movie.store_rank]
    return [
        SORT_COLUMNS[name].desc() if descending else SORT_COLUMNS[name]
        for name, descending in order
    ]


# With `q`, the search decides which movies match and how well. In relevance order (the
# default) it reads the page itself, tier by tier; in any order without relevance the
# database sorts the matches as any other list; an order that mixes relevance with other
# keys is sorted here, from the whole ranked list, in as many statements as it has chunks.
_MATCH_CHUNK = 5000


async def matching_ids(reader: Reader, filters: MovieFilters) -> list[int]:
    """With `q`: the ids of every movie that matches it and every other filter, in order."""
    async with reader.together() as held:
        ids, _ = await _search_page(held, filters, 0, None)
    return ids


async def _search_page(
    reader: Reader, filters: MovieFilters, offset: int, limit: int | None
) -> tuple[list[int], int]:
    """With `q`: the ids of the matches from `offset` (`limit` of them, or all), in the
    order asked for, and how many match in all."""
    assert filters.q
    query = await search.prepare(reader, filters.q)
    if query is None:
        return [], 0
    conditions = filters.conditions()
    order = filters.order()
    if order and order[0] == (RELEVANCE, False):  # ties are impossible: nothing follows
        ids, counted = await search.page(reader, query, offset, limit, conditions)
        assert counted is not None
        return ids, counted
    total = await search.count(reader, query, conditions)
    if total <= offset:
        return [], total
    size = total - offset if limit is None else limit
    if all(name != RELEVANCE for name, _ in order):
        matching = search.matching(query, reader.dialect)
        statement = select(Movie.id).where(matching, *conditions).order_by(*_order(filters))
        rows = await reader.rows(statement.offset(offset).limit(size))
        return [movie_id for (movie_id,) in rows], total
    ids = await _mixed_order(reader, query, conditions, order)
    return ids[offset : offset + size], total


async def _mixed_order(
    reader: Reader,
    query: search.Query,
    conditions: list[ColumnElement[bool]],
    order: tuple[SortKey, ...],
) -> list[int]:
    """Every match, in an order where relevance follows or precedes other keys."""
    ranked, _ = await search.page(reader, query, 0, None)
    names = [name for name, _ in order if name not in (RELEVANCE, "id")]
    columns = [SORT_COLUMNS[name] for name in names]
    found: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(ranked), _MATCH_CHUNK):
        chunk = ranked[start : start + _MATCH_CHUNK]
        statement = select(Movie.id, *columns).where(Movie.id.in_(chunk), *conditions)
        for row in await reader.rows(statement):
            found[row[0]] = tuple(row[1:])
    position = {movie_id: index for index, movie_id in enumerate(ranked)}

    def value(movie_id: int, name: str) -> Any:
        if name == RELEVANCE:
            return position[movie_id]
        if name == "id":
            return movie_id
        return found[movie_id][names.index(name)]

    ids = sorted(found)
    for name, descending in reversed(order):  # stable sorts, last key first
        ids.sort(key=lambda movie_id: value(movie_id, name), reverse=descending)
    return ids


def _in_order(rows: Iterable[Any], ids: list[int]) -> list[Record]:
    """The movies of `rows`, in the order of `ids`."""
    records = {record["id"]: record for record in map(_movie_record, rows)}
    return [records[movie_id] for movie_id in ids if movie_id in records]


# A search page's movies, by id. Given a dozen ids, PostgreSQL joins the directors by
# hashing all of them (0.6 ms at 2,000); a lookup for each movie's names costs 0.08 ms.
# For the whole catalog the join stays (`_MOVIES_SELECT`): a lookup per row, 100,000
# times, takes two to three times as long.
_MOVIES_BY_IDS: AnySelect = select(
    *_MOVIE_COLUMNS[:-2],  # the names, the last two, looked up
    select(Genre.name).where(Genre.id == Movie.genre_id).scalar_subquery().label("genre_name"),
    select(Director.name)
    .where(Director.id == Movie.director_id)
    .scalar_subquery()
    .label("director_name"),
).where(Movie.id.in_(bindparam("ids", expanding=True)))


async def _movies_by_ids(reader: Reader, ids: list[int]) -> list[Record]:
    """The movies of a page's `ids`, in that order."""
    return _in_order(await reader.rows(_MOVIES_BY_IDS, {"ids": ids}), ids)


async def count_movies(reader: Reader, filters: MovieFilters) -> int:
    if filters.q:
        async with reader.together() as held:
            matches = await search.prepare(held, filters.q)
            if matches is None:
                return 0
            return await search.count(held, matches, filters.conditions())
    conditions = filters.conditions()
    if not conditions:  # the ranks run 1..n: the highest one is the count, from an index
        query = _UNFILTERED_COUNT
    else:
        query = select(func.count()).select_from(Movie).where(*conditions)
    return int(await reader.scalar(query))


def sort_values(record: Record, sort: tuple[SortKey, ...]) -> list[Any]:
    """A listed movie's values of the `sort` keys: where a cursor resumes after it."""
    return [search_key(record["title"]) if name == "title" else record[name] for name, _ in sort]


def _after(sort: tuple[SortKey, ...], values: tuple[Any, ...]) -> ColumnElement[bool]:
    """The movies after the one with these `sort` values, in the `sort` order."""

    def beyond(
        column: InstrumentedAttribute[Any], descending: bool, value: Any
    ) -> ColumnElement[bool]:
        bound: ColumnElement[bool] = column < value if descending else column > value
        return bound

    columns = [(SORT_COLUMNS[name], descending) for name, descending in sort]
    alternatives = [
        and_(
            *(column == value for (column, _), value in zip(columns[:index], values, strict=False)),
            beyond(*columns[index], values[index]),
        )
        for index in range(len(columns))
    ]
    first, descending = columns[0]
    # The first key's bound alone lets the index be entered there.
    within = first <= values[0] if descending else first >= values[0]
    return and_(within, or_(*alternatives))


async def list_movies(
    reader: Reader, filters: MovieFilters, page: Page, after: tuple[Any, ...] | None = None
) -> tuple[list[Record], int]:
    """One page (or all) of the movies matching `filters`, and how many match in all.

    `after`, with `sort` and a page: the `sort_values` of the movie before the page (the
    last of the previous one), found from there rather than by counting `page.offset`.

    The count and the page are two statements: an import committed between them makes
    the total disagree with the page for that one answer, never the page itself.
    """
    async with reader.together() as held:
        if filters.q:
            shown, total = await _search_page(held, filters, page.offset, page.limit)
            return await _movies_by_ids(held, shown), total
        total = await count_movies(held, filters)
        if total == 0 or page.is_past(total):
            return [], total
        conditions = filters.conditions()
        if page.number is not None and not conditions and not filters.sort:
            statement = _UNFILTERED_PAGE[filters.newest_first]
            rows = await held.rows(statement, {"after": page.offset, "size": page.limit})
            return [_movie_record(row) for row in rows], total
        # After a cursor the page resumes at the previous page's last movie (below), as its
        # Link promised even if an import has moved movies since; without one, the positions.
        ranged = _RANGED_SORTS.get(filters.sort)
        if page.number is not None and not conditions and after is None and ranged is not None:
            statement, parameters = ranged
            bounds = {"after": page.offset, "size": page.limit}
            rows = await held.rows(statement, {**parameters, **bounds})
            return [_movie_record(row) for row in rows], total
        order = _order(filters)
        query = _movies_select().where(*conditions).order_by(*order)
        if page.number is not None:
            # The page's ids first, from the order's index alone; the joins then run for
            # twelve rows rather than for every row the offset skips. After a cursor, the
            # index is entered at the previous page's last movie and nothing is skipped.
            if after is not None and filters.sort:
                conditions = [*conditions, _after(filters.sort, after)]
            page_ids = select(Movie.id).where(*conditions).order_by(*order).limit(page.limit)
            if after is None or not filters.sort:
                page_ids = page_ids.offset(page.offset)
            query = (
                _movies_select().where(Movie.id.in_(page_ids.scalar_subquery())).order_by(*order)
            )
        rows = await held.rows(query)
        return [_movie_record(row) for row in rows], total


async def stream_movies(
    database: Database,
    filters: MovieFilters,
    batch: int = 1000,
    ordered_ids: list[int] | None = None,
) -> AsyncIterator[list[Record]]:
    """Every movie matching `filters`, in batches, from a connection of its own.

    For the whole list without `page`: memory holds one batch, not the catalog. With `q`,
    `ordered_ids` is what `matching_ids` found (the route counted them already), listed
    in that order.
    """
    if ordered_ids is not None:
        async with database.engine.connect() as connection:
            for start in range(0, len(ordered_ids), batch):
                chunk = ordered_ids[start : start + batch]
                found = await connection.execute(_movies_select().where(Movie.id.in_(chunk)))
                yield _in_order(found, chunk)
        return
    query = _movies_select().where(*filters.conditions()).order_by(*_order(filters))
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
