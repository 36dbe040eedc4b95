"""Search: the movies a query means, best first, the same on SQLite and PostgreSQL.

Every text, indexed or searched for, goes through `words`: case folded, "ё" read as "е",
each word stemmed (Snowball: Russian for Cyrillic words, English for Latin ones) and then
written in Latin letters without diacritics (anyascii), so that «Сталкер», "stalker" and
"Stalker" meet, as do "Léon" and "Leon", «служебного романа» and «Служебный роман».

The index holds each movie's title, original title, director and description in that
form, two tokens a word (the whole word, then its stem): an FTS5 table on SQLite, a
`tsvector` ('simple' configuration, GIN index) on PostgreSQL. `search_words`, the
vocabulary of every token, finds the words a mistyped one may mean: the candidates share
a trigram with it (an FTS5 `trigram` table on SQLite, a `pg_trgm` index on PostgreSQL),
and Levenshtein's distance, computed here, keeps those one edit away (two from words of
eight letters or more). The database finds the candidate movies; `_score` orders them,
in Python, so both databases give the same order.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import snowballstemmer  # type: ignore[import-untyped]
from anyascii import anyascii
from sqlalchemy import (
    ClauseElement,
    Executable,
    Integer,
    Result,
    Text,
    TextClause,
    column,
    delete,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from catalog_service.models import Director, Movie
from shared.db import Reader

MAX_QUERY = 200
SUGGESTIONS = 8
# Suggestions are chosen among this many best-rated matches: a prefix of one or two
# letters matches thousands of movies, too many to order at every keystroke.
SUGGESTION_CANDIDATES = 300

_RUSSIAN = snowballstemmer.stemmer("russian")
_ENGLISH = snowballstemmer.stemmer("english")
_WORD = re.compile(r"[^\W_]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z]")
_NOT_KEY = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=100_000)
def _forms(word: str) -> tuple[str, str]:
    """One case-folded word as (whole word, stem), both in Latin letters."""
    if _CYRILLIC.search(word):
        stem = _RUSSIAN.stemWord(word)
    elif _LATIN.search(anyascii(word)):
        stem = _ENGLISH.stemWord(word)
    else:
        stem = word
    key = _NOT_KEY.sub("", anyascii(word).lower())
    return key, _NOT_KEY.sub("", anyascii(stem).lower()) or key


def words(value: str) -> list[tuple[str, str]]:
    """The (whole word, stem) pairs of a text, for documents and queries alike."""
    found = (_forms(w) for w in _WORD.findall(value.casefold().replace("ё", "е")))
    return [pair for pair in found if pair[0]]


def document(value: str | None) -> str:
    """A field as the index holds it: each word's two forms, space-separated."""
    return " ".join(f"{key} {stem}" for key, stem in words(value or ""))


def allowed_typos(word: str) -> int:
    return 2 if len(word) >= 8 else 1 if len(word) >= 4 else 0


def distance(a: str, b: str, limit: int) -> int:
    """Levenshtein's distance of a and b, or limit + 1 once it is sure to exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


# -- SQL that differs between the databases --------------------------------------------


class _PerDialect(Executable, ClauseElement):
    """One statement written twice: for SQLite and for PostgreSQL."""

    inherit_cache = False

    def __init__(self, sqlite: TextClause, postgresql: TextClause) -> None:
        self.sqlite = sqlite
        self.postgresql = postgresql


@compiles(_PerDialect, "sqlite")
def _compile_sqlite(element: _PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.sqlite, **kw)


@compiles(_PerDialect)
def _compile_other(element: _PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.postgresql, **kw)


# The index tables: `rowid` is the movie's id on both (FTS5's own rowid on SQLite). The
# rating is copied there, so that a search reads one table.
SQLITE_SCHEMA = (
    "CREATE VIRTUAL TABLE search_movies USING fts5("
    "title, original_title, director, description, rating UNINDEXED, tokenize = 'unicode61')",
    "CREATE TABLE search_words (term VARCHAR(300) PRIMARY KEY)",
    # Each word between ^ and $, so that its first and last letters make trigrams too.
    "CREATE VIRTUAL TABLE search_words_trgm USING fts5(padded, tokenize = 'trigram')",
    """
    CREATE TRIGGER search_words_added AFTER INSERT ON search_words BEGIN
        INSERT INTO search_words_trgm (padded) VALUES ('^' || new.term || '$');
    END
    """,
)
POSTGRESQL_SCHEMA = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE TABLE search_movies (
        rowid INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        original_title TEXT NOT NULL,
        director TEXT NOT NULL,
        description TEXT NOT NULL,
        rating DOUBLE PRECISION NOT NULL,
        document TSVECTOR GENERATED ALWAYS AS (
            setweight(to_tsvector('simple', title), 'A')
            || setweight(to_tsvector('simple', original_title), 'B')
            || setweight(to_tsvector('simple', director), 'C')
            || setweight(to_tsvector('simple', description), 'D')
        ) STORED
    )
    """,
    "CREATE INDEX ix_search_movies_document ON search_movies USING gin (document)",
    "CREATE TABLE search_words (term VARCHAR(300) PRIMARY KEY)",
    "CREATE INDEX ix_search_words_trgm ON search_words USING gin (term gin_trgm_ops)",
)
DROP = ("search_words_trgm", "search_words", "search_movies")

