"""Run the whole Kinoarchive stack locally, in the foreground: `make run`.

Starts the three services (each migrates its database, and the catalog seeds itself,
where that is needed: <SERVICE>_PREPARE_ON_START) and the nginx gateway,
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

One process at a time (for tests that kill, pause and restart single processes):
    stack.py --prepare-only     migrate, seed, render the gateway's configuration; exit
    stack.py --only NAME        become that one process (catalog, auth, user or gateway),
                                in the foreground, with the same settings and data folder;
                                no migration (run --prepare-only first). The process
                                replaces stack.py (exec), so its id is the service's own.
"""

import argparse
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import closing
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


def _sqlite_file(stack: Stack, name: str) -> Path | None:
    """The service's SQLite file, or None when its database is not a SQLite file."""
    url = stack.env.get(f"{name.upper()}_DATABASE_URL", "")
    if not url:
        return Path(stack.env[f"{name.upper()}_DATA_DIR"]).resolve() / f"{name}.db"
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix) and ":memory:" not in url and "?" not in url:
        return Path(url.removeprefix(prefix))
    return None


def _head_revision(name: str) -> str | None:
    """The newest revision of a service's migration history, read from its files."""
    versions = ROOT / f"{name}-service" / f"{name}_service" / "migrations" / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = re.search(r'^revision(?:: str)? = "([^"]+)"', text, re.MULTILINE)
        parent = re.search(r'^down_revision(?:: [^=]+)? = "([^"]+)"', text, re.MULTILINE)
        if revision:
            revisions.add(revision.group(1))
        if parent:
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _ready_already(stack: Stack, name: str) -> bool:
    """True when the service's SQLite database is at the head revision (and, for the
    catalog, has movies): then neither `migrate` nor `seed` would change anything.
    A read-only look with the standard library: no second of imports for nothing."""
    path = _sqlite_file(stack, name)
    head = _head_revision(name)
    if path is None or head is None or not path.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            revision = db.execute("SELECT version_num FROM alembic_version").fetchall()
            if revision != [(head,)]:
                return False
            if name == "catalog":
                return db.execute("SELECT 1 FROM movies LIMIT 1").fetchone() is not None
            return True
    except sqlite3.Error:
        return False


# Migrations and the seed in one process: Python and the services' imports cost more
# than the work itself, so one process for every step instead of one per step.
_PREPARE = """
import sys
from importlib import import_module

for name in sys.argv[1:]:
    if import_module(f"{name}_service.cli").main(["migrate"]) != 0:
        sys.exit(f"{name}-service migrate failed")
if "catalog" in sys.argv[1:]:
    sys.exit(import_module("catalog_service.cli").main(["seed", "--if-empty"]))
"""


def prepare(stack: Stack, out: Output) -> None:
    """Migrations for every service, then the seed for an empty catalog.

    Skipped for a service whose SQLite database is already at the head revision (and
    seeded); the rest run in one process.
    """
    pending = [name for name in SERVICES if not _ready_already(stack, name)]
    if not pending:
        out.line("stack", "every schema is up to date and the catalog has movies")
        return
    command = [sys.executable, "-c", _PREPARE, *pending]
    result = subprocess.run(
        command, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
    )
    for text in result.stdout.decode("utf-8", "replace").splitlines():
        out.line("stack", text)
    if result.returncode != 0:
        raise SystemExit(f"migrate/seed of {', '.join(pending)} failed (exit {result.returncode})")


def render_gateway(stack: Stack) -> Path:
    values = {
        # host:port, so that nginx listens where the services do (loopback by default)
        "GATEWAY_PORT": f"{stack.host}:{stack.ports['gateway']}",
        **{f"{name.upper()}_UPSTREAM": f"{stack.host}:{stack.ports[name]}" for name in SERVICES},
    }
    return render.write_local_config(stack.data_dir / "gateway", values)


def check_gateway(nginx: str, nginx_conf: Path) -> None:
    check = subprocess.run(
        [nginx, "-t", "-q", "-p", str(nginx_conf.parent), "-c", str(nginx_conf)],
        capture_output=True,
        check=False,
    )
    if check.returncode != 0:
        raise SystemExit("nginx rejected its configuration:\n" + check.stderr.decode())


def require_nginx() -> str:
    nginx = render.find_nginx()
    if nginx is None:
        raise SystemExit("nginx is not installed: sudo apt-get install nginx-light (Debian/Ubuntu)")
    return nginx


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
            # The services read X-Real-IP / X-Forwarded-For themselves, and only from a
            # trusted peer (auth_service/addresses.py). uvicorn's own rewriting must stay
            # off: here the gateway and its clients share 127.0.0.1, so it would take a
            # client's forged X-Forwarded-For entry for the client's address (and
            # dodge the auth service's per-address login throttle).
            "--no-proxy-headers",
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


def prepare_as_they_start(stack: Stack, out: Output) -> None:
    """Have each service whose database needs it migrate (and seed) itself as it starts.

    Quicker than `prepare` before starting them: the three processes load Python and their
    imports side by side instead of after a fourth that loaded much the same.
    """
    pending = [name for name in SERVICES if not _ready_already(stack, name)]
    for name in pending:
        stack.env[f"{name.upper()}_PREPARE_ON_START"] = "true"
    if pending:
        out.line("stack", f"{', '.join(pending)}: schema and seed prepared as each starts")
    else:
        out.line("stack", "every schema is up to date and the catalog has movies")


def run(stack: Stack, out: Output, ready_timeout: float) -> int:
    nginx = require_nginx()
    prepare_as_they_start(stack, out)
    nginx_conf = render_gateway(stack)
    check_gateway(nginx, nginx_conf)

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


def prepare_only(stack: Stack, out: Output) -> int:
    """Everything `run` does before it starts a process: migrations, seed, nginx config."""
    nginx = require_nginx()
    prepare(stack, out)
    check_gateway(nginx, render_gateway(stack))
    out.line("stack", f"prepared {stack.data_dir}")
    return 0


def run_only(stack: Stack, name: str) -> int:
    """Replace this process with one of the stack's (never returns on success)."""
    if name == "gateway":
        nginx = require_nginx()
        nginx_conf = render_gateway(stack)  # GATEWAY_* settings as they are now
        check_gateway(nginx, nginx_conf)
    else:
        nginx, nginx_conf = "nginx", stack.data_dir / "gateway" / "nginx.conf"
    command = commands(stack, nginx, nginx_conf)[name]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, stack.env)  # noqa: S606  (our own, fixed command)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", "var")))
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    one = parser.add_mutually_exclusive_group()
    one.add_argument(
        "--prepare-only",
        action="store_true",
        help="migrate, seed and render the gateway's configuration, then exit",
    )
    one.add_argument(
        "--only",
        choices=(*SERVICES, "gateway"),
        help="run just this process in the foreground (after --prepare-only)",
    )
    args = parser.parse_args(argv)
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    stack = configure(args.data_dir)
    if args.prepare_only:
        return prepare_only(stack, Output(colour))
    if args.only:
        return run_only(stack, args.only)
    return run(stack, Output(colour), args.ready_timeout)


if __name__ == "__main__":
    sys.exit(main())
