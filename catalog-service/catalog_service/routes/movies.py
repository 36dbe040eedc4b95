from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from catalog_service import repository
from catalog_service.repository import MovieFilters, Record
from shared.db import INT32_MAX, DatabaseDep, ReaderDep
from shared.errors import FieldError, NotFound, ValidationFailed, error_responses
from shared.movies import MovieOut
from shared.pagination import LIST_RESPONSE_HEADERS, PageDep, pagination_headers
from shared.responses import JSONResponse, encode_json

router = APIRouter(prefix="/movies", tags=["movies"])

MAX_BATCH_IDS = 100

IdFilter = Annotated[int | None, Query(ge=1, le=INT32_MAX)]


def parse_ids(raw: str) -> tuple[int, ...]:
    """`"3,1,3"` -> `(3, 1)`: distinct ids in the order given."""
    ids: dict[int, None] = {}
    for item in raw.split(","):
        part = item.strip()
        if not part:
            continue
        if not part.isascii() or not part.isdigit() or not 1 <= int(part) <= INT32_MAX:
            raise ValidationFailed(
                [FieldError(field="ids", message=f"{part[:20]!r} is not a movie id.")]
            )
        ids[int(part)] = None
    if len(ids) > MAX_BATCH_IDS:
        raise ValidationFailed(
            [FieldError(field="ids", message=f"At most {MAX_BATCH_IDS} ids at a time.")]
        )
    return tuple(ids)


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
    genre_id: IdFilter = None,
    director_id: IdFilter = None,
    year: Annotated[int | None, Query(ge=1, le=9999)] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the title, any case.")
    ] = None,
    ids: Annotated[
        str | None, Query(max_length=1200, description="Comma-separated ids, at most 100.")
    ] = None,
    status: Annotated[str | None, Query(max_length=50, description="`new`: newest first.")] = None,
    state: Annotated[str | None, Query(max_length=50, description="Alias of `status`.")] = None,
) -> Response:
    """Movies in store order, or newest first with `status=new`; filters combine."""
    filters = MovieFilters(
        genre_id=genre_id,
        director_id=director_id,
        year=year,
        q=title_query(q),
        ids=parse_ids(ids) if ids is not None else None,
        newest_first="new" in (status, state),
    )
    if page.number is None:  # the whole list: streamed, however long it is
        total = await repository.count_movies(reader, filters)
        return StreamingResponse(
            json_array(repository.stream_movies(database, filters)),
            media_type="application/json",
            headers=pagination_headers(request.url, page, total),
        )
    movies, total = await repository.list_movies(reader, filters, page)
    return JSONResponse(movies, headers=pagination_headers(request.url, page, total))


async def json_array(batches: AsyncIterator[list[Record]]) -> AsyncIterator[bytes]:
    """`[` + the batches' records, comma-separated + `]`, one chunk a batch."""
    separator = b"["
    async for batch in batches:
        if batch:
            yield separator + encode_json(batch)[1:-1]
            separator = b","
    yield b"[]" if separator == b"[" else b"]"


@router.get("/{movie_id}", response_model=MovieOut, responses=error_responses(404, 422))
async def read_movie(movie_id: int, reader: ReaderDep) -> JSONResponse:
    """One movie with its genre and director."""
    movie = await repository.get_movie(reader, movie_id) if 1 <= movie_id <= INT32_MAX else None
    if movie is None:
        raise NotFound("There is no movie with this id.")
    return JSONResponse(movie)
