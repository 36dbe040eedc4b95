"""Simultaneous requests on a database whose transactions really commit, read by the
service's own reader."""

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.dialects.sqlite import pysqlite

from shared.db import Database, DirectStatement
from tests.conftest import serve
from tests.fakes import make_movie
from user_service import repository
from user_service.models import Bookmark, Profile, UserBase


async def count(app: FastAPI, model: type[UserBase]) -> int:
    database: Database = app.state.database
    async with database.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_ten_simultaneous_adds_make_one_bookmark(committing_app, bearer) -> None:
    headers = bearer(7)
    async with serve(committing_app) as client:
        responses = await asyncio.gather(
            *(client.post("/favorites/movies/5/", headers=headers) for _ in range(10))
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] * 9 + [201]
        assert all(response.json() == make_movie(5) for response in responses)
        listed = await client.get("/favorites/movies/", headers=headers)
        assert listed.json() == [make_movie(5)]
        paged = await client.get("/favorites/movies/?page=1", headers=headers)
        assert paged.json() == [make_movie(5)]
        assert paged.headers["X-Total-Count"] == "1"
        assert (await client.get("/favorites/movies/?page=2", headers=headers)).json() == []
    assert await count(committing_app, Bookmark) == 1


async def test_simultaneous_first_reads_make_one_profile(committing_app, bearer) -> None:
    headers = bearer(7, "a@x.io")
    async with serve(committing_app) as client:
        responses = await asyncio.gather(*(client.get("/user/", headers=headers) for _ in range(5)))
    assert [response.status_code for response in responses] == [200] * 5
    assert {response.json()["id"] for response in responses} == {7}
    assert await count(committing_app, Profile) == 1


async def test_simultaneous_writes_of_every_kind_all_succeed(committing_app, bearer) -> None:
    """Every kind of write at once, on one file under SQLite: the units of work take
    turns for the write lock, and none ends in a 503 "database is locked"."""
    names = [f"Имя {i}" for i in range(12)]
    async with serve(committing_app) as client:
        requests = [
            *(client.patch("/user/", json={"name": name}, headers=bearer(7)) for name in names),
            *(client.post(f"/favorites/movies/{i}/", headers=bearer(7)) for i in range(1, 13)),
            *(client.delete(f"/favorites/movies/{i}/", headers=bearer(7)) for i in range(1, 4)),
            *(client.get("/user/", headers=bearer(user)) for user in range(20, 32)),
            *(client.patch("/user/", json={"surname": "Ли"}, headers=bearer(u)) for u in (40, 41)),
        ]
        responses = await asyncio.gather(*requests)
        assert sorted({response.status_code for response in responses}) in ([200, 201, 204],)
        profile = (await client.get("/user/", headers=bearer(7))).json()
    assert profile["name"] in names
    assert await count(committing_app, Profile) == 1 + 12 + 2
    # Each of movies 1-3 was either removed before it was added (then kept) or after.
    assert 9 <= await count(committing_app, Bookmark) <= 12


async def test_writes_are_durable_once_answered(committing_app, bearer) -> None:
    async with serve(committing_app) as client:
        await client.patch("/user/", json={"name": "Анна", "favorite_genre": 2}, headers=bearer())
        await client.post("/favorites/movies/3/", headers=bearer())
    async with committing_app.state.database.sessionmaker() as session:
        profile = await session.get(Profile, 7)
        assert (profile.name, profile.favourite_genre_id) == ("Анна", 2)
        assert await session.scalar(select(Bookmark.movie_id)) == 3


async def test_a_read_writes_only_for_a_new_user_or_a_new_email(committing_app, bearer) -> None:
    """GET /user/ reads without a session and opens one only when the row must change."""

    async def stored() -> tuple[str, object]:
        async with committing_app.state.database.sessionmaker() as session:
            profile = await session.get(Profile, 7)
            return profile.email, profile.updated_at

    async with serve(committing_app) as client:
        first = await client.get("/user/", headers=bearer(7, "a@x.io"))
        made = await stored()
        again = await client.get("/user/", headers=bearer(7, "a@x.io"))
        assert await stored() == made
        moved = await client.get("/user/", headers=bearer(7, "b@x.io"))
    assert first.json() == again.json()
    assert first.json()["email"] == "a@x.io"
    assert moved.json()["email"] == "b@x.io"
    assert (await stored())[0] == "b@x.io"


@pytest.mark.parametrize(
    "statement",
    [
        repository._PROFILE_OF_USER,
        repository._BOOKMARK_COUNT,
        repository._BOOKMARKED_IDS,
        repository._BOOKMARKED_IDS_PAGE,
    ],
)
def test_the_reads_run_on_the_driver(statement: object) -> None:
    """They would still work the ordinary way; this guards their speed (shared/db/readers.py)."""
    assert DirectStatement.of(statement, pysqlite.dialect()) is not None  # type: ignore[arg-type]
