"""Fixtures for the gateway tests: a real nginx in front of stub upstreams.

The stubs are standard-library HTTP servers running in threads. Each answers every request
with JSON echoing what it received (method, raw request target, parsed query, headers), so a
test sees exactly what nginx forwarded. A stub can be made "not ready" (``health_status``:
what its ``GET /health/ready`` answers, 200 by default), slow (``delay`` seconds before
answering), or stopped (nothing listens on its port; restarted on the same port).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

GATEWAY_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(GATEWAY_DIR))

import render  # noqa: E402

SERVICES = ("catalog", "auth", "user")
NGINX_MISSING = (
    "nginx was not found (looked on PATH and at /usr/sbin/nginx). The gateway tests run a "
    "real nginx: install it, e.g. `apt-get install nginx-light`."
)
UPSTREAM_TIMEOUT = "1s"
# Seconds that bound a wait for an event which would otherwise hang. Never a pass/fail line
# between fast and slow: a loaded machine takes longer, far from this.
HANG = 60.0
SLOW_SECONDS = 10.0  # a slow stub's delay: many times the timeouts it outlasts

_ports_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port that nothing listens on now (and that this session has not handed out)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _ports_handed_out:
            _ports_handed_out.add(port)
            return port


# --------------------------------------------------------------------------------------
# Stub upstreams
# --------------------------------------------------------------------------------------


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stub: StubUpstream) -> None:
        self.stub = stub
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__((stub.host, stub.port), _EchoHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client (nginx) that gave up on a slow answer is expected here."""


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StubServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _answer(self) -> None:
        stub = self.server.stub
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = urlsplit(self.path)
        record = {
            "method": self.command,
            "path": self.path,
            "query": parse_qs(target.query, keep_blank_values=True),
            "headers": [[name, value] for name, value in self.headers.items()],
            "body_length": len(body),
            "client_port": self.client_address[1],
        }
        stub.requests.append(record)
        if stub.delay:
            time.sleep(stub.delay)
        if stub.gate is not None:  # held until the test opens it (HANG bounds a forgotten one)
            stub.gate.wait(HANG)

        status = 200
        if target.path == "/health/ready":
            status = stub.health_status
        if self.headers.get("X-Stub-Status"):
            status = int(self.headers["X-Stub-Status"])
        payload = json.dumps({"service": stub.name, **record}).encode()
        # X-Stub-ETag: answer with that ETag (what the catalog does), and 304 to a request
        # whose If-None-Match names it (the gateway's cache revalidating).
        etag = f'"{self.headers["X-Stub-ETag"]}"' if self.headers.get("X-Stub-ETag") else None
        if etag is not None and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return

        self.send_response(status)
        if etag is not None:
            self.send_header("ETag", etag)
            self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        # Headers the gateway must hide (it sets its own) or pass through.
        self.send_header("X-Request-ID", "set-by-the-upstream")
        self.send_header("Access-Control-Allow-Origin", "https://upstream.invalid")
        self.send_header("X-Total-Count", "42")
        self.send_header("Link", '</movies/?page=2>; rel="next"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer  # noqa: N815


class StubUpstream:
    """A stand-in for one service, on a fixed port, in a background thread."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.name = name
        self.host = host
        self.port = port or free_port()
        self.health_status = 200
        self.delay = 0.0
        self.gate: threading.Event | None = None  # when set: answers wait until it opens
        self.requests: list[dict[str, Any]] = []
        self._server: _StubServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def paths(self) -> list[str]:
        return [record["path"] for record in self.requests]

    def start(self) -> StubUpstream:
        if self._server is None:
            self._server = _StubServer(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"stub-{self.name}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop open (keep-alive) connections: the port is then closed."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            connections = list(server.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        self.health_status = 200
        self.delay = 0.0
        self.gate = None
        self.requests.clear()
        self.start()


# --------------------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------------------


class GatewayProcess:
    """nginx started in the foreground from a configuration that render.py wrote."""

    def __init__(
        self, nginx: str, workdir: Path, values: dict[str, str], mode: str = "local"
    ) -> None:
        self.nginx = nginx
        self.workdir = workdir
        self.mode = mode
        # Every placeholder explicit: the tests never depend on the caller's environment.
        self.values = {
            "WEB_ROOT": str(render.WEB_ROOT),
            "CORS_ALLOW_ORIGIN": "*",
            "GATEWAY_UPSTREAM_TIMEOUT": UPSTREAM_TIMEOUT,
            # render.py's defaults, whatever the caller's environment holds.
            "GATEWAY_AUTH_RATE": render.DEFAULT_AUTH_RATE,
            "GATEWAY_AUTH_BURST": render.DEFAULT_AUTH_BURST,
            "GATEWAY_TRUSTED_PROXIES": "",
            "GATEWAY_TLS_CERT": "",
            "GATEWAY_TLS_KEY": "",
            **values,
        }
        self.port = int(values["GATEWAY_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout_path = workdir / "nginx.stdout"
        self.stderr_path = workdir / "nginx.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self._files: list[IO[bytes]] = []

    def start(self, conf: Path | None = None) -> GatewayProcess:
        """Render the configuration into the work folder and start nginx; with *conf*,
        start that configuration instead (rendered elsewhere, as scripts/stack.py does)."""
        if conf is None:
            conf = render.write_local_config(self.workdir, self.values, mode=self.mode)
        stdout = self.stdout_path.open("wb")
        stderr = self.stderr_path.open("wb")
        self._files = [stdout, stderr]
        self.process = subprocess.Popen(
            [self.nginx, "-p", str(self.workdir), "-c", str(conf), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group: the workers go with the master
        )
        deadline = time.monotonic() + HANG
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"nginx exited at start:\n{self.stderr_path.read_text()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"nginx did not answer on port {self.port}:\n{self.stderr_path.read_text()}")

    def _answers(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            connection.request("GET", "/health")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()  # SIGTERM: fast shutdown of master and workers
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        for file in self._files:
            file.close()
        self._files = []

    def access_log(self) -> list[dict[str, Any]]:
        lines = self.stdout_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def error_log_size(self) -> int:
        return self.stderr_path.stat().st_size

    def error_log_once(self, since: int, text: str) -> str:
        """The error log written after byte `since`, once it holds `text` (nginx writes
        the line as it fails the request; waiting for it only bounds a hang)."""
        deadline = time.monotonic() + HANG
        while True:
            with self.stderr_path.open("rb") as log:
                log.seek(since)
                written = log.read().decode(errors="replace")
            if text in written or time.monotonic() > deadline:
                return written
            time.sleep(0.05)

    def rendered_config(self) -> str:
        """Every file render.py wrote for this nginx (nginx.conf and what it includes)."""
        return "\n".join(path.read_text() for path in sorted(self.workdir.glob("*.conf")))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


def raw_request(
    port: int, method: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, list[str]], bytes]:
    """Send *target* exactly as written (http.client does not normalise dot segments)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, target, headers=headers or {})
        response = connection.getresponse()
        received: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            received.setdefault(name.lower(), []).append(value)
        return response.status, received, response.read()
    finally:
        connection.close()


