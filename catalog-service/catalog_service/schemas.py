"""The catalog's wire shapes (CONTRACT.md, Catalog)."""

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
    description: str
    trailer: str
    year: int
    rating: float
    genre_id: int
    director_id: int
    genre: GenreOut
    director: DirectorOut
