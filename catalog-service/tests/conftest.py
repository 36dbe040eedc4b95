"""Catalog tests: one database per session (SQLite, or PostgreSQL with TEST_DATABASE_URL),
migrated and filled with CATALOG below; each test runs in a transaction rolled back after it.
"""

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from catalog_service import cli
from catalog_service.config import CatalogSettings
from catalog_service.importer import import_catalog, parse_catalog
from catalog_service.main import create_app
from shared.db import Database
from testkit.database import migrated_database, rolled_back_session, use_session

# The catalog's migrate entry point, leaving the catalog empty for the tests' own data.
MIGRATE_EMPTY = partial(cli.migrate, seed=False)

GENRES = [
    {"id": 1, "name": "Драма"},
    {"id": 2, "name": "Комедия"},
    {"id": 3, "name": "Фантастика"},
    {"id": 4, "name": "Пустой жанр"},  # no movies
]
DIRECTORS = [
    {"id": 1, "name": "Андрей Тарковский"},
    {"id": 2, "name": "Леонид Гайдай"},
    {"id": 3, "name": "Кристофер Нолан"},
]
# (title, year, genre_id, director_id): 30 movies, several sharing a year.
_MOVIES = [
    ("Сталкер", 1979, 3, 1),
    ("Иван Васильевич меняет профессию", 1973, 2, 2),
    ("Тёмный рыцарь", 2008, 1, 3),
    ("Солярис", 1972, 3, 1),
    ("Бриллиантовая рука", 1968, 2, 2),
    ("Начало", 2010, 3, 3),
    ("Зеркало", 1975, 1, 1),
    ("Операция «Ы»", 1965, 2, 2),
    ("Интерстеллар", 2014, 3, 3),
    ("Андрей Рублёв", 1966, 1, 1),
    ("100% любовь", 2010, 2, 3),
    ("snake_case story", 2010, 1, 3),
]
# Original titles of some of them; the others are unknown (null).
_ORIGINAL_TITLES = {
    "Сталкер": "Сталкер",
    "Тёмный рыцарь": "The Dark Knight",
    "Начало": "Inception",
    "Интерстеллар": "Interstellar",
}
MOVIES: list[dict[str, Any]] = [
    {
        "id": index,
        "title": title,
        "original_title": _ORIGINAL_TITLES.get(title),
        "description": f"Описание фильма «{title}».",
        "trailer": "" if index % 5 == 0 else f"https://example.org/trailer/{index}",
        "year": year,
        "rating": round(6 + index / 10, 1),
        "genre_id": genre_id,
        "director_id": director_id,
    }
    for index, (title, year, genre_id, director_id) in enumerate(
        _MOVIES + [(f"Фильм номер {n}", 1990 + n % 4, 1 + n % 3, 1 + n % 3) for n in range(18)],
        start=1,
    )
]
CATALOG = {"genres": GENRES, "directors": DIRECTORS, "movies": MOVIES}


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    async with migrated_database("catalog", MIGRATE_EMPTY) as url:
        database = Database(url)
        async with database.sessionmaker() as session, session.begin():
            await import_catalog(session, parse_catalog(CATALOG))
        await database.dispose()
        yield url


@pytest.fixture(scope="session")
async def app(database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(CatalogSettings(database_url=database_url, environment="test"))
    yield application
    await application.state.database.dispose()


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> AsyncEngine:
    database: Database = app.state.database
    return database.engine


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with rolled_back_session(engine) as session:
        yield session


@pytest.fixture
async def client(app: FastAPI, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    use_session(app, session)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test") as client:
        yield client
    app.dependency_overrides.clear()
