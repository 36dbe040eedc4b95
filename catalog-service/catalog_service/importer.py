"""Loading a catalog file into the database.

One JSON shape, two spellings of the key: `{"genres": [...], "directors": [...],
"movies": [...]}` where each record names itself with `id` (our files) or `pk` (the
course's fixtures). Records are matched by id: new ones are inserted, changed ones
updated, identical ones left alone, so importing the same file twice changes nothing.
With `replace=True` the records that the file does not name are deleted.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Table, bindparam, delete, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service import search
from catalog_service.models import (
    POSITION_ORDERS,
    CatalogMeta,
    Director,
    Genre,
    Movie,
    MoviePosition,
    search_key,
)
from shared.db import INT32_MAX

BATCH = 1000
_T = TypeVar("_T")

_Id = Field(ge=1, le=INT32_MAX, validation_alias=AliasChoices("id", "pk"))


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class GenreIn(_Record):
    id: int = _Id
    name: str = Field(min_length=1, max_length=100)


class DirectorIn(_Record):
    id: int = _Id
    name: str = Field(min_length=1, max_length=200)


class MovieIn(_Record):
    id: int = _Id
    title: str = Field(min_length=1, max_length=300)
    # Optional in our files, absent from the course's: null, "unknown".
    original_title: str | None = Field(default=None, max_length=300)
    description: str = ""
    trailer: str = Field(default="", max_length=500)
    year: int = Field(ge=1800, le=2200)
    rating: float = Field(ge=0, le=10)
    genre_id: int = Field(ge=1, le=INT32_MAX)
    director_id: int = Field(ge=1, le=INT32_MAX)

    @field_validator("description", "trailer", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("original_title")
    @classmethod
    def _blank_is_unknown(cls, value: str | None) -> str | None:
        return value or None  # "" (or only spaces, stripped) says nothing either


class CatalogFile(_Record):
    genres: list[GenreIn] = []
    directors: list[DirectorIn] = []
    movies: list[MovieIn] = []


class CatalogFileError(ValueError):
    """The file cannot be imported; the message says why, for a person."""


@dataclass
class TableReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    # The ids of the records added or updated (for the search index).
    changed_ids: list[int] = field(default_factory=list, repr=False, compare=False)

    def __str__(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.deleted} deleted"
        )


@dataclass
class ImportReport:
    tables: dict[str, TableReport] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(t.added or t.updated or t.deleted for t in self.tables.values())

    def __str__(self) -> str:
        return "\n".join(f"{name}: {report}" for name, report in self.tables.items())


def load_file(path: Path) -> CatalogFile:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogFileError(f"{path}: cannot read a JSON catalog ({exc}).") from exc
    return parse_catalog(raw, source=str(path))


def parse_catalog(raw: Any, *, source: str = "catalog") -> CatalogFile:
    if not isinstance(raw, dict) or not {"genres", "directors", "movies"} & raw.keys():
        raise CatalogFileError(f"{source}: expected an object with genres, directors and movies.")
    try:
        catalog = CatalogFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CatalogFileError(
            f"{source}: {where}: {first['msg']} ({exc.error_count()} problem(s))"
        ) from exc
    for name in ("genres", "directors", "movies"):
        ids = [record.id for record in getattr(catalog, name)]
        if len(ids) != len(set(ids)):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise CatalogFileError(f"{source}: {name} has id {duplicate} more than once.")
    return catalog


# Every movie's position in the two list orders (see models.Movie). UPDATE ... FROM works
# on PostgreSQL and on SQLite 3.33+.
_RERANK = text(
    """
    UPDATE movies SET store_rank = ranked.store, new_rank = ranked.new
    FROM (
        SELECT id,
               ROW_NUMBER() OVER (ORDER BY id) AS store,
               ROW_NUMBER() OVER (ORDER BY year DESC, id DESC) AS new
        FROM movies
    ) AS ranked
    WHERE movies.id = ranked.id
      AND (movies.store_rank <> ranked.store OR movies.new_rank <> ranked.new)
    """
)


async def reposition(session: AsyncSession) -> None:
    """Every movie's position in each order of movie_positions, written afresh.

    All of it, every time: a changed rating or a new title shifts the positions of every
    movie after it, so there is little to gain from comparing with what is there.
    """
    await session.execute(delete(MoviePosition))
    for name, (column, descending) in POSITION_ORDERS.items():
        position = func.row_number().over(
            order_by=[column.desc() if descending else column, Movie.id]
        )
        ranked = select(literal(name), position, Movie.id)
        columns = ["sort_order", "position", "movie_id"]
        await session.execute(insert(MoviePosition).from_select(columns, ranked))
    if session.get_bind().dialect.name == "postgresql":
        # Statistics for the changed tables now, in this transaction, so that the first
        # queries after the commit are planned on the new numbers rather than waiting for
        # autovacuum. (VACUUM cannot run in a transaction: cli.load runs it after.)
        await session.execute(text("ANALYZE movies, movie_positions"))


def _movie_row(movie: MovieIn) -> dict[str, Any]:
    return {**movie.model_dump(), "search_title": search_key(movie.title)}


async def _ids(session: AsyncSession, table: Table) -> set[int]:
    return set((await session.execute(select(table.c.id))).scalars())


async def _upsert(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]
) -> TableReport:
    """Insert the new rows, update the changed ones, leave identical ones alone."""
    report = TableReport()
    if not rows:
        return report
    columns = [c for c in rows[0] if c != "id"]
    result = await session.execute(select(table.c.id, *(table.c[c] for c in columns)))
    existing = {row[0]: tuple(row[1:]) for row in result}
    new, changed = [], []
    for row in rows:
        current = existing.get(row["id"])
        if current is None:
            new.append(row)
        elif current != tuple(row[c] for c in columns):
            changed.append({**row, "_id": row["id"]})
    for batch in _batches(new):
        await session.execute(insert(table), batch)
    statement = update(table).where(table.c.id == bindparam("_id"))
    for batch in _batches(changed):
        await session.execute(statement, batch)
    report.added, report.updated = len(new), len(changed)
    report.changed_ids = [row["id"] for row in new] + [row["id"] for row in changed]
    report.unchanged = len(rows) - len(new) - len(changed)
    return report


async def _delete_missing(session: AsyncSession, table: Table, keep: set[int]) -> int:
    gone = sorted(await _ids(session, table) - keep)
    for batch in _batches(gone):
        await session.execute(delete(table).where(table.c.id.in_(batch)))
    return len(gone)


def _batches(items: Sequence[_T]) -> Iterable[list[_T]]:
    for start in range(0, len(items), BATCH):
        yield list(items[start : start + BATCH])


def _table(model: type[Genre] | type[Director] | type[Movie]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


async def import_catalog(
    session: AsyncSession, catalog: CatalogFile, *, replace: bool = False
) -> ImportReport:
    """Bring the database in line with `catalog`; the caller commits."""
    genres, directors, movies = _table(Genre), _table(Director), _table(Movie)
    genre_ids = {g.id for g in catalog.genres}
    director_ids = {d.id for d in catalog.directors}
    if not replace:
        genre_ids |= await _ids(session, genres)
        director_ids |= await _ids(session, directors)
    for movie in catalog.movies:
        if movie.genre_id not in genre_ids:
            raise CatalogFileError(f"movie {movie.id}: there is no genre {movie.genre_id}.")
        if movie.director_id not in director_ids:
            raise CatalogFileError(f"movie {movie.id}: there is no director {movie.director_id}.")

    report = ImportReport()
    report.tables["genres"] = await _upsert(
        session, genres, [g.model_dump() for g in catalog.genres]
    )
    report.tables["directors"] = await _upsert(
        session, directors, [d.model_dump() for d in catalog.directors]
    )
    report.tables["movies"] = await _upsert(
        session, movies, [_movie_row(m) for m in catalog.movies]
    )
    if replace:
        # Movies first, so that no genre or director about to go is still referenced.
        report.tables["movies"].deleted = await _delete_missing(
            session, movies, {m.id for m in catalog.movies}
        )
        report.tables["genres"].deleted = await _delete_missing(session, genres, genre_ids)
        report.tables["directors"].deleted = await _delete_missing(session, directors, director_ids)
    movies_report = report.tables["movies"]
    if movies_report.added or movies_report.updated or movies_report.deleted:
        await session.execute(_RERANK)
        await reposition(session)
    if movies_report.changed_ids or movies_report.deleted or report.tables["directors"].updated:
        await search.refresh_after_import(
            session,
            movies_report.changed_ids,
            director_ids=report.tables["directors"].changed_ids,
            deleted=bool(movies_report.deleted),
        )
    if report.changed:
        await session.execute(update(CatalogMeta).values(version=CatalogMeta.version + 1))
    await session.flush()
    return report


async def count_movies(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Movie))).scalar_one()
