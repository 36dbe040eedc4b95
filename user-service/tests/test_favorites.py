"""Bookmarks at /favorites/movies/: add, list (from the catalog in one batch), delete."""

import httpx
import pytest

from shared.pagination import PAGE_SIZE
from tests.fakes import make_movie
from user_service import repository

A, B = 7, 8


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [movie["id"] for movie in response.json()]


async def add(client, headers, *movie_ids: int) -> None:
    for movie_id in movie_ids:
        response = await client.post(f"/favorites/movies/{movie_id}/", headers=headers)
        assert response.status_code == 201, response.text


async def test_first_add_is_201_with_the_movie_then_200(client, bearer) -> None:
    first = await client.post("/favorites/movies/5/", headers=bearer())
    assert first.status_code == 201
    assert first.json() == make_movie(5)
    again = await client.post("/favorites/movies/5/", headers=bearer())
    assert again.status_code == 200
    assert again.json() == make_movie(5)
    listed = await client.get("/favorites/movies/", headers=bearer())
    assert listed.json() == [make_movie(5)]
    assert listed.headers["X-Total-Count"] == "1"


async def test_the_routes_answer_without_the_trailing_slash(client, bearer) -> None:
    assert (await client.post("/favorites/movies/5", headers=bearer())).status_code == 201
    assert ids(await client.get("/favorites/movies", headers=bearer())) == [5]
    assert (await client.delete("/favorites/movies/5", headers=bearer())).status_code == 204
    assert ids(await client.get("/favorites/movies", headers=bearer())) == []


async def test_an_unknown_movie_is_404(client, bearer, catalog) -> None:
    response = await client.post("/favorites/movies/9999/", headers=bearer())
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert ids(await client.get("/favorites/movies/", headers=bearer())) == []


@pytest.mark.parametrize("movie_id", ["0", "-1", str(2**31), str(10**30)])
async def test_impossible_ids_are_404_without_asking_the_catalog(
    client, bearer, catalog, movie_id
) -> None:
    response = await client.post(f"/favorites/movies/{movie_id}/", headers=bearer())
    assert response.status_code == 404
    assert catalog.requests == []
    response = await client.delete(f"/favorites/movies/{movie_id}/", headers=bearer())
    assert response.status_code == 204


@pytest.mark.parametrize("movie_id", ["abc", "1.5", "1e3"])
async def test_a_movie_id_that_is_not_an_integer_is_422(client, bearer, movie_id) -> None:
    response = await client.post(f"/favorites/movies/{movie_id}/", headers=bearer())
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "movie_id"


async def test_delete_is_204_whether_or_not_it_was_there(client, bearer) -> None:
    await add(client, bearer(), 1, 2)
    for _ in range(2):
        response = await client.delete("/favorites/movies/1/", headers=bearer())
        assert response.status_code == 204
        assert response.content == b""
    assert (await client.delete("/favorites/movies/77/", headers=bearer())).status_code == 204
    assert ids(await client.get("/favorites/movies/", headers=bearer())) == [2]


async def test_the_list_is_newest_first_and_holds_full_movies(client, bearer, catalog) -> None:
    await add(client, bearer(), 3, 1, 2)
    response = await client.get("/favorites/movies/", headers=bearer())
    assert response.json() == [make_movie(2), make_movie(1), make_movie(3)]
    assert catalog.batch_calls() == [[2, 1, 3]]
    # Re-adding does not move a bookmark; removing and adding again does.
    await client.post("/favorites/movies/3/", headers=bearer())
    assert ids(await client.get("/favorites/movies/", headers=bearer())) == [2, 1, 3]
    await client.delete("/favorites/movies/3/", headers=bearer())
    await add(client, bearer(), 3)
    assert ids(await client.get("/favorites/movies/", headers=bearer())) == [3, 2, 1]


