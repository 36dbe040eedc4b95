"""The public API as one OpenAPI document: `gateway/web/openapi.json`, served at /openapi.json.

    .venv/bin/python scripts/openapi.py            # writes the file
    .venv/bin/python scripts/openapi.py --check    # exit 1 when the file is stale

Each service's app is built (no database is opened: building an app only creates its
engine) and asked for its own document. Only what the gateway routes to that service is
kept: a path is public when the gateway's `$gw_service` map
(gateway/nginx/gateway.conf.template) names this service for it, so auth's /internal/...
and every service's /health and /metrics stay out. Paths are written as clients call them,
with the trailing slash; the gateway's own /health and /health/ready are added. The
documents' components are merged after dropping those that no public path uses, and two
components of one name with different content stop the script (ComponentClash).

gateway/tests/test_api_docs.py fails when the committed file differs from a fresh build.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "gateway" / "nginx" / "gateway.conf.template"
OUTPUT = ROOT / "gateway" / "web" / "openapi.json"
SERVICES = ("catalog", "auth", "user")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Placeholders for settings that the apps demand but never use while documenting.
_PLACEHOLDER_DATABASE = "sqlite+aiosqlite:///:memory:"
_PLACEHOLDER_SECRET = "documentation-only-" + "0" * 32
_PLACEHOLDER_TOKEN = "documentation-only-" + "1" * 32

Document = dict[str, Any]


class ComponentClash(ValueError):
    """Two services define a component of the same name with different content."""


# ---------------------------------------------------------------------------------------
# What the gateway routes
# ---------------------------------------------------------------------------------------


def gateway_routes(template: str | None = None) -> dict[str, re.Pattern[str]]:
    """Service name -> the pattern of the paths the gateway sends to it, read from the
    `map $uri $gw_service { ... }` block of the nginx template."""
    text = template if template is not None else TEMPLATE.read_text(encoding="utf-8")
    block = re.search(r"map \$uri \$gw_service \{(.*?)\n\}", text, flags=re.DOTALL)
    if block is None:
        raise ValueError(f"{TEMPLATE.name}: no `map $uri $gw_service` block")
    routes: dict[str, re.Pattern[str]] = {}
    for line in block.group(1).splitlines():
        entry = re.fullmatch(r'\s*"(~[^"]+)"\s+(\w+);\s*', line)
        if entry is not None:
            routes[entry.group(2)] = re.compile(entry.group(1)[1:])
    missing = [name for name in SERVICES if name not in routes]
    if missing:
        raise ValueError(f"{TEMPLATE.name}: $gw_service names no paths for {', '.join(missing)}")
    return routes


def is_public(service: str, path: str, routes: dict[str, re.Pattern[str]]) -> bool:
    """Whether the gateway sends `path` (as the service declares it) to `service`."""
    pattern = routes.get(service)
    return pattern is not None and pattern.search(path) is not None


def public_path(path: str) -> str:
    """`/movies/{movie_id}` -> `/movies/{movie_id}/`: the form clients call."""
    return path if path.endswith("/") else f"{path}/"


# ---------------------------------------------------------------------------------------
# The services' own documents
# ---------------------------------------------------------------------------------------


def build_apps() -> dict[str, Any]:
    """Each service's FastAPI app, built as the tests build them, with placeholder
    settings (an in-memory SQLite URL that nothing connects to, throwaway secrets)."""
    from pydantic import SecretStr  # noqa: PLC0415

    from auth_service.config import AuthSettings  # noqa: PLC0415 (the venv's packages)
    from auth_service.main import create_app as create_auth  # noqa: PLC0415
    from catalog_service.config import CatalogSettings  # noqa: PLC0415
    from catalog_service.main import create_app as create_catalog  # noqa: PLC0415
    from shared.jwt import JwtSettings  # noqa: PLC0415
    from user_service.config import UserSettings  # noqa: PLC0415
    from user_service.main import create_app as create_user  # noqa: PLC0415

    jwt = JwtSettings(secret=SecretStr(_PLACEHOLDER_SECRET))
    common: dict[str, Any] = {"database_url": _PLACEHOLDER_DATABASE, "environment": "test"}
    internal: dict[str, Any] = {**common, "internal_api_token": _PLACEHOLDER_TOKEN}
    return {
        "catalog": create_catalog(CatalogSettings(**common)),
        "auth": create_auth(AuthSettings(**internal, redis_url=None), jwt),
        "user": create_user(UserSettings(**internal), jwt_settings=jwt),
    }


def service_documents() -> dict[str, Document]:
    """Service name -> its app's own OpenAPI document."""
    return {name: app.openapi() for name, app in build_apps().items()}


