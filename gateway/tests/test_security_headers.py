"""Security headers: the web app's Content-Security-Policy and friends, nosniff and no-store
on the API, and none of them costing the request id or CORS headers anywhere (nginx drops
the server's add_header in a location that has one of its own)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import render
from conftest import GatewayProcess, StubUpstream, raw_request

WEB_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-src": ["https://www.youtube-nocookie.com"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
API_CSP = {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}
EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def policy(response: httpx.Response) -> dict[str, list[str]]:
    """The one Content-Security-Policy header, as directive -> sources."""
    (value,) = response.headers.get_list("content-security-policy")
    directives = [part.split() for part in value.split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


def assert_common_headers(response: httpx.Response, what: Any) -> None:
    """Each security header once, and the server-level headers still there."""
    for name, value in EVERYWHERE.items():
        assert response.headers.get_list(name) == [value], (what, name)
    assert len(response.headers.get_list("permissions-policy")) == 1, what
    assert len(response.headers.get_list("x-request-id")) == 1, what
    assert response.headers.get_list("access-control-allow-origin") == ["*"], what
    assert response.headers["access-control-expose-headers"] == (
        "X-Total-Count, Link, X-Request-ID"
    ), what


@pytest.mark.parametrize("target", ["/", "/index.html", "/css/app.css", "/js/app.js"])
def test_web_app_files_carry_the_policy(client: httpx.Client, target: str) -> None:
    response = client.get(target)
    assert response.status_code == 200
    assert_common_headers(response, target)
    assert policy(response) == WEB_CSP
    permissions = response.headers["permissions-policy"]
    for feature in ("camera", "microphone", "geolocation"):
        assert f"{feature}=()" in permissions
    assert "cache-control" not in response.headers  # static files may be cached


def test_the_policy_allows_what_the_web_app_uses() -> None:
    """No inline script or style in the page: 'self' is enough for it."""
    page = (render.WEB_ROOT / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>", page, flags=re.IGNORECASE)
    assert scripts, "the page loads its modules with <script src>"
    assert all("src=" in attributes for attributes in scripts)
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", page, flags=re.IGNORECASE)


def test_every_kind_of_response_keeps_every_header(
    client: httpx.Client, upstreams: dict[str, StubUpstream], gateway: GatewayProcess
) -> None:
    upstreams["user"].stop()
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/movies/", {}),  # proxied
        ("GET", "/auth/login/", {}),
        ("GET", "/", {}),  # static
        ("GET", "/nope", {}),  # static 404
        ("POST", "/index.html", {}),  # 405
        ("GET", "/health", {}),
        ("GET", "/health/ready", {}),  # 503: user is down
        ("OPTIONS", "/movies/", {}),  # preflight
        ("POST", "/movies/", {"content": b"x" * (1024 * 1024 + 1)}),  # 413
        ("GET", "/user/", {}),  # 503
    ]
    for method, target, extra in requests:
        response = client.request(method, target, **extra)
        assert_common_headers(response, (method, target, response.status_code))
    status, headers, _ = raw_request(gateway.port, "GET", "/movies/..%2f..%2finternal")
    assert status == 400  # refused by nginx before any location
    assert headers["x-content-type-options"] == ["nosniff"]
    assert len(headers["x-request-id"]) == 1


@pytest.mark.parametrize("target", ["/movies/", "/genres/1/", "/auth/login/", "/user/"])
def test_api_answers_cannot_be_run_or_framed(client: httpx.Client, target: str) -> None:
    response = client.get(target)
    assert response.status_code == 200
    assert policy(response) == API_CSP


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/auth/login/"),
        ("PUT", "/auth/login/"),
        ("GET", "/user/"),
        ("PATCH", "/user"),
        ("GET", "/favorites/movies/"),
    ],
)
def test_personal_answers_are_never_stored(client: httpx.Client, method: str, target: str) -> None:
    response = client.request(method, target)
    assert response.headers.get_list("cache-control") == ["no-store"]


def test_personal_errors_are_never_stored(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    upstreams["user"].stop()
    response = client.get("/user/")
    assert response.status_code == 503
    assert response.headers.get_list("cache-control") == ["no-store"]


def test_catalog_keeps_its_own_caching(client: httpx.Client) -> None:
    """The catalog service sends `no-cache` with its ETag; the gateway adds nothing."""
    assert "cache-control" not in client.get("/movies/").headers


def test_services_send_no_server_banner() -> None:
    """nginx hides an upstream's Server header anyway; the services do not send one
    either (uvicorn's `server: uvicorn`), wherever they run: locally and in Docker."""
    root = render.WEB_ROOT.parents[1]
    launchers = [root / "scripts" / "stack.py"]
    launchers += [root / f"{name}-service" / "Dockerfile" for name in ("catalog", "auth", "user")]
    for launcher in launchers:
        assert "--no-server-header" in launcher.read_text(encoding="utf-8"), launcher
