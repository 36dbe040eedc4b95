"""`sort` and the range and multi-value filters of GET /movies/, alone and combined."""

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service import search
from catalog_service.cache import query_names
from catalog_service.importer import reposition
from catalog_service.models import Movie, search_key
from catalog_service.routes import movies
from testkit.database import SessionReader
from tests.conftest import MOVIES

KEYS = {
    "rating": lambda m: m["rating"],
    "year": lambda m: m["year"],
    "title": lambda m: search_key(m["title"]),
    "id": lambda m: m["id"],
}


def ordered(movies: list[dict[str, Any]], sort: str) -> list[int]:
    """What `sort` should give: its keys, then id ascending (stable sorts, last key first)."""
    keys = [(part.lstrip("-"), part.startswith("-")) for part in sort.split(",")]
    if all(name != "id" for name, _ in keys):
        keys.append(("id", False))
    result = sorted(movies, key=lambda m: m["id"])
    for name, descending in reversed(keys):
        result.sort(key=KEYS[name], reverse=descending)
    return [m["id"] for m in result]


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [movie["id"] for movie in response.json()]


async def every_page(client: httpx.AsyncClient, params: dict[str, Any]) -> list[int]:
    found: list[int] = []
    for number in range(1, 5):
        found += ids(await client.get("/movies/", params={**params, "page": number}))
    return found


# Every movie matches it: the 18 «Фильм номер …» by their titles, the others only by
# their descriptions («Описание фильма …»), so relevance is not the rating's order.
EVERY = "фильм"


@pytest.fixture
async def ranked(session: AsyncSession) -> list[int]:
    """The search's order for EVERY: title matches first, then description matches, each
    by rating (here rising with the id, so by id descending)."""
    order = await search.ranked_ids(SessionReader(session), EVERY)
    by_title = sorted((m["id"] for m in MOVIES if m["title"].startswith("Фильм")), reverse=True)
    others = sorted((m["id"] for m in MOVIES if m["id"] not in by_title), reverse=True)
    assert order == by_title + others
    return order


@pytest.mark.parametrize("key", ["rating", "year", "title", "id"])
@pytest.mark.parametrize("descending", [False, True])
async def test_every_key_both_ways(client: httpx.AsyncClient, key: str, descending: bool) -> None:
    sort = f"-{key}" if descending else key
    wanted = ordered(MOVIES, sort)
    assert await every_page(client, {"sort": sort}) == wanted
    whole = await client.get("/movies/", params={"sort": sort})  # streamed
    assert ids(whole) == wanted
    assert whole.headers["x-total-count"] == str(len(MOVIES))


async def test_year_ties_end_by_id_ascending_unless_asked(client: httpx.AsyncClient) -> None:
    by_year = await every_page(client, {"sort": "-year"})
    assert by_year == ordered(MOVIES, "-year")
    same = [m["id"] for m in MOVIES if m["year"] == 2010]
    assert [i for i in by_year if i in same] == sorted(same)
    by_year_id_desc = await every_page(client, {"sort": "-year,-id"})
    assert [i for i in by_year_id_desc if i in same] == sorted(same, reverse=True)


