"""Hostile input in every parameter, tricks with paths, oversized requests.

- SQL and other tricks (`' OR 1=1--`, `1;DROP TABLE movies`, Unicode look-alikes, NUL
  bytes, very long values) in every query parameter, path parameter and JSON field:
  never a 5xx, always JSON, and the data intact afterwards.
- Paths that a proxy or a framework might normalise (`..`, encoded dots and slashes,
  doubled slashes, backslashes) never reach a service's internal endpoints.
- Bodies over 1 MiB: 413 JSON; headers too large: 4xx JSON; a 10 KB bearer token still
  reaches the user service and gets its 401.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from accounts import Account, new_email
from security_support import PASSWORD, assert_json_error, assert_unauthorized, raw_request, register

PAYLOADS = [
    "' OR 1=1--",
    "' OR '1'='1",
    '" OR ""="',
    "1;DROP TABLE movies",
    "1); DROP TABLE users;--",
    "1 UNION SELECT password_hash FROM users",
    "%' OR title LIKE '%",
    "1' AND SLEEP(5)--",
    "\u02bc OR 1=1--",  # a modifier letter apostrophe
    "\uff11",  # a full-width digit one
    "١٢",  # Arabic-Indic digits
    "\U0001f3ac'--",
    "\x00",
    "1\x00",
    "a\x00' OR 1=1--",
    "-1",
    "0",
    "99999999999999999999999",
    "1e3",
    "1.5",
    "[1]",
    "{}",
    "null",
    "x" * 6000,
]

CATALOG_QUERY = ["page", "status", "state", "genre_id", "director_id", "year", "q", "ids"]


def assert_sane(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code != 204:
        assert response.headers["content-type"].startswith("application/json"), what
        response.json()


@pytest.fixture(scope="module")
def snapshot(base_url: str) -> Iterator[dict[str, Any]]:
    """What the catalog holds before the attacks; compared again after all of them."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        before = {path: client.get(path).json() for path in ("/movies/", "/genres/", "/directors/")}
    yield before
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for path, data in before.items():
            assert client.get(path, params={"fresh": "1"}).json() == data, path


@pytest.fixture
def victim(api: httpx.Client) -> Account:
    return register(api)


@pytest.mark.parametrize("name", CATALOG_QUERY)
def test_catalog_query_parameters(api: httpx.Client, snapshot: Any, name: str) -> None:
    for payload in PAYLOADS:
        for path in ("/movies/", "/genres/", "/directors/"):
            assert_sane(api.get(path, params={name: payload}), f"{path}?{name}={payload[:20]!r}")
        combined: dict[str, str | int] = (
            {name: payload, "page": 1, "status": "new"} if name != "page" else {name: payload}
        )
        assert_sane(api.get("/movies/", params=combined), f"combined {name}={payload[:20]!r}")
    # A trick in a filter never widens the result.
    assert api.get("/movies/", params={"q": "' OR 1=1--"}).json() == []
    assert api.get("/movies/", params={"genre_id": "1 OR 1=1"}).status_code == 422


def test_path_parameters(api: httpx.Client, snapshot: Any, victim: Account) -> None:
    for payload in PAYLOADS:
        segment = quote(payload, safe="")
        for path in (f"/movies/{segment}/", f"/genres/{segment}/", f"/directors/{segment}/"):
            assert_sane(api.get(path), f"GET {path[:40]}")
        for method in ("POST", "DELETE", "GET"):
            path = f"/favorites/movies/{segment}/"
            assert_sane(api.request(method, path, headers=victim.headers), f"{method} {path[:40]}")
    assert api.get("/favorites/movies/", headers=victim.headers).json() == []


