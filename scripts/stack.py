"""Run the whole Kinoarchive stack locally, in the foreground: `make run`.

Migrates and seeds the databases, starts the three services and the nginx gateway,
prefixes every line they print with the name of the process, and stops them all on
Ctrl-C (or when one of them dies). Run it with the project's virtual environment.

Settings (environment variables; defaults in brackets):
    HOST [127.0.0.1]        address every process listens on
    GATEWAY_PORT [8000]     the public entry point
    CATALOG_PORT [8001]  AUTH_PORT [8002]  USER_PORT [8003]
    DATA_DIR [./var]        SQLite files, generated secrets, rendered nginx config
    CATALOG_DATABASE_URL, AUTH_DATABASE_URL, USER_DATABASE_URL
                            default: one SQLite file per service in DATA_DIR
    JWT_SECRET, INTERNAL_API_TOKEN
                            default: random, made once and kept in DATA_DIR
    NO_COLOR                plain log prefixes
"""

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "gateway"))

import render  # noqa: E402  (gateway/render.py, standard library only)

SERVICES = ("catalog", "auth", "user")
DEFAULT_PORTS = {"gateway": 8000, "catalog": 8001, "auth": 8002, "user": 8003}
COLOURS = {"catalog": "36", "auth": "35", "user": "33", "gateway": "32", "stack": "1"}
STOP_GRACE_SECONDS = 8.0


@dataclass
class Stack:
    host: str
    ports: dict[str, int]
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.ports[name]}"


class Output:
    """Writes the children's lines, each behind its process's name, one at a time."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour
        self.lock = threading.Lock()
        self.width = max(len(n) for n in COLOURS)

    def line(self, name: str, text: str) -> None:
        label = name.ljust(self.width)
        if self.colour:
            label = f"\033[{COLOURS.get(name, '0')}m{label}\033[0m"
        with self.lock:
            sys.stdout.write(f"{label} | {text}\n")
            sys.stdout.flush()

    def follow(self, name: str, stream: IO[bytes]) -> threading.Thread:
        def pump() -> None:
            for raw in iter(stream.readline, b""):
                self.line(name, raw.decode("utf-8", "replace").rstrip())

        thread = threading.Thread(target=pump, name=f"log-{name}", daemon=True)
        thread.start()
        return thread


def _secret(path: Path) -> str:
    """A random secret made on first use and kept (mode 600) for the next runs."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(value + "\n", encoding="utf-8")
    return value


def configure(data_dir: Path) -> Stack:
    env = dict(os.environ)
    host = env.get("HOST", "127.0.0.1")
    ports = {
        name: int(env.get(f"{name.upper()}_PORT", port)) for name, port in DEFAULT_PORTS.items()
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(host=host, ports=ports, data_dir=data_dir.resolve(), env=env)
    env.setdefault("JWT_SECRET", _secret(stack.data_dir / "jwt-secret"))
    env.setdefault("INTERNAL_API_TOKEN", _secret(stack.data_dir / "internal-token"))
    for name in SERVICES:
        env.setdefault(f"{name.upper()}_DATA_DIR", str(stack.data_dir))
    env.setdefault("USER_CATALOG_URL", stack.url("catalog"))
    env.setdefault("USER_AUTH_URL", stack.url("auth"))
    env["PYTHONUNBUFFERED"] = "1"
    return stack


def prepare(stack: Stack, out: Output) -> None:
    """Migrations for every service (side by side), then the seed for an empty catalog."""
    python = sys.executable

    def run_all(steps: list[tuple[str, list[str]]]) -> None:
        running = [
            (name, command, subprocess.Popen(command, env=stack.env, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT))
            for name, command in steps
        ]  # fmt: skip
        for name, command, process in running:
            output, _ = process.communicate()
            for text in output.decode("utf-8", "replace").splitlines():
                out.line(name, text)
            if process.returncode != 0:
                raise SystemExit(f"{' '.join(command[1:])} failed (exit {process.returncode})")

    run_all([(name, [python, "-m", f"{name}_service", "migrate"]) for name in SERVICES])
    run_all([("catalog", [python, "-m", "catalog_service", "seed", "--if-empty"])])


def render_gateway(stack: Stack) -> Path:
    values = {
        # host:port, so that nginx listens where the services do (loopback by default)
        "GATEWAY_PORT": f"{stack.host}:{stack.ports['gateway']}",
        **{f"{name.upper()}_UPSTREAM": f"{stack.host}:{stack.ports[name]}" for name in SERVICES},
    }
    return render.write_local_config(stack.data_dir / "gateway", values)


def commands(stack: Stack, nginx: str, nginx_conf: Path) -> dict[str, list[str]]:
    python = sys.executable
    result = {
        name: [
            python,
            "-m",
            "uvicorn",
            "--factory",
            f"{name}_service.main:create_app",
            "--host",
            stack.host,
            "--port",
            str(stack.ports[name]),
            "--no-server-header",
            "--proxy-headers",
            "--forwarded-allow-ips",
            "127.0.0.1",
        ]
        for name in SERVICES
    }
    result["gateway"] = [
        nginx, "-p", str(nginx_conf.parent), "-c", str(nginx_conf), "-g", "daemon off;",
    ]  # fmt: skip
    return result


def wait_ready(
    urls: Sequence[str], processes: dict[str, subprocess.Popen[bytes]], timeout: float
) -> bool:
    """Poll each URL until it answers 200; False when a process dies or time runs out."""
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes.values()):
            return False
        try:
            with urllib.request.urlopen(pending[0], timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    pending.pop(0)
                    continue
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return not pending


def stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(stack: Stack, out: Output, ready_timeout: float) -> int:
    nginx = render.find_nginx()
    if nginx is None:
        raise SystemExit("nginx is not installed: sudo apt-get install nginx-light (Debian/Ubuntu)")
    prepare(stack, out)
    nginx_conf = render_gateway(stack)
    check = subprocess.run(
        [nginx, "-t", "-q", "-p", str(nginx_conf.parent), "-c", str(nginx_conf)],
        capture_output=True,
        check=False,
    )
    if check.returncode != 0:
        raise SystemExit("nginx rejected its configuration:\n" + check.stderr.decode())

    stopping = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, command: list[str]) -> None:
        # A session of their own: Ctrl-C reaches us only, and we stop them in order.
        process = subprocess.Popen(
            command,
            env=stack.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes[name] = process
        assert process.stdout is not None
        out.follow(name, process.stdout)

    try:
        planned = commands(stack, nginx, nginx_conf)
        for name in SERVICES:
            start(name, planned[name])
        # nginx starts once the services answer, so its first requests find them.
        service_urls = [stack.url(name) + "/health/ready" for name in SERVICES]
        if wait_ready(service_urls, processes, ready_timeout):
            start("gateway", planned["gateway"])
        if "gateway" in processes and wait_ready(
            [stack.url("gateway") + "/health/ready"], processes, ready_timeout
        ):
            out.line("stack", f"Kinoarchive is ready at {stack.url('gateway')}/ (Ctrl-C stops it)")
        elif not stopping.is_set():
            out.line("stack", "the stack did not become ready; stopping")
            return 1
        while not stopping.is_set():
            dead = [name for name, p in processes.items() if p.poll() is not None]
            if dead:
                out.line("stack", f"{', '.join(dead)} stopped unexpectedly; stopping the rest")
                return 1
            stopping.wait(0.5)
        out.line("stack", "stopping")
        return 0
    finally:
        stop(processes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", "var")))
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    return run(configure(args.data_dir), Output(colour), args.ready_timeout)


if __name__ == "__main__":
    sys.exit(main())