def public_routes(documents: dict[str, Document] | None = None) -> dict[str, set[str]]:
    """Service name -> `METHOD /path/` of each public operation, as the gateway serves it."""
    documents = documents if documents is not None else service_documents()
    routes = gateway_routes()
    return {
        name: {
            f"{method.upper()} {public_path(path)}"
            for path, item in document.get("paths", {}).items()
            if is_public(name, path, routes)
            for method in item
            if method in HTTP_METHODS
        }
        for name, document in documents.items()
    }


# ---------------------------------------------------------------------------------------
# Merging
# ---------------------------------------------------------------------------------------


def _refs(value: Any) -> Iterator[str]:
    """Every `$ref` inside a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _used_components(paths: Document, components: Document) -> dict[str, set[str]]:
    """Component kind -> names reachable from `paths` (through other components too)."""
    used: dict[str, set[str]] = {}
    pending = list(_refs(paths))
    while pending:
        ref = pending.pop()
        parts = ref.split("/")
        if len(parts) != 4 or parts[:2] != ["#", "components"]:
            continue
        kind, name = parts[2], parts[3]
        if name in used.setdefault(kind, set()):
            continue
        used[kind].add(name)
        pending.extend(_refs(components.get(kind, {}).get(name)))
    return used


def public_part(service: str, document: Document, routes: dict[str, re.Pattern[str]]) -> Document:
    """The paths the gateway serves for `service`, and only the components they use."""
    paths = {
        public_path(path): copy.deepcopy(item)
        for path, item in document.get("paths", {}).items()
        if is_public(service, path, routes)
    }
    components = document.get("components", {})
    used = _used_components(paths, components)
    # Security schemes are named by the operations' `security`, not by a $ref.
    for item in paths.values():
        for operation in item.values():
            for requirement in operation.get("security", []) if isinstance(operation, dict) else []:
                used.setdefault("securitySchemes", set()).update(requirement)
    kept = {
        kind: {name: copy.deepcopy(components[kind][name]) for name in sorted(names)}
        for kind, names in sorted(used.items())
        if names
    }
    return {"paths": paths, "components": kept}


def merge_components(target: Document, source: Document, service: str) -> None:
    """Add `source`'s components to `target`; ComponentClash on a name defined twice
    with different content."""
    for kind, entries in source.items():
        merged = target.setdefault(kind, {})
        for name, content in entries.items():
            if name in merged and merged[name] != content:
                raise ComponentClash(
                    f"components/{kind}/{name}: {service} defines it differently from "
                    "another service; rename one of the two models"
                )
            merged[name] = content


# The gateway's own answers, on top of what the services document.
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_JSON_ERROR = {"application/json": {"schema": _ERROR_REF}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
_GATEWAY_RESPONSES: dict[str, Document] = {
    "503": {
        "description": "Service Unavailable: the service behind the gateway is down "
        "(`service_unavailable`), or the service itself is overloaded.",
        "content": _JSON_ERROR,
    },
    "504": {
        "description": "Gateway Timeout: the service did not answer in time (`gateway_timeout`).",
        "content": _JSON_ERROR,
    },
}
_BODY_RESPONSES: dict[str, Document] = {
    "413": {
        "description": "Payload Too Large: the gateway takes bodies of 1 MiB at most.",
        "content": _JSON_ERROR,
    },
}
_RATE_LIMITED: Document = {
    "description": "Too Many Requests: the gateway's limit per client address, or the "
    "service's own (`rate_limited`).",
    "headers": _RETRY_AFTER,
    "content": _JSON_ERROR,
}
_SERVICES_STATE = {
    "type": "object",
    "properties": {
        name: {"type": "string", "enum": ["up", "down"], "title": name.capitalize()}
        for name in SERVICES
    },
    "required": list(SERVICES),
}
_GATEWAY_SCHEMAS: Document = {
    "GatewayHealth": {
        "type": "object",
        "title": "GatewayHealth",
        "properties": {"status": {"type": "string", "const": "ok", "title": "Status"}},
        "required": ["status"],
    },
    "GatewayReadiness": {
        "type": "object",
        "title": "GatewayReadiness",
        "description": "`message` and `code` only when a service is down.",
        "properties": {
            "status": {"type": "string", "enum": ["ready", "unavailable"], "title": "Status"},
            "services": _SERVICES_STATE,
            "message": {"type": "string", "title": "Message"},
            "code": {"type": "string", "const": "service_unavailable", "title": "Code"},
        },
        "required": ["status", "services"],
    },
}


def _json_answer(description: str, schema: str) -> Document:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return {"description": description, "content": content}


_GATEWAY_PATHS: Document = {
    "/health": {
        "get": {
            "tags": ["health"],
            "summary": "Gateway liveness",
            "description": "The gateway runs; answered by the gateway itself.",
            "operationId": "read_gateway_liveness",
            "responses": {"200": _json_answer("The gateway runs.", "GatewayHealth")},
        }
    },
    "/health/ready": {
        "get": {
            "tags": ["health"],
            "summary": "Readiness of every service",
            "description": "Asks each service whether it can work (its database answers); "
            "a service that does not answer within 2 s counts as down.",
            "operationId": "read_gateway_readiness",
            "responses": {
                "200": _json_answer("Every service is up.", "GatewayReadiness"),
                "503": _json_answer("At least one service is down.", "GatewayReadiness"),
            },
        }
    },
}

_TAGS = [
    {"name": "movies", "description": "The catalog's films (public, read-only)."},
    {"name": "genres", "description": "Genres (public, read-only)."},
    {"name": "directors", "description": "Directors (public, read-only)."},
    {"name": "auth", "description": "Accounts and token pairs (public)."},
    {"name": "profile", "description": "The signed-in user's profile and password."},
    {"name": "sessions", "description": "The signed-in user's sessions, one per login."},
    {"name": "favorites", "description": "The signed-in user's bookmarked movies."},
    {"name": "health", "description": "The gateway's own health checks."},
]

_DESCRIPTION = (
    "Every public route of the catalog, auth and user services, as the gateway serves "
    "them. Each path answers with and without its trailing slash, never with a redirect. "
    "Public routes ignore `Authorization` whatever it holds (`Bearer undefined` included); "
    "`/user` and `/favorites` need `Authorization: Bearer <access token>`. Errors are "
    "JSON `{message, code}`, plus `errors: [{field, message}]` for validation failures. "
    "The prose reference is docs/api.md in the repository."
)


def _add_gateway_answers(path: str, item: Document) -> None:
    """What the gateway itself may answer on a proxied route: 503 and 504 when the
    service is down or slow, 413 for a body over 1 MiB, and 429 from its flood limit on
    /auth/ and /user/password/."""
    limited = path.startswith(("/auth/", "/user/password/"))
    for method, operation in item.items():
        if method not in HTTP_METHODS:
            continue
        responses: Document = operation.setdefault("responses", {})
        extra = dict(_GATEWAY_RESPONSES)
        if method in ("post", "put", "patch"):
            extra.update(_BODY_RESPONSES)
        if limited:
            extra["429"] = _RATE_LIMITED
        for status, answer in extra.items():
            responses.setdefault(status, copy.deepcopy(answer))
        operation["responses"] = dict(sorted(responses.items()))


def merge(documents: dict[str, Document]) -> Document:
    """One document of every public route, from the services' own documents."""
    routes = gateway_routes()
    paths: Document = {}
    components: Document = {}
    operation_ids: dict[str, str] = {}
    for service in SERVICES:
        part = public_part(service, documents[service], routes)
        for path, item in part["paths"].items():
            if path in paths:
                raise ComponentClash(f"paths/{path}: served by two services")
            for method, operation in item.items():
                if method not in HTTP_METHODS:
                    continue
                operation_id = operation["operationId"]
                if operation_ids.setdefault(operation_id, f"{method} {path}") != f"{method} {path}":
                    raise ComponentClash(f"operationId {operation_id}: used twice")
            _add_gateway_answers(path, item)
            paths[path] = item
        merge_components(components, part["components"], service)
    merge_components(components, {"schemas": _GATEWAY_SCHEMAS}, "gateway")
    paths.update(copy.deepcopy(_GATEWAY_PATHS))
    components = {
        kind: dict(sorted(entries.items())) for kind, entries in sorted(components.items())
    }
    openapi_version = {document["openapi"] for document in documents.values()}
    if len(openapi_version) != 1:
        raise ValueError(f"the services' documents differ in version: {openapi_version}")
    return {
        "openapi": openapi_version.pop(),
        "info": {"title": "Kinoarchive API", "version": "1.0.0", "description": _DESCRIPTION},
        "tags": _TAGS,
        "paths": paths,
        "components": components,
    }


def render(document: Document) -> str:
    """The file's text: stable, readable JSON (Cyrillic as is), one trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def build(documents: Callable[[], dict[str, Document]] = service_documents) -> str:
    """The merged document's text, from freshly built apps."""
    return render(merge(documents()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Merge the services' OpenAPI documents.")
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out is stale")
    args = parser.parse_args(argv)
    try:
        text = build()
    except ComponentClash as error:
        print(f"openapi.py: {error}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run .venv/bin/python scripts/openapi.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
