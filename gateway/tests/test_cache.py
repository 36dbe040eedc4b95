"""The gateway's short cache of the catalog's GET answers (proxy_cache, ETag revalidation).

The stub upstream answers with an ETag (and `Cache-Control: no-cache`, as the catalog
does) when the request carries `X-Stub-ETag`, and with 304 to a matching If-None-Match.
Every test uses paths of its own, so that no test sees another's cached answers.
"""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import HANG, GatewayProcess, StubUpstream

VALIDITY_SECONDS = 1.0  # proxy_cache_valid 200 1s
ERROR_LOG_LINE = re.compile(r"\[(error|crit|alert|emerg)\]")


def unique(prefix: str = "/movies/") -> str:
    return f"{prefix}?page=1&tag={uuid.uuid4().hex}"


def etag_headers(tag: str = "v1") -> dict[str, str]:
    return {"X-Stub-ETag": tag}


def conditional(request: dict[str, Any]) -> bool:
    """Whether the stub got a revalidation (If-None-Match), not a full fetch."""
    return any(name.lower() == "if-none-match" for name, _ in request["headers"])


def full_fetches(catalog: StubUpstream) -> int:
    return sum(not conditional(request) for request in catalog.requests)


def from_the_cache(send: Callable[[], httpx.Response], catalog: StubUpstream) -> httpx.Response:
    """`send` until the gateway answers without asking the catalog, and that answer.

    A kept answer is fresh for one second only (counted in whole seconds), which a loaded
    machine can let pass between two requests: an answer that asked the catalog must then
    be a revalidation of the kept copy (a conditional request, a 304), never a new full
    fetch, and the next try is fresh again. No stopwatch decides: HANG bounds a cache that
    never answers by itself."""
    deadline = time.monotonic() + HANG
    while True:
        asked = len(catalog.requests)
        answer = send()
        if len(catalog.requests) == asked:
            return answer
        assert [conditional(request) for request in catalog.requests[asked:]] == [True]
        assert answer.headers.get("x-cache-status") == "REVALIDATED", answer.headers
        assert time.monotonic() < deadline, "the gateway never answered from its cache"


