import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service import cli
from catalog_service.generate import generate_file
from catalog_service.importer import (
    CatalogFileError,
    count_movies,
    import_catalog,
    load_file,
    parse_catalog,
)
from catalog_service.models import Genre, Movie, metadata
from catalog_service.repository import MovieFilters, list_movies
from shared.db import Database
from shared.pagination import Page
from testkit.database import SessionReader, schema_drift, temporary_database
from tests.conftest import CATALOG, MIGRATE_EMPTY, MOVIES

COURSE_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "data" / "skypro-fixtures.json"


def changes(report) -> dict[str, tuple[int, int, int, int]]:
    return {name: (t.added, t.updated, t.unchanged, t.deleted) for name, t in report.tables.items()}


async def titles(session: AsyncSession) -> dict[int, str]:
    return dict((await session.execute(select(Movie.id, Movie.title))).all())


async def test_importing_the_same_file_again_changes_nothing(session: AsyncSession) -> None:
    report = await import_catalog(session, parse_catalog(CATALOG))
    assert not report.changed
    assert changes(report)["movies"] == (0, 0, len(MOVIES), 0)


async def test_changed_and_new_records_are_written(session: AsyncSession) -> None:
    edited = json.loads(json.dumps(CATALOG))
    edited["movies"][0]["title"] = "Сталкер (реставрация)"
    edited["movies"].append({**edited["movies"][1], "id": 500, "title": "Новый фильм"})
    report = await import_catalog(session, parse_catalog(edited))
    assert changes(report)["movies"] == (1, 1, len(MOVIES) - 1, 0)
    stored = await titles(session)
    assert stored[1] == "Сталкер (реставрация)"
    assert stored[500] == "Новый фильм"
    search = (await session.execute(select(Movie.search_title).where(Movie.id == 1))).scalar()
    assert search == "сталкер (реставрация)"


async def test_replace_deletes_what_the_file_does_not_name(session: AsyncSession) -> None:
    smaller = {
        "genres": [{"pk": 7, "name": "Вестерн"}],
        "directors": [{"pk": 9, "name": "Серджо Леоне"}],
        "movies": [
            {"pk": 1, "title": "Хороший, плохой, злой", "year": 1966, "rating": 8.8,
             "genre_id": 7, "director_id": 9, "description": None, "trailer": None},
        ],
    }  # fmt: skip
    report = await import_catalog(session, parse_catalog(smaller), replace=True)
    assert changes(report)["movies"] == (0, 1, 0, len(MOVIES) - 1)
    assert changes(report)["genres"] == (1, 0, 0, 4)
    assert await titles(session) == {1: "Хороший, плохой, злой"}
    assert (await session.execute(select(Genre.name))).scalars().all() == ["Вестерн"]
    # The course's format has no original titles: unknown, null.
    assert await original_titles(session) == {1: None}


async def original_titles(session: AsyncSession) -> dict[int, str | None]:
    return dict((await session.execute(select(Movie.id, Movie.original_title))).all())


async def test_a_changed_original_title_alone_is_an_update(session: AsyncSession) -> None:
    assert (await original_titles(session))[1] == "Сталкер"
    edited = json.loads(json.dumps(CATALOG))
    edited["movies"][0]["original_title"] = "  Stalker  "  # trimmed, as every text is
    edited["movies"][1]["original_title"] = "Иван Васильевич меняет профессию"
    report = await import_catalog(session, parse_catalog(edited))
    assert changes(report)["movies"] == (0, 2, len(MOVIES) - 2, 0)
    stored = await original_titles(session)
    assert (stored[1], stored[2]) == ("Stalker", "Иван Васильевич меняет профессию")

    # Blank or missing means unknown: null, which undoes a known one.
    edited["movies"][0]["original_title"] = " "
    del edited["movies"][1]["original_title"]
    report = await import_catalog(session, parse_catalog(edited))
    assert changes(report)["movies"] == (0, 2, len(MOVIES) - 2, 0)
    stored = await original_titles(session)
    assert (stored[1], stored[2]) == (None, None)
    again = await import_catalog(session, parse_catalog(edited))
    assert not again.changed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "expected an object"),
        ({"films": []}, "expected an object"),
        ({"movies": [{"id": 1}]}, "movies.0.title"),
        ({"genres": [{"id": 1, "name": "А"}, {"id": 1, "name": "Б"}]},
         "genres has id 1 more than once"),
        ({"movies": [{**MOVIES[0], "genre_id": 77}]}, "there is no genre 77"),
        ({"movies": [{**MOVIES[0], "director_id": 77}]}, "there is no director 77"),
        ({"movies": [{**MOVIES[0], "rating": 11}]}, "movies.0.rating"),
        ({"movies": [{**MOVIES[0], "id": 0}]}, "movies.0.id"),
        ({"movies": [{**MOVIES[0], "original_title": "x" * 301}]}, "movies.0.original_title"),
        ({"movies": [{**MOVIES[0], "original_title": 7}]}, "movies.0.original_title"),
    ],
)  # fmt: skip
async def test_bad_files_are_refused_with_a_reason(
    session: AsyncSession, raw: object, message: str
) -> None:
    before = await titles(session)
    with pytest.raises(CatalogFileError, match=re.escape(message)):
        await import_catalog(session, parse_catalog(raw))
    assert await titles(session) == before


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogFileError, match="cannot read"):
        load_file(broken)
    with pytest.raises(CatalogFileError, match="cannot read"):
        load_file(tmp_path / "missing.json")


