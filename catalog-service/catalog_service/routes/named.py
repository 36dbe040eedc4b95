"""Genres and directors (docs/api.md, Catalog): the same two routes each, over their own
table."""

from fastapi import APIRouter, Request

from catalog_service import repository
from catalog_service.models import Director, Genre
from shared.db import INT32_MAX, ReaderDep
from shared.errors import NotFound, error_responses
from shared.movies import DirectorOut, GenreOut
from shared.pagination import LIST_RESPONSE_HEADERS, PageDep, pagination_headers
from shared.responses import JSONResponse


def named_router(
    model: type[Genre] | type[Director], schema: type[GenreOut] | type[DirectorOut], noun: str
) -> APIRouter:
    router = APIRouter(prefix=f"/{model.__tablename__}", tags=[model.__tablename__])

    @router.get(
        "",
        response_model=list[schema],  # type: ignore[valid-type]
        responses={200: {"headers": LIST_RESPONSE_HEADERS}, **error_responses(422)},
        name=f"list_{model.__tablename__}",
        summary=f"List {model.__tablename__}",
    )
    async def list_records(request: Request, reader: ReaderDep, page: PageDep) -> JSONResponse:
        records, total = await repository.list_named(reader, model, page)
        return JSONResponse(records, headers=pagination_headers(request.url, page, total))

    @router.get(
        "/{record_id}",
        response_model=schema,
        responses=error_responses(404, 422),
        name=f"read_{noun}",
        summary=f"Read a {noun}",
    )
    async def read_record(record_id: int, reader: ReaderDep) -> JSONResponse:
        record = (
            await repository.get_named(reader, model, record_id)
            if 1 <= record_id <= INT32_MAX
            else None
        )
        if record is None:
            raise NotFound(f"There is no {noun} with this id.")
        return JSONResponse(record)

    return router


genres = named_router(Genre, GenreOut, "genre")
directors = named_router(Director, DirectorOut, "director")