def test_auth_json_fields(api: httpx.Client, snapshot: Any, victim: Account) -> None:
    for payload in PAYLOADS:
        email = new_email()
        attempts = [
            ("POST", "/auth/register/", {"email": payload, "password": PASSWORD}),
            ("POST", "/auth/register/", {"email": f"{payload}@example.org", "password": PASSWORD}),
            ("POST", "/auth/register/", {"email": email, "password": payload}),
            ("POST", "/auth/login/", {"email": payload, "password": PASSWORD}),
            ("PUT", "/auth/login/", {"refresh_token": payload}),
            ("PUT", "/auth/login/",
             {"refresh_token": victim.refresh_token, "access_token": payload}),
            ("POST", "/auth/logout/", {"refresh_token": payload}),
        ]  # fmt: skip
        for method, path, body in attempts:
            assert_sane(api.request(method, path, json=body), f"{method} {path} {body}"[:120])
        # The same as a form (an email that is no email: refused before any lookup).
        form = api.post("/auth/login/", data={"email": payload, "password": payload})
        assert_sane(form, f"form login {payload[:20]!r}")
    # Never a login with a trick instead of the password. Few of them, on the victim's
    # email: every one counts against the throttle (10 an email, 100 an address).
    for payload in ("' OR 1=1--", "' OR '1'='1", "\x00", "a\x00' OR 1=1--", "x" * 2000):
        wrong = api.post("/auth/login/", json={"email": victim.email, "password": payload})
        assert wrong.status_code in (401, 422), wrong.text
    # The victim's account still works, with its own password only.
    assert api.post("/auth/login/", json={"email": victim.email, "password": PASSWORD}).is_success


def test_user_json_fields(api: httpx.Client, snapshot: Any, victim: Account) -> None:
    for payload in PAYLOADS:
        for field in ("name", "surname", "favorite_genre", "favourite_genre"):
            response = api.patch("/user/", json={field: payload}, headers=victim.headers)
            assert_sane(response, f"PATCH {field}={payload[:20]!r}")
            if response.status_code == 200 and field in ("name", "surname"):
                # Stored as text, read back as text: never executed.
                assert response.json()[field] == payload.strip(), field
        for body in (
            {"password_1": payload, "password_2": "another password 1"},
            {"old_password": "not the password", "new_password": payload},
        ):
            response = api.put("/user/password/", json=body, headers=victim.headers)
            assert_sane(response, f"password {body}"[:80])
            assert response.status_code != 204, body
    # Whole bodies of the wrong shape.
    for raw in (b"[]", b'"x"', b"null", b"1", b'{"name": "\\u0000"}', b"\x00", b"{"):
        response = api.patch(
            "/user/", content=raw, headers={**victim.headers, "Content-Type": "application/json"}
        )
        assert_sane(response, f"PATCH {raw!r}")
    assert api.get("/user/", headers=victim.headers).json()["email"] == victim.email
    assert api.post("/auth/login/", json={"email": victim.email, "password": PASSWORD}).is_success


INTERNAL_MARKERS = ("openapi", "swagger", "# HELP", "# TYPE", "redoc", "current_password")

PATH_TRICKS = [
    "/movies/../metrics",
    "/movies/../internal/users/1/password",
    "/movies/%2e%2e/metrics",
    "/movies/%2E%2E/docs",
    "/movies/.%2e/openapi.json",
    "/movies/..%2fmetrics",
    "/movies/..%2Fdocs",
    "/movies%2f..%2fmetrics",
    "/movies/%252e%252e/metrics",
    "/movies/%c0%ae%c0%ae/metrics",
    "/movies/..\\metrics",
    "/movies/..%5cmetrics",
    "/movies//../docs",
    "/movies/./../metrics",
    "/movies;/../metrics",
    "/movies/..;/metrics",
    "//metrics",
    "//docs",
    "///internal/users/1/password",
    "/auth/../internal/users/1/password",
    "/auth/..;/internal/users/1/password",
    "/auth/%2e%2e/internal/users/1/password",
    "/auth//internal/users/1/password",
    "/auth/login/../../internal/users/1/password",
    "/user/../metrics",
    "/user/%2e%2e/docs",
    "/favorites/../openapi.json",
    "/favorites/movies/%2e%2e%2f%2e%2e%2fdocs",
    "/genres/1/../../metrics",
    "/directors/..%252fmetrics",
    "/metrics",
    "/redoc",  # (/docs and /openapi.json: the gateway's own public reference)
    "/docs/oauth2-redirect",
    "/internal/users/1/password",
    "/health/../metrics",
    "/static/../../metrics",
    "http://127.0.0.1/metrics",
    "/movies?x=/../../metrics",
]


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_path_tricks_never_reach_internal_endpoints(base_url: str, method: str) -> None:
    for target in PATH_TRICKS:
        response = raw_request(base_url, method, target, {"Content-Length": "0"})
        text = response.body.decode("utf-8", "replace")
        what = f"{method} {target}: {response.status}"
        assert response.status < 500, what
        assert response.headers.get("content-type", "").startswith("application/json"), what
        if target.startswith("/movies?"):
            continue  # the query is no path: this one is the movie list itself (or a 405)
        assert response.status in (400, 404, 405), what
        assert response.json()["code"] in ("not_found", "bad_request", "method_not_allowed"), what
        assert not any(marker in text for marker in INTERNAL_MARKERS), what


