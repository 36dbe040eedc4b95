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
eight letters or more). The order is a sequence of tiers, each a full-text query that
both databases answer alike (see "The order of the matches" below), and within a tier
the index's own row order, by rating: a page is read from the index, never sorted out
of every match, so a word that thousands of titles share costs little more than a rare one.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]
from anyascii import anyascii
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Executable,
    Text,
    bindparam,
    case,
    column,
    delete,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_service.models import Director, Movie
from shared.db import Reader, reused

MAX_QUERY = 200
SUGGESTIONS = 8

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


# -- The index ------------------------------------------------------------------------
#
# Each movie's row in the index has the row id `index_rowid` gives it: the movie's place
# in the order by rating, best first (ten minus the rating, in millionths), in the high
# bits, and its id in the low 32. Matches that rank alike then come in rating order
# straight from the index, with no sort: FTS5 walks its lists in row id order, PostgreSQL
# its primary key, and either stops after a page.

ID_BITS = 32
ID_MASK = (1 << ID_BITS) - 1
_RATING_STEPS = 1_000_000


def index_rowid(movie_id: int, rating: float) -> int:
    """The row id of a movie in the index (ratings 0 to 10, ids below 2**32)."""
    return (round((10 - rating) * _RATING_STEPS) << ID_BITS) | movie_id


