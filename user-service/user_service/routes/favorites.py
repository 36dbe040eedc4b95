"""The signed-in user's bookmarked movies (docs/api.md, Favorites); the movies themselves
come from the catalog."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from shared.db import INT32_MAX, ReaderDep, WriterDep
from shared.errors import NotFound, error_responses
from shared.movies import MovieOut
from shared.pagination import LIST_RESPONSE_HEADERS, PageDep, pagination_headers
from shared.responses import JSONResponse
from user_service import repository
from user_service.deps import CatalogDep, CurrentUser

router = APIRouter(prefix="/favorites/movies", tags=["favorites"])

MovieId = Annotated[int, Path(description="A catalog movie id.")]


def _is_movie_id(movie_id: int) -> bool:
    return 1 <= movie_id <= INT32_MAX


@router.get(
    "",
    response_model=list[MovieOut],
    responses={
        200: {
            "description": "The movies, newest bookmark first; `X-Total-Count` counts "
            "bookmarks, including any whose movie has left the catalog.",
            "headers": LIST_RESPONSE_HEADERS,
        },
        **error_responses(401, 422, 503),
    },
)
async def list_favorite_movies(
    request: Request, user: CurrentUser, reader: ReaderDep, catalog: CatalogDep, page: PageDep
) -> JSONResponse:
    """The bookmarked movies, newest bookmark first (12 a page with `page`)."""
    movie_ids, total = await repository.list_bookmarked_movie_ids(reader, user.user_id, page)
    movies = await catalog.get_movies(movie_ids) if movie_ids else {}
    body: list[Any] = [movies[movie_id] for movie_id in movie_ids if movie_id in movies]
    return JSONResponse(body, headers=pagination_headers(request.url, page, total))


@router.post(
    "/{movie_id}",
    status_code=201,
    response_model=MovieOut,
    responses={
        201: {"description": "Bookmarked now."},
        200: {"model": MovieOut, "description": "It was already bookmarked."},
        **error_responses(401, 404, 422, 503),
    },
)
async def add_favorite_movie(
    movie_id: MovieId, user: CurrentUser, writer: WriterDep, catalog: CatalogDep
) -> JSONResponse:
    """Bookmark a movie; bookmarking it again changes nothing."""
    # The catalog is asked before the unit of work, so no transaction waits for it.
    movie = await catalog.get_movie(movie_id)
    if movie is None:
        raise NotFound("There is no movie with this id.")
    async with writer() as session:
        created = await repository.add_bookmark(session, user.user_id, movie_id)
    return JSONResponse(movie, status_code=201 if created else 200)


@router.delete("/{movie_id}", status_code=204, responses=error_responses(401, 422))
async def remove_favorite_movie(
    movie_id: MovieId, user: CurrentUser, writer: WriterDep
) -> Response:
    """Remove a bookmark; removing one that is not there is not an error."""
    if _is_movie_id(movie_id):
        async with writer() as session:
            await repository.remove_bookmark(session, user.user_id, movie_id)
    return Response(status_code=204)
