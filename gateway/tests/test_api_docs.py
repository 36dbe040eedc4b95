"""The API reference: the merged OpenAPI document that the gateway serves at /openapi.json
(scripts/openapi.py), the /docs page that reads it, and docs/api.md.

Every public route of every service (from each app's own routes, as the gateway routes
them) is in both the document and docs/api.md; no internal route is in either; the
committed document is what the script builds now.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import render
from conftest import StubUpstream, raw_request
from fastapi.routing import iter_route_contexts

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"
DOCS_PAGE = render.WEB_ROOT / "docs" / "index.html"
# Paths the gateway answers itself, not a service behind it.
GATEWAY_PATHS = {"/health", "/health/ready"}


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openapi_script", ROOT / "scripts" / "openapi.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and annotations look the module up
    spec.loader.exec_module(module)
    return module


openapi = _load_script()


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    built: dict[str, Any] = openapi.build_apps()
    return built


@pytest.fixture(scope="module")
def documents(apps: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: app.openapi() for name, app in apps.items()}


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(openapi.OUTPUT.read_text(encoding="utf-8"))
    return document


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(METHOD, path as declared) of every route of the app, documented or not."""
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)  # included routers' routes too
        if context.path is not None
        for method in context.methods or ()
        if method != "HEAD"
    }


def split(apps: dict[str, Any]) -> tuple[set[str], set[str]]:
    """`METHOD /path/` of the public routes and of the others, over every service."""
    routes = openapi.gateway_routes()
    public: set[str] = set()
    hidden: set[str] = set()
    for name, app in apps.items():
        for method, path in app_routes(app):
            entry = f"{method} {openapi.public_path(path)}"
            (public if openapi.is_public(name, path, routes) else hidden).add(entry)
    return public, hidden


def document_routes(document: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in openapi.HTTP_METHODS
    }


def placeholders_as_braces(route: str) -> str:
    """`GET /movies/{movie_id}/` -> `GET /movies/{}/`: docs/api.md writes `{id}`."""
    return re.sub(r"\{[^}]*\}", "{}", route)


def doc_headings() -> set[str]:
    """The `### METHOD /path/` headings of docs/api.md, placeholders as `{}`."""
    text = API_DOC.read_text(encoding="utf-8")
    found = re.findall(r"^### ([A-Z]+ /\S*)$", text, flags=re.MULTILINE)
    return {placeholders_as_braces(heading) for heading in found}


# --------------------------------------------------------------------------------------
# The merged document
# --------------------------------------------------------------------------------------


def test_committed_document_is_a_fresh_build(
    documents: dict[str, dict[str, Any]], committed: dict[str, Any]
) -> None:
    fresh = openapi.render(openapi.merge(documents))
    stale = "gateway/web/openapi.json is stale: run .venv/bin/python scripts/openapi.py"
    assert openapi.OUTPUT.read_text(encoding="utf-8") == fresh, stale
    assert json.loads(fresh) == committed


def test_every_public_route_is_in_the_document_and_nothing_else(
    apps: dict[str, Any], committed: dict[str, Any]
) -> None:
    public, _ = split(apps)
    assert len(public) >= 19  # catalog 6, auth 4, user 9: a check that found nothing is no check
    documented = document_routes(committed)
    assert public <= documented, sorted(public - documented)
    extra = documented - public
    assert {route.split(" ")[1] for route in extra} <= GATEWAY_PATHS, sorted(extra)


def test_every_public_route_is_in_the_reference(apps: dict[str, Any]) -> None:
    public, _ = split(apps)
    gateway_own = {f"GET {path}" for path in GATEWAY_PATHS}
    expected = {placeholders_as_braces(route) for route in public | gateway_own}
    headings = doc_headings()
    assert expected <= headings, sorted(expected - headings)
    assert headings <= expected, (
        f"docs/api.md documents routes no service has: {headings - expected}"
    )


def test_no_internal_route_in_the_document_or_the_reference(
    apps: dict[str, Any], committed: dict[str, Any]
) -> None:
    _, hidden = split(apps)
    hidden_paths = {route.split(" ")[1] for route in hidden}
    assert any(path.startswith("/internal/") for path in hidden_paths)  # auth's are there
    assert "/metrics/" in hidden_paths
    for path in hidden_paths:
        if path.rstrip("/") in GATEWAY_PATHS:
            continue  # the gateway answers these itself (below)
        assert path not in committed["paths"], path
        assert path.rstrip("/") not in committed["paths"], path
    for path in GATEWAY_PATHS:
        assert committed["paths"][path]["get"]["operationId"].startswith("read_gateway_")
    text = json.dumps(committed)
    assert "/internal" not in text
    assert "/metrics" not in text
    headings = doc_headings()
    assert not any(" /internal" in h or " /metrics" in h for h in headings), headings


