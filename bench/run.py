"""Kinoarchive's benchmark: `make bench` (see bench/README.md).

Measures on this machine, with wrk on loopback, the stack pinned to core 0 and wrk to
core 1, each case several times (the median counts), against two baselines measured in
the same run: a bare ASGI hello-world on uvicorn (uvloop, httptools) and nginx serving a
static JSON file. Prints a Markdown report (machine, versions, the table of results with
ratios and targets) and writes it to bench/RESULTS.md (--out).

    .venv/bin/python bench/run.py                 # the full run (about 10 minutes)
    .venv/bin/python bench/run.py --quick         # 2 s a case, once: to try the harness
    .venv/bin/python bench/run.py --only main     # main | startup | scale | mixed

Everything it starts (services, nginx, wrk) runs on free ports with data under
var/bench/, and is stopped at the end. PostgreSQL for the scale cases: BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres); the case is skipped when it does
not answer.
"""

# ruff: noqa: S603, S607  (a harness: it runs its own fixed commands: wrk, nginx, the stack)

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VAR = ROOT / "var" / "bench"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
STACK = [PYTHON, str(ROOT / "scripts" / "stack.py")]
SERVICES = ("catalog", "auth", "user")
SCALE_MOVIES = 100_000
PASSWORD = "bench-password-1"  # noqa: S105  (a throwaway account of the benchmark)


# --------------------------------------------------------------------------------------
# Processes, HTTP, wrk
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(core: int | None, command: Sequence[str]) -> list[str]:
    return [*(["taskset", "-c", str(core)] if core is not None else []), *command]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


class Processes:
    """What the benchmark started; each stopped by its own process group id."""

    def __init__(self) -> None:
        self.running: list[Process] = []

    def start(self, name: str, command: Sequence[str], env: dict[str, str], log: Path) -> Process:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:  # a fresh log per start: its errors are this run's
            popen = subprocess.Popen(
                list(command),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.running.append(process)
        return process

    def stop(self, process: Process) -> None:
        if process.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.popen.wait()
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self.running)):
            self.stop(process)


