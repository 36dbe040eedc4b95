from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.datastructures import URL

from shared.pagination import Page, pagination_headers


def rels(headers: dict[str, str]) -> dict[str, str]:
    found = {}
    for part in headers["Link"].split(", "):
        url, rel = part.split("; ")
        found[rel.removeprefix('rel="').removesuffix('"')] = url.strip("<>")
    return found


def test_whole_list_has_a_count_and_no_links() -> None:
    assert pagination_headers(URL("http://x/movies"), Page(None), 30) == {"X-Total-Count": "30"}


@pytest.mark.parametrize(
    ("number", "total", "expected"),
    [
        (1, 30, {"first": 1, "next": 2, "last": 3}),
        (2, 30, {"first": 1, "prev": 1, "next": 3, "last": 3}),
        (3, 30, {"first": 1, "prev": 2, "last": 3}),
        (9, 30, {"first": 1, "prev": 3, "last": 3}),
        (1, 0, {"first": 1, "last": 1}),
        (1, 12, {"first": 1, "last": 1}),
        (1, 13, {"first": 1, "next": 2, "last": 2}),
    ],
)
def test_links(number: int, total: int, expected: dict[str, int]) -> None:
    headers = pagination_headers(URL("http://x/movies?q=a&page=7"), Page(number), total)
    assert headers["X-Total-Count"] == str(total)
    links = rels(headers)
    queries = {rel: parse_qs(urlsplit(url).query) for rel, url in links.items()}
    assert {rel: int(query["page"][0]) for rel, query in queries.items()} == expected
    assert all(query["q"] == ["a"] for query in queries.values())


def test_offsets() -> None:
    assert (Page(1).offset, Page(1).limit) == (0, 12)
    assert (Page(3).offset, Page(3).limit) == (24, 12)
    assert (Page(None).offset, Page(None).limit) == (0, None)
    assert Page(3).is_past(24)
    assert not Page(2).is_past(13)
    assert not Page(None).is_past(0)


@pytest.mark.parametrize(
    "address",
    [
        "http://x/movies?page=2",
        "http://x/movies?q=a+b&page=2&genre_id=3",
        "http://x/movies?page=2&page=5&q=",
        "http://x/movies?q=%D0%81%D0%B6&ids=1%2C2&status=new&page=2",
        "http://x:8000/movies?x=%26%3D%3F&page=2#top",
    ],
)
def test_links_keep_the_other_parameters_as_starlette_would(address: str) -> None:
    """Each link is the request's URL with `page` set, as `include_query_params` makes it."""
    url = URL(address)
    links = rels(pagination_headers(url, Page(2), 100))
    expected = {
        "first": 1, "prev": 1, "next": 3, "last": 9,
    }  # fmt: skip
    assert links == {rel: str(url.include_query_params(page=n)) for rel, n in expected.items()}


def test_only_the_next_link_carries_a_cursor() -> None:
    """A cursor belongs to one page: the request's own is dropped from every link, and
    the one given for the next page goes on "next" alone."""
    url = URL("http://x/movies?sort=-rating&page=2&cursor=old")
    links = rels(pagination_headers(url, Page(2), 100, next_cursor="new-_1"))
    assert links["next"] == "http://x/movies?sort=-rating&page=3&cursor=new-_1"
    for rel in ("first", "prev", "last"):
        assert "cursor" not in links[rel]
    assert "cursor" not in rels(pagination_headers(url, Page(2), 100))["next"]