# The words of a field sit in their column, two tokens a word; a title's and an original
# title's whole form (see `whole_forms`) in columns of their own, where a query made of
# the same words, glued together, finds it.
SQLITE_SCHEMA = (
    "CREATE VIRTUAL TABLE search_movies USING fts5("
    "title, original_title, director, description, title_whole, original_whole, "
    "tokenize = 'unicode61')",
    "CREATE TABLE search_words (term VARCHAR(300) PRIMARY KEY)",
    # Each word between ^ and $, so that its first and last letters make trigrams too.
    "CREATE VIRTUAL TABLE search_words_trgm USING fts5(padded, tokenize = 'trigram')",
    """
    CREATE TRIGGER search_words_added AFTER INSERT ON search_words BEGIN
        INSERT INTO search_words_trgm (padded) VALUES ('^' || new.term || '$');
    END
    """,
)
# On PostgreSQL the fields are the weights of one tsvector (A title, B original title,
# C director, D description), and the whole forms another (A title, B original title).
# The rows hold nothing else: counting the matches of a common word visits each of them.
POSTGRESQL_SCHEMA = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE TABLE search_movies (
        rowid BIGINT PRIMARY KEY,
        document TSVECTOR NOT NULL,
        wholes TSVECTOR NOT NULL
    )
    """,
    "CREATE INDEX ix_search_movies_document ON search_movies USING gin (document)",
    "CREATE INDEX ix_search_movies_wholes ON search_movies USING gin (wholes)",
    "CREATE TABLE search_words (term VARCHAR(300) PRIMARY KEY)",
    "CREATE INDEX ix_search_words_trgm ON search_words USING gin (term gin_trgm_ops)",
)
DROP = ("search_words_trgm", "search_words", "search_movies")

_SOURCE = select(
    Movie.id, Movie.rating, Movie.title, Movie.original_title, Director.name, Movie.description
).join(Director, Director.id == Movie.director_id)
# The index table as SQLAlchemy sees it (`document` and `wholes`: PostgreSQL's only).
_INDEX = table("search_movies", column("rowid", BigInteger), column("document"), column("wholes"))
_INSERT_ROW = {
    "sqlite": text(
        "INSERT INTO search_movies (rowid, title, original_title, director, description, "
        "title_whole, original_whole) VALUES (:rowid, :title, :original_title, :director, "
        ":description, :title_whole, :original_whole)"
    ),
    "postgresql": text(
        "INSERT INTO search_movies (rowid, document, wholes) VALUES (:rowid, "
        "setweight(to_tsvector('simple', :title), 'A') "
        "|| setweight(to_tsvector('simple', :original_title), 'B') "
        "|| setweight(to_tsvector('simple', :director), 'C') "
        "|| setweight(to_tsvector('simple', :description), 'D'), "
        "setweight(to_tsvector('simple', :title_whole), 'A') "
        "|| setweight(to_tsvector('simple', :original_whole), 'B'))"
    ),
}
_INSERT_WORD = text("INSERT INTO search_words (term) VALUES (:term)")
# GIN indexes gather new entries in a pending list that every search reads through
# until a vacuum merges it: after an import that is thousands of entries.
_MERGE_PENDING = text(
    "SELECT gin_clean_pending_list(index::regclass) FROM (VALUES "
    "('ix_search_movies_document'), ('ix_search_movies_wholes'), ('ix_search_words_trgm')"
    ") AS pending (index)"
)
_BATCH = 500


def whole_forms(value: str | None) -> str:
    """A title as one token (its words' whole forms glued together) and as another (their
    stems glued), space-separated; "" for no title."""
    pairs = words(value or "")
    keys, stems = "".join(p[0] for p in pairs), "".join(p[1] for p in pairs)
    return keys if keys == stems else f"{keys} {stems}"


def _document_row(movie: Sequence[Any]) -> dict[str, Any]:
    movie_id, rating, title, original, director, description = movie
    return {
        "rowid": index_rowid(movie_id, rating),
        "title": document(title),
        "original_title": document(original),
        "director": document(director),
        "description": document(description),
        "title_whole": whole_forms(title),
        "original_whole": whole_forms(original),
    }


def refresh_sync(connection: Connection, movie_ids: Iterable[int] | None = None) -> None:
    """Bring the index in line with the movies table: for `movie_ids`, or for every movie.

    Deleted movies lose their rows; words no longer used stay in the vocabulary, where
    they cost no more than a candidate that matches nothing.
    """
    dialect = connection.dialect.name
    if movie_ids is None:
        connection.execute(delete(_INDEX))
        source = list(connection.execute(_SOURCE))
    else:
        # The rows are found by their movie's id, which only the low bits of a row id hold:
        # one pass over the row ids (a few milliseconds for 100,000) finds them all.
        wanted = set(movie_ids)
        stale = [
            rowid
            for (rowid,) in connection.execute(select(_INDEX.c.rowid))
            if rowid & ID_MASK in wanted
        ]
        for start in range(0, len(stale), _BATCH):
            batch = stale[start : start + _BATCH]
            connection.execute(delete(_INDEX).where(_INDEX.c.rowid.in_(batch)))
        ids = sorted(wanted)
        source = []
        for start in range(0, len(ids), _BATCH):
            source += connection.execute(_SOURCE.where(Movie.id.in_(ids[start : start + _BATCH])))
    rows = [_document_row(movie) for movie in source]
    vocabulary: set[str] = set()
    for row in rows:
        for name in ("title", "original_title", "director", "description"):
            vocabulary.update(row[name].split())
    for start in range(0, len(rows), _BATCH):
        connection.execute(_INSERT_ROW[dialect], rows[start : start + _BATCH])
    known = {term for (term,) in connection.execute(text("SELECT term FROM search_words"))}
    new = [{"term": term} for term in sorted(vocabulary - known)]
    for start in range(0, len(new), _BATCH):
        connection.execute(_INSERT_WORD, new[start : start + _BATCH])
    if dialect == "postgresql" and (rows or new):
        connection.execute(_MERGE_PENDING)
        # The planner's numbers for the new rows now, not at the next autovacuum.
        connection.execute(text("ANALYZE search_movies, search_words"))


async def refresh(session: AsyncSession, movie_ids: Iterable[int] | None = None) -> None:
    """`refresh_sync` in an async session's transaction."""
    await session.run_sync(lambda sync: refresh_sync(sync.connection(), movie_ids))


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
            delete(_INDEX).where(
                _INDEX.c.rowid.op("&")(ID_MASK).not_in(select(Movie.id).scalar_subquery())
            )
        )


