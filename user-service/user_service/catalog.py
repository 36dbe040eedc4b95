"""What the user service asks of catalog-service (public, read-only endpoints).

Every call goes through `shared.http.call_service`: when the catalog is unreachable, slow
or failing, the caller gets `ServiceUnavailable` (503), never a hang or a 500.
"""

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from shared.db import INT32_MAX
from shared.http import call_service, json_body, unavailable

logger = logging.getLogger("user_service.catalog")

SERVICE = "catalog"
MAX_IDS_PER_CALL = 100  # the catalog's limit for `ids=`

Movie = dict[str, Any]


class GenreCache:
    """Whether a genre id exists, remembered for `ttl` seconds (both answers).

    Genres change only when the catalog is re-imported, so a minute of staleness is
    harmless and spares the catalog a call per profile update.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[int, tuple[bool, float]] = {}

    def get(self, genre_id: int) -> bool | None:
        entry = self._entries.get(genre_id)
        if entry is None:
            return None
        exists, expires = entry
        if time.monotonic() >= expires:
            del self._entries[genre_id]
            return None
        return exists

    def put(self, genre_id: int, exists: bool) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[genre_id] = (exists, time.monotonic() + self.ttl)

    def clear(self) -> None:
        self._entries.clear()


class CatalogClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, genres: GenreCache) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.genres = genres

    async def _get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await call_service(
            self.http, "GET", f"{self.base_url}{path}", service=SERVICE, **kwargs
        )

    def _unexpected(self, response: httpx.Response) -> Exception:
        logger.error("catalog answered %s %s unexpectedly", response.status_code, response.url)
        return unavailable(SERVICE)

    async def genre_exists(self, genre_id: int) -> bool:
        if not _is_id(genre_id):
            return False
        cached = self.genres.get(genre_id)
        if cached is not None:
            return cached
        response = await self._get(f"/genres/{genre_id}")
        if response.status_code not in (200, 404):
            raise self._unexpected(response)
        exists = response.status_code == 200
        self.genres.put(genre_id, exists)
        return exists

    async def get_movie(self, movie_id: int) -> Movie | None:
        """The movie, or None when the catalog has no such movie."""
        if not _is_id(movie_id):
            return None
        response = await self._get(f"/movies/{movie_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._unexpected(response)
        movie = json_body(response, service=SERVICE)
        if not _is_movie(movie):
            raise self._unexpected(response)
        return dict(movie)

    async def get_movies(self, movie_ids: Sequence[int]) -> dict[int, Movie]:
        """The movies among `movie_ids` that the catalog knows, by id.

        One batch call per 100 ids (`/movies/?ids=`); a bookmark page needs only one.
        """
        found: dict[int, Movie] = {}
        for chunk in _chunks(list(dict.fromkeys(movie_ids)), MAX_IDS_PER_CALL):
            response = await self._get("/movies/", params={"ids": ",".join(map(str, chunk))})
            if response.status_code != 200:
                raise self._unexpected(response)
            movies = json_body(response, service=SERVICE)
            if not isinstance(movies, list) or not all(_is_movie(movie) for movie in movies):
                raise self._unexpected(response)
            found.update((movie["id"], movie) for movie in movies)
        return found


def _is_id(value: int) -> bool:
    """Catalog ids are positive 32-bit integers; no other number can name a record."""
    return 1 <= value <= INT32_MAX


def _is_movie(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), int)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
