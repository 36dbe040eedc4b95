"""PostgreSQL stopped under a running stack, then started again.

The machine's shared PostgreSQL server is never touched: the test starts a private
cluster of its own (initdb and pg_ctl, in a temporary folder, on a free port, trust
authentication; as the `postgres` account when the tests run as root, since initdb
refuses root), runs a stack on it, stops the cluster (pg_ctl stop -m fast), and starts it
again. While it is down every route that needs a database and /health/ready answer 503
JSON (never 500, never a hang); once it is back the services recover by themselves.
Skipped only when no PostgreSQL server binaries are installed.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

PASSWORD = "database outage password"
# Seconds that bound a wait that would otherwise hang (the stack never recovering), never
# a pass/fail line between fast and slow. While the database is down, what shows that each
# service answered by itself, without waiting for the gateway to give up, is its own 503:
# the gateway's would be a 504 gateway_timeout.
HANG = 120.0


def _binaries() -> Path | None:
    """The bin folder of the newest PostgreSQL server installed, if any."""
    found = sorted(
        (Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")),
        key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Cluster:
    bin: Path
    folder: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str, timeout: float = 60) -> None:
        subprocess.run([*self.as_user, *command], check=True, timeout=timeout, capture_output=True)

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-U", "postgres",
            "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.folder} -c fsync=off"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-l",
            str(self.folder / "postgres.log"), "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", mode,
                  "-w", "-t", "60", "stop")  # fmt: skip

    def running(self) -> bool:
        status = subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "status"],
            capture_output=True,
            check=False,
        )
        return status.returncode == 0


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    binaries = _binaries()
    if binaries is None or not (binaries / "initdb").exists():
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) are installed")
    if shutil.which("psql") is None:
        pytest.skip("the psql client is not installed")
    folder = Path(tempfile.mkdtemp(prefix="kinoarchive-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no postgres account to run initdb as")
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    cluster = Cluster(bin=binaries, folder=folder, port=_free_port(), as_user=as_user)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(cluster: Cluster, new_stack: Callable[..., Any]) -> Any:
    # Started after the cluster, so stopped before it (its databases are dropped there).
    return new_stack(server=cluster.url)


def test_services_answer_503_while_postgres_is_down_and_recover_by_themselves(
    cluster: Cluster, stack: Any
) -> None:
    client = httpx.Client(base_url=stack.base_url, timeout=HANG)
    email = f"outage-{uuid.uuid4().hex[:12]}@example.org"
    assert client.post("/auth/register/", json={"email": email, "password": PASSWORD}).is_success
    pair = client.post("/auth/login/", json={"email": email, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    movie_id = client.get("/movies/", params={"page": 1}).json()[0]["id"]
    assert client.post(f"/favorites/movies/{movie_id}/", headers=headers).status_code == 201

    def needs_a_database() -> dict[str, Callable[[], httpx.Response]]:
        fresh = uuid.uuid4().hex  # an address the gateway's catalog cache has never seen
        return {
            "movies": lambda: client.get("/movies/", params={"q": fresh}),
            "movie": lambda: client.get(f"/movies/{movie_id}/", params={"nocache": fresh}),
            "genres": lambda: client.get("/genres/", params={"nocache": fresh}),
            "login": lambda: client.post(
                "/auth/login/", json={"email": email, "password": PASSWORD}
            ),
            "register": lambda: client.post(
                "/auth/register/", json={"email": f"{fresh}@example.org", "password": PASSWORD}
            ),
            "refresh": lambda: client.put(
                "/auth/login/", json={"refresh_token": pair["refresh_token"]}
            ),
            "profile": lambda: client.get("/user/", headers=headers),
            "rename": lambda: client.patch("/user/", json={"name": "X"}, headers=headers),
            "bookmarks": lambda: client.get("/favorites/movies/", headers=headers),
            "unbookmark": lambda: client.delete(f"/favorites/movies/{movie_id}/", headers=headers),
        }

    cluster.stop("fast")
    try:
        # Twice: the first request may meet a pooled connection the server has closed.
        for _ in range(2):
            for name, send in needs_a_database().items():
                response = send()
                assert response.status_code == 503, (
                    f"{name}: {response.status_code} {response.text}"
                )
                body = response.json()
                assert body["code"] == "service_unavailable", name
                assert body["message"], name
        ready = client.get("/health/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json()["services"] == {"catalog": "down", "auth": "down", "user": "down"}

        # What needs no database still works: the gateway itself and token checks.
        assert client.get("/health").status_code == 200
        assert client.get("/user/", headers={"Authorization": "Bearer x"}).status_code == 401
    finally:
        cluster.start()

    deadline = time.monotonic() + HANG
    while client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline, "the stack did not recover by itself"
        time.sleep(0.2)
    for name, send in needs_a_database().items():
        response = send()
        assert response.status_code < 500, f"{name}: {response.status_code} {response.text}"
    # Nothing written before the outage was lost (the refresh token was rotated above).
    assert client.get("/user/", headers=headers).json()["email"] == email
    client.close()
