"""Movies (docs/api.md, Catalog): the list with its filters, sorts and pages, one movie,
and suggestions as you type."""

import base64
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from catalog_service import repository, search
from catalog_service.repository import MovieFilters, Record, SortKey, sort_keys
from shared.db import INT32_MAX, DatabaseDep, ReaderDep
from shared.errors import FieldError, NotFound, ValidationFailed, error_responses
from shared.movies import MovieOut
from shared.pagination import LIST_RESPONSE_HEADERS, Page, PageDep, pagination_headers
from shared.responses import JSONResponse, encode_json

router = APIRouter(prefix="/movies", tags=["movies"])

MAX_BATCH_IDS = 100

IdList = Annotated[
    str | None,
    Query(max_length=1200, description="An id, or several comma-separated: any of them."),
]
YearBound = Annotated[int | None, Query(ge=1, le=9999, description="Inclusive.")]


def parse_ids(raw: str, field: str = "ids", what: str = "a movie id") -> tuple[int, ...]:
    """`"3,1,3"` -> `(3, 1)`: distinct ids in the order given."""
    ids: dict[int, None] = {}
    for item in raw.split(","):
        part = item.strip()
        if not part:
            continue
        if not part.isascii() or not part.isdigit() or not 1 <= int(part) <= INT32_MAX:
            raise ValidationFailed(
                [FieldError(field=field, message=f"{part[:20]!r} is not {what}.")]
            )
        ids[int(part)] = None
    if len(ids) > MAX_BATCH_IDS:
        raise ValidationFailed(
            [FieldError(field=field, message=f"At most {MAX_BATCH_IDS} ids at a time.")]
        )
    return tuple(ids)


def id_filter(raw: str | None, field: str, what: str) -> tuple[int, ...]:
    """`genre_id` / `director_id`: one id or several, comma-separated; () when absent."""
    if raw is None:
        return ()
    ids = parse_ids(raw, field, what)
    if not ids:
        raise ValidationFailed([FieldError(field=field, message=f"Give {what}.")])
    return ids


def sort_order(raw: str | None, q: str | None) -> tuple[SortKey, ...]:
    if raw is None:
        return ()
    try:
        return sort_keys(raw, with_relevance=q is not None)
    except ValueError as exc:
        raise ValidationFailed([FieldError(field="sort", message=str(exc))]) from None


def title_query(raw: str | None) -> str | None:
    """The `q` filter, trimmed. A NUL byte (which PostgreSQL refuses in text, and no
    title holds) is a 422, not a failed query."""
    if raw is None:
        return None
    if "\x00" in raw:
        raise ValidationFailed([FieldError(field="q", message="NUL bytes are not allowed.")])
    return raw.strip() or None


