"""Search relevance on the bundled catalog: what each query must find first.

Run on SQLite, and on PostgreSQL with TEST_DATABASE_URL: the same expectations hold on
both. The database is the bundled seed plus «Леон» (Léon), imported after the seed so
that the importer's index refresh is what makes it findable.
"""

from collections.abc import AsyncIterator
from functools import partial

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service import cli, search
from catalog_service.importer import import_catalog, parse_catalog
from catalog_service.models import Movie
from shared.db import Database
from testkit.database import SessionReader, migrated_database

LEON = 1000
EXTRA = {
    "directors": [{"id": 1000, "name": "Люк Бессон"}],
    "movies": [
        {
            "id": LEON,
            "title": "Леон",
            "original_title": "Léon",
            "description": "Профессиональный убийца берёт под опеку девочку Матильду.",
            "year": 1994,
            "rating": 8.7,
            "genre_id": 1,
            "director_id": 1000,
        }
    ],
}

# (query, the ids expected first, in this order). Seed ids: 1 Начало, 4 Крёстный отец,
# 7 Сталкер, 9 Сияние, 13 Братство Кольца, 15 Тёмный рыцарь, 22 Служебный роман,
# 30 Солярис, 33 Бегущий по лезвию 2049, 39 Интерстеллар, 41 Брат, 55 Амели, 63 Крёстный
# отец 2, 65 Довод.
CASES = [
    # The examples.
    ("stalker", [7]),
    ("godfather", [4, 63]),
    ("interstellar", [39]),
    ("интерстелар", [39]),  # a letter missing
    ("нолан", [15, 1, 39, 65]),  # the director, by rating
    ("брат", [41, 13]),  # the whole title above a word's beginning
    ("solyaris", [30]),  # Latin for Cyrillic
    ("balabanov", [41]),
    ("Leon", [LEON]),  # diacritics
    ("служебного романа", [22]),  # Russian inflection
    ("бегущ", [33]),  # an unfinished last word
    # Case, ё/е, punctuation.
    ("СТАЛКЕР", [7]),
    ("крестный отец", [4, 63]),
    ("Крёстный  Отец!", [4, 63]),
    ("кин-дза-дза", [27]),
    ("терминатор 2", [11]),
    # Original titles, exact and partial.
    ("The Dark Knight", [15]),
    ("inception", [1]),
    ("pulp fiction", [17]),
    ("lord of the rings", [52, 13]),  # both partial: by rating
    ("Amélie", [55]),
    ("amelie", [55]),
    # Transliteration, both ways.
    ("tarkovsky", [7, 30, 45]),  # rating, then id
    ("kubrik", [9, 48]),  # and a typo
    ("интерстеллар", [39]),
    ("титаник", [28]),
    ("titanik", [28]),
    ("миядзаки", [3, 38, 16]),
    ("miyazaki", [3, 38, 16]),
    # Typos: one in a word of four letters or more, two from eight.
    ("сталкр", [7]),
    ("сталкeр", [7]),  # a Latin "e" in a Cyrillic word
    ("солярс", [30]),
    ("интерстеллер", [39]),
    ("терминатр", [11]),
    ("гладиатр", [44]),
    ("интерстилар", [39]),  # two edits in a long word
    # Word forms.
    ("godfathers", [4, 63]),
    ("журавлей", [12]),
    ("призраки", [3]),
    ("пиратов карибского моря", [31]),
    # Unfinished words.
    ("интерст", [39]),
    ("glad", [44]),
    ("крёстный от", [4, 63]),
    ("властелин колец: возв", [52]),
    # Directors, with the title.
    ("тарковский солярис", [30]),
    ("кэмерон", [11, 50, 28]),
    ("spielberg", [26, 54, 21, 60]),
    # A title typed without its spaces.
    ("служебныйроман", [22]),
    ("крестныйотец", [4]),
]


@pytest.fixture(scope="module")
async def seeded() -> AsyncIterator[Database]:
    async with migrated_database("search", partial(cli.migrate, seed=True)) as url:
        database = Database(url)
        async with database.sessionmaker() as session, session.begin():
            await import_catalog(session, parse_catalog(EXTRA))
        yield database
        await database.dispose()


@pytest.fixture
async def reader(seeded: Database) -> AsyncIterator[SessionReader]:
    async with seeded.sessionmaker() as session:
        yield SessionReader(session)


@pytest.mark.parametrize(("q", "expected"), CASES, ids=[case[0] for case in CASES])
async def test_first_results(reader: SessionReader, q: str, expected: list[int]) -> None:
    assert (await search.ranked_ids(reader, q))[: len(expected)] == expected


def test_relevance_set_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("q", ["zzzzqqq", "ывапролд", "совсем нет такого фильма", "!!!"])
async def test_nothing_found(reader: SessionReader, q: str) -> None:
    assert await search.ranked_ids(reader, q) == []


async def test_typos_depend_on_length(reader: SessionReader) -> None:
    assert (await search.ranked_ids(reader, "брак"))[:1] == [41]  # four letters: one typo
    assert 41 not in await search.ranked_ids(reader, "бра балабанов")  # three: none
    assert search.allowed_typos("сад") == 0
    assert search.allowed_typos("брак") == search.allowed_typos("сталкер") == 1
    assert search.allowed_typos("терминат") == 2


