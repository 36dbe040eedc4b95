"""What the gateway adds in front of the real services."""

import re

import httpx


def test_request_id_is_made_and_kept(api: httpx.Client) -> None:
    made = api.get("/genres/")
    assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", made.headers["x-request-id"])
    assert made.headers.get_list("x-request-id") == [made.headers["x-request-id"]]
    kept = api.get("/genres/", headers={"X-Request-ID": "trace-42"})
    assert kept.headers["x-request-id"] == "trace-42"


def test_cors_lets_a_frontend_elsewhere_call(api: httpx.Client) -> None:
    preflight = api.options(
        "/movies/",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] in ("*", "http://localhost:3000")
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    response = api.get("/movies/?page=1", headers={"Origin": "http://localhost:3000"})
    assert "x-total-count" in response.headers["access-control-expose-headers"].lower()


def test_unknown_paths_and_internal_endpoints_are_json_404(api: httpx.Client) -> None:
    # /docs and /openapi.json are the gateway's public reference (test_reference below).
    for path in ("/nothing", "/metrics", "/redoc", "/internal/users/1/password"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


def test_reference(api: httpx.Client) -> None:
    """/openapi.json: the public routes as the gateway serves them, nothing internal;
    /docs: the page that lists them."""
    document = api.get("/openapi.json").json()
    assert "/movies/" in document["paths"]
    assert "/favorites/movies/{movie_id}/" in document["paths"]
    assert not [path for path in document["paths"] if path.startswith(("/internal", "/metrics"))]
    for path in ("/docs", "/docs/"):
        page = api.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")


def test_health(api: httpx.Client) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    ready = api.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["services"] == {"catalog": "up", "auth": "up", "user": "up"}


def test_body_over_one_mebibyte_is_413_json(api: httpx.Client) -> None:
    response = api.post("/auth/register/", content=b"x" * (1024 * 1024 + 1),
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_no_version_banners(api: httpx.Client) -> None:
    response = api.get("/movies/?page=1")
    assert "server" not in response.headers or not re.search(r"\d", response.headers["server"])
    assert "uvicorn" not in response.headers.get("server", "")


def test_web_app_is_served(api: httpx.Client) -> None:
    response = api.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
