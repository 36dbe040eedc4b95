"""catalog-service and auth-service, faked at the HTTP boundary (httpx.MockTransport).

Each fake keeps the requests it received, so tests can check what was asked (one batch
call, the request id, the internal token), and can be put "down" in several ways.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

CATALOG_URL = "http://catalog.test"
AUTH_URL = "http://auth.test"
INTERNAL_TOKEN = "internal-token-for-tests-" + "x" * 16

GENRES = {1: "Драма", 2: "Комедия", 3: "Фантастика", 4: "Ужасы"}
DIRECTORS = {1: "Андрей Тарковский", 2: "Леонид Гайдай", 3: "Кристофер Нолан"}
MOVIE_COUNT = 150

# What `down` may hold: an httpx exception class to raise, or a status code to answer.
Outage = type[httpx.TransportError] | int | None


def make_movie(movie_id: int) -> dict[str, Any]:
    genre_id, director_id = 1 + movie_id % 4, 1 + movie_id % 3
    return {
        "id": movie_id,
        "title": f"Фильм номер {movie_id}",
        "original_title": None if movie_id % 4 == 0 else f"Movie number {movie_id}",
        "description": f"Описание фильма {movie_id}.",
        "trailer": "" if movie_id % 5 == 0 else f"https://example.org/trailer/{movie_id}",
        "year": 1950 + movie_id % 70,
        "rating": round(5 + movie_id % 50 / 10, 1),
        "genre_id": genre_id,
        "director_id": director_id,
        "genre": {"id": genre_id, "name": GENRES[genre_id]},
        "director": {"id": director_id, "name": DIRECTORS[director_id]},
    }


def _error(status: int, code: str, message: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"message": message, "code": code, **extra})


def _outage(down: Outage, request: httpx.Request) -> httpx.Response | None:
    if down is None:
        return None
    if isinstance(down, int):
        return httpx.Response(down, text="<html>Bad Gateway</html>")
    raise down("the fake service is down", request=request)


@dataclass
class FakeCatalog:
    genres: dict[int, str] = field(default_factory=lambda: dict(GENRES))
    movies: dict[int, dict[str, Any]] = field(
        default_factory=lambda: {i: make_movie(i) for i in range(1, MOVIE_COUNT + 1)}
    )
    requests: list[httpx.Request] = field(default_factory=list)
    down: Outage = None
    garbage: bool = False  # answer 200 with a body that is not JSON

    def calls(self, prefix: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.startswith(prefix)]

    def batch_calls(self) -> list[list[int]]:
        """The id lists of the `/movies/?ids=` calls, in order."""
        return [
            [int(i) for i in r.url.params["ids"].split(",")]
            for r in self.requests
            if "ids" in r.url.params
        ]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if (answer := _outage(self.down, request)) is not None:
            return answer
        if self.garbage:
            return httpx.Response(200, text="not json at all")
        return self._answer(request)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        parts = request.url.path.strip("/").split("/")
        match parts:
            case ["genres", genre_id] if genre_id.isdigit() and int(genre_id) in self.genres:
                return httpx.Response(
                    200, json={"id": int(genre_id), "name": self.genres[int(genre_id)]}
                )
            case ["movies", movie_id] if movie_id.isdigit() and int(movie_id) in self.movies:
                return httpx.Response(200, json=self.movies[int(movie_id)])
            case ["movies"]:
                ids = [int(i) for i in request.url.params.get("ids", "").split(",") if i]
                if len(ids) > 100:
                    return _error(422, "validation_error", "At most 100 ids at a time.")
                found = [self.movies[i] for i in sorted(set(ids)) if i in self.movies]
                return httpx.Response(200, json=found)
        return _error(404, "not_found", "Not found.")


def make_session(session_id: str, *, address: str | None = "192.0.2.7") -> dict[str, Any]:
    """A session as auth-service lists it."""
    return {
        "id": session_id,
        "created_at": "2026-12-01T10:00:00Z",
        "last_used_at": "2026-12-03T10:00:00Z",
        "client_address": address,
        "user_agent": "Mozilla/5.0 (fake)",
    }


@dataclass
class FakeAuth:
    """The internal password and session endpoints, with the contract's password policy.
    `sessions` holds each account's live sessions, in the order auth-service lists them."""

    passwords: dict[int, str] = field(default_factory=dict)
    sessions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    down: Outage = None
    answer: httpx.Response | None = None  # a canned answer instead of the real logic
    token: str = INTERNAL_TOKEN

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if (answer := _outage(self.down, request)) is not None:
            return answer
        if self.answer is not None:
            return self.answer
        match request.method, request.url.path.strip("/").split("/"):
            case "PUT", ["internal", "users", user_id, "password"] if user_id.isdigit():
                return self._change_password(request, int(user_id))
            case method, ["internal", "users", user_id, "sessions", *rest] if user_id.isdigit():
                if request.headers.get("X-Internal-Token") != self.token:
                    return _error(403, "forbidden", "Bad internal token.")
                return self._sessions(request, method, int(user_id), rest)
        return _error(404, "not_found", "Not found.")

    def _sessions(
        self, request: httpx.Request, method: str, user_id: int, rest: list[str]
    ) -> httpx.Response:
        live = self.sessions.get(user_id, [])
        match method, rest:
            case "GET", []:
                return httpx.Response(200, json=live)
            case "DELETE", []:
                keep = request.url.params.get("keep")
                self.sessions[user_id] = [item for item in live if item["id"] == keep]
                return httpx.Response(204)
            case "DELETE", [session_id]:
                if all(item["id"] != session_id for item in live):
                    return _error(404, "session_not_found", "No such session.")
                self.sessions[user_id] = [item for item in live if item["id"] != session_id]
                return httpx.Response(204)
        return _error(405, "method_not_allowed", "Not allowed.")

    def _change_password(self, request: httpx.Request, user_id: int) -> httpx.Response:
        if request.headers.get("X-Internal-Token") != self.token:
            return _error(403, "forbidden", "Bad internal token.")
        if user_id not in self.passwords:
            return _error(404, "not_found", "There is no such user.")
        body = json.loads(request.content)
        if body["current_password"] != self.passwords[user_id]:
            return _error(400, "wrong_password", "The current password is wrong.")
        if not 8 <= len(body["new_password"]) <= 1024:
            message = "The password must be 8 to 1024 characters long."
            errors = [{"field": "new_password", "message": message}]
            return _error(422, "validation_error", f"new_password: {message}", errors=errors)
        self.passwords[user_id] = body["new_password"]
        return httpx.Response(204)


@dataclass
class Upstream:
    """Routes the pooled client's requests to the fake of the service they are for."""

    catalog: FakeCatalog = field(default_factory=FakeCatalog)
    auth: FakeAuth = field(default_factory=FakeAuth)

    def handle(self, request: httpx.Request) -> httpx.Response:
        handlers: dict[str, Callable[[httpx.Request], httpx.Response]] = {
            httpx.URL(CATALOG_URL).host: self.catalog.handle,
            httpx.URL(AUTH_URL).host: self.auth.handle,
        }
        return handlers[request.url.host](request)
