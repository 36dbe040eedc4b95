"""The gateway: a real nginx rendered from the template, in front of stub upstreams.

See conftest.py: ``gateway`` runs with three stub services (``upstreams``), and
``broken_gateway`` with the catalog on a closed port and a too slow auth service.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import render
from conftest import (
    HANG,
    NGINX_MISSING,
    GatewayProcess,
    StubUpstream,
    free_port,
    nginx_test,
    raw_request,
)

PUBLIC_PATH = re.compile(r"^/(movies|genres|directors|auth|user|favorites)(/|$)")
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
CORS_EXPOSED = "X-Total-Count, Link, X-Request-ID"


def upstream_headers(echo: dict[str, Any], name: str) -> list[str]:
    """Values of header *name* as the stub upstream received it."""
    return [value for key, value in echo["headers"] if key.lower() == name.lower()]


def assert_json_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert len(body["message"]) > 10
    assert "nginx" not in response.text
    assert len(response.headers.get_list("x-request-id")) == 1
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-expose-headers"] == CORS_EXPOSED
    return body


# --------------------------------------------------------------------------------------
# render.py and the template
# --------------------------------------------------------------------------------------


def test_nginx_is_installed() -> None:
    if render.find_nginx() is None:
        pytest.fail(NGINX_MISSING, pytrace=False)


def test_render_substitutes_placeholders_and_leaves_nginx_variables() -> None:
    text = render.render("listen ${PORT}; set $x $host; add_header A $http_x;", {"PORT": "80"})
    assert text == "listen 80; set $x $host; add_header A $http_x;"


def test_render_names_every_placeholder_without_a_value() -> None:
    with pytest.raises(render.RenderError, match=r"\$\{AUTH_UPSTREAM\}.*\$\{WEB_ROOT\}"):
        render.render("${AUTH_UPSTREAM} ${GATEWAY_PORT} ${WEB_ROOT}", {"GATEWAY_PORT": "8000"})
    with pytest.raises(render.RenderError, match=r"\$\{WEB_ROOT\}"):
        render.render("root ${WEB_ROOT};", {"WEB_ROOT": ""})


def test_render_refuses_a_value_that_would_break_the_directive() -> None:
    with pytest.raises(render.RenderError, match=r"\$\{CORS_ALLOW_ORIGIN\}"):
        render.render(
            'add_header A "${CORS_ALLOW_ORIGIN}";', {"CORS_ALLOW_ORIGIN": '*"; evil on; "'}
        )


def test_defaults_and_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*render.PLACEHOLDERS, *render.TLS_PLACEHOLDERS, "GATEWAY_TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    assert render.defaults() == {
        "GATEWAY_PORT": "8000",
        "CATALOG_UPSTREAM": "127.0.0.1:8001",
        "AUTH_UPSTREAM": "127.0.0.1:8002",
        "USER_UPSTREAM": "127.0.0.1:8003",
        "WEB_ROOT": str(Path(render.__file__).resolve().parent / "web"),
        "CORS_ALLOW_ORIGIN": "*",
        "GATEWAY_UPSTREAM_TIMEOUT": "30s",
        "GATEWAY_RESOLVER": "127.0.0.11",
        "GATEWAY_CACHE_DIR": "/var/cache/nginx/kinoarchive",
        "GATEWAY_AUTH_RATE": "10r/s",
        "GATEWAY_AUTH_BURST": "20",
        "GATEWAY_TRUSTED_PROXIES": "",
        "GATEWAY_TLS_CERT": "",
        "GATEWAY_TLS_KEY": "",
        "GATEWAY_HTTPS_PORT": "8443",
        "GATEWAY_HTTPS_REDIRECT_PORT": "",
    }
    assert Path(render.defaults()["WEB_ROOT"]).is_absolute()
    monkeypatch.setenv("CATALOG_UPSTREAM", "catalog:8001")
    monkeypatch.setenv("GATEWAY_UPSTREAM_TIMEOUT", "5s")
    values = render.defaults()
    assert values["CATALOG_UPSTREAM"] == "catalog:8001"
    assert values["GATEWAY_UPSTREAM_TIMEOUT"] == "5s"


TEMPLATES = [render.TEMPLATE_PATH, *render.UPSTREAMS_TEMPLATES.values(), render.TLS_TEMPLATE_PATH]


def test_template_placeholders_are_envsubst_safe() -> None:
    braced: set[str] = set()
    for path in TEMPLATES:
        template = path.read_text(encoding="utf-8")
        braced |= set(re.findall(r"\$\{([^}]*)\}", template))
        # nginx variables are lower case and never braced: envsubst (given the container's
        # environment variable names, which are upper case) must leave them alone.
        bare = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", template))
        assert all(name == name.lower() for name in bare), (path.name, bare)
    assert braced == {*render.PLACEHOLDERS, *render.TLS_PLACEHOLDERS}


@pytest.mark.skipif(shutil.which("envsubst") is None, reason="envsubst (gettext-base) not found")
@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.name)
def test_template_renders_the_same_with_envsubst_as_the_docker_image_does(path: Path) -> None:
    values = {
        **render.defaults(),
        "CORS_ALLOW_ORIGIN": "https://kino.example",
        "CATALOG_UPSTREAM": "catalog-service:8000",
        "GATEWAY_TLS_CERT": "/etc/nginx/tls/cert.pem",
        "GATEWAY_TLS_KEY": "/etc/nginx/tls/key.pem",
        "GATEWAY_HTTPS_REDIRECT_PORT": "443",
    }
    environment = {**os.environ, **values}
    # The image's 20-envsubst-on-templates.sh passes every defined variable name.
    shell_format = " ".join(f"${{{name}}}" for name in environment)
    result = subprocess.run(
        ["envsubst", shell_format],
        input=path.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    expected = render.render(path.read_text(encoding="utf-8"), values)
    assert result.stdout == expected


def test_local_upstreams_keep_connections_and_never_blacklist_a_server() -> None:
    template = render.UPSTREAMS_TEMPLATES["local"].read_text(encoding="utf-8")
    blocks = re.findall(r"^upstream (\w+) \{(.*?)^\}", template, re.DOTALL | re.MULTILINE)
    assert {name for name, _ in blocks} == {
        "kinoarchive_catalog",
        "kinoarchive_auth",
        "kinoarchive_user",
    }
    for _, body in blocks:
        servers = re.findall(r"^\s*server (.*);$", body, re.MULTILINE)
        assert servers
        assert all("max_fails=0" in server for server in servers)
        assert re.search(r"^\s*keepalive \d+;$", body, re.MULTILINE)
    for name, _ in blocks:  # the proxy_pass targets name these groups
        service = name.removeprefix("kinoarchive_")
        assert re.search(rf"map \"\" \$gw_{service}_upstream \{{\s*default\s+{name};", template)


def test_gateway_template_proxies_only_to_the_mode_variables() -> None:
    template = render.TEMPLATE_PATH.read_text(encoding="utf-8")
    targets = set(re.findall(r"^\s*proxy_pass (\S+);$", template, re.MULTILINE))
    assert targets == {
        f"http://$gw_{service}_upstream{suffix}"
        for service in ("catalog", "auth", "user")
        for suffix in ("", "/health/ready")
    }
    directives = [
        line.strip() for line in template.splitlines() if not line.strip().startswith("#")
    ]
    assert not any(line.startswith(("upstream ", "resolver ")) for line in directives)


def test_local_config_passes_nginx_t(nginx_binary: str, tmp_path: Path) -> None:
    conf = render.write_local_config(tmp_path, {"GATEWAY_PORT": str(free_port())})
    assert conf == tmp_path.resolve() / "nginx.conf"
    text = conf.read_text()
    assert f"pid {tmp_path.resolve() / 'nginx.pid'};" in text
    assert "error_log stderr" in text
    assert "daemon" not in text.replace("daemon off;", "")  # only in the comment
    assert "events {" in text
    for name in render.TEMP_DIRS:
        assert f"{name}_temp_path {tmp_path.resolve() / 'temp' / name};" in text
    assert f"include {tmp_path.resolve() / 'gateway.conf'};" in text
    assert f"include {tmp_path.resolve() / 'upstreams.conf'};" in text
    assert "upstream kinoarchive_catalog {" in (tmp_path / "upstreams.conf").read_text()
    if os.geteuid() == 0:
        assert re.search(r"^user \S+ \S+;$", text, re.MULTILINE)
    else:
        assert not re.search(r"^user ", text, re.MULTILINE)
    result = nginx_test(nginx_binary, conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_cli_prints_the_nginx_conf_path(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(render.GATEWAY_DIR / "render.py"), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        check=True,
    )
    path = Path(result.stdout.strip())
    assert path == (tmp_path / "run" / "nginx.conf").resolve()
    assert path.is_file()
    assert (path.parent / "gateway.conf").is_file()


# --------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------

ROUTES = [
    ("/movies", "catalog"),
    ("/movies/", "catalog"),
    ("/movies/5", "catalog"),
    ("/movies/5/", "catalog"),
    ("/movies/?page=2&q=x", "catalog"),
    ("/movies/?status=new&page=1&q=%D0%BA%D0%B8%D0%BD%D0%BE", "catalog"),
    ("/genres", "catalog"),
    ("/genres/", "catalog"),
    ("/genres/17/", "catalog"),
    ("/directors", "catalog"),
    ("/directors/1/", "catalog"),
    ("/auth", "auth"),
    ("/auth/register/", "auth"),
    ("/auth/login", "auth"),
    ("/auth/login/", "auth"),
    ("/user", "user"),
    ("/user/", "user"),
    ("/user/password/", "user"),
    ("/favorites/movies/", "user"),
    ("/favorites/movies/3/", "user"),
    ("/favorites/movies/3", "user"),
]


@pytest.mark.parametrize(("target", "service"), ROUTES)
def test_route_reaches_its_service_unchanged(
    client: httpx.Client, upstreams: dict[str, StubUpstream], target: str, service: str
) -> None:
    response = client.get(target)
    assert response.status_code == 200, response.text
    echo = response.json()
    assert echo["service"] == service
    assert echo["method"] == "GET"
    assert echo["path"] == target  # path and query exactly as sent, slash or no slash
    assert [stub.name for stub in upstreams.values() if stub.requests] == [service]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_methods_and_bodies_pass_through(client: httpx.Client, method: str) -> None:
    body = json.dumps({"email": "a@x.io", "password": "secret-password"}).encode()
    response = client.request(
        method, "/auth/login/", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    echo = response.json()
    assert echo["method"] == method
    assert echo["path"] == "/auth/login/"
    assert echo["body_length"] == len(body)


@pytest.mark.parametrize(
    "target", ["/moviesxyz", "/movies.json", "/authx/", "/users/", "/favorite/", "/genresx"]
)
def test_lookalike_prefixes_are_not_routed(
    client: httpx.Client, upstreams: dict[str, StubUpstream], target: str
) -> None:
    assert_json_error(client.get(target), 404, "not_found")
    assert not any(stub.requests for stub in upstreams.values())


def test_no_redirects_anywhere(client: httpx.Client) -> None:
    for target in [
        "/movies",
        "/genres",
        "/directors",
        "/auth",
        "/user",
        "/favorites/movies",
        "/health",
        "/health/ready",
        "/",
        "/index.html",
        "/web",
        "/nope",
    ]:
        response = client.get(target)  # httpx does not follow redirects by default
        assert not 300 <= response.status_code < 400, (target, response.status_code)
        assert "location" not in response.headers


def test_upstream_errors_pass_through_untouched(client: httpx.Client) -> None:
    for status in (404, 422, 500, 503):
        response = client.get("/movies/999/", headers={"X-Stub-Status": str(status)})
        assert response.status_code == status
        assert response.json()["service"] == "catalog"  # the service's own body, not nginx's


def test_upstream_connections_are_kept_alive(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    for _ in range(5):
        assert client.get("/genres/").status_code == 200
    ports = {record["client_port"] for record in upstreams["catalog"].requests}
    assert len(ports) == 1  # one upstream connection reused for all five requests
    echo = client.get("/genres/").json()
    assert upstream_headers(echo, "Connection") == []  # no "Connection: close"


# --------------------------------------------------------------------------------------
# Headers to the services, request ids, access log
# --------------------------------------------------------------------------------------


def test_forwarded_headers(client: httpx.Client, gateway: GatewayProcess) -> None:
    response = client.get(
        "/user/",
        headers={
            "Authorization": "Bearer undefined",
            "X-Forwarded-For": "203.0.113.7",
            "X-Real-IP": "198.51.100.1",
        },
    )
    echo = response.json()
    assert upstream_headers(echo, "Host") == [f"127.0.0.1:{gateway.port}"]
    # No trusted proxy (the default): what the client wrote is dropped, not passed on.
    assert upstream_headers(echo, "X-Real-IP") == ["127.0.0.1"]
    assert upstream_headers(echo, "X-Forwarded-For") == ["127.0.0.1"]
    assert upstream_headers(echo, "X-Forwarded-Proto") == ["http"]
    assert upstream_headers(echo, "Authorization") == ["Bearer undefined"]
    request_id = response.headers["x-request-id"]
    assert REQUEST_ID.match(request_id)
    assert upstream_headers(echo, "X-Request-ID") == [request_id]


@pytest.mark.parametrize(
    "request_id", ["abc", "0af7651916cd43dd8448eb211c80319c", "req-1.2:3_X", "x" * 128]
)
def test_valid_client_request_id_is_kept(client: httpx.Client, request_id: str) -> None:
    response = client.get("/movies/", headers={"X-Request-ID": request_id})
    assert response.headers.get_list("x-request-id") == [request_id]
    assert upstream_headers(response.json(), "X-Request-ID") == [request_id]


@pytest.mark.parametrize(
    "request_id", ["", "has space", "x" * 129, "<script>", "a/b", "id;drop", "caf\u00e9"]
)
def test_invalid_client_request_id_is_replaced(client: httpx.Client, request_id: str) -> None:
    response = client.get("/movies/", headers=[(b"X-Request-ID", request_id.encode("utf-8"))])
    echoed = response.headers.get_list("x-request-id")
    assert len(echoed) == 1
    assert REQUEST_ID.match(echoed[0])
    assert upstream_headers(response.json(), "X-Request-ID") == echoed


def test_duplicate_client_request_ids_reach_the_service_once(client: httpx.Client) -> None:
    response = client.get(
        "/movies/", headers=[("X-Request-ID", "first"), ("X-Request-ID", "second")]
    )
    assert response.headers.get_list("x-request-id") == ["first"]
    assert upstream_headers(response.json(), "X-Request-ID") == ["first"]


def test_request_id_is_echoed_once_on_every_kind_of_response(
    client: httpx.Client, upstreams: dict[str, StubUpstream], gateway: GatewayProcess
) -> None:
    upstreams["user"].stop()
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/movies/", {}),  # proxied (the upstream's own X-Request-ID is hidden)
        ("GET", "/", {}),  # static
        ("GET", "/health", {}),
        ("GET", "/health/ready", {}),  # 503: user is down
        ("OPTIONS", "/movies/", {}),  # preflight
        ("GET", "/nope", {}),  # 404
        ("POST", "/index.html", {}),  # 405
        ("POST", "/movies/", {"content": b"x" * (1024 * 1024 + 1)}),  # 413
        ("GET", "/user/", {}),  # 503
        ("GET", "/auth/login/", {"slow": True}),  # 504
    ]
    for method, target, extra in requests:
        if extra.pop("slow", False):
            upstreams["auth"].delay = 3.0
        response = client.request(method, target, headers={"X-Request-ID": "trace-42"}, **extra)
        assert response.headers.get_list("x-request-id") == ["trace-42"], (target, response)
        response = client.request(method, target, **extra)
        assert len(response.headers.get_list("x-request-id")) == 1, (target, response)
        assert REQUEST_ID.match(response.headers["x-request-id"]), (target, response)
    status, headers, _ = raw_request(gateway.port, "GET", "/movies/..%2f..%2finternal")
    assert status == 400
    assert len(headers["x-request-id"]) == 1


def test_access_log_is_one_json_line_per_request(
    client: httpx.Client, gateway: GatewayProcess
) -> None:
    client.get("/movies/?page=2", headers={"X-Request-ID": "log-line-test"})
    deadline = time.monotonic() + HANG  # nginx writes it as the request ends: this bounds a hang
    while True:
        lines = [line for line in gateway.access_log() if line["request_id"] == "log-line-test"]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 1
    line = lines[0]
    assert line["method"] == "GET"
    assert line["uri"] == "/movies/?page=2"
    assert line["status"] == 200
    assert line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["bytes"], int)
    assert line["bytes"] > 0
    assert isinstance(line["request_time"], float | int)
    assert line["upstream_addr"] == gateway.values["CATALOG_UPSTREAM"]
    assert float(line["upstream_response_time"]) >= 0
    assert line["time"]


# --------------------------------------------------------------------------------------
# JSON errors made by nginx
# --------------------------------------------------------------------------------------


def test_unknown_path_is_json_404(client: httpx.Client) -> None:
    body = assert_json_error(client.get("/no/such/page"), 404, "not_found")
    assert body["message"] == "Nothing is found at this address."


def test_missing_static_file_is_json_404_whatever_its_extension(client: httpx.Client) -> None:
    for target in ["/missing.html", "/missing.css", "/img/missing.png", "/missing/"]:
        assert_json_error(client.get(target), 404, "not_found")


def test_body_over_one_mebibyte_is_json_413(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    exactly = client.post("/auth/register/", content=b"x" * (1024 * 1024))
    assert exactly.status_code == 200
    assert exactly.json()["body_length"] == 1024 * 1024
    upstreams["auth"].requests.clear()
    response = client.post("/auth/register/", content=b"x" * (2 * 1024 * 1024))
    assert_json_error(response, 413, "payload_too_large")
    assert upstreams["auth"].requests == []


def test_request_line_over_sixteen_kilobytes_is_json_414(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    # large_client_header_buffers 4 16k: the request line, CRLF included, fits in 16 KB.
    longest = 16 * 1024 - len("GET  HTTP/1.1\r\n")
    prefix = "/movies/?q="
    fits = client.get(prefix + "a" * (longest - len(prefix)))
    assert fits.status_code == 200
    response = client.get(prefix + "a" * (longest - len(prefix) + 1))
    assert_json_error(response, 414, "uri_too_long")
    assert len(upstreams["catalog"].requests) == 1


def test_method_not_allowed_is_json_405(client: httpx.Client) -> None:
    assert_json_error(client.post("/index.html"), 405, "method_not_allowed")
    assert_json_error(client.delete("/"), 405, "method_not_allowed")


def test_internal_error_is_json_500(start_gateway: Any, plain_stub: StubUpstream) -> None:
    gateway: GatewayProcess = start_gateway(
        CATALOG_UPSTREAM=plain_stub.address,
        AUTH_UPSTREAM=plain_stub.address,
        USER_UPSTREAM=plain_stub.address,
    )
    # A body too big for memory goes to the client-body temp folder; make that impossible.
    temp = gateway.workdir / "temp" / "client_body"
    shutil.rmtree(temp)
    temp.write_text("not a folder")
    with gateway.client() as http:
        response = http.post("/movies/", content=b"x" * 200_000)
    assert_json_error(response, 500, "internal_error")


def test_refused_upstream_is_json_503_at_once_and_names_the_service(
    broken_gateway: GatewayProcess,
) -> None:
    """No stopwatch: the error log says each 503 came from the refused connection itself,
    which nginx answers at once, and not from a timeout running out."""
    log_start = broken_gateway.error_log_size()
    with broken_gateway.client() as http:
        for target in ["/movies/", "/genres", "/directors/1/"]:
            response = http.get(target)
            assert response.status_code == 503
            assert response.json() == {
                "message": "The catalog service is unavailable. Please try again later.",
                "code": "service_unavailable",
            }
            assert response.headers["content-type"] == "application/json"
            assert len(response.headers.get_list("x-request-id")) == 1
            assert response.headers["access-control-allow-origin"] == "https://kino.example"
    log = broken_gateway.error_log_once(log_start, "Connection refused")
    assert log.count("(111: Connection refused) while connecting to upstream") == 3, log
    assert "timed out" not in log, log


def test_unreachable_upstream_is_json_503_after_the_connect_timeout(
    start_gateway: Any, blackhole: str, plain_stub: StubUpstream
) -> None:
    """The connect timeout, not GATEWAY_UPSTREAM_TIMEOUT (30 s here), gives up on a host
    that drops connection attempts: nginx says so in its log, and every connect timeout
    rendered is 2 s, well under the contract's 5 s. The stopwatch checks only the lower
    side (nginx waited), which a loaded machine can only make longer."""
    gateway: GatewayProcess = start_gateway(
        CATALOG_UPSTREAM=plain_stub.address,
        AUTH_UPSTREAM=plain_stub.address,
        USER_UPSTREAM=blackhole,
        GATEWAY_UPSTREAM_TIMEOUT="30s",
    )
    log_start = gateway.error_log_size()
    with gateway.client() as http:
        started = time.monotonic()
        response = http.get("/favorites/movies/")
        elapsed = time.monotonic() - started
    body = assert_json_error(response, 503, "service_unavailable")
    assert body["message"] == "The user service is unavailable. Please try again later."
    assert elapsed >= 1.5
    log = gateway.error_log_once(log_start, "timed out")
    assert "upstream timed out (110: Connection timed out) while connecting to upstream" in log
    config = gateway.rendered_config()
    assert set(re.findall(r"proxy_connect_timeout (\S+);", config)) == {"2s"}


def test_slow_upstream_is_json_504(broken_gateway: GatewayProcess) -> None:
    """GATEWAY_UPSTREAM_TIMEOUT=1s: nginx gives up (504) on a service that answers only
    after SLOW_SECONDS; the stopwatch checks only that it waited (the lower side)."""
    with broken_gateway.client() as http:
        started = time.monotonic()
        response = http.post("/auth/login/", json={"email": "a@x.io", "password": "x" * 8})
        elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json() == {
        "message": "The auth service did not answer in time. Please try again later.",
        "code": "gateway_timeout",
    }
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "https://kino.example"
    assert elapsed >= 0.9
    config = broken_gateway.rendered_config()
    assert "proxy_read_timeout 1s;" in config
    assert "proxy_send_timeout 1s;" in config


def test_other_services_keep_answering_while_one_is_down_or_hung(
    start_gateway: Any, plain_stub: StubUpstream
) -> None:
    """Nothing waits behind a hung service. The auth stub holds its request until the test
    lets it go, and meanwhile every other route answers: a gateway that queued them behind
    it would hang here. The order of events is the proof, not a stopwatch."""
    hung = StubUpstream("hung").start()
    gate = hung.gate = threading.Event()
    gateway: GatewayProcess = start_gateway(
        CATALOG_UPSTREAM=f"127.0.0.1:{free_port()}",  # down: nothing ever listens there
        AUTH_UPSTREAM=hung.address,
        USER_UPSTREAM=plain_stub.address,
        GATEWAY_UPSTREAM_TIMEOUT="120s",  # longer than HANG: only the gate lets it go
    )
    hung_results: list[int] = []

    def call_hung_service() -> None:
        with httpx.Client(base_url=gateway.url, timeout=HANG * 3) as http:
            hung_results.extend(http.get("/auth/login/").status_code for _ in range(2))

    worker = threading.Thread(target=call_hung_service)
    worker.start()
    try:
        deadline = time.monotonic() + HANG
        while not hung.requests:  # auth now holds the first request
            assert time.monotonic() < deadline, "the hung service never got its request"
            time.sleep(0.05)
        with gateway.client() as http:
            for _ in range(5):
                assert http.get("/user/").status_code == 200
                assert http.get("/favorites/movies/").json()["service"] == "plain"
                assert http.get("/movies/").status_code == 503
        # All of that while auth still held the first request.
        assert hung_results == []
        assert len(hung.requests) == 1
    finally:
        gate.set()
        worker.join()
        hung.stop()
    assert hung_results == [200, 200]


def test_restarted_service_is_used_again_at_once(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    catalog = upstreams["catalog"]
    for _ in range(3):
        assert client.get("/movies/").status_code == 200
        catalog.stop()
        for _ in range(3):
            assert_json_error(client.get("/movies/"), 503, "service_unavailable")
        assert client.get("/user/").status_code == 200
        catalog.start()
        assert client.get("/movies/").status_code == 200  # no fail_timeout blackout


# --------------------------------------------------------------------------------------
# CORS, server tokens, gzip
# --------------------------------------------------------------------------------------


def test_cors_headers_on_proxied_responses(client: httpx.Client) -> None:
    response = client.get("/movies/?page=1", headers={"Origin": "https://elsewhere.example"})
    assert response.headers.get_list("access-control-allow-origin") == ["*"]  # upstream's hidden
    assert response.headers["access-control-expose-headers"] == CORS_EXPOSED
    assert response.headers["x-total-count"] == "42"
    assert response.headers["link"] == '</movies/?page=2>; rel="next"'
    assert "access-control-allow-methods" not in response.headers  # preflight only


@pytest.mark.parametrize(
    "target",
    [
        "/movies/",
        "/movies",
        "/genres/3/",
        "/auth/login/",
        "/user/",
        "/favorites/movies/1/",
        "/health",
        "/health/ready",
    ],
)
def test_preflight_is_answered_by_the_gateway(
    client: httpx.Client, upstreams: dict[str, StubUpstream], target: str
) -> None:
    response = client.options(
        target,
        headers={
            "Origin": "https://frontend.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == (
        "GET, POST, PUT, PATCH, DELETE, OPTIONS"
    )
    assert response.headers["access-control-allow-headers"] == (
        "Authorization, Content-Type, X-Request-ID"
    )
    assert response.headers["access-control-max-age"] == "86400"
    assert response.headers["access-control-expose-headers"] == CORS_EXPOSED
    assert len(response.headers.get_list("x-request-id")) == 1
    assert not any(stub.requests for stub in upstreams.values())


def test_configured_cors_origin(broken_gateway: GatewayProcess) -> None:
    with broken_gateway.client() as http:
        for response in (http.get("/user/"), http.get("/nope"), http.options("/user/")):
            assert response.headers.get_list("access-control-allow-origin") == [
                "https://kino.example"
            ]
            assert response.headers["access-control-expose-headers"] == CORS_EXPOSED


def test_no_nginx_version_anywhere(client: httpx.Client, gateway: GatewayProcess) -> None:
    responses = [client.get(target) for target in ["/", "/movies/", "/nope", "/health/ready"]]
    responses.append(client.post("/", content=b"x"))
    for response in responses:
        assert response.headers["server"] == "nginx"
        assert "nginx/" not in response.text
    _, headers, body = raw_request(gateway.port, "GET", "/movies/..%2f..%2finternal")
    assert headers["server"] == ["nginx"]
    assert b"nginx" not in body


def test_json_responses_are_gzipped(client: httpx.Client) -> None:
    target = "/movies/?q=" + "x" * 2000
    with client.stream("GET", target, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["vary"]
        compressed = b"".join(response.iter_raw())
    assert len(compressed) < 1000
    assert json.loads(gzip.decompress(compressed))["path"] == target
    plain = client.get(target, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.json()["path"] == target


# --------------------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/health", "/health/"])
def test_health_is_the_gateway_alone(
    client: httpx.Client, upstreams: dict[str, StubUpstream], target: str
) -> None:
    for stub in upstreams.values():
        stub.stop()
    response = client.get(target)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}


ALL_UP = {"status": "ready", "services": {"catalog": "up", "auth": "up", "user": "up"}}


@pytest.mark.parametrize("target", ["/health/ready", "/health/ready/"])
def test_ready_when_every_service_is_ready(
    client: httpx.Client, upstreams: dict[str, StubUpstream], target: str
) -> None:
    response = client.get(target)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == ALL_UP
    for stub in upstreams.values():  # each service's own readiness was asked, once
        assert stub.paths == ["/health/ready"]


def test_not_ready_when_one_service_is_down(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    upstreams["auth"].stop()
    response = client.get("/health/ready")
    body = assert_json_error(response, 503, "service_unavailable")
    assert body["message"] == "Not ready: the auth service is unavailable."
    assert body["services"] == {"catalog": "up", "auth": "down", "user": "up"}


def test_not_ready_when_two_services_are_down(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    upstreams["catalog"].health_status = 503
    upstreams["user"].stop()  # refuses connections
    response = client.get("/health/ready")
    body = assert_json_error(response, 503, "service_unavailable")
    assert body["message"] == "Not ready: the catalog and user services are unavailable."
    assert body["services"] == {"catalog": "down", "auth": "up", "user": "down"}


def test_not_ready_when_every_service_is_down(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    for stub in upstreams.values():
        stub.health_status = 503
    body = assert_json_error(client.get("/health/ready"), 503, "service_unavailable")
    assert body["message"] == "Not ready: the catalog, auth and user services are unavailable."
    assert body["services"] == {"catalog": "down", "auth": "down", "user": "down"}


@pytest.mark.parametrize("status", [204, 301, 404, 500, 503])
def test_only_200_counts_as_ready(
    client: httpx.Client, upstreams: dict[str, StubUpstream], status: int
) -> None:
    upstreams["catalog"].health_status = status
    body = client.get("/health/ready").json()
    assert body["services"] == {"catalog": "down", "auth": "up", "user": "up"}


def test_probes_send_only_the_gateways_headers(
    client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    client.get(
        "/health/ready",
        headers={"Authorization": "Bearer x", "Content-Length": "0", "X-Request-ID": "probe-1"},
    )
    probe = upstreams["auth"].requests[0]
    assert probe["method"] == "GET"
    assert probe["path"] == "/health/ready"
    assert upstream_headers(probe, "Authorization") == []
    assert upstream_headers(probe, "X-Request-ID") == ["probe-1"]


def test_hung_service_is_reported_down_after_its_two_second_probe(
    gateway: GatewayProcess, client: httpx.Client, upstreams: dict[str, StubUpstream]
) -> None:
    """The user stub holds the probe until the test lets it go, so "down" can only come
    from the probe's own timeout; that timeout is the rendered 2 s, and the stopwatch
    checks only the lower side (the probe waited), which load can only make longer."""
    gate = upstreams["user"].gate = threading.Event()
    try:
        started = time.monotonic()
        response = client.get("/health/ready")
        elapsed = time.monotonic() - started
    finally:
        gate.set()
    body = assert_json_error(response, 503, "service_unavailable")
    assert body["services"] == {"catalog": "up", "auth": "up", "user": "down"}
    assert elapsed >= 1.5
    probes = re.findall(
        r"location = /_gateway/probe/(\w+) \{(.*?)\}", gateway.rendered_config(), re.S
    )
    assert [name for name, _ in probes] == ["catalog", "auth", "user"]
    for _, block in probes:
        for directive in ("proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout"):
            assert f"{directive} 2s;" in block, block


def test_readiness_recovers(client: httpx.Client, upstreams: dict[str, StubUpstream]) -> None:
    upstreams["catalog"].stop()
    assert client.get("/health/ready").status_code == 503
    upstreams["catalog"].start()
    assert client.get("/health/ready").json() == ALL_UP


# --------------------------------------------------------------------------------------
# Nothing but the public routes reaches a service
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/internal/x",
        "/internal/users/1",
        "/metrics",
        # A service's own /docs and /openapi.json stay out of reach: the gateway answers
        # those two paths itself with the public reference (test_api_docs.py).
        "/redoc",
        "/docs/oauth2-redirect",
        "/health/live",
        "/_gateway/error",
        "/_gateway/probe/catalog",
    ],
)
def test_internal_endpoints_are_not_reachable(
    client: httpx.Client, upstreams: dict[str, StubUpstream], target: str
) -> None:
    assert_json_error(client.get(target), 404, "not_found")
    assert not any(stub.requests for stub in upstreams.values())


PATH_TRICKS = [
    "/auth/../internal/x",
    "/auth/%2e%2e/internal/x",
    "/auth/%2E%2E/internal/x",
    "/auth/.%2e/internal/x",
    "/movies/..%2f..%2finternal",
    "/movies/..%2F..%2Finternal",
    "/movies/%2e%2e%2f%2e%2e%2finternal",
    "/internal/../movies/5",
    "/internal/%2e%2e/movies/5",
    "/metrics/../user/",
    "/user/../metrics",
    "/user/./../internal",
    "//internal/x",
    "//movies/",
    "/movies//../../internal",
    "/movies/%2finternal",
    "/movies\\..\\internal",
    "/movies/%5c..%5cinternal",
    "/favorites/..;/internal",
    "/auth/..%3Binternal",
    "/movies/5/..",
]


@pytest.mark.parametrize("target", PATH_TRICKS)
def test_path_tricks_never_reach_a_non_public_path(
    gateway: GatewayProcess, upstreams: dict[str, StubUpstream], target: str
) -> None:
    status, headers, body = raw_request(gateway.port, "GET", target)
    assert status in (400, 404), (status, body)
    assert headers["content-type"] == ["application/json"]
    assert json.loads(body)["code"] in ("bad_request", "not_found")
    for stub in upstreams.values():
        for path in stub.paths:
            decoded = unquote(urlsplit(path).path)
            assert PUBLIC_PATH.match(decoded), (target, path)
            assert "/." not in decoded
            assert "\\" not in decoded


def test_public_path_with_encoded_characters_still_works(
    gateway: GatewayProcess, upstreams: dict[str, StubUpstream]
) -> None:
    status, _, body = raw_request(gateway.port, "GET", "/movies/?q=..%2F..%2Finternal&year=2018")
    assert status == 200
    assert json.loads(body)["path"] == "/movies/?q=..%2F..%2Finternal&year=2018"
    status, _, body = raw_request(gateway.port, "GET", "/movies/%D0%BA%D0%B8%D0%BD%D0%BE/")
    assert status == 200
    assert json.loads(body)["path"] == "/movies/%D0%BA%D0%B8%D0%BD%D0%BE/"


# --------------------------------------------------------------------------------------
# The web app
# --------------------------------------------------------------------------------------


def test_landing_page(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert '<html lang="ru">' in page
    assert '<meta charset="utf-8">' in page
    assert 'name="viewport"' in page
    assert "Киноархив" in page
    assert "/movies/?status=new&page=1" in page
    for path in [
        "/movies/",
        "/genres/",
        "/directors/",
        "/auth/register/",
        "/auth/login/",
        "/user/",
        "/favorites/movies/",
    ]:
        assert f"<code>{path}</code>" in page
    assert client.get("/index.html").text == page
    # the web app: its module and stylesheet are served with the right types
    assert '<script type="module" src="/js/app.js"></script>' in page
    script = client.get("/js/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("application/javascript", "text/javascript"))
    css = client.get("/css/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