async def test_suggest(reader: SessionReader) -> None:
    found = await search.suggest(reader, "брат")
    assert [m["id"] for m in found][:2] == [41, 13]
    assert found[0] == {"id": 41, "title": "Брат", "original_title": "Брат", "year": 1997}
    assert len(await search.suggest(reader, "с")) == search.SUGGESTIONS


def test_one_normal_form() -> None:
    assert search.words("Léon") == search.words("LEON") == search.words("леон")
    assert search.words("Ёлка") == search.words("елка")
    assert search.words("служебного")[0][1] == search.words("Служебный")[0][1]
    assert search.distance("interstelar", "interstellar", 2) == 1
    assert search.distance("abcdefgh", "zzzzzzzz", 2) == 3


async def test_import_keeps_the_index(seeded: Database) -> None:
    """A renamed movie and director and a deleted movie, in a transaction rolled back."""
    async with seeded.sessionmaker() as session:
        reader = SessionReader(session)
        changed = {**EXTRA["movies"][0], "title": "Профессионал"}
        await import_catalog(session, parse_catalog({"movies": [changed]}))
        assert (await search.ranked_ids(reader, "профессионал"))[:1] == [LEON]
        assert (await search.ranked_ids(reader, "Leon"))[:1] == [LEON]  # the original title
        await _rename_director(session)
        assert await search.ranked_ids(reader, "ренуар") == [15, 1, 39, 65]
        assert 1 not in await search.ranked_ids(reader, "нолан")
        seed = cli.seed_catalog().model_dump()
        seed["movies"] = [m for m in seed["movies"] if m["id"] != 39]
        await import_catalog(session, parse_catalog(seed), replace=True)
        assert await search.ranked_ids(reader, "interstellar") == []
        await session.rollback()


async def _rename_director(session: AsyncSession) -> None:
    director = {"id": 1, "name": "Жан Ренуар"}  # was Christopher Nolan
    await import_catalog(session, parse_catalog({"directors": [director]}))


async def test_suggest_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/movies/suggest/", params={"q": "стал"})
    assert response.status_code == 200
    assert response.json()[0]["title"] == "Сталкер"
    assert set(response.json()[0]) == {"id", "title", "original_title", "year"}


@pytest.mark.parametrize("q", ["", "   ", "я" * 201, "a\x00b"])
async def test_suggest_refuses(client: httpx.AsyncClient, q: str) -> None:
    response = await client.get("/movies/suggest/", params={"q": q})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_suggest_needs_q(client: httpx.AsyncClient) -> None:
    assert (await client.get("/movies/suggest/")).status_code == 422


@pytest.mark.parametrize(
    "q", ["фильм", "с", "нолан", "интерстелар", "брат", "kubrik", "крёстный от"]
)
async def test_pages_agree_with_the_whole_order(
    reader: SessionReader, monkeypatch: pytest.MonkeyPatch, q: str
) -> None:
    """Page by page, with and without a filter, the tiers walked one at a time give the
    whole ranked list. On PostgreSQL, with `_FEW` and `_PROBE_ROWS` made tiny, the walk
    is what large catalogs take (capped reads, probes, then whole tiers)."""
    whole = await search.ranked_ids(reader, q)
    assert whole
    monkeypatch.setattr(search, "_FEW", 3)
    monkeypatch.setattr(search, "_PROBE_ROWS", 8)
    query = await search.prepare(reader, q)
    assert query is not None
    drama = {m["id"] for m in cli.seed_catalog().model_dump()["movies"] if m["genre_id"] == 1}
    for conditions, wanted in (
        ((), whole),
        ((Movie.genre_id == 1,), [i for i in whole if i in drama]),
    ):
        found: list[int] = []
        for offset in range(0, len(wanted) + 5, 5):
            ids, total = await search.page(reader, query, offset, 5, conditions)
            assert total == len(wanted)
            found += ids
        assert found == wanted
        first, _ = await search.page(reader, query, 0, 4, conditions, counted=False)
        assert first == wanted[:4]


async def test_a_whole_title_comes_first_and_once(
    reader: SessionReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """«Крёстный отец» is one film's whole title and the beginning of another's. On
    PostgreSQL, with `_FEW` made tiny, a first page takes the whole titles in one
    statement and the next tier from a probe, which must leave the whole title out."""
    by_title = {m["title"]: m["id"] for m in cli.seed_catalog().model_dump()["movies"]}
    expected = [by_title["Крёстный отец"], by_title["Крёстный отец 2"]]
    monkeypatch.setattr(search, "_FEW", 2)
    query = await search.prepare(reader, "крёстный отец")
    assert query is not None
    for size in (1, 2, 3):
        assert await search.page(reader, query, 0, size) == (expected[:size], 2)


@pytest.mark.parametrize("q", ["бегущ", "крёстный от", "ст", "inter", "служебн"])
async def test_a_prefix_finds_the_same_through_the_words_it_begins(
    reader: SessionReader, monkeypatch: pytest.MonkeyPatch, q: str
) -> None:
    """PostgreSQL matches the last word's beginning through the vocabulary's words that
    begin with it, when there are at most `_EXTENSIONS`, and as a prefix otherwise (as
    SQLite always does): the same movies in the same order either way."""
    through_words = await search.ranked_ids(reader, q)
    assert through_words
    monkeypatch.setattr(search, "_EXTENSIONS", 0)
    assert await search.ranked_ids(reader, q) == through_words
