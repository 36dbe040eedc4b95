from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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
    search_title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    trailer: Mapped[str] = mapped_column(String(500), default="")
    year: Mapped[int] = mapped_column(Integer)
    rating: Mapped[float] = mapped_column(Float)
    genre_id: Mapped[int] = mapped_column(ForeignKey("genres.id"), index=True)
    director_id: Mapped[int] = mapped_column(ForeignKey("directors.id"), index=True)

    genre: Mapped[Genre] = relationship(lazy="raise")
    director: Mapped[Director] = relationship(lazy="raise")

    # "status=new" walks this index backwards: year desc, then id desc.
    __table_args__ = (Index("ix_movies_year_id", "year", "id"),)


class CatalogMeta(CatalogBase):
    """One row: the catalog's data version, bumped by every import that changes data.

    Caches compare it to know when what they hold is stale.
    """

    __tablename__ = "catalog_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer)


metadata = CatalogBase.metadata