# -- A query's words ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Word:
    # The index terms that match the word, by how far they may be from it: its own two
    # forms; those and the words of the vocabulary one typo away; and two typos away.
    terms: tuple[frozenset[str], frozenset[str], frozenset[str]]
    prefix: str | None  # the last word: also the beginning of a word
    # PostgreSQL: the vocabulary's words that begin with `prefix`, when there are few;
    # None where the index is asked for the prefix itself.
    extensions: frozenset[str] | None = None


_TRIGRAMS = table("search_words_trgm", column("padded", Text))
_CANDIDATES: dict[str, Executable] = {
    "sqlite": reused(
        select(_TRIGRAMS.c.padded).where(
            literal_column("search_words_trgm").match(bindparam("match")),
            func.length(_TRIGRAMS.c.padded).between(
                bindparam("shortest") + 2, bindparam("longest") + 2
            ),
        )
    ),
    "postgresql": text(
        "SELECT '^' || term || '$' FROM search_words WHERE term LIKE ANY (:patterns) "
        "AND length(term) BETWEEN :shortest AND :longest"
    ),
}
_VOCABULARY = table("search_words", column("term", Text))
# The forms of a query's words that the vocabulary knows (and on PostgreSQL, after them,
# up to `_EXTENSIONS` + 1 words that begin with the last word: a GIN index reads a few
# words faster than it matches a prefix, which it gathers into a bitmap first: 0.9
# against 2.0 ms for the 6,182 movies of «маяк» among 100,000).
_EXTENSIONS = 32
_KNOWN: dict[str, Executable] = {
    "sqlite": select(_VOCABULARY.c.term, literal(False)).where(
        _VOCABULARY.c.term.in_(bindparam("terms", expanding=True))
    ),
    "postgresql": text(
        "SELECT term, false FROM search_words WHERE term = ANY(:terms) UNION ALL "
        "(SELECT term, true FROM search_words WHERE term LIKE :begins LIMIT :most)"
    ),
}