_SOURCE = select(
    Movie.id, Movie.title, Movie.original_title, Director.name, Movie.description, Movie.rating
).join(Director, Director.id == Movie.director_id)
# The index table as SQLAlchemy sees it: enough to delete from it.
_INDEX = table("search_movies", column("rowid", Integer), column("description", Text))
_INSERT_ROW = text(
    "INSERT INTO search_movies (rowid, title, original_title, director, description, rating) "
    "VALUES (:id, :title, :original_title, :director, :description, :rating)"
)
_INSERT_WORD = text("INSERT INTO search_words (term) VALUES (:term)")
_BATCH = 500


class _Executes(Protocol):  # a synchronous Connection or Session
    def execute(self, statement: Executable, parameters: Any = None, /) -> Result[Any]: ...


def _document_row(movie: Sequence[Any]) -> dict[str, Any]:
    movie_id, title, original, director, description, rating = movie
    return {
        "id": movie_id,
        "rating": rating,
        "title": document(title),
        "original_title": document(original),
        "director": document(director),
        "description": document(description),
    }


def refresh_sync(connection: _Executes, movie_ids: Iterable[int] | None = None) -> None:
    """Bring the index in line with the movies table: for `movie_ids`, or for every movie.

    Deleted movies lose their rows; words no longer used stay in the vocabulary, where
    they cost no more than a candidate that matches nothing.
    """
    if movie_ids is None:
        connection.execute(delete(_INDEX))
        source = list(connection.execute(_SOURCE))
    else:
        ids = sorted(set(movie_ids))
        source = []
        for start in range(0, len(ids), _BATCH):
            batch = ids[start : start + _BATCH]
            connection.execute(delete(_INDEX).where(_INDEX.c.rowid.in_(batch)))
            source += connection.execute(_SOURCE.where(Movie.id.in_(batch)))
    rows = [_document_row(movie) for movie in source]
    vocabulary: set[str] = set()
    for row in rows:
        for name in ("title", "original_title", "director", "description"):
            vocabulary.update(row[name].split())
    for start in range(0, len(rows), _BATCH):
        connection.execute(_INSERT_ROW, rows[start : start + _BATCH])
    known = {term for (term,) in connection.execute(text("SELECT term FROM search_words"))}
    new = [{"term": term} for term in sorted(vocabulary - known)]
    for start in range(0, len(new), _BATCH):
        connection.execute(_INSERT_WORD, new[start : start + _BATCH])


async def refresh(session: AsyncSession, movie_ids: Iterable[int] | None = None) -> None:
    """`refresh_sync` in an async session's transaction."""
    await session.run_sync(lambda sync: refresh_sync(sync, movie_ids))


async def refresh_after_import(
    session: AsyncSession, movie_ids: list[int], *, director_ids: list[int], deleted: bool
) -> None:
    """After an import: the rows of the movies it added or changed, of the movies whose
    director it renamed (new directors have no movies yet), and none of those it deleted."""
    ids = set(movie_ids)
    for start in range(0, len(director_ids), _BATCH):
        batch = director_ids[start : start + _BATCH]
        found = await session.execute(select(Movie.id).where(Movie.director_id.in_(batch)))
        ids.update(movie_id for (movie_id,) in found)
    if ids:
        await refresh(session, ids)
    if deleted:
        await session.execute(
            text("DELETE FROM search_movies WHERE rowid NOT IN (SELECT id FROM movies)")
        )


