"""What every group of cases uses: the processes the benchmark starts, HTTP calls, wrk,
and the run's settings with its way of repeating cases (`Bench`)."""

# ruff: noqa: S603, S607  (a harness: it runs its own fixed commands: wrk, nginx, the stack)

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .report import Report

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VAR = ROOT / "var" / "bench"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
STACK = [PYTHON, str(ROOT / "scripts" / "stack.py")]
SERVICES = ("catalog", "auth", "user")
SCALE_MOVIES = 100_000
PASSWORD = "bench-password-1"  # noqa: S105  (a throwaway account of the benchmark)


# --------------------------------------------------------------------------------------
# Processes, HTTP
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


# --------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# The run: its settings, what it started, and how a case is repeated
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
    """One run: its settings, its report, the processes it started and its wrk."""

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

    def throughput(self, url: str, connections: int = 50, **kwargs: Any) -> Callable[[], WrkResult]:
        """A case: wrk on `url` for the run's duration; any error stops the benchmark."""

        def run() -> WrkResult:
            result = self.wrk.run(url, connections=connections, duration=self.s.duration, **kwargs)
            if result.non_2xx_3xx or result.socket_errors:
                raise SystemExit(f"errors while measuring {url}:\n{result.output}")
            return result

        return run
