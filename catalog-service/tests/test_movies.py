import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from catalog_service.repository import MovieFilters, stream_movies
from catalog_service.routes.movies import json_array
from testkit.apps import threaded_callables
from tests.conftest import DIRECTORS, GENRES, MOVIES

GENRE_NAMES = {g["id"]: g["name"] for g in GENRES}
DIRECTOR_NAMES = {d["id"]: d["name"] for d in DIRECTORS}


def expected(movie: dict[str, Any]) -> dict[str, Any]:
    return {
        **movie,
        "genre": {"id": movie["genre_id"], "name": GENRE_NAMES[movie["genre_id"]]},
        "director": {"id": movie["director_id"], "name": DIRECTOR_NAMES[movie["director_id"]]},
    }


def ids(response: httpx.Response) -> list[int]:
    return [movie["id"] for movie in response.json()]


def newest_first(movies: list[dict[str, Any]]) -> list[int]:
    return [m["id"] for m in sorted(movies, key=lambda m: (m["year"], m["id"]), reverse=True)]


def links(response: httpx.Response) -> dict[str, str]:
    """{rel: page number} from the Link header."""
    found = re.findall(r'<[^>]*[?&]page=(\d+)[^>]*>; rel="(\w+)"', response.headers["link"])
    return {rel: page for page, rel in found}


async def test_without_page_lists_every_movie_in_store_order(client: httpx.AsyncClient) -> None:
    response = await client.get("/movies/")
    assert response.status_code == 200
    assert response.json() == [expected(m) for m in MOVIES]
    assert response.headers["x-total-count"] == str(len(MOVIES))
    assert "link" not in response.headers


async def test_movie_shape_matches_the_contract(client: httpx.AsyncClient) -> None:
    movie = (await client.get("/movies/5/")).json()
    assert set(movie) == {
        "id", "title", "original_title", "description", "trailer", "year", "rating",
        "genre_id", "director_id", "genre", "director",
    }  # fmt: skip
    assert movie["trailer"] == ""  # unknown trailer is an empty string, never null
    assert movie["original_title"] is None  # an unknown original title is null
    stalker = (await client.get("/movies/1/")).json()
    assert (stalker["title"], stalker["original_title"]) == ("Сталкер", "Сталкер")
    inception = (await client.get("/movies/6/")).json()
    assert inception["original_title"] == "Inception"
    assert isinstance(movie["rating"], float)
    assert movie["genre"] == {"id": movie["genre_id"], "name": GENRE_NAMES[movie["genre_id"]]}


async def test_pages_hold_twelve_movies_with_links(client: httpx.AsyncClient) -> None:
    first = await client.get("/movies/", params={"page": 1})
    assert ids(first) == list(range(1, 13))
    assert first.headers["x-total-count"] == "30"
    assert links(first) == {"first": "1", "next": "2", "last": "3"}

    second = await client.get("/movies/", params={"page": 2})
    assert ids(second) == list(range(13, 25))
    assert links(second) == {"first": "1", "prev": "1", "next": "3", "last": "3"}

    last = await client.get("/movies/", params={"page": 3})
    assert ids(last) == list(range(25, 31))
    assert links(last) == {"first": "1", "prev": "2", "last": "3"}


async def test_link_keeps_the_other_parameters(client: httpx.AsyncClient) -> None:
    response = await client.get("/movies/?status=new&genre_id=1&page=1")
    next_link = response.headers["link"].split(", ")[1]
    assert "status=new" in next_link
    assert "genre_id=1" in next_link
    assert next_link.startswith("<http://catalog.test/movies")


async def test_page_past_the_end_is_an_empty_list(client: httpx.AsyncClient) -> None:
    for page in ("4", "1000", "99999999999999999999999"):
        response = await client.get("/movies/", params={"page": page})
        assert response.status_code == 200
        assert response.json() == []
        assert response.headers["x-total-count"] == "30"
    assert links(await client.get("/movies/?page=9"))["prev"] == "3"


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "", "1e3", "%00"])
async def test_bad_page_is_422(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(f"/movies/?page={page}")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"]
    assert [e["field"] for e in body["errors"]] == ["page"]


@pytest.mark.parametrize("parameter", ["status", "state"])
async def test_new_lists_newest_first_ties_by_id_desc(
    client: httpx.AsyncClient, parameter: str
) -> None:
    response = await client.get("/movies/", params={parameter: "new"})
    assert ids(response) == newest_first(MOVIES)
    # the three 2010 films come highest id first
    assert [i for i in ids(response) if MOVIES[i - 1]["year"] == 2010] == [12, 11, 6]
    paged = await client.get("/movies/", params={parameter: "new", "page": 2})
    assert ids(paged) == newest_first(MOVIES)[12:24]


@pytest.mark.parametrize("status", ["old", "NEW", "popular", ""])
async def test_other_status_keeps_store_order(client: httpx.AsyncClient, status: str) -> None:
    response = await client.get("/movies/", params={"status": status})
    assert ids(response) == [m["id"] for m in MOVIES]


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"genre_id": 3}, lambda m: m["genre_id"] == 3),
        ({"director_id": 2}, lambda m: m["director_id"] == 2),
        ({"year": 2010}, lambda m: m["year"] == 2010),
        ({"genre_id": 1, "director_id": 3}, lambda m: m["genre_id"] == 1 and m["director_id"] == 3),
        ({"genre_id": 4}, lambda m: False),
        ({"genre_id": 999}, lambda m: False),
    ],
)
async def test_filters(client: httpx.AsyncClient, params: dict[str, Any], keep) -> None:
    wanted = [m for m in MOVIES if keep(m)]
    response = await client.get("/movies/", params=params)
    assert ids(response) == [m["id"] for m in wanted]
    assert response.headers["x-total-count"] == str(len(wanted))
    newest = await client.get("/movies/", params={**params, "status": "new", "page": 1})
    assert ids(newest) == newest_first(wanted)[:12]


