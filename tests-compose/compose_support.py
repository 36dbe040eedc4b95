"""What the composed-stack tests share: the figures they report, request ids the
services log, replica counts, and a steady stream of requests (conftest.py has the
fixtures)."""

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from compose import Stack

ROOT = Path(__file__).resolve().parent.parent

PASSWORD = "compose-test-password"
# Lines for the end of the run: the figures the issue asks to see (failures at a kill, ...).
REPORT: list[str] = []


def report(line: str) -> None:
    REPORT.append(line)


def step(stack: Stack, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A compose.py step exactly as its make target runs it, on the test stack's env file;
    its error output is kept for the test to read."""
    command = [sys.executable, str(ROOT / "scripts" / "compose.py"), "--env-file",
               str(stack.env_file), name, *args]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, stderr=subprocess.PIPE, text=True, check=False)
    assert done.returncode == 0, f"compose.py {name} failed:\n{done.stderr}"
    return done


def request_id() -> str:
    """A fresh X-Request-ID: the gateway passes it on, and every service logs it."""
    return uuid.uuid4().hex


def served_by(stack: Stack, service: str, ids: list[str]) -> Counter[str]:
    """How many of the requests `ids` each container of `service` logged."""
    wanted = set(ids)
    counts: Counter[str] = Counter()
    for container in stack.containers(service):
        for line in stack.logs(container.name, tail=100_000).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("request_id") in wanted:
                counts[container.name] += 1
    return counts


def scale(stack: Stack, **replicas: int) -> None:
    """Replicas per service (catalog_service=3 ...), with no other change, and wait."""
    stack.up(build=False, scale={name.replace("_", "-"): n for name, n in replicas.items()})


@dataclass
class Traffic:
    """A steady stream of requests from a few threads while the `with` block runs (at
    most `limit_seconds`): every answer's status (or the transport error) and time, to
    count what failed and when."""

    send: Callable[[httpx.Client, int], httpx.Response]
    base_url: str
    clients: int = 4
    limit_seconds: float = 180.0
    results: list[tuple[float, float, str]] = field(default_factory=list)  # start, seconds, outcome
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _run(self, number: int) -> None:
        deadline = time.monotonic() + self.limit_seconds
        count = 0
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                count += 1
                began = time.monotonic()
                try:
                    outcome = str(self.send(client, number * 1_000_000 + count).status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with self._lock:
                    self.results.append((began, time.monotonic() - began, outcome))

    def __enter__(self) -> "Traffic":
        for number in range(self.clients):
            thread = threading.Thread(target=self._run, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def failures(self, ok: tuple[str, ...] = ("200",)) -> list[tuple[float, float, str]]:
        return [result for result in self.results if result[2] not in ok]

    def summary(self) -> str:
        slowest = max((seconds for _, seconds, _ in self.results), default=0.0)
        outcomes = Counter(outcome for _, _, outcome in self.results)
        return f"{len(self.results)} requests {dict(outcomes)}, slowest {slowest:.2f} s"

    def wait_for(self, count: int, timeout: float = 120.0) -> None:
        """Until at least `count` answers have come (the stream is flowing); `timeout` only
        bounds a stream that stopped, however slowly a loaded machine lets it flow."""
        deadline = time.monotonic() + timeout
        while len(self.results) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.results) >= count, f"the stream did not flow: {self.summary()}"


def catalog_get(client: httpx.Client, number: int) -> httpx.Response:
    """A catalog page the gateway has not cached (its URL is new), so a replica answers."""
    return client.get("/movies/", params={"page": 1, "n": number})
