"""Serialized catalog answers kept in memory, with ETag revalidation.

The catalog changes only when someone imports a file, and an import bumps the version
row in `catalog_meta` in the same transaction. This middleware keeps the bytes of every
successful GET answer under the request's URL, with the version they were made from; it
asks the database for the current version at most once per `check_interval` seconds, and
drops everything when the version moved. A hit skips routing, validation, the query and
the serialization: what is left is the ASGI call itself. Answers larger than `max_body`
(the whole list of a big catalog, streamed) pass through as they come, unkept.

Memory is bounded twice: at most `max_entries` answers and at most `max_bytes` in all
(bodies, kept headers, keys and a fixed allowance per entry); the least recently used
answers go first, and an answer that alone exceeds `max_bytes` is not kept. The key is
the scheme, host, path and the query parameters the route reads (`routes`), as they
came: `?page=2&x=1` and `?page=2&x=2` are one entry, and the route is asked without the
unknown ones (so the Link header, made from the query, is the same for both). A request
whose query holds only known parameters, the usual case, is looked up as it came.

Every answer it passes on carries an ETag; a request whose If-None-Match names it gets
a 304 without a body, cached or not.

When the version cannot be read (the database is down), requests pass through uncached,
so every route answers as it would without the cache: `/health` stays 200 and
`/health/ready` says 503, rather than the cache turning both into a 500.
"""

import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog_service.models import CatalogMeta
from shared.db import Database

logger = logging.getLogger(__name__)

_KEPT_HEADERS = {b"content-type", b"x-total-count", b"link"}
# Only the catalog's own answers are kept: /health/ready must ask the database every
# time and /metrics must count on (other GETs still get an ETag, made afresh each time).
_CACHED_PREFIXES = ("/movies", "/genres", "/directors")
# What an entry costs beyond its bytes: the dict slot, the tuples and the bytes objects.
ENTRY_OVERHEAD = 512


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    etag: bytes

    def size(self, key: bytes) -> int:
        """What keeping this answer under `key` costs, in bytes (an estimate)."""
        kept = sum(len(name) + len(value) for name, value in self.headers)
        return ENTRY_OVERHEAD + len(key) + len(self.body) + kept + len(self.etag)


def _query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter a route reads, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= _query_names(dependency)
    return frozenset(names)


def query_names(routes: Iterable[BaseRoute]) -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
    """(path pattern, known query parameters) of each GET route."""
    return tuple(
        (route.path_regex, _query_names(route.dependant))
        for route in routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    )


def known_query(query: bytes, known: frozenset[str]) -> bytes:
    """The query string without the parameters not in `known`, the rest as they came.

    Names are compared decoded, as the routes read them (`pa%67e` is `page`)."""
    kept = []
    for pair in query.split(b"&"):
        name = pair.partition(b"=")[0]
        if name and unquote_plus(name.decode("latin-1")) in known:
            kept.append(pair)
    return b"&".join(kept)


async def read_version(database: Database) -> int:
    async with database.engine.connect() as connection:
        version = await connection.scalar(select(CatalogMeta.version).limit(1))
    return int(version or 0)


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
    return etag in candidates or b"*" in candidates


