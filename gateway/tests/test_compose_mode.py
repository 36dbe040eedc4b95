"""The compose rendering: service names resolved at request time, as under Docker.

A small DNS server stands in for Docker's (127.0.0.11): it answers each service name with
the addresses a test gives it, the way Docker's DNS answers with the addresses of every
replica of a scaled service. The replicas are stub upstreams on 127.0.0.2, 127.0.0.3, ...
(all loopback on Linux), on one shared port, as replicas share the container port.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import render
from conftest import HANG, GatewayProcess, StubUpstream, free_port, nginx_test

COMPOSE_VALUES = {
    "GATEWAY_PORT": "8000",
    "CATALOG_UPSTREAM": "catalog-service:8000",
    "AUTH_UPSTREAM": "auth-service:8000",
    "USER_UPSTREAM": "user-service:8000",
    "WEB_ROOT": "/usr/share/nginx/kinoarchive",
    "CORS_ALLOW_ORIGIN": "*",
    "GATEWAY_UPSTREAM_TIMEOUT": "30s",
    "GATEWAY_RESOLVER": "127.0.0.11",
}
RESOLVER_VALID_SECONDS = 5  # `valid=` of the resolver directive


def test_compose_rendering_passes_nginx_t_although_the_names_do_not_resolve(
    nginx_binary: str, tmp_path: Path
) -> None:
    conf = render.write_local_config(tmp_path, COMPOSE_VALUES, mode="compose")
    upstreams = (tmp_path / "upstreams.conf").read_text()
    assert "resolver 127.0.0.11 valid=5s ipv6=off;" in upstreams
    assert "default  catalog-service:8000;" in upstreams
    directives = [line.strip() for line in upstreams.splitlines() if not line.startswith("#")]
    assert not any(line.startswith("upstream ") for line in directives)
    result = nginx_test(nginx_binary, conf)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_local_rendering_would_refuse_names_that_do_not_resolve(
    nginx_binary: str, tmp_path: Path
) -> None:
    """Why compose has a mode of its own: upstream groups resolve their names at start."""
    conf = render.write_local_config(tmp_path, COMPOSE_VALUES, mode="local")
    result = nginx_test(nginx_binary, conf)
    assert result.returncode != 0
    assert "host not found in upstream" in result.stderr


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(render.RenderError, match="unknown mode"):
        render.write_local_config(tmp_path, mode="swarm")


# --------------------------------------------------------------------------------------
# A live gateway in compose mode, with a DNS server of our own
# --------------------------------------------------------------------------------------


class FakeDns:
    """Answers A queries from `records` (name -> addresses); NXDOMAIN for other names."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.queries: list[str] = []
        self.asked_at: list[tuple[float, str]] = []  # (time.monotonic(), name) per query
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-dns", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                packet, client = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(ValueError, IndexError, struct.error, OSError):
                self.sock.sendto(self._answer(packet), client)

    def _answer(self, packet: bytes) -> bytes:
        (query_id,) = struct.unpack("!H", packet[:2])
        labels, offset = [], 12
        while packet[offset]:
            length = packet[offset]
            labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii"))
            offset += 1 + length
        question = packet[12 : offset + 5]  # name, its terminating zero, type, class
        qtype = struct.unpack("!H", packet[offset + 1 : offset + 3])[0]
        name = ".".join(labels).lower()
        self.queries.append(name)
        self.asked_at.append((time.monotonic(), name))
        addresses = self.records.get(name)
        if addresses is None:
            return struct.pack("!HHHHHH", query_id, 0x8183, 1, 0, 0, 0) + question
        answers = b""
        if qtype == 1:  # A
            for address in addresses:
                answers += struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(address)
        count = len(addresses) if qtype == 1 else 0
        return struct.pack("!HHHHHH", query_id, 0x8180, 1, count, 0, 0) + question + answers

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def dns() -> Iterator[FakeDns]:
    server = FakeDns()
    yield server
    server.stop()


@pytest.fixture
def replicas() -> Iterator[dict[str, StubUpstream]]:
    """Replicas of the catalog (two) and of auth and user (one each), all on one port."""
    port = free_port()
    stubs = {
        "catalog-1": StubUpstream("catalog-1", "127.0.0.2", port),
        "catalog-2": StubUpstream("catalog-2", "127.0.0.3", port),
        "auth": StubUpstream("auth", "127.0.0.4", port),
        "user": StubUpstream("user", "127.0.0.5", port),
    }
    for stub in stubs.values():
        stub.start()
    yield stubs
    for stub in stubs.values():
        stub.stop()


