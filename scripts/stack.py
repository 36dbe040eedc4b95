"""Run the whole Kinoarchive stack locally, in the foreground: `make run`.

Starts the three services (each runs its migrate entry point first, which brings its
schema up to date and seeds an empty catalog: <SERVICE>_PREPARE_ON_START) and the nginx
gateway, prefixes every line they print with the name of the process, and stops them all
on Ctrl-C (SIGINT or SIGTERM). Run it with the project's virtual environment.

nginx writes its JSON access lines to DATA_DIR/gateway/access.log, emptied at each
start, through a 64 KB buffer flushed every second (a pipe would slow the gateway down);
they are printed from that file as `gateway` lines, up to a second late.

Before it starts anything it checks that its ports are free (a port taken, by an
earlier stack still running for instance, stops it with the port's name and setting).
Once the stack is ready, a process that dies is started again, as compose's restart
policy does, while the others keep serving: after 0.5 s, then twice as long after each
death up to 30 s; the delay starts again from 0.5 s once the process has stayed up 10 s.
A process that dies before the stack is ready stops the whole stack instead.

DATA_DIR is kept 0700 and the secrets made in it 0600; a secret file that another user,
the group or others could read or change is refused (chmod 600 it, or remove it).

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
    GATEWAY_TLS_CERT, GATEWAY_TLS_KEY
                            PEM certificate chain and key: the gateway also serves
                            HTTPS, on GATEWAY_HTTPS_PORT [8443], and redirects HTTP there
    GATEWAY_TLS [unset]     self-signed: a certificate for localhost, 127.0.0.1, ::1 and
                            HOST, made once in DATA_DIR/tls (key 0600), in their place

One process at a time (for tests that kill, pause and restart single processes):
    stack.py --prepare-only     migrate, seed, render the gateway's configuration; exit
    stack.py --only NAME        become that one process (catalog, auth, user or gateway),
                                in the foreground, with the same settings and data folder;
                                no migration (run --prepare-only first). The process
                                replaces stack.py (exec), so its id is the service's own.
"""

import argparse
import errno
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
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
# Restarts of a process that died (compose's restart policy does much the same).
RESTART_FIRST_DELAY = 0.5
RESTART_MAX_DELAY = 30.0
RESTART_RESET_AFTER = 10.0  # seconds up after which the next delay is the first again
FOLLOW_INTERVAL = 0.2  # seconds between two looks at the gateway's access log file


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
        self.lines(name, [text])

    def lines(self, name: str, texts: Sequence[str]) -> None:
        """Several lines of one process in one write (the gateway's come by the thousand)."""
        label = name.ljust(self.width)
        if self.colour:
            label = f"\033[{COLOURS.get(name, '0')}m{label}\033[0m"
        block = "".join(f"{label} | {text}\n" for text in texts)
        with self.lock:
            sys.stdout.write(block)
            sys.stdout.flush()

    def follow(self, name: str, stream: IO[bytes]) -> threading.Thread:
        def pump() -> None:
            for raw in iter(stream.readline, b""):
                self.line(name, raw.decode("utf-8", "replace").rstrip())

        thread = threading.Thread(target=pump, name=f"log-{name}", daemon=True)
        thread.start()
        return thread