class CatalogCache:
    """Pure ASGI middleware; `enabled=False` keeps only the ETag/304 behaviour."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        database: Database,
        enabled: bool = True,
        routes: Iterable[BaseRoute] = (),
        max_entries: int = 2048,
        max_bytes: int = 64 * 1024 * 1024,
        max_body: int = 1024 * 1024,
        check_interval: float = 1.0,
    ) -> None:
        self.app = app
        self.database = database
        self.enabled = enabled
        self.routes = query_names(routes)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_body = max_body
        self.check_interval = check_interval
        self.entries: OrderedDict[bytes, tuple[CachedAnswer, int]] = OrderedDict()
        self.total_bytes = 0  # the sum of the entries' sizes
        self.version: int | None = None
        self.checked_at = 0.0

    def clear(self) -> None:
        self.entries.clear()
        self.total_bytes = 0

    def keep(self, key: bytes, answer: CachedAnswer) -> None:
        """Keep `answer` under `key`, then drop the least recently used answers until
        both bounds hold again. An answer larger than `max_bytes` is not kept."""
        size = answer.size(key)
        if size > self.max_bytes:
            return
        previous = self.entries.pop(key, None)
        if previous is not None:  # two misses of one key, answered side by side
            self.total_bytes -= previous[1]
        self.entries[key] = (answer, size)
        self.total_bytes += size
        while self.total_bytes > self.max_bytes or len(self.entries) > self.max_entries:
            _, (_, dropped) = self.entries.popitem(last=False)
            self.total_bytes -= dropped

    def _known_query(self, path: str, query: bytes) -> bytes:
        for pattern, known in self.routes:
            if pattern.match(path):
                return known_query(query, known)
        return b""  # no route: a 404, whatever the query

    async def _current_version(self) -> int:
        now = time.monotonic()
        if self.version is None or now - self.checked_at >= self.check_interval:
            version = await read_version(self.database)
            if version != self.version:
                self.clear()
                self.version = version
            self.checked_at = now
        return self.version

    def _key(self, scope: Scope) -> bytes:
        # The Link header holds absolute URLs, so the host and scheme are part of the key.
        host = _header(scope, b"host") or b""
        proto = _header(scope, b"x-forwarded-proto") or scope["scheme"].encode()
        return b" ".join((proto, host, scope["path"].encode(), scope["query_string"]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if_none_match = _header(scope, b"if-none-match")
        key: bytes | None = None  # None: not to be kept
        if self.enabled and scope["path"].startswith(_CACHED_PREFIXES):
            try:
                await self._current_version()
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("catalog version unreadable, answering uncached: %r", exc)
                self.version = None  # check again on the next request, and start afresh
                self.clear()
                await self._pass_through(scope, receive, send, None, if_none_match)
                return
            key = self._key(scope)
            cached = self.entries.get(key)
            if cached is None and scope["query_string"]:
                # Kept keys hold only known parameters: look again without the others,
                # and ask the route without them too, so that its answer fits the key.
                query = self._known_query(scope["path"], scope["query_string"])
                if query != scope["query_string"]:
                    scope = {**scope, "query_string": query}
                    key = self._key(scope)
                    cached = self.entries.get(key)
            if cached is not None:
                self.entries.move_to_end(key)
                await self._send(send, cached[0], if_none_match, scope["method"] == "HEAD")
                return
        await self._pass_through(scope, receive, send, key, if_none_match)

    async def _pass_through(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: bytes | None,
        if_none_match: bytes | None,
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False  # an error, or a body too large to keep: sent as it comes

        async def capture(message: Message) -> None:
            nonlocal start, size, passing
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 200:
                    passing = True
                    await send(message)
                return
            if passing or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if message.get("more_body", False):
                if size > self.max_body:
                    passing = True
                    await send(start)
                    await send({"type": "http.response.body", "body": b"".join(chunks),
                                "more_body": True})  # fmt: skip
                    chunks.clear()
                return
            body = b"".join(chunks)
            headers = tuple(
                (name, value) for name, value in start["headers"] if name in _KEPT_HEADERS
            )
            answer = CachedAnswer(body=body, headers=headers, etag=_etag(body))
            if key is not None and scope["method"] == "GET" and size <= self.max_body:
                self.keep(key, answer)
            await self._send(send, answer, if_none_match, scope["method"] == "HEAD")

        await self.app(scope, receive, capture)

    @staticmethod
    async def _send(
        send: Send, answer: CachedAnswer, if_none_match: bytes | None, head: bool
    ) -> None:
        caching = [(b"etag", answer.etag), (b"cache-control", b"no-cache")]
        if _matches(if_none_match, answer.etag):
            await send({"type": "http.response.start", "status": 304, "headers": caching})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [*answer.headers, *caching, (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else answer.body})


_CACHING_HEADERS = {
    "ETag": {
        "description": "The answer's version: send it back in `If-None-Match`.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`no-cache`: keep the answer, but revalidate it before use.",
        "required": True,
        "schema": {"type": "string"},
    },
}


def document_revalidation(app: FastAPI) -> None:
    """Add what this middleware answers to every GET of the app's OpenAPI document: the
    ETag and Cache-Control headers of a 200, and the 304 of a matching If-None-Match."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for item in document.get("paths", {}).values():
                operation = item.get("get")
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                ok = responses.setdefault("200", {"description": "Successful Response"})
                ok["headers"] = {**ok.get("headers", {}), **_CACHING_HEADERS}
                responses["304"] = {
                    "description": "Not Modified: `If-None-Match` names the current ETag.",
                    "headers": _CACHING_HEADERS,
                }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented recipe
