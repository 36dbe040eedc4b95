from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    mapped_column,
    relationship,
)


def search_key(text: str) -> str:
    """The form in which titles are stored for search and queries are compared.

    Case folding done here, in Python, behaves the same on every database: SQLite's
    lower() knows only ASCII and PostgreSQL's depends on the server's locale. "ё" is
    folded to "е", as Russian readers type it either way.
    """
    return text.casefold().replace("ё", "е")


class CatalogBase(DeclarativeBase):
    """The catalog's own metadata: its tables and nobody else's."""


class Genre(CatalogBase):
    __tablename__ = "genres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100))


class Director(CatalogBase):
    __tablename__ = "directors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))


class Movie(CatalogBase):
    __tablename__ = "movies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(300))
    # The title in the film's own language (null where unknown): «Сталкер» for Stalker,
    # "The Godfather" for «Крёстный отец».
    original_title: Mapped[str | None] = mapped_column(String(300))
    search_title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    trailer: Mapped[str] = mapped_column(String(500), default="")
    year: Mapped[int] = mapped_column(Integer)
    rating: Mapped[float] = mapped_column(Float)
    genre_id: Mapped[int] = mapped_column(ForeignKey("genres.id"))
    director_id: Mapped[int] = mapped_column(ForeignKey("directors.id"))
    # Each movie's position in the two orders the API lists in, 1..n, recomputed by
    # every import that changes the catalog. A page is then a range of positions found
    # through an index, as quick at page 8,000 as at page 1 (OFFSET would walk every
    # row before it).
    store_rank: Mapped[int] = mapped_column(Integer, server_default="0")  # id ascending
    new_rank: Mapped[int] = mapped_column(Integer, server_default="0")  # year, id descending

    genre: Mapped[Genre] = relationship(lazy="raise")
    director: Mapped[Director] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_movies_store_rank", "store_rank"),
        Index("ix_movies_new_rank", "new_rank"),
        # Filtered lists walk these in either order.
        Index("ix_movies_genre_store", "genre_id", "store_rank"),
        Index("ix_movies_genre_new", "genre_id", "new_rank"),
        Index("ix_movies_director_store", "director_id", "store_rank"),
        Index("ix_movies_director_new", "director_id", "new_rank"),
        Index("ix_movies_year_store", "year", "store_rank"),
    )


# The keys `sort` orders by besides id, and their columns (titles by their search form).
SORTABLE: tuple[tuple[str, InstrumentedAttribute[Any]], ...] = (
    ("rating", Movie.rating),
    ("year", Movie.year),
    ("title", Movie.search_title),
)

# The `sort` orders, each ending by id ascending (see repository.sort_keys): an index in
# each direction, as neither database walks one index in mixed directions. Walked
# backwards, each also serves the order with id descending.
for _name, _column in SORTABLE:
    Index(f"ix_movies_{_name}_id", _column, Movie.id)
    Index(f"ix_movies_{_name}_desc_id", _column.desc(), Movie.id)


class MoviePosition(CatalogBase):
    """Each movie's position in each single-key `sort` of the whole catalog, 1..n.

    The deep pages of those sorts, without filters, are then a range of positions, as
    quick as the first page, like the rank columns do for the default orders. Rebuilt by
    every import that changes the movies (importer.reposition).

    A table of its own rather than six more rank columns on movies: an import that moves
    one movie shifts the positions of many others, and here that rewrites narrow rows
    with one index, not the wide movie rows and every index on them. There is no foreign
    key to movies: the rows are derived, deleted and written again as a whole.
    """

    __tablename__ = "movie_positions"
    # SQLite stores the rows in the primary key's order: a page is one range read, with
    # no second lookup from an index into the table.
    __table_args__ = ({"sqlite_with_rowid": False},)

    sort_order: Mapped[str] = mapped_column(String(10), primary_key=True)  # "-rating"
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    movie_id: Mapped[int] = mapped_column(Integer)


# The orders kept in movie_positions, by `sort` value: a column and its direction, then id
# ascending. id alone needs none: store_rank is that order, and read backwards its reverse.
POSITION_ORDERS: dict[str, tuple[InstrumentedAttribute[Any], bool]] = {
    f"{'-' if descending else ''}{name}": (column, descending)
    for name, column in SORTABLE
    for descending in (False, True)
}


class CatalogMeta(CatalogBase):
    """One row: the catalog's data version, bumped by every import that changes data.

    Caches compare it to know when what they hold is stale.
    """

    __tablename__ = "catalog_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer)


metadata = CatalogBase.metadata