def nginx_test(nginx: str, conf: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of a configuration whose folder is its prefix."""
    return subprocess.run(
        [nginx, "-t", "-p", str(conf.parent), "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    found = render.find_nginx()
    if found is None:
        pytest.fail(NGINX_MISSING, pytrace=False)
    return found


@pytest.fixture
def start_gateway(nginx_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start extra nginx instances with the given placeholder values; stopped afterwards."""
    started: list[GatewayProcess] = []

    def start(mode: str = "local", **values: str) -> GatewayProcess:
        merged = {"GATEWAY_PORT": str(free_port()), **values}
        gateway = GatewayProcess(nginx_binary, tmp_path_factory.mktemp("gateway"), merged, mode)
        started.append(gateway)
        return gateway.start()

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture(scope="module")
def stubs() -> Iterator[dict[str, StubUpstream]]:
    upstreams = {name: StubUpstream(name).start() for name in SERVICES}
    yield upstreams
    for upstream in upstreams.values():
        upstream.stop()


@pytest.fixture(scope="module")
def gateway(
    nginx_binary: str, stubs: dict[str, StubUpstream], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """The main gateway: all three services are stubs, upstream timeout 1 s."""
    values = {
        "GATEWAY_PORT": str(free_port()),
        "CATALOG_UPSTREAM": stubs["catalog"].address,
        "AUTH_UPSTREAM": stubs["auth"].address,
        "USER_UPSTREAM": stubs["user"].address,
        "GATEWAY_UPSTREAM_TIMEOUT": UPSTREAM_TIMEOUT,
    }
    process = GatewayProcess(nginx_binary, tmp_path_factory.mktemp("gateway"), values).start()
    yield process
    process.stop()


@pytest.fixture
def upstreams(stubs: dict[str, StubUpstream]) -> dict[str, StubUpstream]:
    """The main gateway's stubs, each running, ready, fast, with an empty request record."""
    for stub in stubs.values():
        stub.reset()
    return stubs


@pytest.fixture
def client(gateway: GatewayProcess, upstreams: dict[str, StubUpstream]) -> Iterator[httpx.Client]:
    with gateway.client() as http:
        yield http


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An address where connection attempts hang, like a host that is down.

    The socket listens with the smallest backlog and never accepts; once a few connection
    attempts fill its queue, Linux drops further SYNs, so connecting times out.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    for _ in range(4):
        filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(address)
        fillers.append(filler)
    # The queue is full once a filler's handshake completed: it turns writable.
    _, connected, _ = select.select([], fillers, [], HANG)
    assert connected, "no connection reached the listener's queue"
    yield f"{address[0]}:{address[1]}"
    for sock in [*fillers, listener]:
        sock.close()


@pytest.fixture(scope="module")
def slow_stub() -> Iterator[StubUpstream]:
    stub = StubUpstream("slow").start()
    # Far longer than the 1 s upstream timeout and the 2 s readiness probe: that nginx gives
    # up first stays true however late a loaded machine runs its timers.
    stub.delay = SLOW_SECONDS
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def plain_stub() -> Iterator[StubUpstream]:
    stub = StubUpstream("plain").start()
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def broken_gateway(
    nginx_binary: str,
    slow_stub: StubUpstream,
    plain_stub: StubUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    """Catalog on a closed port, auth too slow, user fine; a configured CORS origin."""
    values = {
        "GATEWAY_PORT": str(free_port()),
        "CATALOG_UPSTREAM": f"127.0.0.1:{free_port()}",  # nothing ever listens there
        "AUTH_UPSTREAM": slow_stub.address,
        "USER_UPSTREAM": plain_stub.address,
        "GATEWAY_UPSTREAM_TIMEOUT": UPSTREAM_TIMEOUT,
        "CORS_ALLOW_ORIGIN": "https://kino.example",
    }
    process = GatewayProcess(nginx_binary, tmp_path_factory.mktemp("gateway"), values).start()
    yield process
    process.stop()