def test_catalog_answer_is_kept_and_served_from_the_cache(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    target = unique()
    catalog = upstreams["catalog"]
    first = client.get(target, headers=etag_headers())
    second = from_the_cache(lambda: client.get(target, headers=etag_headers()), catalog)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-cache-status"] == "MISS"
    assert second.headers["x-cache-status"] == "HIT"
    assert second.content == first.content
    assert second.headers["etag"].removeprefix("W/") == '"v1"'  # W/: gzipped here
    assert second.headers["x-total-count"] == "42"  # the service's headers are kept
    assert full_fetches(catalog) == 1
    # The gateway's own headers are made per request, not kept with the answer.
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert second.headers["access-control-allow-origin"] == "*"


def test_every_catalog_prefix_is_cached(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    catalog = upstreams["catalog"]
    for prefix in ("/movies/", "/movies/7/", "/genres/", "/directors/3"):
        target = unique(prefix)
        client.get(target, headers=etag_headers())
        kept = from_the_cache(
            functools.partial(client.get, target, headers=etag_headers()), catalog
        )
        assert kept.headers["x-cache-status"] == "HIT"
    assert full_fetches(catalog) == 4


def test_key_holds_the_query_and_the_host(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    target = unique()
    client.get(target, headers=etag_headers())
    other_query = client.get(target + "&page=2", headers=etag_headers())
    other_host = client.get(target, headers={**etag_headers(), "Host": "other.example"})
    assert other_query.headers["x-cache-status"] == "MISS"
    assert other_host.headers["x-cache-status"] == "MISS"
    assert len(upstreams["catalog"].requests) == 3


def test_client_revalidation_gets_304_from_the_cache(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    target = unique()
    catalog = upstreams["catalog"]
    client.get(target, headers=etag_headers())
    response = from_the_cache(
        lambda: client.get(target, headers={**etag_headers(), "If-None-Match": '"v1"'}), catalog
    )
    assert response.status_code == 304
    assert response.content == b""
    assert full_fetches(catalog) == 1


def test_expired_answer_is_revalidated_with_its_etag(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    target = unique()
    catalog = upstreams["catalog"]
    first = client.get(target, headers=etag_headers())
    # nginx counts validity in whole seconds: past the next second boundary for sure (a
    # slower machine only sleeps longer, and the copy is expired all the more)
    time.sleep(VALIDITY_SECONDS + 1.1)
    stale = client.get(target, headers=etag_headers())
    assert stale.status_code == 200
    assert stale.content == first.content
    # revalidated in the request itself (no background update: see the template)
    assert stale.headers["x-cache-status"] == "REVALIDATED"
    assert len(catalog.requests) == 2  # recorded before the stub answered
    check = catalog.requests[1]
    assert ["If-None-Match", '"v1"'] in check["headers"]  # a conditional request: 304
    # The 304 made the kept copy fresh again: served from the cache, with no full fetch.
    again = from_the_cache(lambda: client.get(target, headers=etag_headers()), catalog)
    assert again.headers["x-cache-status"] == "HIT"
    assert again.content == first.content
    assert full_fetches(catalog) == 1


def test_answer_without_etag_is_not_kept(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    target = unique()
    for _ in range(2):
        assert client.get(target).headers["x-cache-status"] == "MISS"
    assert len(upstreams["catalog"].requests) == 2


def test_errors_are_not_kept(client: httpx.Client, upstreams: dict[str, StubUpstream]) -> None:
    for status in (404, 422, 500, 503):
        target = unique("/movies/999/")
        for _ in range(2):
            response = client.get(target, headers={**etag_headers(), "X-Stub-Status": str(status)})
            assert response.status_code == status
            assert response.headers["x-cache-status"] == "MISS"
    assert len(upstreams["catalog"].requests) == 8


def test_other_methods_are_not_cached(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    target = unique()
    for _ in range(2):
        response = client.post(target, headers=etag_headers())
        assert response.json()["method"] == "POST"
    assert len(upstreams["catalog"].requests) == 2


def test_other_services_are_never_cached(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    for prefix, service in (("/user/", "user"), ("/favorites/movies/", "user"), ("/auth/", "auth")):
        target = unique(prefix)
        for _ in range(2):
            response = client.get(target, headers=etag_headers())
            assert response.status_code == 200
            assert "x-cache-status" not in response.headers
        assert len(upstreams[service].requests) == 2
        upstreams[service].requests.clear()


def test_a_kept_answer_does_not_outlive_the_catalog(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    """The contract: a service that is down answers 503. Once the kept copy expires,
    the gateway asks the catalog again and passes its absence on, not the old copy."""
    target = unique()
    assert client.get(target, headers=etag_headers()).status_code == 200
    catalog = upstreams["catalog"]
    catalog.stop()
    try:
        time.sleep(VALIDITY_SECONDS + 1.1)
        for _ in range(2):
            down = client.get(target, headers=etag_headers())
            assert down.status_code == 503
            assert down.json()["code"] == "service_unavailable"
    finally:
        catalog.start()


@pytest.mark.parametrize(
    ("target_size", "host_size"),
    [(4_000, 0), (15_000, 0), (15_000, 15_000)],
    ids=["4KB-url", "15KB-url", "15KB-url-15KB-host"],
)
def test_long_catalog_url_is_answered_and_kept_without_an_error_log_line(
    gateway: GatewayProcess,
    client: httpx.Client,
    upstreams: dict[str, StubUpstream],
    target_size: int,
    host_size: int,
) -> None:
    """The cache key holds the Host and the target, each accepted up to 16 KB: a key that
    did not fit proxy_buffer_size made nginx log an error on every such request (so any
    client could fill the error log) and left the answer uncached."""
    target = unique()
    target += "&q=" + "a" * (target_size - len(target) - 3)
    headers = etag_headers()
    if host_size:
        headers["Host"] = "h" * host_size
    log_start = gateway.stderr_path.stat().st_size
    catalog = upstreams["catalog"]
    first = client.get(target, headers=headers)
    second = from_the_cache(lambda: client.get(target, headers=headers), catalog)

    assert first.status_code == second.status_code == 200
    assert catalog.paths[0] == target
    assert ["Host", first.request.headers["host"]] in catalog.requests[0]["headers"]
    assert first.json() == {"service": "catalog", **catalog.requests[0]}
    with gateway.stderr_path.open("rb") as log:
        log.seek(log_start)
        new_lines = [line[:200] for line in log.read().decode(errors="replace").splitlines()]
    assert [line for line in new_lines if "is not enough for cache key" in line] == []
    assert [line for line in new_lines if ERROR_LOG_LINE.search(line)] == []
    assert first.headers["x-cache-status"] == "MISS"
    assert second.headers["x-cache-status"] == "HIT"
    assert second.content == first.content
    assert full_fetches(catalog) == 1
