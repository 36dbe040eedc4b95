"""The end-to-end suite talks to a running deployment over HTTP, and to nothing else.

- `E2E_BASE_URL=http://host:port`: test that deployment (compose, a server, ...).
- Otherwise the suite starts the local stack itself (scripts/stack.py, with the
  project's virtual environment) on free ports in a temporary data folder, and stops
  it afterwards. With `TEST_DATABASE_URL` pointing at a PostgreSQL server, each service
  gets a fresh database there (made and dropped with psql).

Fixtures: `base_url` (the gateway's URL) and `api` (an httpx.Client on it), and
`new_stack` for tests that need a stack of their own (other settings, or processes to
kill: `ProcessStack`), stopped when the test module ends.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
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

    def __init__(self, env: Mapping[str, str] | None = None, server: str | None = None) -> None:
        """`env`: settings added to the stack's environment; `server`: the PostgreSQL
        server for its databases (default TEST_DATABASE_URL; empty: SQLite)."""
        self.folder = Path(tempfile.mkdtemp(prefix="kinoarchive-e2e-"))
        self.ports = dict(zip(("gateway", *SERVICES), _free_ports(4), strict=True))
        self.base_url = f"http://127.0.0.1:{self.ports['gateway']}"
        self.extra_env = dict(env or {})
        if server is None:
            server = os.environ.get("TEST_DATABASE_URL", "")
        self.server = server.strip()
        self.databases: list[str] = []
        self.log = self.folder / "stack.log"
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.update({f"{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        env.update(HOST="127.0.0.1", DATA_DIR=str(self.folder / "data"), NO_COLOR="1")
        # Every request comes from 127.0.0.1, and the suite makes many auth calls: the
        # gateway's flood limit on /auth/ (gateway/tests check its defaults) is raised.
        env.update(GATEWAY_AUTH_RATE="1000r/s", GATEWAY_AUTH_BURST="1000")
        if self.server:
            suffix = uuid.uuid4().hex[:10]
            for name in SERVICES:
                database = f"e2e_{name}_{suffix}"
                _psql(self.server, f'CREATE DATABASE "{database}"')
                self.databases.append(database)
                env[f"{name.upper()}_DATABASE_URL"] = _database_url(self.server, database)
        env.update(self.extra_env)
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


class ProcessStack(LocalStack):
    """The same stack with each service and nginx a process of its own, so that a test
    can kill -9, pause or restart one of them: scripts/stack.py --prepare-only (migrations,
    seed, gateway configuration), then scripts/stack.py --only NAME for each process
    (which execs the service itself: the Popen's pid is the service's)."""

    NAMES = (*SERVICES, "gateway")

    def __init__(self, env: Mapping[str, str] | None = None, server: str | None = None) -> None:
        super().__init__(env, server)
        self.env: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _stack_py(self, *args: str) -> list[str]:
        python = ROOT / ".venv" / "bin" / "python"
        return [str(python if python.exists() else sys.executable), "scripts/stack.py", *args]

    def url(self, name: str) -> str:
        """The process's own address (the gateway's is `base_url`)."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self) -> None:
        self.env = self.environment()
        with self.log.open("ab") as log:
            prepared = subprocess.run(
                self._stack_py("--prepare-only"), cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, timeout=READY_TIMEOUT, check=False,
            )  # fmt: skip
        if prepared.returncode != 0:
            output = self.output()
            self.stop()
            pytest.fail(f"scripts/stack.py --prepare-only failed:\n{output[-6000:]}")
        for name in SERVICES:
            self.launch(name)
        for name in SERVICES:
            self.wait_ready(name)
        self.launch("gateway")
        self.wait_ready("gateway")

    def launch(self, name: str) -> None:
        """Start one process (again); see wait_ready."""
        with self.log.open("ab") as log:
            self.processes[name] = subprocess.Popen(
                self._stack_py("--only", name), cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_ready(self, name: str, timeout: float = READY_TIMEOUT) -> float:
        """Poll the process's own /health/ready until 200; the seconds it took."""
        began = time.monotonic()
        process = self.processes[name]
        while time.monotonic() - began < timeout:
            if process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url(name)}/health/ready", timeout=2).status_code == 200:
                    return time.monotonic() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"{name} did not become ready:\n{self.output()[-6000:]}")

    def kill(self, name: str) -> None:
        """kill -9, and reap it."""
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def restart(self, name: str) -> float:
        """Start a killed process again; the seconds until it answers ready."""
        assert self.processes[name].poll() is not None, f"{name} still runs"
        self.launch(name)
        return self.wait_ready(name)

    def pause(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        super().stop()


@pytest.fixture(scope="module")
def new_stack() -> Iterator[Callable[..., LocalStack]]:
    """Starts stacks of a test module's own: `new_stack(env={...})` a whole stack with
    extra settings (scripts/stack.py), `new_stack(processes=True)` a ProcessStack;
    `server=` another PostgreSQL server than TEST_DATABASE_URL ("" for SQLite).
    Every stack it started stops when the module ends."""
    started: list[LocalStack] = []

    def make(
        *, processes: bool = False, env: Mapping[str, str] | None = None,
        server: str | None = None,
    ) -> LocalStack:  # fmt: skip
        stack = (ProcessStack if processes else LocalStack)(env, server)
        started.append(stack)
        stack.start()
        return stack

    try:
        yield make
    finally:
        for stack in reversed(started):
            stack.stop()


# The suite registers hundreds of accounts, and fails logins, from one address
# (127.0.0.1): the session's stack raises those per-address limits (its defaults: 20
# registrations an hour, 100 failed logins in 15 minutes). The limits themselves are tested
# with their defaults, on a stack of their own (security/test_login_abuse_and_asymmetric_keys.py).
# scripts/compose.py raises the same for the composed stack it tests.
SUITE_AUTH_LIMITS = {
    "AUTH_REGISTER_MAX_PER_ADDRESS": "1000000",
    "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
}


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    given = os.environ.get("E2E_BASE_URL", "").strip()
    if given:
        yield given.rstrip("/")
        return
    stack = LocalStack(env=SUITE_AUTH_LIMITS)
    stack.start()
    try:
        yield stack.base_url
    finally:
        stack.stop()


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=15, follow_redirects=False) as client:
        yield client
