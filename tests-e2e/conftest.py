"""The end-to-end suite talks to a running deployment over HTTP, and to nothing else.

- `E2E_BASE_URL=http://host:port`: test that deployment (compose, a server, ...).
- Otherwise the suite starts the local stack itself (scripts/stack.py, with the
  project's virtual environment) on free ports in a temporary data folder, and stops
  it afterwards. With `TEST_DATABASE_URL` pointing at a PostgreSQL server, each service
  gets a fresh database there (made and dropped with psql).

Fixtures: `base_url` (the gateway's URL) and `api` (an httpx.Client on it).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("catalog", "auth", "user")
READY_TIMEOUT = 90.0


def _free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [s.getsockname()[1] for s in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _psql(server: str, sql: str) -> None:
    subprocess.run(["psql", server, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True)


def _database_url(server: str, name: str) -> str:
    parts = urlsplit(server)
    scheme = "postgresql+asyncpg"
    return urlunsplit((scheme, parts.netloc, f"/{name}", parts.query, ""))


class LocalStack:
    """scripts/stack.py in a subprocess, with its output kept for failure reports."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kinoarchive-e2e-"))
        self.ports = dict(zip(("gateway", *SERVICES), _free_ports(4), strict=True))
        self.base_url = f"http://127.0.0.1:{self.ports['gateway']}"
        self.server = os.environ.get("TEST_DATABASE_URL", "").strip()
        self.databases: list[str] = []
        self.log = self.folder / "stack.log"
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.update({f"{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        env.update(HOST="127.0.0.1", DATA_DIR=str(self.folder / "data"), NO_COLOR="1")
        if self.server:
            suffix = uuid.uuid4().hex[:10]
            for name in SERVICES:
                database = f"e2e_{name}_{suffix}"
                _psql(self.server, f'CREATE DATABASE "{database}"')
                self.databases.append(database)
                env[f"{name.upper()}_DATABASE_URL"] = _database_url(self.server, database)
        return env

    def start(self) -> None:
        python = ROOT / ".venv" / "bin" / "python"
        command = [str(python if python.exists() else sys.executable), "scripts/stack.py"]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.base_url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        pytest.fail(f"the local stack did not become ready:\n{self.output()[-6000:]}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for database in self.databases:
            _psql(self.server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self.databases.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    given = os.environ.get("E2E_BASE_URL", "").strip()
    if given:
        yield given.rstrip("/")
        return
    stack = LocalStack()
    stack.start()
    try:
        yield stack.base_url
    finally:
        stack.stop()


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=15, follow_redirects=False) as client:
        yield client