# -- Queries -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Word:
    exact: frozenset[str]  # the word's own forms
    typos: dict[str, int]  # words of the vocabulary a typo away, with their distance
    prefix: str | None  # the last word: also the beginning of a word


_CANDIDATES = _PerDialect(
    text(
        "SELECT padded FROM search_words_trgm WHERE search_words_trgm MATCH :match "
        "AND length(padded) BETWEEN :shortest + 2 AND :longest + 2"
    ),
    text(
        "SELECT '^' || term || '$' FROM search_words WHERE term LIKE ANY (:patterns) "
        "AND length(term) BETWEEN :shortest AND :longest"
    ),
)
_HAS_WORD = text("SELECT term FROM search_words WHERE term IN (:a, :b)")


async def _typos(reader: Reader, key: str, stem: str) -> dict[str, int]:
    """Words of the vocabulary within the allowed distance of `key`, when neither of the
    word's own forms is in it."""
    limit = allowed_typos(key)
    if not limit or await reader.rows(_HAS_WORD, {"a": key, "b": stem}):
        return {}
    padded = f"^{key}$"
    grams = sorted({padded[i : i + 3] for i in range(len(padded) - 2)})
    patterns = [
        f"{g[1:]}%" if g[0] == "^" else f"%{g[:-1]}" if g[-1] == "$" else f"%{g}%" for g in grams
    ]
    rows = await reader.rows(
        _CANDIDATES,
        {
            "match": " OR ".join(f'"{g}"' for g in grams),
            "patterns": patterns,
            "shortest": len(key) - limit,
            "longest": len(key) + limit,
        },
    )
    found = {}
    for (candidate,) in rows:
        term = candidate[1:-1]
        d = distance(key, term, limit)
        if d <= limit:
            found[term] = d
    return found


async def _query(reader: Reader, q: str) -> list[_Word]:
    pairs = words(q)
    result = []
    for index, (key, stem) in enumerate(pairs):
        last = index == len(pairs) - 1
        result.append(
            _Word(frozenset((key, stem)), await _typos(reader, key, stem), key if last else None)
        )
    return result


def _fts5(query: list[_Word], columns: str) -> str:
    parts = []
    for word in query:
        terms = [f'"{t}"' for t in sorted(word.exact | word.typos.keys())]
        if word.prefix:
            terms.append(f'"{word.prefix}"*')
        parts.append("(" + " OR ".join(terms) + ")")
    return f"{{{columns}}}: (" + " AND ".join(parts) + ")"


def _tsquery(query: list[_Word], weights: str) -> str:
    parts = []
    for word in query:
        terms = [f"{t}:{weights}" for t in sorted(word.exact | word.typos.keys())]
        if word.prefix:
            terms.append(f"{word.prefix}:*{weights}")
        parts.append("(" + " | ".join(terms) + ")")
    return " & ".join(parts)


_MATCH_SELECT = "SELECT rowid, title, original_title, director, rating FROM search_movies "
_MATCHES = _PerDialect(
    text(_MATCH_SELECT + "WHERE search_movies MATCH :fts5"),
    text(_MATCH_SELECT + "WHERE document @@ to_tsquery('simple', :tsquery)"),
)
_BEST_RATED = " ORDER BY rating DESC, rowid LIMIT :limit"
_BEST_RATED_MATCHES = _PerDialect(
    text(_MATCH_SELECT + "WHERE search_movies MATCH :fts5" + _BEST_RATED),
    text(_MATCH_SELECT + "WHERE document @@ to_tsquery('simple', :tsquery)" + _BEST_RATED),
)
_ALL_COLUMNS = ("title original_title director description", "ABCD")
_NAME_COLUMNS = ("title original_title director", "ABC")