def test_nul_and_control_bytes_in_the_path(base_url: str) -> None:
    for target in ("/movies/1%00/", "/movies/%00../metrics", "/movies/1%0d%0aX-Evil:%201/"):
        response = raw_request(base_url, "GET", target)
        assert response.status in (400, 404, 422), f"{target}: {response.status}"
        assert response.headers["content-type"].startswith("application/json"), target
        assert "x-evil" not in response.headers


MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/auth/register/"), ("POST", "/auth/login/"), ("PUT", "/auth/login/"),
     ("PATCH", "/user/"), ("PUT", "/user/password/"), ("POST", "/favorites/movies/1/"),
     ("POST", "/movies/")],
)  # fmt: skip
def test_bodies_over_one_mebibyte_are_413_json(api: httpx.Client, method: str, path: str) -> None:
    headers = {"Content-Type": "application/json", "Authorization": "Bearer x"}
    response = api.request(method, path, content=b"x" * (MIB + 1), headers=headers)
    assert_json_error(response, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds for a stream too
        for _ in range(17):
            yield b" " * (64 * 1024)

    streamed = api.request(method, path, content=chunks(), headers=headers)
    assert_json_error(streamed, 413, "payload_too_large")


def test_a_body_of_exactly_one_mebibyte_is_read(api: httpx.Client) -> None:
    body = b'{"email": "x@example.org", "password": "' + b"p" * (MIB - 45) + b'"}'
    body = body + b" " * (MIB - len(body))
    assert len(body) == MIB
    response = api.post(
        "/auth/register/", content=body, headers={"Content-Type": "application/json"}
    )
    assert_json_error(response, 422, "validation_error")  # the password is too long


def test_oversized_headers_are_4xx_json(api: httpx.Client) -> None:
    # One header of 20 KB: nginx refuses it (400 JSON).
    response = api.get("/genres/", headers={"X-Padding": "a" * 20_000})
    assert 400 <= response.status_code < 500
    assert_json_error(response, response.status_code, "bad_request")
    # Too many large headers in all (over 4 x 16 KB).
    many = {f"X-Padding-{i}": "a" * 15_000 for i in range(5)}
    response = api.get("/genres/", headers=many)
    assert 400 <= response.status_code < 500
    assert_json_error(response, response.status_code)
    # A request line over the limit: 414 JSON.
    response = api.get("/movies/", params={"q": "a" * 20_000})
    assert response.status_code in (400, 414), response.status_code
    assert_json_error(response, response.status_code)
    # Lots of small headers are fine.
    assert api.get("/genres/", headers={f"X-H-{i}": "v" for i in range(50)}).status_code == 200


@pytest.mark.parametrize("size", [5_000, 10_000, 15_000])
def test_an_oversized_bearer_token_reaches_the_user_service(api: httpx.Client, size: int) -> None:
    # The user service, not nginx, answers: 401 with WWW-Authenticate (docs/api.md, Authentication).
    token = "a" * size
    assert_unauthorized(api.get("/user/", headers={"Authorization": f"Bearer {token}"}))
    assert_unauthorized(api.get("/favorites/movies/", headers={"Authorization": f"Bearer {token}"}))
    # Public endpoints ignore it, whatever it holds.
    assert api.get("/genres/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