def request(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_http(url: str, timeout: float, process: Process | None = None) -> float:
    """Seconds until `url` answers 200 (polled every 20 ms); raises after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.popen.poll() is not None:
            raise SystemExit(f"{process.name} exited; see {process.log}")
        with suppress(OSError, urllib.error.URLError):
            if request("GET", url, timeout=2)[0] == 200:
                return time.monotonic() - started
        time.sleep(0.02)
    raise SystemExit(f"{url} did not answer 200 within {timeout:.0f} s")


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx_3xx: int
    socket_errors: int
    statuses: dict[int, int] = field(default_factory=dict)
    output: str = ""


class Wrk:
    def __init__(self, core: int | None) -> None:
        self.core = core

    def run(
        self,
        url: str,
        *,
        connections: int,
        duration: float,
        script: str | None = None,
        headers: Sequence[str] = (),
        env: dict[str, str] | None = None,
        timeout: str = "10s",
    ) -> WrkResult:
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--latency",
            f"--timeout={timeout}",
        ]
        for header in headers:
            command += ["-H", header]
        if script:
            command += ["-s", str(BENCH / "lua" / script)]
        command.append(url)
        result = subprocess.run(
            pinned(self.core, command),
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            check=False,
        )
        text = result.stdout + result.stderr
        if result.returncode != 0 or "Requests/sec" not in text:
            raise SystemExit(f"wrk failed:\n{' '.join(command)}\n{text}")
        try:
            return parse_wrk(text)
        except (KeyError, ValueError, AttributeError) as error:
            raise SystemExit(f"unexpected wrk output ({error!r}):\n{text}") from error


def parse_wrk(text: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", text, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    statuses: dict[int, int] = {}
    status_line = re.search(r"^STATUS (.*)$", text, re.MULTILINE)
    if status_line:
        for part in status_line.group(1).split():
            code, count = part.split("=")
            statuses[int(code)] = int(count)
    return WrkResult(
        rps=rps,
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        requests=requests,
        non_2xx_3xx=int(non_ok.group(1)) if non_ok else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        statuses=statuses,
        output=text,
    )


# --------------------------------------------------------------------------------------
# The stack, one process at a time (scripts/stack.py --only NAME), pinned
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    measured: str
    ratio: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    started: datetime
    load_at_start: str
    settings: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        verdict = {True: "met", False: "MISSED", None: ""}[row.met]
        print(f"  {row.case}: {row.measured} {row.ratio} {verdict}".rstrip(), flush=True)

    def markdown(self, machine: list[str]) -> str:
        lines = [
            "# Benchmark results",
            "",
            "Written by `make bench` (bench/run.py); numbers from one run on the machine below.",
            "",
            "## Machine and run",
            "",
            *[f"- {item}" for item in machine],
            f"- date: {self.started:%Y-%m-%d %H:%M} UTC",
            f"- load average at start (1, 5, 15 min): {self.load_at_start}",
            f"- settings: {self.settings}",
            "",
            "## Results",
            "",
            "| case | measured | ratio | target | met |",
            "|---|---|---|---|---|",
        ]
        for row in self.rows:
            verdict = {True: "yes", False: "**no**", None: ""}[row.met]
            lines.append(
                f"| {row.case} | {row.measured} | {row.ratio} | {row.target} | {verdict} |"
            )
        if self.notes:
            lines += ["", "## Notes", "", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"


def machine_info() -> list[str]:
    cpu = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"

    def version(command: list[str], pattern: str = r"[\d.]+") -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError:
            return "missing"
        match = re.search(pattern, out.stdout + out.stderr)
        return match.group(0) if match else "?"

    packages = subprocess.run(
        [
            PYTHON,
            "-c",
            "import importlib.metadata as m; print(' '.join(f'{p} {m.version(p)}' "
            "for p in ('fastapi','starlette','uvicorn','uvloop','httptools','sqlalchemy',"
            "'aiosqlite','asyncpg','argon2-cffi')))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    nproc = version(["nproc"], r"\d+")
    nginx = version(["nginx", "-v"], r"nginx/[\d.]+")
    wrk = version(["wrk", "-v"], r"[\d.]+(-\S+)?")
    return [
        f"CPU: {cpu}, {os.cpu_count()} cores (nproc {nproc})",
        f"memory: {memory}",
        f"kernel: {platform.release()}",
        f"Python {platform.python_version()}; {packages}",
        f"{nginx}, wrk {wrk}, SQLite {sqlite3.sqlite_version}",
    ]


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


# --------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------


@dataclass
class Settings:
    duration: float
    repeat: int
    mixed_duration: float
    stack_core: int | None
    wrk_core: int | None
    postgres_url: str | None


class Bench:
    def __init__(self, settings: Settings, report: Report) -> None:
        self.s = settings
        self.report = report
        self.procs = Processes()
        self.wrk = Wrk(settings.wrk_core)
        self.logs = VAR / "logs"

    def median_of(
        self, cases: dict[str, Callable[[], WrkResult]], warmup: bool = True
    ) -> dict[str, list[WrkResult]]:
        """Runs every case `repeat` times, interleaved (a, b, c, a, b, c, ...)."""
        results: dict[str, list[WrkResult]] = {name: [] for name in cases}
        if warmup:
            for run in cases.values():
                run()
        for _ in range(self.s.repeat):
            for name, run in cases.items():
                results[name].append(run())
        return results

    @staticmethod
    def rps(results: list[WrkResult]) -> float:
        return statistics.median(r.rps for r in results)

    @staticmethod
    def p50(results: list[WrkResult]) -> float:
        return statistics.median(r.p50_ms for r in results)

    def _throughput(
        self, url: str, connections: int = 50, **kwargs: Any
    ) -> Callable[[], WrkResult]:
        def run() -> WrkResult:
            result = self.wrk.run(url, connections=connections, duration=self.s.duration, **kwargs)
            if result.non_2xx_3xx or result.socket_errors:
                raise SystemExit(f"errors while measuring {url}:\n{result.output}")
            return result

        return run

    # --- baselines ---------------------------------------------------------------------

    @contextmanager
    def baselines(self, page_body: bytes) -> Iterator[tuple[str, str]]:
        """The bare ASGI hello-world and nginx with a static JSON file (the catalog page)."""
        port = free_port()
        hello = self.procs.start(
            "hello",
            pinned(
                self.s.stack_core,
                [
                    PYTHON,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(BENCH),
                    "hello:app",
                    "--port",
                    str(port),
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
            ),
            os.environ.copy(),
            self.logs / "hello.log",
        )
        static_dir = VAR / "static-nginx"
        (static_dir / "temp").mkdir(parents=True, exist_ok=True)
        (static_dir / "page.json").write_bytes(page_body)
        static_port = free_port()
        user = "user root root;\n" if os.geteuid() == 0 else ""
        (static_dir / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {static_dir / 'nginx.pid'};\nerror_log stderr;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "    access_log off;\n"
            f"    client_body_temp_path {static_dir / 'temp'};\n"
            f"    proxy_temp_path {static_dir / 'temp'};\n"
            f"    fastcgi_temp_path {static_dir / 'temp'};\n"
            f"    uwsgi_temp_path {static_dir / 'temp'};\n"
            f"    scgi_temp_path {static_dir / 'temp'};\n"
            f"    server {{\n        listen 127.0.0.1:{static_port};\n"
            f"        location = /page.json {{ default_type application/json; "
            f"root {static_dir}; }}\n    }}\n}}\n",
            encoding="utf-8",
        )
        nginx = self.procs.start(
            "static-nginx",
            pinned(
                self.s.stack_core,
                [
                    "nginx",
                    "-p",
                    str(static_dir),
                    "-c",
                    str(static_dir / "nginx.conf"),
                    "-g",
                    "daemon off;",
                ],
            ),
            os.environ.copy(),
            self.logs / "static-nginx.log",
        )
        try:
            hello_url = f"http://127.0.0.1:{port}/"
            static_url = f"http://127.0.0.1:{static_port}/page.json"
            wait_http(hello_url, 30, hello)
            wait_http(static_url, 30, nginx)
            yield hello_url, static_url
        finally:
            self.procs.stop(hello)
            self.procs.stop(nginx)

    # --- 1-5, 7: the stack with the bundled catalog ---------------------------------------

    def main_cases(self) -> None:
        data_dir = VAR / "stack"
        report = self.report
        with running_stack(self.procs, data_dir, self.s.stack_core) as stack:
            idle = {name: rss_mb(stack.processes[name].pid) for name in SERVICES}
            page = "/movies/?page=1"
            status, _, page_body = request("GET", stack.url("gateway", page))
            assert status == 200, status
            token = register_and_login(stack, "bench-main@example.com")
            bearer = f"Authorization: Bearer {token}"
            # Every cache off: another catalog process on the same data.
            nocache_port = free_port()
            nocache_env = {
                **stack.env,
                "CATALOG_PORT": str(nocache_port),
                "CATALOG_CACHE_ENABLED": "false",
            }
            nocache = self.procs.start(
                "catalog-nocache",
                pinned(
                    self.s.stack_core, [*STACK, "--data-dir", str(data_dir), "--only", "catalog"]
                ),
                nocache_env,
                data_dir / "logs" / "catalog-nocache.log",
            )
            nocache_url = f"http://127.0.0.1:{nocache_port}"
            wait_http(nocache_url + "/health/ready", 60, nocache)
            _, headers, _ = request("GET", nocache_url + page)
            assert "ETag" in headers or "etag" in headers

            print("throughput, 50 connections", flush=True)
            with self.baselines(page_body) as (hello_url, static_url):
                c50 = self.median_of(
                    {
                        "hello": self._throughput(hello_url),
                        "static": self._throughput(static_url),
                        "gateway": self._throughput(stack.url("gateway", page)),
                        "direct": self._throughput(stack.url("catalog", page)),
                        "nocache": self._throughput(nocache_url + page),
                        "user": self._throughput(stack.url("gateway", "/user/"), headers=[bearer]),
                    }
                )
            self.procs.stop(nocache)
            base = self.rps(c50["hello"])
            report.add(
                Row(
                    "baseline: bare ASGI hello-world (uvicorn, uvloop, httptools), 50 conn.",
                    f"{base:,.0f} req/s",
                    "1.00x",
                )
            )
            report.add(
                Row(
                    "baseline: nginx, static JSON file (the page's body), 50 conn.",
                    f"{self.rps(c50['static']):,.0f} req/s",
                    ratio(self.rps(c50["static"]), base),
                )
            )
            for name, label, goal in (
                (
                    "gateway",
                    "1. `GET /movies/?page=1` through the gateway (its cache), 50 conn.",
                    1.0,
                ),
                ("direct", "2. same page straight from catalog-service (its memory cache)", 0.25),
                ("nocache", "2. same page, catalog with every cache off", 0.07),
                ("user", "4. `GET /user/` with a token, through the gateway, 50 conn.", 0.10),
            ):
                value = self.rps(c50[name])
                report.add(
                    Row(
                        label,
                        f"{value:,.0f} req/s",
                        ratio(value, base),
                        f">= {goal:.2f}x",
                        value / base >= goal,
                    )
                )

            print("latency, 1 connection", flush=True)
            c1 = self.median_of(
                {
                    "gw-page": self._throughput(stack.url("gateway", page), 1),
                    "direct-page": self._throughput(stack.url("catalog", page), 1),
                    "gw-user": self._throughput(
                        stack.url("gateway", "/user/"), 1, headers=[bearer]
                    ),
                    "direct-user": self._throughput(
                        stack.url("user", "/user/"), 1, headers=[bearer]
                    ),
                }
            )
            for what, gw, direct, label in (
                ("page", "gw-page", "direct-page", "the catalog page (gateway cache hit)"),
                ("user", "gw-user", "direct-user", "`GET /user/` (proxied, not cached)"),
            ):
                overhead = self.p50(c1[gw]) - self.p50(c1[direct])
                report.add(
                    Row(
                        f"3. gateway overhead at 1 conn., {label}",
                        f"{overhead:+.3f} ms (p50 {self.p50(c1[gw]):.3f} vs "
                        f"{self.p50(c1[direct]):.3f} ms)",
                        "",
                        "<= 0.1 ms",
                        overhead <= 0.1,
                    )
                )
                del what

            print("login", flush=True)
            hashes = self.hash_times_ms()
            body = json.dumps({"email": "bench-main@example.com", "password": PASSWORD})
            login = self.median_of(
                {
                    "login": self._throughput(
                        stack.url("gateway", "/auth/login/"),
                        4,
                        script="post_json.lua",
                        env={"BENCH_BODY": body},
                    )
                }
            )
            cores = 1 if self.s.stack_core is not None else (os.cpu_count() or 1)
            # The hash is timed again after the logins: this machine's speed drifts
            # (31 to 46 ms for the same hash in one day), and the ratio should compare
            # the two at the same moment. The median of both sets counts.
            hashes += self.hash_times_ms()
            hash_ms = statistics.median(hashes)
            ceiling = cores * 1000 / hash_ms
            value = self.rps(login["login"])
            report.add(
                Row(
                    f"5. login through the gateway, 4 conn. (one argon2id hash: {hash_ms:.1f} ms, "
                    f"{min(hashes):.1f}-{max(hashes):.1f})",
                    f"{value:,.1f} logins/s",
                    f"{value / ceiling:.2f} x 1/hash per core",
                    ">= 0.90",
                    value / ceiling >= 0.9,
                )
            )

            # Idle again: the auth service gives argon2's work memory back once no hash
            # has run for a second (auth_service/passwords.py).
            time.sleep(2.0)
            after = {name: rss_mb(stack.processes[name].pid) for name in SERVICES}
            for label, rss in (("after start", idle), ("again, after the load above", after)):
                report.add(
                    Row(
                        f"7. RSS of each service, idle {label}",
                        ", ".join(f"{n} {rss[n]:.0f} MB" for n in SERVICES),
                        "",
                        "< 100 MB",
                        max(rss.values()) < 100,
                    )
                )

    def hash_times_ms(self) -> list[float]:
        """15 timings (ms) of one argon2id verification with the auth service's default
        parameters, on the stack's core."""
        code = (
            "import time\n"
            "from argon2 import PasswordHasher, Type\n"
            "from auth_service.config import AuthSettings as S\n"
            "f = S.model_fields\n"
            "h = PasswordHasher(time_cost=f['argon2_time_cost'].default, "
            "memory_cost=f['argon2_memory_kib'].default, "
            "parallelism=f['argon2_parallelism'].default, hash_len=32, salt_len=16, "
            "type=Type.ID)\n"
            "hashed = h.hash('bench-password-1')\n"
            "times = []\n"
            "for _ in range(15):\n"
            "    t = time.perf_counter(); h.verify(hashed, 'bench-password-1')\n"
            "    times.append(time.perf_counter() - t)\n"
            "print(' '.join(str(t * 1000) for t in times))\n"
        )
        out = subprocess.run(
            pinned(self.s.stack_core, [PYTHON, "-c", code]),
            capture_output=True,
            text=True,
            check=True,
        )
        return [float(value) for value in out.stdout.split()]

    # --- 7: start time ----------------------------------------------------------------

    def startup(self) -> None:
        """`scripts/stack.py` from launch to the gateway's /health/ready answering 200,
        with a fresh data folder and then with that folder existing. Not pinned: what
        `make run` does on this machine."""
        times: dict[str, list[float]] = {"fresh": [], "existing": []}
        for _ in range(max(2, min(3, self.s.repeat))):
            folder = Path(tempfile.mkdtemp(prefix="startup-", dir=VAR))
            try:
                for kind in ("fresh", "existing"):
                    times[kind].append(self._start_once(folder))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        fresh, existing = (statistics.median(times[k]) for k in ("fresh", "existing"))
        self.report.add(
            Row(
                "7. whole stack ready (`scripts/stack.py` to gateway /health/ready 200)",
                f"existing data {existing:.2f} s, fresh data folder {fresh:.2f} s",
                "",
                "< 5 s",
                max(fresh, existing) < 5,
            )
        )

    def _start_once(self, folder: Path) -> float:
        ports = {name: free_port() for name in ("gateway", *SERVICES)}
        env = stack_env(folder, ports, {})
        started = time.monotonic()
        process = self.procs.start(
            "stack", [*STACK, "--data-dir", str(folder)], env, folder / "stack.log"
        )
        try:
            wait_http(f"http://127.0.0.1:{ports['gateway']}/health/ready", 60, process)
            return time.monotonic() - started
        finally:
            process.popen.send_signal(signal.SIGINT)  # stack.py stops its children itself
            try:
                process.popen.wait(timeout=15)
            finally:
                self.procs.stop(process)

    # --- 8: mixed workload ---------------------------------------------------------------

    def mixed(self) -> None:
        data_dir = VAR / "stack"
        with running_stack(self.procs, data_dir, self.s.stack_core) as stack:
            users = VAR / "mixed-users.tsv"
            lines = []
            for n in range(40):
                email = f"bench-mixed-{n}@example.com"
                lines.append(f"{email}\t{PASSWORD}\t{register_and_login(stack, email)}")
            users.write_text("\n".join(lines) + "\n", encoding="utf-8")
            _, headers, _ = request("GET", stack.url("gateway", "/movies/?page=1"))
            movies = int({k.lower(): v for k, v in headers.items()}["x-total-count"])
            print(f"mixed workload, 200 connections, {self.s.mixed_duration:.0f} s", flush=True)
            result = self.wrk.run(
                stack.url("gateway", "/"),
                connections=200,
                duration=self.s.mixed_duration,
                script="mixed.lua",
                env={"BENCH_USERS": str(users), "BENCH_MOVIES": str(movies)},
                timeout="30s",
            )
            errors_in_logs = sum(
                1
                for name in SERVICES
                for line in stack.processes[name].log.read_text(errors="replace").splitlines()
                if re.search(r"\b(ERROR|CRITICAL)\b|Traceback", line)
            )
        bad = {code: n for code, n in result.statuses.items() if code >= 400}
        fives = sum(n for code, n in bad.items() if code >= 500)
        statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(result.statuses.items()))
        self.report.add(
            Row(
                f"8. mixed workload, 200 conn., {self.s.mixed_duration:.0f} s, through the gateway",
                f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; "
                f"statuses {statuses}; socket errors {result.socket_errors}; "
                f"error lines in the service logs {errors_in_logs}",
                "",
                "no 5xx, no error",
                fives == 0 and not bad and result.socket_errors == 0 and errors_in_logs == 0,
            )
        )

    # --- 6: scale --------------------------------------------------------------------------

    def scale(self) -> None:
        source = VAR / f"synthetic-{SCALE_MOVIES}.json"
        if not source.exists():
            print(f"generating {SCALE_MOVIES:,} movies", flush=True)
            subprocess.run(
                [
                    PYTHON,
                    "-m",
                    "catalog_service",
                    "generate",
                    str(SCALE_MOVIES),
                    "--out",
                    str(source),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        databases: list[tuple[str, Path, dict[str, str]]] = [("SQLite", VAR / "scale-sqlite", {})]
        postgres = self.postgres_databases()
        if postgres is not None:
            databases.append(("PostgreSQL", VAR / "scale-postgres", postgres))
        else:
            self.report.notes.append("PostgreSQL did not answer: its scale cases were skipped.")
        for label, data_dir, urls in databases:
            self.scale_one(label, data_dir, urls, source)

    def postgres_databases(self) -> dict[str, str] | None:
        if not self.s.postgres_url:
            return None
        code = (
            "import asyncio, sys, asyncpg\n"
            "async def main():\n"
            "    c = await asyncpg.connect(sys.argv[1], timeout=5)\n"
            "    for name in sys.argv[2:]:\n"
            "        if not await c.fetchval('SELECT 1 FROM pg_database WHERE datname=$1', name):\n"
            "            await c.execute(f'CREATE DATABASE {name}')\n"
            "    await c.close()\n"
            "asyncio.run(main())\n"
        )
        names = [f"kinoarchive_bench_{name}" for name in SERVICES]
        result = subprocess.run(
            [PYTHON, "-c", code, self.s.postgres_url, *names],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            print(f"PostgreSQL skipped: {result.stderr.strip().splitlines()[-1:]}", flush=True)
            return None
        base = self.s.postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
        base = base.rsplit("/", 1)[0]
        return {
            f"{name.upper()}_DATABASE_URL": f"{base}/kinoarchive_bench_{name}" for name in SERVICES
        }

    def scale_one(self, label: str, data_dir: Path, urls: dict[str, str], source: Path) -> None:
        print(f"scale: {SCALE_MOVIES:,} movies on {label}", flush=True)
        env = {**urls, "CATALOG_CACHE_ENABLED": "false"}
        with running_stack(
            self.procs, data_dir, self.s.stack_core, extra_env=env, names=SERVICES
        ) as stack:
            _, headers, _ = request("GET", stack.url("catalog", "/movies/?page=1"))
            if int({k.lower(): v for k, v in headers.items()}["x-total-count"]) != SCALE_MOVIES:
                print(f"  importing {source.name} (once)", flush=True)
                subprocess.run(
                    [PYTHON, "-m", "catalog_service", "import", str(source), "--replace"],
                    env=stack.env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
            catalog = stack.url("catalog")
            deep = SCALE_MOVIES // 12 - 333  # page 8,000 of 8,334
            cases = self.median_of(
                {
                    "page1": self._throughput(catalog + "/movies/?page=1", 1),
                    "deep": self._throughput(catalog + f"/movies/?page={deep}", 1),
                    "new": self._throughput(catalog + "/movies/?status=new&page=1", 1),
                }
            )
            page1 = self.p50(cases["page1"])
            for name, label_case, limit in (
                ("deep", f"page {deep:,}", 1.5),
                ("new", "`status=new&page=1`", 2.0),
            ):
                value = self.p50(cases[name])
                self.report.add(
                    Row(
                        f"6. {label}, {SCALE_MOVIES // 1000}k movies, catalog cache off: "
                        f"{label_case} vs page 1 (p50, 1 conn.)",
                        f"{value:.2f} ms vs {page1:.2f} ms",
                        f"{value / page1:.2f}x",
                        f"<= {limit}x",
                        value / page1 <= limit,
                    )
                )

            pid = stack.processes["catalog"].pid
            before = rss_mb(pid)
            started = time.monotonic()
            size = 0
            with urllib.request.urlopen(catalog + "/movies/", timeout=300) as response:  # noqa: S310
                while chunk := response.read(1 << 16):
                    size += len(chunk)
            elapsed = time.monotonic() - started
            peak = rss_mb(pid, "VmHWM")
            self.report.add(
                Row(
                    f"6. {label}: the full list without `page` (streamed), peak catalog RSS",
                    f"{peak:.0f} MB (before {before:.0f} MB); "
                    f"{size / 1e6:.0f} MB in {elapsed:.1f} s",
                    "",
                    "< 300 MB",
                    peak < 300,
                )
            )

            token = register_and_login(stack, "bench-bookmarks@example.com", via="auth")
            bearer = {"Authorization": f"Bearer {token}"}
            ids = [1 + n * (SCALE_MOVIES // 500) for n in range(500)]
            for movie_id in ids:
                status, _, body = request(
                    "POST", stack.url("user", f"/favorites/movies/{movie_id}/"), headers=bearer
                )
                if status not in (200, 201):
                    raise SystemExit(f"bookmark {movie_id}: {status} {body[:200]!r}")
            calls_before = catalog_list_requests(stack)
            started = time.monotonic()
            status, _, body = request(
                "GET", stack.url("user", "/favorites/movies/"), headers=bearer
            )
            elapsed = time.monotonic() - started
            calls = catalog_list_requests(stack) - calls_before
            listed = len(json.loads(body)) if status == 200 else -1
            self.report.add(
                Row(
                    f"6. {label}: a bookmark list of 500 movies, batch calls to the catalog",
                    f"{calls:.0f} calls, {listed} movies listed in {elapsed * 1000:.0f} ms",
                    "",
                    "<= 5 calls",
                    calls <= 5 and listed == 500,
                )
            )


# --------------------------------------------------------------------------------------


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if (
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "wrk"],
                env=env,
                stdout=subprocess.DEVNULL,
                check=False,
            ).returncode
            != 0
        ):
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "wrk"],
                env=env,
                stdout=subprocess.DEVNULL,
                check=True,
            )
        return
    raise SystemExit("wrk is needed: sudo apt-get install wrk (Debian/Ubuntu), brew install wrk")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run [5]")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per case; the median counts [3]"
    )
    parser.add_argument("--mixed-duration", type=float, default=60.0, help="[60]")
    parser.add_argument("--quick", action="store_true", help="2 s a case, once, mixed 5 s")
    parser.add_argument("--only", action="append", choices=("main", "startup", "scale", "mixed"))
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH / "RESULTS.md",
        help="where the report goes [bench/RESULTS.md]; - for nowhere",
    )
    parser.add_argument("--note", action="append", default=[], help="a line for the notes")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.repeat, args.mixed_duration = 2.0, 1, 5.0
    ensure_wrk()
    cores = os.cpu_count() or 1
    stack_core, wrk_core = (0, 1) if cores >= 2 and shutil.which("taskset") else (None, None)
    settings = Settings(
        duration=args.duration,
        repeat=args.repeat,
        mixed_duration=args.mixed_duration,
        stack_core=stack_core,
        wrk_core=wrk_core,
        postgres_url=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report = Report(
        started=datetime.now(UTC),
        load_at_start=load,
        settings=(
            f"wrk -t1 for {args.duration:.0f} s a run, {args.repeat} runs a case (median; runs "
            f"interleaved, after one warm-up run), "
            + (
                f"stack pinned to core {stack_core}, wrk to core {wrk_core}"
                if stack_core is not None
                else "no pinning (fewer than 2 cores)"
            )
            + "; services at log level INFO (one access line per request), as deployed"
        ),
        notes=list(args.note),
    )
    print(f"load average at start: {load}", flush=True)
    VAR.mkdir(parents=True, exist_ok=True)
    bench = Bench(settings, report)
    parts = args.only or ["startup", "main", "scale", "mixed"]
    try:
        for part in ("startup", "main", "scale", "mixed"):
            if part in parts:
                getattr(bench, {"main": "main_cases"}.get(part, part))()
    finally:
        bench.procs.stop_all()
    text = report.markdown(machine_info())
    print()
    print(text)
    if str(args.out) != "-":
        args.out.write_text(text, encoding="utf-8")
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