def test_paths_are_written_as_clients_call_them(committed: dict[str, Any]) -> None:
    for path in committed["paths"]:
        assert path in GATEWAY_PATHS or path.endswith("/"), path


def test_gateway_answers_are_documented(committed: dict[str, Any]) -> None:
    login = committed["paths"]["/auth/login/"]["put"]["responses"]
    assert {"413", "429", "503", "504"} <= set(login)
    assert "Retry-After" in login["429"]["headers"]
    movies = committed["paths"]["/movies/"]["get"]["responses"]
    assert {"503", "504"} <= set(movies)
    assert "429" not in movies
    assert "413" not in movies


def test_only_the_components_that_public_routes_use(committed: dict[str, Any]) -> None:
    """auth's internal PasswordChange and SessionOut are dropped: the user service's own
    models of those names are the ones kept."""
    schemas = committed["components"]["schemas"]
    assert "password_1" in schemas["PasswordChange"]["properties"]
    assert "current" in schemas["SessionOut"]["properties"]
    assert "HTTPValidationError" not in schemas
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(committed)))
    assert refs == set(schemas), set(schemas) ^ refs


def test_a_component_clash_stops_the_merge(documents: dict[str, dict[str, Any]]) -> None:
    changed = copy.deepcopy(documents)
    movie = changed["user"]["components"]["schemas"]["MovieOut"]
    movie["properties"]["rating"] = {"type": "string", "title": "Rating"}
    with pytest.raises(openapi.ComponentClash, match="MovieOut"):
        openapi.merge(changed)


def test_public_routes_follow_the_gateway_template() -> None:
    routes = openapi.gateway_routes()
    assert openapi.is_public("catalog", "/movies/{movie_id}", routes)
    assert openapi.is_public("user", "/favorites/movies", routes)
    assert not openapi.is_public("auth", "/internal/users/{user_id}/sessions", routes)
    assert not openapi.is_public("auth", "/authority", routes)
    assert not openapi.is_public("catalog", "/auth/login", routes)  # another service's


# --------------------------------------------------------------------------------------
# Served by nginx
# --------------------------------------------------------------------------------------


def test_openapi_json_is_served_by_the_gateway_itself(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == json.loads(openapi.OUTPUT.read_text(encoding="utf-8"))
    assert not any(stub.requests for stub in upstreams.values())  # no service's own


@pytest.mark.parametrize("target", ["/docs", "/docs/"])
def test_docs_page_is_served_without_a_redirect(
    client: httpx.Client, upstreams: dict[str, StubUpstream], target: str
) -> None:
    response = client.get(target)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == DOCS_PAGE.read_text(encoding="utf-8")
    assert "'self'" in response.headers["content-security-policy"]  # the web app's policy
    assert not any(stub.requests for stub in upstreams.values())


@pytest.mark.parametrize(
    ("target", "media_type"),
    [("/docs/docs.js", "application/javascript"), ("/docs/docs.css", "text/css")],
)
def test_docs_page_assets_are_served(client: httpx.Client, target: str, media_type: str) -> None:
    response = client.get(target)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)


def test_docs_lookalikes_are_not_the_page(client: httpx.Client, gateway: Any) -> None:
    lookalikes = ("/docsx", "/docs/missing", "/openapi.json/x", "/docs/oauth2-redirect")
    # Paths that nginx would normalise into the reference's: refused like the API's.
    tricks = ("//docs", "/user/%2e%2e/docs", "/favorites/../openapi.json", "/movies/%2E%2E/docs")
    for target in lookalikes + tricks:
        status, headers, _ = raw_request(gateway.port, "GET", target)
        assert status == 404, target
        assert headers["content-type"] == ["application/json"], target


def test_docs_page_is_plain_and_accessible() -> None:
    """No inline script or style (the policy allows 'self' only), one h1, landmarks,
    and a script that builds the page from the document without parsing HTML."""
    page = DOCS_PAGE.read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>", page, flags=re.IGNORECASE)
    assert scripts
    assert all('src="/docs/' in attributes for attributes in scripts)
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", page, flags=re.IGNORECASE)
    assert re.search(r'<html lang="\w+">', page)
    assert len(re.findall(r"<h1\b", page)) == 1
    for landmark in ("<header", "<nav", "<main", "<footer"):
        assert landmark in page, landmark
    script = (render.WEB_ROOT / "docs" / "docs.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert re.search(r"https?://", page + script) is None  # nothing from elsewhere