@pytest.mark.parametrize(
    ("q", "titles"),
    [
        ("сталкер", ["Сталкер"]),
        ("СТАЛКЕР", ["Сталкер"]),
        ("васильевич МЕНЯЕТ", ["Иван Васильевич меняет профессию"]),
        ("темный", ["Тёмный рыцарь"]),  # ё and е are one letter for search
        ("ТЁМН", ["Тёмный рыцарь"]),
        ("рублев", ["Андрей Рублёв"]),
        ("100%", ["100% любовь"]),  # % is a character, not a wildcard
        ("snake case", ["snake_case story"]),  # so is _, which separates words
        ("_", []),  # punctuation alone is no word
        ("  начало ", ["Начало"]),
        ("нет такого фильма", []),
    ],
)
async def test_title_search_ignores_case(
    client: httpx.AsyncClient, q: str, titles: list[str]
) -> None:
    response = await client.get("/movies/", params={"q": q})
    assert response.status_code == 200
    assert [m["title"] for m in response.json()] == titles
    assert response.headers["x-total-count"] == str(len(titles))


async def test_search_combines_with_filters_and_pages(client: httpx.AsyncClient) -> None:
    params: dict[str, str | int] = {"q": "фильм номер", "genre_id": 2, "page": 1, "sort": "id"}
    response = await client.get("/movies/", params=params)
    expected_ids = [m["id"] for m in MOVIES if "номер" in m["title"] and m["genre_id"] == 2]
    assert ids(response) == expected_ids[:12]
    assert response.headers["x-total-count"] == str(len(expected_ids))


async def test_ids_is_a_batch_lookup(client: httpx.AsyncClient) -> None:
    response = await client.get("/movies/", params={"ids": "9,3,3, 7,9999"})
    assert ids(response) == [3, 7, 9]
    assert response.json()[0] == expected(MOVIES[2])
    assert (await client.get("/movies/", params={"ids": ""})).json() == []
    hundred = ",".join(str(i) for i in range(1, 101))
    assert len((await client.get("/movies/", params={"ids": hundred})).json()) == 30


@pytest.mark.parametrize("value", ["1,x", "1;2", "-1", "0", "1.5", "99999999999", "١"])
async def test_bad_ids_are_422(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/movies/", params={"ids": value})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "ids"


async def test_more_than_a_hundred_ids_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/movies/", params={"ids": ",".join(map(str, range(1, 102)))})
    assert response.status_code == 422
    assert "100" in response.json()["message"]


@pytest.mark.parametrize(
    "query",
    ["genre_id=0", "genre_id=abc", "director_id=-3", "genre_id=99999999999", "year=0",
     "year=100000", "year=20x0", "q=" + "я" * 201, "q=a%00b"],
)  # fmt: skip
async def test_out_of_range_filters_are_422(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/movies/?{query}")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_movie_detail(client: httpx.AsyncClient) -> None:
    response = await client.get("/movies/3/")
    assert response.status_code == 200
    assert response.json() == expected(MOVIES[2])


@pytest.mark.parametrize("movie_id", ["31", "0", "-1", "99999999999", "99999999999999999999999"])
async def test_unknown_movie_is_404(client: httpx.AsyncClient, movie_id: str) -> None:
    response = await client.get(f"/movies/{movie_id}/")
    assert response.status_code == 404
    assert response.json() == {"message": "There is no movie with this id.", "code": "not_found"}


async def test_non_numeric_movie_id_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/movies/abc/")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "movie_id"


@pytest.mark.parametrize(
    "path",
    ["/movies", "/movies/", "/movies/1", "/movies/1/", "/genres", "/genres/", "/genres/1",
     "/directors/2/", "/directors"],
)  # fmt: skip
async def test_every_path_answers_with_and_without_slash(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200  # directly: httpx does not follow redirects


@pytest.mark.parametrize(
    "authorization", ["Bearer undefined", "Bearer null", "Basic Zm9vOmJhcg==", "garbage", "Bearer "]
)
async def test_public_routes_ignore_authorization(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/movies/?page=1", headers={"Authorization": authorization})
    assert response.status_code == 200
    assert len(response.json()) == 12


async def test_unknown_path_and_method_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong = await client.post("/movies/")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/genres/", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/genres/")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    hostile = await client.get("/genres/", headers={"X-Request-ID": "x\tinjected line"})
    assert hostile.headers["x-request-id"] != "x\tinjected line"


async def test_whole_list_streams_in_batches(app) -> None:
    database = app.state.database
    for filters in (MovieFilters(), MovieFilters(newest_first=True), MovieFilters(genre_ids=(2,))):
        chunks = [c async for c in json_array(stream_movies(database, filters, batch=7))]
        assert len(chunks) > 2
        movies = json.loads(b"".join(chunks))
        keep = [m for m in MOVIES if m["genre_id"] in filters.genre_ids or not filters.genre_ids]
        wanted = newest_first(keep) if filters.newest_first else [m["id"] for m in keep]
        assert [m["id"] for m in movies] == wanted
    empty = [c async for c in json_array(stream_movies(database, MovieFilters(genre_ids=(4,))))]
    assert b"".join(empty) == b"[]"


def test_no_route_or_dependency_runs_in_a_worker_thread(app: FastAPI) -> None:
    """FastAPI runs a plain `def` in a thread: a hand-off per request for nothing."""
    assert threaded_callables(app) == []