@pytest.fixture
def compose_gateway(
    start_gateway: Any, dns: FakeDns, replicas: dict[str, StubUpstream]
) -> GatewayProcess:
    port = replicas["auth"].port
    dns.records = {
        "catalog-service": [replicas["catalog-1"].host],
        "auth-service": [replicas["auth"].host],
        "user-service": [replicas["user"].host],
    }
    gateway: GatewayProcess = start_gateway(
        mode="compose",
        CATALOG_UPSTREAM=f"catalog-service:{port}",
        AUTH_UPSTREAM=f"auth-service:{port}",
        USER_UPSTREAM=f"user-service:{port}",
        GATEWAY_RESOLVER=dns.address,
    )
    return gateway


def served_by(gateway: GatewayProcess, path: str, count: int) -> list[str]:
    with gateway.client() as http:
        return [http.get(path).json()["service"] for _ in range(count)]


def test_routes_and_readiness_work_through_the_resolver(
    compose_gateway: GatewayProcess, dns: FakeDns
) -> None:
    assert set(served_by(compose_gateway, "/movies/?page=1", 3)) == {"catalog-1"}
    assert set(served_by(compose_gateway, "/auth/login/", 2)) == {"auth"}
    assert set(served_by(compose_gateway, "/favorites/movies/", 2)) == {"user"}
    with compose_gateway.client() as http:
        ready = http.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["services"] == {"catalog": "up", "auth": "up", "user": "up"}
        assert http.get("/metrics").status_code == 404
    assert {"catalog-service", "auth-service", "user-service"} <= set(dns.queries)


def test_new_replicas_get_traffic_after_the_names_are_resolved_again(
    compose_gateway: GatewayProcess, dns: FakeDns, replicas: dict[str, StubUpstream]
) -> None:
    assert set(served_by(compose_gateway, "/movies/", 4)) == {"catalog-1"}
    # docker compose up --scale catalog-service=2: the name now has two addresses.
    changed_at = time.monotonic()
    dns.records["catalog-service"] = [replicas["catalog-1"].host, replicas["catalog-2"].host]
    deadline = changed_at + HANG  # bounds a hang only
    while "catalog-2" not in served_by(compose_gateway, "/movies/", 1):
        assert time.monotonic() < deadline, "the new replica got no traffic"
        time.sleep(0.2)
    # Not before expiry: nginx asks again only once the answer it kept has lived its
    # `valid=5s` (whole seconds: at least 4 s). Both times are the DNS server's, taken as
    # each query arrives and before it is answered, so a loaded machine can only make
    # the gap longer, whatever the requests in between.
    asked = [at for at, name in dns.asked_at if name == "catalog-service"]
    assert any(at > changed_at for at in asked)  # the new replica came from a new answer
    gaps = [later - earlier for earlier, later in itertools.pairwise(asked)]
    assert gaps
    assert min(gaps) >= RESOLVER_VALID_SECONDS - 1, gaps
    assert set(served_by(compose_gateway, "/movies/", 16)) == {"catalog-1", "catalog-2"}
    # A replica that stops before the DNS forgets it: its refused connections move on.
    replicas["catalog-1"].stop()
    assert set(served_by(compose_gateway, "/movies/", 8)) == {"catalog-2"}


def test_a_name_that_does_not_resolve_is_a_json_503(
    compose_gateway: GatewayProcess, dns: FakeDns
) -> None:
    del dns.records["user-service"]  # scaled to zero: Docker's DNS forgets the name
    log_start = compose_gateway.error_log_size()
    with compose_gateway.client() as http:
        response = http.get("/favorites/movies/", headers={"X-Request-ID": "nx-1"})
        assert response.status_code == 503
        assert response.json() == {
            "message": "The user service is unavailable. Please try again later.",
            "code": "service_unavailable",
        }
        # At once, on the DNS server's answer (no such name), not after a resolver
        # timeout: nginx's log says which, so no stopwatch is needed.
        log = compose_gateway.error_log_once(log_start, "could not be resolved")
        assert "user-service could not be resolved (3: Host not found)" in log, log
        assert "timed out" not in log, log
        ready = http.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["services"] == {"catalog": "up", "auth": "up", "user": "down"}