async def _typos(reader: Reader, key: str) -> dict[str, int]:
    """Words of the vocabulary within the allowed distance of `key`."""
    limit = allowed_typos(key)
    if not limit:
        return {}
    padded = f"^{key}$"
    grams = sorted({padded[i : i + 3] for i in range(len(padded) - 2)})
    patterns = [
        f"{g[1:]}%" if g[0] == "^" else f"%{g[:-1]}" if g[-1] == "$" else f"%{g}%" for g in grams
    ]
    rows = await reader.rows(
        _CANDIDATES[reader.dialect],
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


async def _words(reader: Reader, q: str) -> list[_Word]:
    pairs = words(q)
    if not pairs:
        return []
    # Typos only for a word that is in no movie as typed.
    forms = sorted({form for pair in pairs for form in pair})
    last = pairs[-1][0]
    rows = await reader.rows(
        _KNOWN[reader.dialect],
        {"terms": forms, "begins": f"{last}%", "most": _EXTENSIONS + 1},
    )
    known = {term for term, extension in rows if not extension}
    extended = frozenset(term for term, extension in rows if extension)
    result = []
    for index, (key, stem) in enumerate(pairs):
        own = frozenset((key, stem))
        typos = {} if own & known else await _typos(reader, key)
        one = own | {term for term, d in typos.items() if d == 1}
        two = one | typos.keys()
        if index < len(pairs) - 1:
            result.append(_Word((own, one, two), None))
        else:
            few = reader.dialect != "sqlite" and len(extended) <= _EXTENSIONS
            result.append(_Word((own, one, two), key, extended if few else None))
    return result


# -- The order of the matches -----------------------------------------------------------
#
# The matches come in tiers, and by rating (then id) within a tier, which is the index's
# own order. First the movies whose title is the query itself, word for word (in any of
# the words' forms, typos allowed), then those whose original title is. Then the others,
# by the least important field a word of the query needed: title; original title;
# director; description. Within each of those, by how the words matched: all in their
# own forms (a whole word or its stem); with typos of one letter; of two; with the last
# word only the beginning of a longer one. So «Брат» comes before «Братство Кольца»,
# both before a film whose description says "брат", and «Маяк» before «Ледяной маяк».
#
# Each tier is one full-text query, the same set on both databases: FTS5's column
# filters and NOT, PostgreSQL's weights and `!`. A page is read tier by tier, each from
# its first row in index order, until it is full.

_FIELDS = ("title", "original_title", "director", "description")
_NAME_FIELDS = 3  # suggestions: title, original title and director
_PREFIX = 3  # the level of the words' terms that adds the last word's beginning
_MAX_WHOLE_FORMS = 64
_WHOLE_TIERS = 2  # whole titles, then whole original titles


@dataclass(frozen=True, slots=True)
class _Tier:
    fts5: str  # SQLite: the MATCH expression
    document: str | None  # PostgreSQL: the tsquery `document` matches
    wholes: str | None  # ... the tsquery `wholes` matches (or, with `either`, this or that)
    not_wholes: str | None  # ... the tsquery `wholes` does not match
    either: bool = False
    # PostgreSQL: the tier's own query, before what earlier tiers took is taken out, as
    # (column, tsquery): enough for a CASE that tries the tiers in order.
    plain: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """A query, ready to run: its tiers in order, and one tier that is all of them."""

    tiers: tuple[_Tier, ...]
    every: _Tier


def _alternatives(word: _Word, level: int) -> tuple[list[str], list[str]]:
    """(whole terms, prefixes) of a word at a level."""
    terms = word.terms[min(level, 2)]
    if level != _PREFIX or not word.prefix:
        return sorted(terms), []
    if word.extensions is not None:
        return sorted(terms | word.extensions), []
    return sorted(terms), [word.prefix]


def _fts5(query: list[_Word], fields: int, level: int) -> str:
    parts = []
    for word in query:
        terms, prefixes = _alternatives(word, level)
        quoted = [f'"{t}"' for t in terms] + [f'"{p}"*' for p in prefixes]
        parts.append("(" + " OR ".join(quoted) + ")")
    return "{" + " ".join(_FIELDS[:fields]) + "}: (" + " AND ".join(parts) + ")"


def _tsquery(query: list[_Word], fields: int, level: int) -> str:
    # No weights when every field will do: a weighted match is checked again on each
    # row the index gives, and counting the matches of a common word reads thousands.
    weights = "ABCD"[:fields] if fields < len(_FIELDS) else ""
    colon = ":" if weights else ""
    parts = []
    for word in query:
        terms, prefixes = _alternatives(word, level)
        marked = [f"{t}{colon}{weights}" for t in terms] + [f"{p}:*{weights}" for p in prefixes]
        parts.append("(" + " | ".join(marked) + ")")
    return " & ".join(parts)


def _whole_candidates(query: list[_Word]) -> list[str]:
    """The query as a whole title would be indexed: each word in each of its forms (own
    forms first, then the nearest typos), glued; at most `_MAX_WHOLE_FORMS` of them."""
    glued = [""]
    for word in query:
        forms = sorted(
            word.terms[2], key=lambda t: (t not in word.terms[0], t not in word.terms[1], t)
        )
        glued = [g + form for g in glued for form in forms][:_MAX_WHOLE_FORMS]
    return glued


def _build(query: list[_Word], fields: int) -> Query:
    levels = [0]
    for level in (1, 2):
        if any(w.terms[level] != w.terms[level - 1] for w in query):
            levels.append(level)
    last = query[-1]
    # (No prefix level where the words that begin with the last one are already there.)
    if last.prefix and (last.extensions is None or not last.extensions <= last.terms[2]):
        levels.append(_PREFIX)
    glued = _whole_candidates(query)
    fts5_whole = " OR ".join(f'"{g}"' for g in glued)
    in_titles = "{title_whole}: (" + fts5_whole + ")"
    in_originals = "{original_whole}: (" + fts5_whole + ")"
    in_either = "{title_whole original_whole}: (" + fts5_whole + ")"
    titles = " | ".join(f"{g}:A" for g in glued)
    originals = " | ".join(f"{g}:B" for g in glued)
    tiers = [  # the first `_WHOLE_TIERS`
        _Tier(in_titles, None, titles, None, plain=("wholes", titles)),
        _Tier(
            f"({in_originals}) NOT ({in_titles})",
            None,
            f"({originals}) & !({titles})",
            None,
            plain=("wholes", originals),
        ),
    ]
    either = " | ".join(f"{g}:AB" for g in glued)
    for width in range(1, fields + 1):
        for index, level in enumerate(levels):
            fts5 = [_fts5(query, width, level)]
            tsquery = [_tsquery(query, width, level)]
            if width > 1:  # not already in a narrower tier
                fts5.append(_fts5(query, width - 1, levels[-1]))
                tsquery.append(_tsquery(query, width - 1, levels[-1]))
            if index > 0:
                fts5.append(_fts5(query, width, levels[index - 1]))
                tsquery.append(_tsquery(query, width, levels[index - 1]))
            fts5.append(in_either)
            tiers.append(
                _Tier(
                    " NOT ".join(f"({part})" for part in fts5),
                    " & !".join(f"({part})" for part in tsquery),
                    None,
                    either,
                    plain=("document", tsquery[0]),
                )
            )
    widest = _fts5(query, fields, levels[-1])
    every = _Tier(
        f"({widest}) OR ({in_either})",
        _tsquery(query, fields, levels[-1]),
        either,
        None,
        either=True,
    )
    return Query(tuple(tiers), every)


async def prepare(reader: Reader, q: str, *, names_only: bool = False) -> Query | None:
    """`q` as tiers of full-text queries; None when it has no word to look for.

    `names_only`: titles, original titles and directors (for suggestions).
    """
    query = await _words(reader, q)
    if not query:
        return None
    return _build(query, _NAME_FIELDS if names_only else len(_FIELDS))


# -- Running it -----------------------------------------------------------------------
#
# SQLite reads a page tier by tier: each tier is one FTS5 query, answered from the
# index's lists in row id order and stopped after the page, a fraction of a millisecond
# whether the tier is rare or common.
#
# PostgreSQL's planner cannot know how many rows a tier has, and a wrong guess is costly
# both ways: walking the primary key for a rare tier reads the whole table, sorting a
# common tier reads all of its rows. So the search counts the matches first (a page's
# header needs the count anyway). Under `_FEW`, one statement gives them all with their
# tiers (a CASE), and the page is cut from them here. Otherwise a first page reads the
# two whole-title tiers (always few) in one statement, then looks for each further
# tier's rows among the index's first `_PROBE_ROWS` rows by its primary key (a common
# tier fills the page there at once); a tier that does not is read with a cap of `_FEW`
# rows (sorted here when that is all of it), and only then whole. A page further on
# learns every tier's size in one statement (GROUP BY the CASE) to find its start.
# Suggestions need no count: the first probe that falls short asks for the few instead.
# The statements of one search share a connection (`Reader.together`).

Conditions = Sequence[ColumnElement[bool]]
_MOVIE_ID = _INDEX.c.rowid.op("&")(ID_MASK)
# An FTS5 table's name stands for all of its columns in MATCH.
_FTS5_TABLE: Any = literal_column("search_movies")
_FEW = 1000
_PROBE_ROWS = 2000


_TSQUERY = TSQUERY()  # one instance: SQLAlchemy keeps its dialect form on the instance


def _tsquery_match(target: Any, tsquery: str) -> ColumnElement[bool]:
    # A typed parameter, parsed once: `to_tsquery(:text)` in a plan that the server
    # keeps for a prepared statement would parse it again for every row it tests.
    matched: ColumnElement[bool] = target.op("@@", is_comparison=True)(literal(tsquery, _TSQUERY))
    return matched


def _where(tier: _Tier, dialect: str) -> list[ColumnElement[bool]]:
    if dialect == "sqlite":
        return [_FTS5_TABLE.match(tier.fts5)]
    columns = _INDEX.c
    found: list[ColumnElement[bool]] = []
    if tier.document is not None:
        found.append(_tsquery_match(columns.document, tier.document))
    if tier.wholes is not None:
        found.append(_tsquery_match(columns.wholes, tier.wholes))
    if tier.either:
        return [or_(*found)]
    if tier.not_wholes is not None:
        found.append(not_(_tsquery_match(columns.wholes, tier.not_wholes)))
    return found


def _filtered(statement: Any, conditions: Conditions) -> Any:
    if not conditions:
        return statement
    return statement.join(Movie, Movie.id == _MOVIE_ID).where(*conditions)


# SQLite's statements for a tier with no filter, built once (`reused`: compiled once and
# given to the driver directly), as a walk runs several of them for one page.
_SQLITE_COUNT = reused(
    select(func.count()).select_from(_INDEX).where(_FTS5_TABLE.match(bindparam("fts5")))
)
_SQLITE_PAGE = reused(
    select(_INDEX.c.rowid)
    .where(_FTS5_TABLE.match(bindparam("fts5")))
    .order_by(_INDEX.c.rowid)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)


# PostgreSQL's statements on a first page's way (the count, the whole titles, the probe),
# built once as well, with the tsqueries as parameters: building a statement and its
# cache key for each request took about 0.2 ms of the loop's time for each of them.


def _matches(column: Any, name: str) -> ColumnElement[bool]:
    """`column @@ :name`, the tsquery a parameter (see `_tsquery_match`)."""
    matched: ColumnElement[bool] = column.op("@@", is_comparison=True)(
        bindparam(name, type_=_TSQUERY)
    )
    return matched


# `Query.every`: a match in any field, or of a whole title.
_EVERY_COUNT = (
    select(func.count())
    .select_from(_INDEX)
    .where(or_(_matches(_INDEX.c.document, "document"), _matches(_INDEX.c.wholes, "wholes")))
)
# The two whole-title tiers, with whether the title (not the original title) is the match.
_WHOLE_TITLES = (
    select(_INDEX.c.rowid, _matches(_INDEX.c.wholes, "titles"))
    .where(_matches(_INDEX.c.wholes, "either"))
    .limit(bindparam("few"))
)
_HEAD = (
    select(_INDEX.c.rowid, _INDEX.c.document, _INDEX.c.wholes)
    .order_by(_INDEX.c.rowid)
    .limit(bindparam("head"))
    .subquery("head")
)
# A tier after the whole titles (`_build`): its words in the fields, not a whole title.
_PROBE = (
    select(_HEAD.c.rowid)
    .where(_matches(_HEAD.c.document, "document"), not_(_matches(_HEAD.c.wholes, "not_wholes")))
    .order_by(_HEAD.c.rowid)
    .limit(bindparam("limit"))
)


async def _count(reader: Reader, tier: _Tier, conditions: Conditions) -> int:
    if reader.dialect != "sqlite":  # PostgreSQL counts `Query.every` alone (see `page`)
        assert tier.either
        parameters = {"document": tier.document, "wholes": tier.wholes}
        return int(await reader.scalar(_filtered(_EVERY_COUNT, conditions), parameters))
    if not conditions:
        return int(await reader.scalar(_SQLITE_COUNT, {"fts5": tier.fts5}))
    statement = select(func.count()).select_from(_INDEX).where(*_where(tier, "sqlite"))
    return int(await reader.scalar(_filtered(statement, conditions)))


async def _tier_page(
    reader: Reader,
    tier: _Tier,
    conditions: Conditions,
    limit: int,
    offset: int,
    probe_first: bool = False,
) -> list[int]:
    """Row ids of a tier's matches, in index order, from `offset`."""
    rowid = _INDEX.c.rowid
    if reader.dialect == "sqlite" and not conditions:
        parameters = {"fts5": tier.fts5, "limit": limit, "offset": offset}
        return [found for (found,) in await reader.rows(_SQLITE_PAGE, parameters)]
    if reader.dialect == "sqlite":
        statement = _filtered(select(rowid).where(*_where(tier, "sqlite")), conditions)
        statement = statement.order_by(rowid).limit(limit).offset(offset)
        return [found for (found,) in await reader.rows(statement)]
    if probe_first and tier.document is not None:
        found = await _probe(reader, tier, limit)
        if len(found) == limit:
            return found
    capped = _filtered(select(rowid).where(*_where(tier, "postgresql")), conditions)
    some = sorted(row for (row,) in await reader.rows(capped.limit(_FEW)))
    if len(some) < _FEW:
        return some[offset : offset + limit]
    if not probe_first and not conditions and not offset and tier.document is not None:
        found = await _probe(reader, tier, limit)
        if len(found) == limit:
            return found
    # `rowid + 0`: sorted after the match, not walked in primary key order.
    statement = capped.order_by(rowid + 0).limit(limit).offset(offset)
    return [found for (found,) in await reader.rows(statement)]


async def _probe(reader: Reader, tier: _Tier, limit: int) -> list[int]:
    """PostgreSQL: the tier's first rows among the index's first `_PROBE_ROWS`."""
    assert tier.wholes is None  # the shape of `_PROBE`'s tiers
    assert tier.not_wholes is not None
    parameters = {
        "document": tier.document,
        "not_wholes": tier.not_wholes,
        "head": _PROBE_ROWS,
        "limit": limit,
    }
    return [row for (row,) in await reader.rows(_PROBE, parameters)]


def _tier_of_row(query: Query) -> Any:
    """PostgreSQL: the index of the first tier a row is in (CASE takes the first)."""
    columns = _INDEX.c
    tiers = [
        (_tsquery_match(columns[tier.plain[0]], tier.plain[1]), index)
        for index, tier in enumerate(query.tiers)
        if tier.plain is not None
    ]
    return case(*tiers, else_=len(query.tiers))


async def _few(reader: Reader, query: Query, conditions: Conditions) -> list[int] | None:
    """PostgreSQL: the row ids of every match, best first, when there are fewer than
    `_FEW`; None when there are more."""
    statement = select(_INDEX.c.rowid, _tier_of_row(query))
    statement = statement.where(*_where(query.every, "postgresql"))
    rows = await reader.rows(_filtered(statement, conditions).limit(_FEW))
    if len(rows) == _FEW:
        return None
    return [rowid for rowid, _ in sorted(rows, key=lambda row: (row[1], row[0]))]


async def _whole_titles(reader: Reader, query: Query, conditions: Conditions) -> list[int] | None:
    """PostgreSQL: the row ids of the first two tiers (whole titles, whole original
    titles) in order, from one statement; None when they hold `_FEW` or more."""
    parameters = {"titles": query.tiers[0].wholes, "either": query.every.wholes, "few": _FEW}
    rows = await reader.rows(_filtered(_WHOLE_TITLES, conditions), parameters)
    if len(rows) == _FEW:
        return None
    return [rowid for rowid, _ in sorted(rows, key=lambda row: (not row[1], row[0]))]


async def _tier_sizes(reader: Reader, query: Query, conditions: Conditions) -> dict[int, int]:
    """PostgreSQL: how many matches each tier has, in one pass over the matches."""
    tier = _tier_of_row(query).label("tier")
    statement = select(tier, func.count()).where(*_where(query.every, "postgresql"))
    rows = await reader.rows(_filtered(statement, conditions).group_by(tier))
    return dict(rows)


async def count(reader: Reader, query: Query, conditions: Conditions = ()) -> int:
    """How many movies match, among those that meet `conditions` (on `Movie`)."""
    return await _count(reader, query.every, conditions)


async def page(
    reader: Reader,
    query: Query,
    offset: int,
    limit: int | None,
    conditions: Conditions = (),
    *,
    counted: bool = True,
) -> tuple[list[int], int | None]:
    """Ids of the matches from `offset`, best first (`limit` of them, or all), and how
    many match in all; not `counted`, the count may be None (suggestions need none)."""
    total: int | None = None
    if counted or offset or limit is None:
        total = await count(reader, query, conditions)
    sizes: dict[int, int] | None = None  # PostgreSQL, far from the first page
    if reader.dialect != "sqlite":
        few = await _few(reader, query, conditions) if total is not None and total < _FEW else None
        if few is not None:
            end = None if limit is None else offset + limit
            return [rowid & ID_MASK for rowid in few[offset:end]], len(few)
        if offset or limit is None:  # where the page starts, in one statement
            sizes = await _tier_sizes(reader, query, conditions)
            total = sum(sizes.values())
    if limit is None:
        assert total is not None
        limit = total
    found = await _walk(reader, query, offset, limit, conditions, total, sizes)
    return [rowid & ID_MASK for rowid in found], total


async def _walk(
    reader: Reader,
    query: Query,
    offset: int,
    limit: int,
    conditions: Conditions,
    total: int | None,
    sizes: dict[int, int] | None,
) -> list[int]:
    """Row ids of a page, read tier by tier."""
    # PostgreSQL's first page, unfiltered: a probe before all else (see _PROBE_ROWS).
    probe_first = reader.dialect != "sqlite" and not offset and not conditions
    found: list[int] = []
    left = total
    few_unknown = total is None
    start = 0
    if reader.dialect != "sqlite" and not offset:
        wholes = await _whole_titles(reader, query, conditions)
        if wholes is not None:
            found = wholes[:limit]
            left = None if left is None else left - len(wholes)
            start = _WHOLE_TIERS
    for index, tier in enumerate(query.tiers[start:], start):
        if len(found) == limit or left == 0:
            break
        if sizes is not None and not sizes.get(index):
            continue
        if offset:
            size = sizes[index] if sizes is not None else await _count(reader, tier, conditions)
            if size <= offset:
                offset -= size
                left = None if left is None else left - size
                continue
        need = limit - len(found)
        probe_again = probe_first
        if few_unknown and probe_first and tier.document is not None:
            # No count (a suggestion): when the first common tier does not fill the page
            # among the index's first rows, few movies may match in all, and then one
            # statement gives them all in order.
            few_unknown = False
            probed = await _probe(reader, tier, need)
            if len(probed) == need:
                found += probed
                continue
            few = await _few(reader, query, conditions)
            if few is not None:
                return few[:limit]
            probe_again = False
        rows = await _tier_page(reader, tier, conditions, need, offset, probe_again)
        if left is not None:
            left -= offset + len(rows)
        offset = 0
        found += rows
    return found


def matching(query: Query, dialect: str) -> ColumnElement[bool]:
    """A condition on `Movie`: it matches the query (for orders other than relevance)."""
    ids = select(_MOVIE_ID).select_from(_INDEX).where(*_where(query.every, dialect))
    return Movie.id.in_(ids.scalar_subquery())


async def ranked_ids(reader: Reader, q: str) -> list[int]:
    """Ids of every movie matching `q`, best match first."""
    query = await prepare(reader, q)
    if query is None:
        return []
    ids, _ = await page(reader, query, 0, None)
    return ids


async def suggest(reader: Reader, q: str) -> list[dict[str, Any]]:
    """Up to 8 movies for what has been typed so far: titles, original titles and
    directors (descriptions say too little for a suggestion)."""
    async with reader.together() as held:
        query = await prepare(held, q, names_only=True)
        if query is None:
            return []
        ids, _ = await page(held, query, 0, SUGGESTIONS, counted=False)
        if not ids:
            return []
        chosen = select(Movie.id, Movie.title, Movie.original_title, Movie.year)
        rows = await held.rows(chosen.where(Movie.id.in_(ids)))
    by_id = {
        row[0]: {"id": row[0], "title": row[1], "original_title": row[2], "year": row[3]}
        for row in rows
    }
    return [by_id[i] for i in ids if i in by_id]
