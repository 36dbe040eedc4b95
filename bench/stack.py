"""The stack under test, one process at a time (scripts/stack.py --only NAME), pinned,
and the calls the cases make to it."""

# ruff: noqa: S603  (the project's own scripts/stack.py)

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .harness import (
    PASSWORD,
    SERVICES,
    STACK,
    Process,
    Processes,
    free_port,
    pinned,
    request,
    wait_http,
)


@dataclass
class Stack:
    data_dir: Path
    ports: dict[str, int]
    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)

    def url(self, name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"


def stack_env(data_dir: Path, ports: dict[str, int], extra: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CATALOG_", "AUTH_", "USER_", "GATEWAY_", "JWT_"))
        and key not in ("DATA_DIR", "INTERNAL_API_TOKEN")
    }
    env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env["DATA_DIR"] = str(data_dir)
    # stack.py gives each service DATA_DIR as its own; the bench's direct CLI calls (the
    # scale case's import) need it said, or they use ./var.
    env.update({f"{name.upper()}_DATA_DIR": str(data_dir) for name in SERVICES})
    env["NO_COLOR"] = "1"
    # Every request of the benchmark comes from 127.0.0.1: the gateway's flood limit on
    # /auth/ (per client address, 10 a second by default) would answer most logins of
    # cases 5 and 8 with 429. Raised, as tests-e2e does.
    env.update(GATEWAY_AUTH_RATE="10000r/s", GATEWAY_AUTH_BURST="10000")
    # The auth service allows 20 registrations an hour per address; case 8 makes more.
    env.update(AUTH_REGISTER_MAX_PER_ADDRESS="1000000")
    env.update(extra)
    return env


@contextmanager
def running_stack(
    procs: Processes,
    data_dir: Path,
    core: int | None,
    *,
    extra_env: dict[str, str] | None = None,
    names: Sequence[str] = (*SERVICES, "gateway"),
) -> Iterator[Stack]:
    ports = {name: free_port() for name in ("gateway", *SERVICES)}
    env = stack_env(data_dir, ports, extra_env or {})
    prepare = subprocess.run(
        [*STACK, "--data-dir", str(data_dir), "--prepare-only"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if prepare.returncode != 0:
        raise SystemExit(f"stack.py --prepare-only failed:\n{prepare.stdout}{prepare.stderr}")
    stack = Stack(data_dir, ports, env)
    try:
        for name in names:
            if name == "gateway":
                for service in SERVICES:
                    if service in stack.processes:
                        wait_http(stack.url(service, "/health/ready"), 60, stack.processes[service])
            command = pinned(core, [*STACK, "--data-dir", str(data_dir), "--only", name])
            stack.processes[name] = procs.start(
                name, command, env, data_dir / "logs" / f"{name}.log"
            )
        for name in names:
            wait_http(stack.url(name, "/health/ready"), 60, stack.processes[name])
        yield stack
    finally:
        for process in stack.processes.values():
            procs.stop(process)


def register_and_login(stack: Stack, email: str, via: str = "gateway") -> str:
    status, _, body = request(
        "POST", stack.url(via, "/auth/register/"), {"email": email, "password": PASSWORD}
    )
    if status not in (201, 409):
        raise SystemExit(f"register {email}: {status} {body[:200]!r}")
    status, _, body = request(
        "POST", stack.url(via, "/auth/login/"), {"email": email, "password": PASSWORD}
    )
    if status != 200:
        raise SystemExit(f"login {email}: {status} {body[:200]!r}")
    token: str = json.loads(body)["access_token"]
    return token


def catalog_list_requests(stack: Stack) -> float:
    """GET requests the catalog has answered on /movies (its Prometheus counter)."""
    _, _, body = request("GET", stack.url("catalog", "/metrics"))
    total = 0.0
    for line in body.decode().splitlines():
        if (
            line.startswith("http_requests_total{")
            and 'method="GET"' in line
            and 'route="/movies"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def total_count(headers: dict[str, str]) -> int:
    """The X-Total-Count of a list's answer (header names in any case)."""
    return int({k.lower(): v for k, v in headers.items()}["x-total-count"])