def _word_match(word: _Word, padded: str) -> tuple[int, int] | None:
    """(kind, typos) of the word's best match in a field (its tokens between spaces):
    0 a whole word, 1 the beginning of one, 2 inside one."""
    for term in word.exact:
        if f" {term} " in padded:
            return 0, 0
    for term, typos in sorted(word.typos.items(), key=lambda item: item[1]):
        if f" {term} " in padded:
            return 0, typos
    if word.prefix and f" {word.prefix}" in padded:
        return 1, 0
    key = min(word.exact, key=len)
    if len(key) >= 3 and key in padded:
        return 2, 0
    return None


def _is_whole(query: list[_Word], padded: str) -> bool:
    """Whether the query is the field itself, word for word."""
    if padded.count(" ") - 1 != 2 * len(query):  # two tokens a word
        return False
    tokens = padded.split()
    return all(
        bool({tokens[2 * i], tokens[2 * i + 1]} & (w.exact | w.typos.keys()))
        for i, w in enumerate(query)
    )


def _score(
    query: list[_Word], movie_id: int, fields: Sequence[str], rating: float
) -> tuple[Any, ...] | None:
    """The sort key of one candidate (lower first), or None if its fields do not match.

    The whole title (or original title) first; then the least important field a word
    needed (title, original title, director, description); then how well the weakest
    word matched (a whole word, a word's beginning, inside a word), so that «Брат» comes
    before «Братство Кольца» and both before a film whose description says "брат"; then
    fewer typos; then higher rating, then lower id.
    """
    padded = [f" {field} " for field in fields]
    worst_field = worst_kind = typos = 0
    for word in query:
        for index, field in enumerate(padded):  # the first field it is in is its best
            found = _word_match(word, field)
            if found is not None:
                worst_field = max(worst_field, index)
                worst_kind = max(worst_kind, found[0])
                typos += found[1]
                break
        else:
            return None
    whole = 0 if _is_whole(query, padded[0]) else 1 if _is_whole(query, padded[1]) else 2
    return whole, worst_field, worst_kind, typos, -rating, movie_id


async def _ranked(
    reader: Reader, q: str, columns: tuple[str, str], limit: int | None = None
) -> list[int]:
    """The movies matching `q` in `columns`, best first; with `limit`, among the
    `limit` best rated of them (the same ones on either database)."""
    query = await _query(reader, q)
    if not query:
        return []
    rows = await reader.rows(
        _MATCHES if limit is None else _BEST_RATED_MATCHES,
        {
            "fts5": _fts5(query, columns[0]),
            "tsquery": _tsquery(query, columns[1]),
            "limit": limit,
        },
    )
    scored, rest = [], {}
    for movie_id, title, original, director, rating in rows:
        key = _score(query, movie_id, (title, original, director), rating)
        if key is not None:
            scored.append(key)
        else:  # a word only its description has: read it (most matches need not)
            rest[movie_id] = (title, original, director, rating)
    if rest and columns is _ALL_COLUMNS:
        ids = sorted(rest)
        for start in range(0, len(ids), _BATCH):
            statement = select(_INDEX.c.rowid, _INDEX.c.description).where(
                _INDEX.c.rowid.in_(ids[start : start + _BATCH])
            )
            for movie_id, description in await reader.rows(statement):
                title, original, director, rating = rest[movie_id]
                fields = (title, original, director, description)
                key = _score(query, movie_id, fields, rating)
                if key is not None:
                    scored.append(key)
    scored.sort()
    return [key[-1] for key in scored]


async def ranked_ids(reader: Reader, q: str) -> list[int]:
    """Ids of the movies matching `q`, best match first."""
    return await _ranked(reader, q, _ALL_COLUMNS)


async def suggest(reader: Reader, q: str) -> list[dict[str, Any]]:
    """Up to 8 movies for what has been typed so far: titles, original titles and
    directors (descriptions say too little for a suggestion)."""
    ids = (await _ranked(reader, q, _NAME_COLUMNS, SUGGESTION_CANDIDATES))[:SUGGESTIONS]
    if not ids:
        return []
    rows = await reader.rows(
        select(Movie.id, Movie.title, Movie.original_title, Movie.year).where(Movie.id.in_(ids))
    )
    by_id = {
        row[0]: {"id": row[0], "title": row[1], "original_title": row[2], "year": row[3]}
        for row in rows
    }
    return [by_id[i] for i in ids if i in by_id]