async def test_rating_ties_end_by_id(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tied = [3, 11, 20, 27]
    await session.execute(update(Movie).where(Movie.id.in_(tied)).values(rating=7.0))
    await reposition(session)  # as an import would, for the sorts read by position
    movies = [{**m, "rating": 7.0} if m["id"] in tied else m for m in MOVIES]
    # Sorts no other test asks for: the catalog cache may hold those answers.
    for sort in ("rating,id", "-rating,id", "-rating,-id", "rating,-year"):
        assert await every_page(client, {"sort": sort}) == ordered(movies, sort)


async def test_several_keys(client: httpx.AsyncClient) -> None:
    for sort in ("year,-rating", "-year,title", " title , year "):
        assert await every_page(client, {"sort": sort}) == ordered(MOVIES, sort.replace(" ", ""))


async def test_no_sort_keeps_the_default_orders(client: httpx.AsyncClient) -> None:
    assert await every_page(client, {}) == [m["id"] for m in MOVIES]
    for name in ("status", "state"):
        newest = await every_page(client, {name: "new"})
        assert newest == ordered(MOVIES, "-year,-id")
    # An explicit sort wins over status=new.
    assert await every_page(client, {"status": "new", "sort": "rating"}) == ordered(
        MOVIES, "rating"
    )


@pytest.mark.parametrize(
    ("sort", "says"),
    [
        ("rating,rating", "more than once"),
        ("-year,year", "more than once"),
        ("popularity", "rating, year, title, id"),
        ("--rating", "rating, year, title, id"),
        ("relevance", "relevance needs q"),
        ("Rating", "rating, year, title, id"),
    ],
)
async def test_bad_sort_is_422(client: httpx.AsyncClient, sort: str, says: str) -> None:
    response = await client.get("/movies/", params={"sort": sort, "page": 1})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == "sort"
    assert says in body["message"]


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"genre_id": "3"}, lambda m: m["genre_id"] == 3),
        ({"genre_id": "1,3"}, lambda m: m["genre_id"] in (1, 3)),
        ({"genre_id": "3, 1,3"}, lambda m: m["genre_id"] in (1, 3)),
        ({"director_id": "2,3"}, lambda m: m["director_id"] in (2, 3)),
        ({"genre_id": "1,2", "director_id": "1"}, lambda m: m["genre_id"] in (1, 2)
         and m["director_id"] == 1),
        ({"year_from": 1990}, lambda m: m["year"] >= 1990),
        ({"year_to": 1973}, lambda m: m["year"] <= 1973),
        ({"year_from": 1972, "year_to": 1979}, lambda m: 1972 <= m["year"] <= 1979),
        ({"year_from": 2010, "year_to": 2010}, lambda m: m["year"] == 2010),
        ({"year_from": 1990, "year": 1992}, lambda m: m["year"] == 1992),
        ({"rating_min": 8.5}, lambda m: m["rating"] >= 8.5),
        ({"rating_min": "7"}, lambda m: m["rating"] >= 7),
        ({"rating_min": 0}, lambda m: True),
        ({"rating_min": 10}, lambda m: False),
        ({"rating_min": 7.5, "year_from": 1990, "genre_id": "2,3"},
         lambda m: m["rating"] >= 7.5 and m["year"] >= 1990 and m["genre_id"] in (2, 3)),
    ],
)  # fmt: skip
async def test_filters_combine(client: httpx.AsyncClient, params: dict[str, Any], keep) -> None:
    wanted = [m for m in MOVIES if keep(m)]
    whole = await client.get("/movies/", params=params)
    assert ids(whole) == [m["id"] for m in wanted]
    assert whole.headers["x-total-count"] == str(len(wanted))
    for sort in ("-rating", "title"):
        page = await client.get("/movies/", params={**params, "sort": sort, "page": 1})
        assert ids(page) == ordered(wanted, sort)[:12]
        assert page.headers["x-total-count"] == str(len(wanted))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("genre_id=1,x", "genre_id"),
        ("genre_id=0", "genre_id"),
        ("genre_id=", "genre_id"),
        ("genre_id=,", "genre_id"),
        ("director_id=2;3", "director_id"),
        ("director_id=-1", "director_id"),
        ("director_id=99999999999", "director_id"),
        ("year_from=0", "year_from"),
        ("year_to=10000", "year_to"),
        ("year_from=x", "year_from"),
        ("year_from=2000&year_to=1999", "year_from"),
        ("rating_min=-0.1", "rating_min"),
        ("rating_min=10.5", "rating_min"),
        ("rating_min=nan", "rating_min"),
        ("rating_min=high", "rating_min"),
        ("sort=" + "r" * 201, "sort"),
    ],
)
async def test_bad_filters_are_422_naming_the_field(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    response = await client.get(f"/movies/?{query}")
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_pages_and_links_follow_the_sort(client: httpx.AsyncClient) -> None:
    params: dict[str, str | int] = {"sort": "-rating", "genre_id": "1,2", "page": 2}
    wanted = ordered([m for m in MOVIES if m["genre_id"] in (1, 2)], "-rating")
    response = await client.get("/movies/", params=params)
    assert ids(response) == wanted[12:24]
    assert response.headers["x-total-count"] == str(len(wanted))
    link = response.headers["link"]
    assert re.findall(r'page=(\d+)>; rel="(\w+)"', link) == [
        ("1", "first"),
        ("1", "prev"),
        ("2", "last"),
    ]
    assert "sort=-rating" in link
    assert "genre_id=1%2C2" in link


async def test_q_orders_by_relevance(client: httpx.AsyncClient, ranked: list[int]) -> None:
    assert ids(await client.get("/movies/", params={"q": EVERY})) == ranked
    assert await every_page(client, {"q": EVERY}) == ranked
    assert await every_page(client, {"q": EVERY, "sort": "relevance"}) == ranked
    assert await every_page(client, {"q": EVERY, "sort": "-relevance"}) == ranked[::-1]
    assert ids(await client.get("/movies/", params={"q": "zzzz"})) == []


async def test_q_with_other_keys_and_filters(client: httpx.AsyncClient, ranked: list[int]) -> None:
    for sort in ("-rating", "title", "-id"):  # every movie matches: the sort alone decides
        assert await every_page(client, {"q": EVERY, "sort": sort}) == ordered(MOVIES, sort)
    # year, then relevance: within a year, the search's order.
    position = {movie_id: index for index, movie_id in enumerate(ranked)}
    by_year = sorted(MOVIES, key=lambda m: (m["year"], position[m["id"]]))
    assert await every_page(client, {"q": EVERY, "sort": "year,relevance"}) == [
        m["id"] for m in by_year
    ]
    params: dict[str, str | int] = {"q": EVERY, "genre_id": "2,3", "rating_min": 7, "page": 1}
    wanted = [i for i in ranked if (m := MOVIES[i - 1])["genre_id"] in (2, 3) and m["rating"] >= 7]
    response = await client.get("/movies/", params=params)
    assert ids(response) == wanted[:12]
    assert response.headers["x-total-count"] == str(len(wanted))
    assert 'rel="next"' in response.headers["link"]
    whole_params: dict[str, str | int] = {
        "q": EVERY,
        "genre_id": "2,3",
        "rating_min": 7,
        "sort": "-rating",
    }
    whole = await client.get("/movies/", params=whole_params)
    assert ids(whole) == [i for i in ordered(MOVIES, "-rating") if i in wanted]
    assert whole.headers["x-total-count"] == str(len(wanted))
    newest = await client.get("/movies/", params={"q": EVERY, "status": "new", "page": 1})
    assert ids(newest) == ordered(MOVIES, "-year,-id")[:12]


def test_new_parameters_are_part_of_the_cache_key() -> None:
    """The cache keys an answer on the query parameters the route reads: the new ones too."""
    known = [
        names for pattern, names in query_names(movies.router.routes) if pattern.match("/movies")
    ]
    assert known
    assert {"sort", "year_from", "year_to", "rating_min", "genre_id", "director_id"} <= known[0]


async def follow_next(client: httpx.AsyncClient, url: str) -> list[int]:
    """Every page from `url` on, by the `next` links."""
    found: list[int] = []
    while True:
        response = await client.get(url)
        found += ids(response)
        link = re.search(r'<([^>]*)>; rel="next"', response.headers["link"])
        if link is None:
            return found
        assert "cursor=" in link[1]
        url = link[1]


async def test_next_links_carry_a_cursor(client: httpx.AsyncClient, session: AsyncSession) -> None:
    # Ties across page boundaries: ids 12 and 13 close page 1 / open page 2 of -rating.
    # (rating_min=0 keeps the catalog cache from answering with what other tests saw.)
    tied = [12, 13, 14, 25]
    await session.execute(update(Movie).where(Movie.id.in_(tied)).values(rating=8.0))
    movies = [{**m, "rating": 8.0} if m["id"] in tied else m for m in MOVIES]
    for sort in ("-rating", "rating,-id", "-year,title", "title", "-id"):
        wanted = ordered(movies, sort)
        assert await follow_next(client, f"/movies/?sort={sort}&rating_min=0&page=1") == wanted
    wanted = ordered([m for m in movies if m["genre_id"] in (1, 2)], "-rating")
    assert (
        await follow_next(client, "/movies/?genre_id=1,2&sort=-rating&rating_min=0&page=1")
        == wanted
    )


async def test_a_cursor_for_another_page_or_sort_is_not_used(client: httpx.AsyncClient) -> None:
    first = await client.get("/movies/", params={"sort": "year", "page": 1})
    cursor = re.search(r"cursor=([\w-]+)", first.headers["link"])
    assert cursor is not None
    again = {"sort": "year", "cursor": cursor[1]}
    assert (
        ids(await client.get("/movies/", params={**again, "page": 2}))
        == ordered(MOVIES, "year")[12:24]
    )
    assert (
        ids(await client.get("/movies/", params={**again, "page": 3}))
        == ordered(MOVIES, "year")[24:]
    )
    other = {"sort": "-year", "cursor": cursor[1], "page": 2}
    assert ids(await client.get("/movies/", params=other)) == ordered(MOVIES, "-year")[12:24]
    # The other links do not repeat the cursor they came with.
    response = await client.get("/movies/", params={**again, "page": 2})
    assert response.headers["link"].count("cursor=") == 1  # the next link's own
    assert cursor[1] not in response.headers["link"]


@pytest.mark.parametrize("cursor", ["x", "e30", "W10", "WzIsW1sieWVhciIsZmFsc2VdXSxbIngiXV0"])
async def test_bad_cursor_is_422(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get("/movies/", params={"sort": "year", "page": 2, "cursor": cursor})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"
