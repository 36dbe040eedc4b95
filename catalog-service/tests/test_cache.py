"""The in-memory answer cache: hits skip the work, imports invalidate, ETags revalidate.

These tests commit (an import must be seen by the cache's own connection), so they run
on a database of their own rather than in the rolled-back transaction.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from catalog_service import repository
from catalog_service.cache import CatalogCache
from catalog_service.config import CatalogSettings
from catalog_service.importer import import_catalog, parse_catalog
from catalog_service.main import create_app
from testkit.database import migrated_database
from tests.conftest import CATALOG, MIGRATE_EMPTY


async def import_committed(app: FastAPI, raw: dict[str, Any]) -> None:
    async with app.state.database.sessionmaker() as session, session.begin():
        await import_catalog(session, parse_catalog(raw))


@pytest.fixture
async def app() -> AsyncIterator[FastAPI]:
    async with migrated_database("catalog_cache", MIGRATE_EMPTY) as url:
        settings = CatalogSettings(
            database_url=url, environment="test", cache_check_interval_seconds=0
        )
        application = create_app(settings)
        await import_committed(application, CATALOG)
        yield application
        await application.state.database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test") as client:
        yield client


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the repository functions the routes called."""
    calls: list[str] = []
    for name in ("list_movies", "get_movie", "list_named", "get_named"):
        original = getattr(repository, name)

        async def counted(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return await _original(*args, **kwargs)

        monkeypatch.setattr(repository, name, counted)
    return calls


async def test_a_repeated_request_is_answered_from_memory(
    client: httpx.AsyncClient, queries: list[str]
) -> None:
    first = await client.get("/movies/?page=2")
    second = await client.get("/movies?page=2")  # the same resource without the slash
    assert queries == ["list_movies"]
    assert second.content == first.content
    for header in ("x-total-count", "link", "etag", "content-type"):
        assert second.headers[header] == first.headers[header]
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    await client.get("/movies/?page=3")
    assert queries == ["list_movies", "list_movies"]


async def test_health_and_metrics_are_never_kept(client: httpx.AsyncClient) -> None:
    # /health/ready must ask the database each time; /metrics must keep counting.
    await client.get("/genres/")
    first = await client.get("/metrics")
    await client.get("/genres/")
    second = await client.get("/metrics")
    assert second.text != first.text
    assert (await client.get("/health/ready")).json() == {"status": "ready"}


async def test_an_import_invalidates(app: FastAPI, client: httpx.AsyncClient) -> None:
    before = await client.get("/movies/1/")
    changed = json.loads(json.dumps(CATALOG))
    changed["movies"][0]["title"] = "Сталкер (новая копия)"
    await import_committed(app, changed)
    after = await client.get("/movies/1/")
    assert after.json()["title"] == "Сталкер (новая копия)"
    assert after.headers["etag"] != before.headers["etag"]


async def test_an_identical_import_keeps_the_cache(
    app: FastAPI, client: httpx.AsyncClient, queries: list[str]
) -> None:
    await client.get("/genres/")
    await import_committed(app, CATALOG)
    await client.get("/genres/")
    assert queries == ["list_named"]


async def test_if_none_match_gets_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/directors/")
    etag = first.headers["etag"]
    again = await client.get("/directors/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = await client.get("/directors/", headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    stale = await client.get("/directors/", headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200
    assert stale.content == first.content


async def test_errors_are_not_kept(client: httpx.AsyncClient, queries: list[str]) -> None:
    for _ in range(2):
        assert (await client.get("/movies/999/")).status_code == 404
        assert (await client.get("/movies/?page=0")).status_code == 422
    assert queries == ["get_movie", "get_movie"]


async def test_the_host_is_part_of_the_key(client: httpx.AsyncClient) -> None:
    here = await client.get("/movies/?page=1")
    there = await client.get("/movies/?page=1", headers={"Host": "elsewhere.test"})
    assert "http://catalog.test/" in here.headers["link"]
    assert "http://elsewhere.test/" in there.headers["link"]


async def test_switched_off_it_still_revalidates(queries: list[str]) -> None:
    async with migrated_database("catalog_nocache", MIGRATE_EMPTY) as url:
        app = create_app(CatalogSettings(database_url=url, cache_enabled=False))
        await import_committed(app, CATALOG)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://c.test") as client:
            first = await client.get("/genres/")
            second = await client.get("/genres/", headers={"If-None-Match": first.headers["etag"]})
        await app.state.database.dispose()
    assert queries == ["list_named", "list_named"]
    assert second.status_code == 304


async def test_a_body_too_large_to_keep_streams_through(queries: list[str]) -> None:
    async with migrated_database("catalog_bigbody", MIGRATE_EMPTY) as url:
        app = create_app(CatalogSettings(database_url=url, cache_max_body_bytes=100))
        await import_committed(app, CATALOG)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://c.test") as client:
            first = await client.get("/movies/?page=1")
            second = await client.get("/movies/?page=1")
        await app.state.database.dispose()
    assert queries == ["list_movies", "list_movies"]
    assert first.json() == second.json()
    assert len(first.json()) == 12
    assert first.headers["etag"] == second.headers["etag"]  # revalidation still works


async def test_an_unreachable_database_leaves_the_answers_to_the_routes() -> None:
    """The version check must not turn liveness, or readiness's 503, into a 500."""
    settings = CatalogSettings(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", environment="test"
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog.test") as client:
        live = await client.get("/health")
        ready = await client.get("/health/ready")
    await app.state.database.dispose()
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()["code"]) == (503, "service_unavailable")
    assert "etag" in live.headers  # still revalidatable, just not kept


def test_the_document_tells_of_revalidation() -> None:
    """Every GET documents the ETag it answers with and the 304 it may give."""
    settings = CatalogSettings(database_url="sqlite+aiosqlite://", environment="test")
    paths = create_app(settings).openapi()["paths"]
    for path in ("/movies", "/movies/{movie_id}", "/genres", "/directors/{record_id}", "/health"):
        responses = paths[path]["get"]["responses"]
        assert {"ETag", "Cache-Control"} <= set(responses["200"]["headers"]), path
        assert "content" not in responses["304"], path
    assert {"X-Total-Count", "Link", "ETag"} <= set(
        paths["/movies"]["get"]["responses"]["200"]["headers"]
    )


def cache_of(app: FastAPI) -> CatalogCache:
    """The app's cache middleware (the stack is built by the first request)."""
    layer = app.middleware_stack
    while not isinstance(layer, CatalogCache):
        layer = layer.app  # type: ignore[union-attr]
    return layer


async def test_unknown_parameters_share_one_entry(
    app: FastAPI, client: httpx.AsyncClient, queries: list[str]
) -> None:
    """`?x=1`, `?x=2`, ... must not each take memory: the key holds only what the route reads."""
    first = await client.get("/movies/?page=2&x=0")
    for n in range(1, 50):
        again = await client.get(f"/movies/?x={n}&page=2&utm_{n}=a")
        assert again.content == first.content
        assert again.headers["link"] == first.headers["link"]
    assert queries == ["list_movies"]
    assert len(cache_of(app).entries) == 1
    # The route answered without the unknown parameter, so its links do not carry it.
    assert "x=" not in first.headers["link"]
    assert "page=3" in first.headers["link"]
    # A known parameter still tells answers apart, however its name is encoded.
    other = await client.get("/movies/?pa%67e=3&x=1")
    assert other.content != first.content
    assert other.content == (await client.get("/movies/?page=3")).content
    assert queries == ["list_movies", "list_movies", "list_movies"]


@asynccontextmanager
async def bounded_client(max_bytes: int) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with migrated_database("catalog_cache_bytes", MIGRATE_EMPTY) as url:
        settings = CatalogSettings(database_url=url, environment="test", cache_max_bytes=max_bytes)
        app = create_app(settings)
        await import_committed(app, CATALOG)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://c.test") as client:
            yield app, client
        await app.state.database.dispose()


def kept_paths(app: FastAPI) -> list[str]:
    """The paths of the kept answers, least recently used first; checks the byte count."""
    cache = cache_of(app)
    assert cache.total_bytes == sum(size for _, size in cache.entries.values())
    assert cache.total_bytes <= cache.max_bytes
    return [key.split(b" ")[2].decode() for key in cache.entries]


async def test_the_cache_stays_within_its_bytes(queries: list[str]) -> None:
    # Each of these answers costs 600 to 1000 bytes here: two fit in 2000, never three.
    async with bounded_client(2000) as (app, client):
        await client.get("/movies/1/")
        await client.get("/movies/2/")
        assert kept_paths(app) == ["/movies/1", "/movies/2"]
        await client.get("/movies/1/")  # a hit: now the most recently used
        assert kept_paths(app) == ["/movies/2", "/movies/1"]
        await client.get("/genres/")
        assert kept_paths(app) == ["/movies/1", "/genres"]  # the least recently used went
        for path in ("/directors/", "/movies/3/", "/movies/?page=1", "/genres/1/"):
            await client.get(path)
            assert len(kept_paths(app)) <= 2
    assert queries.count("get_movie") == 3  # /movies/1 once, however often asked


async def test_an_answer_larger_than_the_bound_is_not_kept(queries: list[str]) -> None:
    async with bounded_client(1000) as (app, client):
        await client.get("/movies/1/")
        assert kept_paths(app) == ["/movies/1"]
        for _ in range(2):
            page = await client.get("/movies/?page=1")
            assert len(page.json()) == 12
            assert len(page.content) > 1000
        assert kept_paths(app) == ["/movies/1"]  # not kept, and nothing dropped for it
        await client.get("/movies/1/")
    assert queries == ["get_movie", "list_movies", "list_movies"]