def test_bundled_seed_is_a_real_catalog() -> None:
    seed = cli.seed_catalog()
    assert len(seed.movies) >= 40
    used_genres = {m.genre_id for m in seed.movies}
    assert len(used_genres) >= 10
    assert used_genres == {g.id for g in seed.genres}
    for movie in seed.movies:
        assert re.search("[а-яё]", movie.description, re.IGNORECASE), movie.title
        assert movie.trailer.startswith("https://www.youtube.com/"), movie.title
        assert 1900 <= movie.year <= 2026
        assert movie.original_title, movie.title  # every film's own title is known
    originals = {m.title: m.original_title for m in seed.movies}
    assert originals["Сталкер"] == "Сталкер"
    assert originals["Крёстный отец"] == "The Godfather"
    assert originals["Унесённые призраками"] == "千と千尋の神隠し"


@pytest.mark.skipif(not COURSE_FIXTURES.exists(), reason="the course fixtures are not beside us")
async def test_course_fixtures_import_once(session: AsyncSession) -> None:
    course = load_file(COURSE_FIXTURES)
    first = await import_catalog(session, course, replace=True)
    assert first.tables["movies"].added + first.tables["movies"].updated == 20
    again = await import_catalog(session, course, replace=True)
    assert not again.changed
    assert len(await titles(session)) == 20


async def test_migrate_seeds_an_empty_catalog_once(capsys: pytest.CaptureFixture[str]) -> None:
    """`migrate` is the schema and the bundled films for an empty catalog (compose's
    migrate job, `make run`); `--no-seed` leaves an empty catalog empty."""
    films = len(cli.seed_catalog().movies)
    async with temporary_database("catalog_migrate") as url:
        assert (
            await asyncio.to_thread(cli.main, ["--database-url", url, "migrate", "--no-seed"]) == 0
        )
        assert "seeded" not in capsys.readouterr().out
        database = Database(url)
        try:
            async with database.sessionmaker() as session:
                assert await count_movies(session) == 0
            for _ in range(2):
                assert await asyncio.to_thread(cli.main, ["--database-url", url, "migrate"]) == 0
                async with database.sessionmaker() as session:
                    assert await count_movies(session) == films
        finally:
            await database.dispose()
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("catalog: schema up to date (revision ")
    assert "seeded the empty catalog: " in first
    assert f"movies: {films} added, 0 updated" in first
    assert second.endswith("the catalog has movies, nothing seeded")


async def test_cli_seeds_once_then_imports_generated_catalog(tmp_path: Path) -> None:
    async with temporary_database("catalog_cli") as url:
        await asyncio.to_thread(cli.main, ["--database-url", url, "seed", "--if-empty"])
        await asyncio.to_thread(cli.main, ["--database-url", url, "seed", "--if-empty"])
        generated = tmp_path / "synthetic.json"
        generate_file(generated, 300, directors=50, seed=7)
        catalog = load_file(generated)
        assert len(catalog.movies) == 300
        assert len(catalog.directors) == 50
        code = await asyncio.to_thread(
            cli.main, ["--database-url", url, "import", str(generated), "--replace"]
        )
        assert code == 0
        report = await cli.load(url, catalog, replace=True, if_empty=False)
        assert report is not None
        assert not report.changed


def test_generator_is_deterministic(tmp_path: Path) -> None:
    generate_file(tmp_path / "a.json", 50, seed=3)
    generate_file(tmp_path / "b.json", 50, seed=3)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_generated_movies_have_original_titles(tmp_path: Path) -> None:
    generate_file(tmp_path / "catalog.json", 400, seed=5)
    movies = load_file(tmp_path / "catalog.json").movies
    originals = [m.original_title for m in movies]
    latin = [t for t in originals if t and re.fullmatch(r"[A-Za-z0-9 ':,.&-]+", t)]
    same = [m for m in movies if m.original_title == m.title]
    # Mostly foreign films with Latin-script titles, some Russian ones, a few unknown.
    assert len(latin) > len(movies) / 3
    assert len(same) > len(movies) / 10
    assert 0 < originals.count(None) < len(movies) / 5


async def test_migrations_match_the_models() -> None:
    drift = await schema_drift(MIGRATE_EMPTY, metadata)
    # The search index's tables are made by its migration (catalog_service.search), not models.
    search = [d for d in drift if d[0] in ("remove_table", "remove_index") and _searching(d[1])]
    assert search
    assert [d for d in drift if d not in search] == []


def _searching(item: Any) -> bool:
    return str(getattr(item, "table", item).name).startswith("search_")


async def test_ranks_follow_every_import(session: AsyncSession) -> None:
    newest = {**MOVIES[0], "id": 600, "title": "Самый новый", "year": 2026}
    await import_catalog(session, parse_catalog({"movies": [newest]}))
    reader = SessionReader(session)
    first, total = await list_movies(reader, MovieFilters(newest_first=True), Page(1))
    assert first[0]["id"] == 600
    assert total == len(MOVIES) + 1
    last, _ = await list_movies(reader, MovieFilters(), Page(3))
    assert [m["id"] for m in last] == [*range(25, 31), 600]
    await import_catalog(session, parse_catalog(CATALOG), replace=True)
    again, total = await list_movies(reader, MovieFilters(newest_first=True), Page(1))
    assert total == len(MOVIES)
    assert again[0]["id"] != 600
