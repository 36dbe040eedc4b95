"""The Movie wire shape (docs/api.md, Catalog): served by the catalog, and passed on
unchanged by the user service's bookmark lists. Documented once, here."""

from pydantic import BaseModel


class GenreOut(BaseModel):
    id: int
    name: str


class DirectorOut(BaseModel):
    id: int
    name: str


class MovieOut(BaseModel):
    id: int
    title: str
    original_title: str | None
    description: str
    trailer: str
    year: int
    rating: float
    genre_id: int
    director_id: int
    genre: GenreOut
    director: DirectorOut