@router.get(
    "",
    response_model=list[MovieOut],
    responses={200: {"headers": LIST_RESPONSE_HEADERS}, **error_responses(422)},
)
async def list_movies(
    request: Request,
    reader: ReaderDep,
    database: DatabaseDep,
    page: PageDep,
    genre_id: IdList = None,
    director_id: IdList = None,
    year: Annotated[int | None, Query(ge=1, le=9999)] = None,
    year_from: YearBound = None,
    year_to: YearBound = None,
    rating_min: Annotated[float | None, Query(ge=0, le=10, description="Inclusive.")] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Words of the title, original title, director or description.",
        ),
    ] = None,
    ids: Annotated[
        str | None, Query(max_length=1200, description="Comma-separated ids, at most 100.")
    ] = None,
    sort: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Comma-separated keys of `rating`, `year`, `title`, `id` (and "
            "`relevance` with `q`), each with a leading `-` for descending; ties end by id.",
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="Opaque, from the `next` link of a sorted page: where the page starts.",
        ),
    ] = None,
    status: Annotated[str | None, Query(max_length=50, description="`new`: newest first.")] = None,
    state: Annotated[str | None, Query(max_length=50, description="Alias of `status`.")] = None,
) -> Response:
    """Movies in store order, newest first with `status=new`, best match first with `q`,
    or in the `sort` order; filters combine."""
    query = title_query(q)
    if year_from is not None and year_to is not None and year_from > year_to:
        raise ValidationFailed(
            [FieldError(field="year_from", message="year_from is after year_to.")]
        )
    filters = MovieFilters(
        genre_ids=id_filter(genre_id, "genre_id", "a genre id"),
        director_ids=id_filter(director_id, "director_id", "a director id"),
        year=year,
        year_from=year_from,
        year_to=year_to,
        rating_min=rating_min,
        q=query,
        ids=parse_ids(ids) if ids is not None else None,
        newest_first="new" in (status, state),
        sort=sort_order(sort, query),
    )
    if page.number is None:  # the whole list: streamed, however long it is
        ordered = await repository.matching_ids(reader, filters) if filters.q else None
        total = (
            len(ordered) if ordered is not None else await repository.count_movies(reader, filters)
        )
        return StreamingResponse(
            json_array(repository.stream_movies(database, filters, ordered_ids=ordered)),
            media_type="application/json",
            headers=pagination_headers(request.url, page, total),
        )
    keyset = bool(filters.sort) and not filters.q
    after = read_cursor(cursor, page, filters.sort) if keyset and cursor else None
    movies, total = await repository.list_movies(reader, filters, page, after)
    next_cursor = None
    if keyset and len(movies) == page.size:
        values = repository.sort_values(movies[-1], filters.sort)
        next_cursor = make_cursor(page.number + 1, filters.sort, values)
    headers = pagination_headers(request.url, page, total, next_cursor)
    return JSONResponse(movies, headers=headers)


def make_cursor(number: int, sort: tuple[SortKey, ...], values: list[Any]) -> str:
    """The opaque `cursor` of page `number`: the sort and where the page before ended."""
    raw = json.dumps([number, [[name, descending] for name, descending in sort], values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_CURSOR_TYPES = {"rating": (int, float), "year": (int,), "title": (str,), "id": (int,)}


def read_cursor(token: str, page: Page, sort: tuple[SortKey, ...]) -> tuple[Any, ...] | None:
    """Where page `page` starts, from a cursor `make_cursor` made for it; None for a cursor
    made for another page or sort (the page is then counted from the first movie)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        number, keys, values = json.loads(raw)
        made_for = tuple((name, descending) for name, descending in keys)
        valid = len(values) == len(made_for) and all(
            isinstance(value, _CURSOR_TYPES.get(name, ())) and not isinstance(value, bool)
            for (name, _), value in zip(made_for, values, strict=False)
        )
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise ValidationFailed([FieldError(field="cursor", message="This cursor is not valid.")])
    if number != page.number or made_for != sort:
        return None
    return tuple(
        float(v) if name == "rating" else v for (name, _), v in zip(sort, values, strict=True)
    )


async def json_array(batches: AsyncIterator[list[Record]]) -> AsyncIterator[bytes]:
    """`[` + the batches' records, comma-separated + `]`, one chunk a batch."""
    separator = b"["
    async for batch in batches:
        if batch:
            yield separator + encode_json(batch)[1:-1]
            separator = b","
    yield b"[]" if separator == b"[" else b"]"


class Suggestion(BaseModel):
    id: int
    title: str
    original_title: str | None
    year: int


# Before `/{movie_id}`, which would otherwise take "suggest" for an id.
@router.get("/suggest", response_model=list[Suggestion], responses=error_responses(422))
async def suggest_movies(
    reader: ReaderDep,
    q: Annotated[str, Query(max_length=search.MAX_QUERY, description="What is typed so far.")],
) -> JSONResponse:
    """Up to 8 movies for a title, original title or director being typed, best first."""
    typed = title_query(q)
    if typed is None:
        raise ValidationFailed([FieldError(field="q", message="Type something to search for.")])
    return JSONResponse(await search.suggest(reader, typed))


@router.get("/{movie_id}", response_model=MovieOut, responses=error_responses(404, 422))
async def read_movie(movie_id: int, reader: ReaderDep) -> JSONResponse:
    """One movie with its genre and director."""
    movie = await repository.get_movie(reader, movie_id) if 1 <= movie_id <= INT32_MAX else None
    if movie is None:
        raise NotFound("There is no movie with this id.")
    return JSONResponse(movie)
