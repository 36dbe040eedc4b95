"""Deep pages of the single-key sorts read as ranges of positions (models.MoviePosition):
page by page the same movies as the plain ORDER BY ... OFFSET, before and after imports."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import Executable, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service import MIGRATIONS, repository
from catalog_service.importer import _movie_row, import_catalog, parse_catalog
from catalog_service.models import Director, Genre, Movie, MoviePosition
from catalog_service.repository import SORT_COLUMNS, MovieFilters, list_movies, sort_keys
from shared.db import Database, Params, Rows
from shared.migrations import upgrade
from shared.pagination import Page
from testkit.database import SessionReader, temporary_database

# Every sort that a range of positions serves, in the forms a client may write it.
RANGED = [
    *(sort for key in ("rating", "year", "title") for sort in (key, f"-{key}", f"{key},id")),
    "-rating,id",
    "id",
    "-id",
]
TITLES = ["Ёлки", "елки", "Елки 2", "Солярис", "солярис", "Zero", "zero", "Ägypten", "10 лет"]


def catalog(count: int, *, shift: int = 0) -> dict[str, Any]:
    """`count` movies with many equal ratings, years and titles (in their search form)."""
    movies = [
        {
            "id": movie_id,
            "title": TITLES[movie_id % len(TITLES)],
            "year": 1990 + (movie_id * 7 + shift) % 5,
            "rating": (5, 6.5, 7, 8.2)[(movie_id * 3 + shift) % 4],
            "genre_id": 1,
            "director_id": 1,
        }
        for movie_id in range(1, count + 1)
    ]
    return {
        "genres": [{"id": 1, "name": "Драма"}],
        "directors": [{"id": 1, "name": "Андрей Тарковский"}],
        "movies": movies,
    }


class RecordingReader(SessionReader):
    """Reads in the session, keeping every statement it ran."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.statements: list[Executable] = []

    async def rows(self, statement: Executable, parameters: Params = None, /) -> Rows:
        self.statements.append(statement)
        return await super().rows(statement, parameters)


def plain_order(sort: str) -> list[Any]:
    return [
        SORT_COLUMNS[name].desc() if descending else SORT_COLUMNS[name]
        for name, descending in sort_keys(sort, with_relevance=False)
    ]


async def assert_pages_match(session: AsyncSession, sort: str) -> None:
    reader = RecordingReader(session)
    filters = MovieFilters(sort=sort_keys(sort, with_relevance=False))
    total = len((await session.execute(select(Movie.id))).all())
    for number in range(1, total // 12 + 3):  # every page, and one past the last
        page = Page(number)
        movies, counted = await list_movies(reader, filters, page)
        plain = select(Movie.id).order_by(*plain_order(sort)).offset(page.offset).limit(12)
        wanted = list((await session.execute(plain)).scalars())
        assert [m["id"] for m in movies] == wanted, (sort, number)
        assert counted == total
    ranged = {repository._POSITIONED_PAGE, repository._ID_DESCENDING_PAGE}
    ranged |= set(repository._UNFILTERED_PAGE.values())
    assert any(statement in ranged for statement in reader.statements), sort


@pytest.mark.parametrize("sort", RANGED)
async def test_pages_equal_the_plain_order(session: AsyncSession, sort: str) -> None:
    await import_catalog(session, parse_catalog(catalog(70)), replace=True)
    await assert_pages_match(session, sort)
    # Ratings and years move, movies come and go: the positions follow.
    again = catalog(90, shift=1)
    again["movies"] = [m for m in again["movies"] if m["id"] % 11 != 0]
    report = await import_catalog(session, parse_catalog(again), replace=True)
    movies = report.tables["movies"]
    assert (movies.added > 0, movies.updated > 0, movies.deleted > 0) == (True, True, True)
    await assert_pages_match(session, sort)


async def test_other_sorts_and_filters_keep_the_order_index(session: AsyncSession) -> None:
    await import_catalog(session, parse_catalog(catalog(40)), replace=True)
    ranged = {repository._POSITIONED_PAGE, repository._ID_DESCENDING_PAGE}
    for filters in [
        MovieFilters(sort=sort_keys("-rating,-id", with_relevance=False)),
        MovieFilters(sort=sort_keys("year,title", with_relevance=False)),
        MovieFilters(sort=sort_keys("-rating", with_relevance=False), year_from=1991),
        MovieFilters(sort=sort_keys("title", with_relevance=False), rating_min=0),
    ]:
        reader = RecordingReader(session)
        found, _ = await list_movies(reader, filters, Page(2))
        assert found
        assert not ranged & set(reader.statements), filters


async def test_an_upgraded_catalog_is_positioned(session: AsyncSession) -> None:
    """Migration 0007 positions the movies already there, as an import would have."""
    movies = parse_catalog(catalog(30)).movies
    async with temporary_database("catalog_positions") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url, "0006")
        database = Database(url)
        try:
            async with database.engine.begin() as connection:
                await connection.execute(insert(Genre), [{"id": 1, "name": "Драма"}])
                await connection.execute(insert(Director), [{"id": 1, "name": "Тарковский"}])
                await connection.execute(insert(Movie), [_movie_row(m) for m in movies])
            await asyncio.to_thread(upgrade, MIGRATIONS, url, "0007")
            async with database.engine.connect() as connection:
                migrated = set(await connection.execute(select(MoviePosition.__table__)))
        finally:
            await database.dispose()
    await import_catalog(session, parse_catalog(catalog(30)), replace=True)
    imported = set(await session.execute(select(MoviePosition.__table__)))
    assert len(imported) == 6 * 30
    assert migrated == imported
