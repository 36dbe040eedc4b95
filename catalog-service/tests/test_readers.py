"""The catalog's own reader (on SQLite: reused statements on the driver itself) answers
exactly as the reader the other tests use, which reads in their session."""

import httpx
import pytest
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service import repository
from catalog_service.config import CatalogSettings
from catalog_service.main import create_app
from shared.db import DirectStatement
from testkit.database import use_session

URLS = [
    "/movies/?page=1",
    "/movies/?page=2&status=new",
    "/movies/?page=3",
    "/movies/?page=99",
    "/movies/?genre_id=2&page=1",
    "/movies/?ids=5,3,999",
    "/movies/",
    "/movies/7",
    "/movies/999",
    "/genres/",
    "/genres/2",
    "/directors/?page=1",
    "/directors/9",
]


async def test_its_own_reader_answers_as_the_tests_reader(
    database_url: str, session: AsyncSession
) -> None:
    # No answer cache, or the second round would be served from the first.
    app = create_app(
        CatalogSettings(database_url=database_url, environment="test", cache_enabled=False)
    )

    async def answers() -> list[tuple[int, str | None, str | None, bytes]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test") as client:
            found = []
            for url in URLS:
                response = await client.get(url)
                headers = response.headers
                found.append(
                    (response.status_code, headers.get("x-total-count"), headers.get("link"),
                     response.content)
                )  # fmt: skip
            return found

    try:
        own = await answers()
        use_session(app, session)
        in_session = await answers()
    finally:
        await app.state.database.dispose()
    assert own == in_session
    assert [status for status, *_ in own].count(200) == len(URLS) - 2


@pytest.mark.parametrize(
    "statement",
    [
        repository._UNFILTERED_COUNT,
        repository._UNFILTERED_PAGE[False],
        repository._UNFILTERED_PAGE[True],
        repository._MOVIE_BY_ID,
    ],
)
def test_the_hot_statements_run_on_the_driver(statement: object) -> None:
    """Each would still work the ordinary way; this guards their speed (shared/db/readers.py)."""
    assert DirectStatement.of(statement, pysqlite.dialect()) is not None  # type: ignore[arg-type]