class FileFollower:
    """Hands the complete lines appended to a file to `emit`, a batch for each read, from
    a thread that looks every `interval` seconds (what the file held when it started is
    skipped).

    A file cut shorter (truncated) is read again from its start; a file replaced under
    the same name (rotated) is read to its end, then the new one from its start. stop()
    reads what is left (a writer's last flush) and ends the thread."""

    def __init__(
        self, path: Path, emit: Callable[[list[str]], None], interval: float = FOLLOW_INTERVAL
    ) -> None:
        self.path = path
        self.emit = emit
        self.interval = interval
        self.stopping = threading.Event()
        self.file: IO[bytes] | None = None
        self.partial = b""  # the start of a line whose end is not written yet
        self.thread = threading.Thread(target=self._run, name=f"follow-{path.name}", daemon=True)

    def start(self) -> None:
        self._open(at_end=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self.stopping.wait(self.interval):
                self.poll()
            self.poll()
            self._flush_partial()
        finally:
            if self.file is not None:
                self.file.close()

    def _open(self, *, at_end: bool) -> IO[bytes] | None:
        try:
            file = self.path.open("rb", buffering=0)
        except FileNotFoundError:
            return None
        if at_end:
            file.seek(0, os.SEEK_END)
        self.file, self.partial = file, b""
        return file

    def poll(self) -> None:
        """Emit the lines completed since the last look."""
        file = self.file
        if file is None:
            file = self._open(at_end=False)  # made since it started: all of it is new
        if file is None:
            return
        self._read(file)
        try:
            now = self.path.stat()
        except FileNotFoundError:
            return  # removed: the next file of that name is read from its start
        opened = os.fstat(file.fileno())
        if (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
            self._flush_partial()
            file.close()
            self.file = None
            replacement = self._open(at_end=False)
            if replacement is not None:
                self._read(replacement)
        elif now.st_size < file.tell():
            file.seek(0)
            self.partial = b""
            self._read(file)

    def _read(self, file: IO[bytes]) -> None:
        while chunk := file.read(1 << 16):
            *lines, self.partial = (self.partial + chunk).split(b"\n")
            if lines:
                self.emit([line.decode("utf-8", "replace").rstrip() for line in lines])

    def _flush_partial(self) -> None:
        if self.partial:
            self.emit([self.partial.decode("utf-8", "replace").rstrip()])
            self.partial = b""


def _private_folder(path: Path) -> None:
    """Make the data folder (0700), or narrow an existing one of ours to 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        try:
            path.chmod(0o700)
        except OSError as exc:
            raise SystemExit(f"cannot make {path} private (chmod 700): {exc}") from exc


def _secret(path: Path) -> str:
    """A random secret made on first use and kept (mode 600) for the next runs.

    An existing file is used only when it is a regular file of this user that nobody
    else may read or change, and not empty."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        value = secrets.token_urlsafe(48)
        # O_EXCL: never write into a file (or through a link) someone put there meanwhile.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(value + "\n")
        return value
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_uid != os.getuid():
        problem = f"belongs to another user (uid {info.st_uid})"
    elif mode & 0o077:
        problem = f"can be read or changed by group or others (mode {mode:03o})"
    else:
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
        problem = "is empty"
    raise SystemExit(
        f"refusing the secret file {path}: it {problem}. "
        f"Make it private (chmod 600 {path}) or remove it to have a new secret made."
    )


def configure(data_dir: Path) -> Stack:
    env = dict(os.environ)
    host = env.get("HOST", "127.0.0.1")
    ports = {
        name: int(env.get(f"{name.upper()}_PORT", port)) for name, port in DEFAULT_PORTS.items()
    }
    _private_folder(data_dir)
    stack = Stack(host=host, ports=ports, data_dir=data_dir.resolve(), env=env)
    for variable, file_name in (
        ("JWT_SECRET", "jwt-secret"),
        ("INTERNAL_API_TOKEN", "internal-token"),
    ):
        if variable not in env:  # given: the file is neither read nor made
            env[variable] = _secret(stack.data_dir / file_name)
    for name in SERVICES:
        env.setdefault(f"{name.upper()}_DATA_DIR", str(stack.data_dir))
    env.setdefault("USER_CATALOG_URL", stack.url("catalog"))
    env.setdefault("USER_AUTH_URL", stack.url("auth"))
    env["PYTHONUNBUFFERED"] = "1"
    configure_tls(stack)
    return stack


def configure_tls(stack: Stack) -> None:
    """The gateway's certificate: GATEWAY_TLS=self-signed makes one (once), and with a
    certificate the stack also needs GATEWAY_HTTPS_PORT (as the port "gateway_https")."""
    env = stack.env
    mode = env.get("GATEWAY_TLS", "")
    if mode not in ("", "self-signed"):
        raise SystemExit(f"GATEWAY_TLS={mode}: the one value it takes is self-signed")
    if mode == "self-signed":
        if env.get("GATEWAY_TLS_CERT") or env.get("GATEWAY_TLS_KEY"):
            raise SystemExit(
                "GATEWAY_TLS=self-signed makes its own certificate: unset GATEWAY_TLS_CERT "
                "and GATEWAY_TLS_KEY, or GATEWAY_TLS"
            )
        cert, key = self_signed_certificate(stack.data_dir / "tls", stack.host)
        env["GATEWAY_TLS_CERT"], env["GATEWAY_TLS_KEY"] = str(cert), str(key)
    if env.get("GATEWAY_TLS_CERT") or env.get("GATEWAY_TLS_KEY"):
        stack.ports["gateway_https"] = int(env.get("GATEWAY_HTTPS_PORT") or 8443)


def self_signed_certificate(folder: Path, host: str) -> tuple[Path, Path]:
    """folder/cert.pem and folder/key.pem, made with the openssl command on first use and
    kept: a P-256 key (0600, in a 0700 folder) and a certificate valid for 365 days for
    localhost, 127.0.0.1, ::1 and *host*. Browsers warn about it (nobody vouches for it);
    remove the folder to have a new one made."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.is_file() and key.is_file():
        mode = stat.S_IMODE(key.stat().st_mode)
        if mode & 0o077:
            raise SystemExit(f"refusing {key}: others may read it (mode {mode:03o}); chmod 600 it")
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit(
            "GATEWAY_TLS=self-signed needs the openssl command: apt-get install openssl"
        )
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    names = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
    try:
        extra = f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        extra = f"DNS:{host}"
    if extra not in names and host not in ("0.0.0.0", "::"):
        names.append(extra)
    # Written under other names first: an interrupted run leaves no half-made pair.
    new_cert, new_key = folder / "cert.pem.new", folder / "key.pem.new"
    result = subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "365", "-subj", "/CN=Kinoarchive (self-signed)",
            "-addext", f"subjectAltName={','.join(names)}",
            "-keyout", str(new_key), "-out", str(new_cert),
        ],
        capture_output=True,
        check=False,
        umask=0o077,  # the key is never readable by others, not even for a moment
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit("openssl could not make a certificate:\n" + result.stderr.decode())
    new_key.chmod(0o600)
    new_key.replace(key)
    new_cert.replace(cert)
    return cert, key


# Each service's migrate entry point (`<name>_service.cli.migrate`, through its command
# line), in one process: Python and the services' imports cost more than the work.
_PREPARE = """
import sys
from importlib import import_module

for name in sys.argv[1:]:
    if import_module(f"{name}_service.cli").main(["migrate"]) != 0:
        sys.exit(f"{name}-service migrate failed")
"""


def prepare(stack: Stack, out: Output) -> None:
    """Each service's migrate entry point: its schema to the newest revision, and for the
    catalog the bundled films when it has no movies. Alembic says what is to be done."""
    command = [sys.executable, "-c", _PREPARE, *SERVICES]
    result = subprocess.run(
        command, env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
    )
    for text in result.stdout.decode("utf-8", "replace").splitlines():
        out.line("stack", text)
    if result.returncode != 0:
        raise SystemExit(f"migrate failed (exit {result.returncode})")


def render_gateway(stack: Stack) -> Path:
    values = {
        # host:port, so that nginx listens where the services do (loopback by default)
        "GATEWAY_PORT": f"{stack.host}:{stack.ports['gateway']}",
        **{f"{name.upper()}_UPSTREAM": f"{stack.host}:{stack.ports[name]}" for name in SERVICES},
    }
    if "gateway_https" in stack.ports:  # configure_tls: HTTPS as well
        values.update(
            GATEWAY_HTTPS_PORT=f"{stack.host}:{stack.ports['gateway_https']}",
            GATEWAY_HTTPS_REDIRECT_PORT=str(stack.ports["gateway_https"]),
            GATEWAY_TLS_CERT=stack.env.get("GATEWAY_TLS_CERT", ""),
            GATEWAY_TLS_KEY=stack.env.get("GATEWAY_TLS_KEY", ""),
        )
    access_log = access_log_path(stack)
    try:
        nginx_conf = render.write_local_config(
            stack.data_dir / "gateway", values, access_log=access_log
        )
    except render.RenderError as exc:
        raise SystemExit(f"the gateway's settings: {exc}") from exc
    access_log.write_bytes(b"")  # each start's own lines: the file never grows for ever
    return nginx_conf


def access_log_path(stack: Stack) -> Path:
    """The gateway's JSON access lines (written through a buffer; `run` prints them)."""
    return stack.data_dir / "gateway" / "access.log"


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


def taken_ports(stack: Stack) -> list[str]:
    """One line for each port of the stack that something already listens on."""
    taken = []
    for name, port in stack.ports.items():
        try:
            addresses = socket.getaddrinfo(stack.host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise SystemExit(f"HOST={stack.host} is not an address to listen on: {exc}") from exc
        family, kind, proto, _, address = addresses[0]
        with socket.socket(family, kind, proto) as probe:
            # As uvicorn and nginx bind: a port left in TIME_WAIT by a stopped stack is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                in_use = exc.errno == errno.EADDRINUSE
                reason = "already in use" if in_use else (exc.strerror or str(exc))
                taken.append(f"port {port} on {stack.host} ({name}, {name.upper()}_PORT): {reason}")
    return taken


class Restarts:
    """When to start a process again that died: the delay doubles from
    RESTART_FIRST_DELAY up to RESTART_MAX_DELAY with each death in a row, and starts
    again from the first once the process has stayed up RESTART_RESET_AFTER seconds."""

    def __init__(self) -> None:
        self.delays: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def delay(self, name: str, uptime: float) -> float:
        previous = self.delays.get(name)
        if previous is None or uptime >= RESTART_RESET_AFTER:
            delay = RESTART_FIRST_DELAY
        else:
            delay = min(previous * 2, RESTART_MAX_DELAY)
        self.delays[name] = delay
        self.counts[name] = self.counts.get(name, 0) + 1
        return delay


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def wait_ready(
    urls: Sequence[str],
    processes: dict[str, subprocess.Popen[bytes]],
    timeout: float,
    stopping: threading.Event | None = None,
) -> bool:
    """Poll each URL until it answers 200; False when a process dies, time runs out
    or `stopping` is set (Ctrl-C)."""
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes.values()):
            return False
        if stopping is not None and stopping.is_set():
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


def prepare_as_they_start(stack: Stack) -> None:
    """Have each service run its migrate entry point as it starts, before it serves.

    Quicker than `prepare` before starting them: the three processes load Python and their
    imports side by side instead of after a fourth that loaded much the same. A service
    whose database is up to date only reads Alembic's version table.
    """
    for name in SERVICES:
        stack.env[f"{name.upper()}_PREPARE_ON_START"] = "true"


def run(stack: Stack, out: Output, ready_timeout: float) -> int:
    nginx = require_nginx()
    taken = taken_ports(stack)
    if taken:
        raise SystemExit(
            "cannot start: "
            + "; ".join(taken)
            + ". Stop what listens there (an earlier stack still running?) or choose "
            "other ports with the settings named (GATEWAY_PORT=9000 make run)."
        )
    prepare_as_they_start(stack)
    nginx_conf = render_gateway(stack)
    check_gateway(nginx, nginx_conf)

    stopping = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    processes: dict[str, subprocess.Popen[bytes]] = {}
    started_at: dict[str, float] = {}

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
        started_at[name] = time.monotonic()
        assert process.stdout is not None
        out.follow(name, process.stdout)

    # nginx writes its access lines to a file, 64 KB at a time (a pipe read line by line
    # here would cost the gateway much of its speed); they reach the terminal from there.
    access_log = FileFollower(access_log_path(stack), lambda texts: out.lines("gateway", texts))
    access_log.start()
    try:
        planned = commands(stack, nginx, nginx_conf)
        for name in SERVICES:
            start(name, planned[name])
        # nginx starts once the services answer, so its first requests find them.
        service_urls = [stack.url(name) + "/health/ready" for name in SERVICES]
        if wait_ready(service_urls, processes, ready_timeout, stopping):
            start("gateway", planned["gateway"])
        if "gateway" in processes and wait_ready(
            [stack.url("gateway") + "/health/ready"], processes, ready_timeout, stopping
        ):
            out.line("stack", f"Kinoarchive is ready at {stack.url('gateway')}/ (Ctrl-C stops it)")
            if "gateway_https" in stack.ports:
                out.line("stack", f"and at https://{stack.host}:{stack.ports['gateway_https']}/")
        elif not stopping.is_set():
            dead = [name for name, p in processes.items() if p.poll() is not None]
            why = f" ({', '.join(dead)} stopped)" if dead else ""
            out.line("stack", f"the stack did not become ready{why}; stopping")
            return 1
        # Migrated and seeded by now: a process started again need not check that.
        for name in SERVICES:
            stack.env.pop(f"{name.upper()}_PREPARE_ON_START", None)
        supervise(processes, started_at, planned, start, stopping, out)
        out.line("stack", "stopping")
        return 0
    finally:
        stop(processes)
        access_log.stop()  # after nginx: the lines it flushed as it stopped are printed


def supervise(
    processes: dict[str, subprocess.Popen[bytes]],
    started_at: dict[str, float],
    planned: dict[str, list[str]],
    start: Callable[[str, list[str]], None],
    stopping: threading.Event,
    out: Output,
) -> None:
    """Until `stopping` is set: start again, after its delay (Restarts), each process
    that died. Returns at once on Ctrl-C, a restart pending or not."""
    restarts = Restarts()
    due: dict[str, float] = {}  # process -> when to start it again
    while not stopping.is_set():
        now = time.monotonic()
        for name, process in processes.items():
            code = process.poll()
            if code is None or name in due:
                continue
            delay = restarts.delay(name, now - started_at[name])
            due[name] = now + delay
            out.line(
                "stack",
                f"{name} died ({_exit_status(code)}); starting it again in {delay:g} s "
                f"(restart {restarts.counts[name]}); the others keep serving",
            )
        for name, when in list(due.items()):
            if when <= now and not stopping.is_set():
                del due[name]
                start(name, planned[name])
                out.line("stack", f"{name} started again (pid {processes[name].pid})")
        wake = min([*due.values(), now + 0.5]) - time.monotonic()
        stopping.wait(max(0.01, wake))


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