async def test_pages_of_twelve(client, bearer, catalog) -> None:
    await add(client, bearer(), *range(1, 16))
    newest_first = list(range(15, 0, -1))
    first = await client.get("/favorites/movies/?page=1", headers=bearer())
    assert ids(first) == newest_first[:PAGE_SIZE]
    assert first.headers["X-Total-Count"] == "15"
    assert 'rel="next"' in first.headers["Link"]
    second = await client.get("/favorites/movies/", params={"page": 2}, headers=bearer())
    assert ids(second) == newest_first[PAGE_SIZE:]
    assert 'rel="prev"' in second.headers["Link"]
    catalog.requests.clear()
    past = await client.get("/favorites/movies/?page=3", headers=bearer())
    assert past.json() == []
    assert past.headers["X-Total-Count"] == "15"
    assert catalog.requests == []  # nothing to look up
    everything = await client.get("/favorites/movies/", headers=bearer())
    assert ids(everything) == newest_first
    assert "Link" not in everything.headers


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5"])
async def test_a_bad_page_is_422(client, bearer, page) -> None:
    response = await client.get(f"/favorites/movies/?page={page}", headers=bearer())
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "page"


async def test_long_lists_are_fetched_in_batches_of_a_hundred(
    client, session, bearer, catalog
) -> None:
    for movie_id in range(1, 131):
        assert await repository.add_bookmark(session, A, movie_id)
    response = await client.get("/favorites/movies/", headers=bearer(A))
    assert ids(response) == list(range(130, 0, -1))
    batches = catalog.batch_calls()
    assert [len(batch) for batch in batches] == [100, 30]
    assert sorted(i for batch in batches for i in batch) == list(range(1, 131))


async def test_a_movie_gone_from_the_catalog_is_left_out(client, bearer, catalog) -> None:
    await add(client, bearer(), 1, 2, 3)
    del catalog.movies[2]
    response = await client.get("/favorites/movies/", headers=bearer())
    assert ids(response) == [3, 1]
    assert response.headers["X-Total-Count"] == "3"


async def test_users_never_see_or_touch_each_others_bookmarks(client, bearer) -> None:
    alice, bob = bearer(A, "a@x.io"), bearer(B, "b@x.io")
    await add(client, alice, 1, 2)
    assert ids(await client.get("/favorites/movies/", headers=bob)) == []
    assert (await client.delete("/favorites/movies/1/", headers=bob)).status_code == 204
    assert ids(await client.get("/favorites/movies/", headers=alice)) == [2, 1]
    # Bob's own bookmark of the same movie is a new one (201), and his alone.
    assert (await client.post("/favorites/movies/1/", headers=bob)).status_code == 201
    assert ids(await client.get("/favorites/movies/", headers=bob)) == [1]
    await client.delete("/favorites/movies/1/", headers=alice)
    assert ids(await client.get("/favorites/movies/", headers=alice)) == [2]
    assert ids(await client.get("/favorites/movies/", headers=bob)) == [1]


async def test_the_request_id_travels_with_the_catalog_calls(client, bearer, catalog) -> None:
    headers = {**bearer(), "X-Request-ID": "req-fav-1"}
    await client.post("/favorites/movies/1/", headers=headers)
    await client.get("/favorites/movies/", headers=headers)
    assert [r.headers["X-Request-ID"] for r in catalog.requests] == ["req-fav-1", "req-fav-1"]


OUTAGES = [httpx.ConnectError, httpx.ReadTimeout, httpx.PoolTimeout, 500, 502, 504]


@pytest.mark.parametrize("outage", OUTAGES, ids=str)
async def test_without_the_catalog_adding_and_listing_are_503(
    client, bearer, catalog, outage
) -> None:
    await add(client, bearer(), 1, 2)
    catalog.down = outage
    for response in (
        await client.post("/favorites/movies/3/", headers=bearer()),
        await client.post("/favorites/movies/1/", headers=bearer()),
        await client.get("/favorites/movies/", headers=bearer()),
    ):
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "service_unavailable"
        assert "catalog.test" not in response.text
    # Deleting needs no catalog, and an empty list needs no lookup.
    assert (await client.delete("/favorites/movies/1/", headers=bearer())).status_code == 204
    assert (await client.delete("/favorites/movies/2/", headers=bearer())).status_code == 204
    assert (await client.get("/favorites/movies/", headers=bearer())).json() == []
    catalog.down = None
    assert ids(await client.get("/favorites/movies/", headers=bearer())) == []


async def test_a_catalog_answering_garbage_is_503(client, bearer, catalog) -> None:
    await add(client, bearer(), 1)
    catalog.garbage = True
    assert (await client.get("/favorites/movies/", headers=bearer())).status_code == 503
    assert (await client.post("/favorites/movies/2/", headers=bearer())).status_code == 503
