"""The composed stack (docker-compose.yml), one command a step: the compose-* make targets.

    compose.py up [--env-file F]            build, start, wait until every service is healthy
    compose.py down [--env-file F] [--volumes]
    compose.py roll SERVICE [--env-file F]  rebuild one service and replace its containers
                                            one by one, with no request refused
    compose.py backup DIR / restore DIR     each service's database, as pg_dump archives
    compose.py test [--keep]                a stack of its own, the end-to-end suite and
                                            tests-compose against it, then all of it removed

`up` writes the env file (default `.env`) from `.env.example` with fresh random secrets
when there is none, and never touches an existing one. The Docker engine and the base
images come first (deploy/ci/engine.sh, deploy/ci/standins.sh: the Makefile runs them).
Compose v2 (`docker compose`) is used where it is installed, else v1.29 (`docker-compose`).
Standard library only: it runs with any Python 3.11, and tests-compose imports it.
"""

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"
SECRETS = (
    "POSTGRES_PASSWORD",
    "CATALOG_DB_PASSWORD",
    "AUTH_DB_PASSWORD",
    "USER_DB_PASSWORD",
    "JWT_SECRET",
    "INTERNAL_API_TOKEN",
    "REDIS_PASSWORD",
)
# The services with a database of their own, each in its own PostgreSQL database.
DATABASES = {"catalog-service": "catalog", "auth-service": "auth", "user-service": "user"}
# What the gateway waits for, and what `up` waits for before it says the stack is ready.
LONG_RUNNING = ("postgres", "redis", *DATABASES, "gateway")
READY_TIMEOUT = 300.0
TEST_PROJECT = "kinoarchive-test"
# The label of the services' build stage (their Dockerfiles): untagged once built.
BUILD_STAGE = "org.kinoarchive.stage=build"


def log(message: str) -> None:
    print(f"compose: {message}", flush=True)


class ComposeError(RuntimeError):
    pass


@cache
def compose_command() -> tuple[str, ...]:
    """`docker compose` (v2) where the plugin answers, else `docker-compose` (v1)."""
    try:
        found = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if found.returncode == 0:
            return ("docker", "compose")
    except FileNotFoundError:
        pass
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    raise ComposeError("neither `docker compose` nor `docker-compose` is installed")


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    return values


def write_env(path: Path, overrides: dict[str, str] | None = None) -> bool:
    """Write `path` from .env.example with a fresh secret in each empty secret, and the
    `overrides` as lines of their own; False (and nothing written) when it exists."""
    if path.exists():
        return False
    overrides = dict(overrides or {})
    lines = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#") and name in overrides:
            lines.append(f"{name}={overrides.pop(name)}")
        elif sep and not line.startswith("#") and name in SECRETS and not value:
            lines.append(f"{name}={secrets.token_urlsafe(48)}")
        else:
            lines.append(line)
    lines += [f"{name}={value}" for name, value in overrides.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    return True


@dataclass
class Container:
    id: str
    name: str
    service: str
    status: str  # created, running, exited, ...
    health: str  # healthy, unhealthy, starting, or "" without a health check
    exit_code: int
    started_at: str

    @property
    def one_shot(self) -> bool:
        return self.service.endswith("-migrate")


class Stack:
    """One compose project: `env_file` gives its name (COMPOSE_PROJECT_NAME), secrets and
    port; every command runs from the repository root on docker-compose.yml."""

    def __init__(self, env_file: Path) -> None:
        self.env_file = env_file.resolve()
        self.values = read_env(self.env_file) if self.env_file.exists() else {}
        self.project = self.values.get("COMPOSE_PROJECT_NAME", "kinoarchive")

    @property
    def base_url(self) -> str:
        host = self.values.get("GATEWAY_BIND", "127.0.0.1")
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.values.get('GATEWAY_PORT', '8000')}"

    def command(self, *args: str) -> list[str]:
        return [
            *compose_command(), "--project-directory", str(ROOT),
            "-f", str(ROOT / "docker-compose.yml"), "--env-file", str(self.env_file),
            "-p", self.project, *args,
        ]  # fmt: skip

    def compose(
        self, *args: str, check: bool = True, capture: bool = False, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args), cwd=ROOT, text=True, capture_output=capture,
            timeout=timeout, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            detail = (result.stderr or "")[-3000:] if capture else ""
            raise ComposeError(f"`{' '.join(args)}` failed ({result.returncode}) {detail}")
        return result

    def containers(self, service: str | None = None) -> list[Container]:
        """Every container of the project (stopped ones too), oldest first."""
        labels = [f"label=com.docker.compose.project={self.project}"]
        if service:
            labels.append(f"label=com.docker.compose.service={service}")
        listing = [
            "docker",
            "ps",
            "-a",
            "-q",
            *(f for label in labels for f in ("--filter", label)),
        ]
        ids = subprocess.run(listing, capture_output=True, text=True, check=True).stdout.split()
        if not ids:
            return []
        found = json.loads(
            subprocess.run(
                ["docker", "inspect", *ids], capture_output=True, text=True, check=True
            ).stdout
        )
        containers = []
        for item in found:
            state = item["State"]
            containers.append(
                Container(
                    id=item["Id"][:12],
                    name=item["Name"].lstrip("/"),
                    service=item["Config"]["Labels"].get("com.docker.compose.service", ""),
                    status=state["Status"],
                    health=(state.get("Health") or {}).get("Status", ""),
                    exit_code=state["ExitCode"],
                    started_at=state["StartedAt"],
                )
            )
        return sorted(containers, key=lambda c: (c.service, c.name))

    def wait_ready(
        self, timeout: float = READY_TIMEOUT, services: Sequence[str] = LONG_RUNNING
    ) -> None:
        """Until every container of `services` runs healthy, every migration has exited 0,
        and the gateway says every service is ready; a failed migration or an unhealthy
        container stops the wait at once, with its log."""
        deadline = time.monotonic() + timeout
        waiting: list[str] = []
        while time.monotonic() < deadline:
            containers = self.containers()
            waiting = []
            for container in containers:
                if container.one_shot:
                    if container.status == "exited" and container.exit_code != 0:
                        raise ComposeError(f"{container.name} failed:\n{self.logs(container.name)}")
                    if container.status != "exited":
                        waiting.append(container.name)
                elif container.service in services and container.health != "healthy":
                    if container.health == "unhealthy" or container.status == "exited":
                        raise ComposeError(
                            f"{container.name} is {container.health or container.status}:\n"
                            f"{self.logs(container.name)}"
                        )
                    waiting.append(container.name)
            present = {c.service for c in containers}
            waiting += [f"{s} (no container yet)" for s in services if s not in present]
            if not waiting and self.gateway_ready():
                return
            time.sleep(1)
        raise ComposeError(f"not ready after {timeout:.0f} s: {', '.join(waiting) or 'gateway'}")

    def gateway_ready(self) -> bool:
        try:
            url = f"{self.base_url}/health/ready"  # http, built here
            with urllib.request.urlopen(url, timeout=3) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def logs(self, name: str, tail: int = 60) -> str:
        result = subprocess.run(
            ["docker", "logs", "--tail", str(tail), name],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout + result.stderr

    # --- The steps ---------------------------------------------------------------------

    def up(self, *, build: bool = True, scale: dict[str, int] | None = None) -> float:
        """Build, start and wait; the seconds it took."""
        began = time.monotonic()
        if build:  # on its own, quietly: a build's every step is no news
            self.compose("build", "--quiet")
        args = ["up", "-d", "--remove-orphans"]
        for service, count in (scale or {}).items():
            args += ["--scale", f"{service}={count}"]
        self.compose(*args)
        self.wait_ready()
        return time.monotonic() - began

    def down(self, *, volumes: bool = False) -> None:
        self.compose("down", "--remove-orphans", *(["--volumes"] if volumes else []))

    def roll(self, service: str) -> None:
        """Rebuild `service` and replace each of its containers with one from the new
        image: the new one starts beside the old ones and turns healthy, then an old one
        stops. The gateway finds replicas by DNS (valid 5 s) and a refused or unreachable
        address makes it try the next one, so no request is refused on the way."""
        self.compose("build", "--quiet", service)
        old = [c for c in self.containers(service) if c.status == "running"]
        if not old:
            raise ComposeError(f"{service} has no running container to replace")
        count = len(old)
        for replaced, container in enumerate(old, start=1):
            self.compose("up", "-d", "--no-deps", "--no-recreate", "--scale",
                         f"{service}={count + 1}", service)  # fmt: skip
            self.wait_ready(services=(service,))
            # uvicorn stops taking connections and finishes the requests it holds; Docker
            # drops the container from its DNS as it stops.
            subprocess.run(
                ["docker", "stop", "-t", "30", container.name], capture_output=True, check=True
            )
            subprocess.run(["docker", "rm", container.name], capture_output=True, check=True)
            log(f"{service}: {replaced} of {count} replaced ({container.name})")
        self.compose(
            "up", "-d", "--no-deps", "--no-recreate", "--scale", f"{service}={count}", service
        )
        self.wait_ready()

    def backup(self, folder: Path) -> list[Path]:
        """One pg_dump archive a service database, taken while the stack runs."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for database in DATABASES.values():
            target = folder / f"{database}.dump"
            with target.open("wb") as out:
                subprocess.run(
                    self.command("exec", "-T", "postgres", "pg_dump", "-U", "postgres",
                                 "--format=custom", database),
                    cwd=ROOT, stdout=out, check=True,
                )  # fmt: skip
            written.append(target)
        return written

    def restore(self, folder: Path) -> None:
        """Each archive back into its database (a fresh volume's, made by the init script,
        or the current one: what the archive holds is dropped and made again). The
        services stop meanwhile and start again afterwards."""
        archives = {name: folder / f"{name}.dump" for name in DATABASES.values()}
        missing = [str(path) for path in archives.values() if not path.is_file()]
        if missing:
            raise ComposeError(f"no archive: {', '.join(missing)}")
        self.compose("stop", *DATABASES)
        try:
            for database, archive in archives.items():
                with archive.open("rb") as source:
                    subprocess.run(
                        self.command("exec", "-T", "postgres", "pg_restore", "-U", "postgres",
                                     "--clean", "--if-exists", "--exit-on-error",
                                     "--dbname", database),
                        cwd=ROOT, stdin=source, check=True,
                    )  # fmt: skip
        finally:
            self.compose("start", *DATABASES)
        self.wait_ready()


# --- make compose-test -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def project_images(tag: str) -> list[str]:
    return [f"kinoarchive-{name}:{tag}" for name in ("catalog", "auth", "user", "gateway")]


@contextmanager
def test_stack(keep: bool) -> Iterator[Stack]:
    """A project of its own (its name, secrets, port and image tag), removed afterwards
    with its volumes and images, whatever happened, unless `keep`."""
    folder = ROOT / "var" / "compose-test"
    env_file = folder / ".env"
    if env_file.exists():  # a run that was stopped before it could clean up
        Stack(env_file).down(volumes=True)
        env_file.unlink()
    write_env(env_file, {
        "COMPOSE_PROJECT_NAME": TEST_PROJECT, "IMAGE_TAG": "test",
        "GATEWAY_BIND": "127.0.0.1", "GATEWAY_PORT": str(free_port()),
        "GATEWAY_HTTPS_PORT": str(free_port()),
        # The suites' many auth calls all come from 127.0.0.1: the gateway's flood limit
        # on /auth/ (gateway/tests check its defaults) is raised for this stack.
        "GATEWAY_AUTH_RATE": "1000r/s", "GATEWAY_AUTH_BURST": "1000",
        # And so are the auth service's per-address limits (registrations, failed logins);
        # their defaults are tested on a local stack (tests-e2e/security).
        "AUTH_REGISTER_MAX_PER_ADDRESS": "1000000",
        "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000",
    })  # fmt: skip
    stack = Stack(env_file)
    try:
        yield stack
    finally:
        if keep:
            log(f"kept: {stack.project} at {stack.base_url} (env file {env_file})")
        else:
            log("removing the test stack: containers, networks, volumes, images")
            stack.down(volumes=True)
            subprocess.run(
                ["docker", "rmi", *project_images("test")], capture_output=True, check=False
            )
            # The services' build stages are images of their own that no tag keeps.
            prune = ["docker", "image", "prune", "--force", "--filter", f"label={BUILD_STAGE}"]
            subprocess.run(prune, capture_output=True, check=False)
            shutil.rmtree(folder, ignore_errors=True)


def run_tests(keep: bool) -> int:
    python = ROOT / ".venv" / "bin" / "python"
    interpreter = str(python if python.exists() else sys.executable)
    with test_stack(keep) as stack:
        log(f"building and starting {stack.project} on {stack.base_url}")
        log(f"ready in {stack.up():.0f} s")
        env = {
            **os.environ,
            "E2E_BASE_URL": stack.base_url,
            "COMPOSE_ENV_FILE": str(stack.env_file),
        }
        suites = [
            # The black-box suite against the composed gateway. Its faults/ and the login
            # abuse module start local stacks of their own: they ran in make test already.
            [
                "tests-e2e", "--ignore=tests-e2e/faults",
                "--ignore=tests-e2e/security/test_login_abuse_and_asymmetric_keys.py",
            ],
            # Scaling, faults, persistence and rolling replacement, on these containers.
            ["tests-compose"],
        ]  # fmt: skip
        failed = 0
        for suite in suites:
            log(f"pytest {' '.join(suite)}")
            tests = subprocess.run(
                [interpreter, "-m", "pytest", *suite, "-q"], cwd=ROOT, env=env, check=False
            )
            if tests.returncode:
                failed += 1
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env", help="default: .env")
    steps = parser.add_subparsers(dest="step", required=True)
    steps.add_parser("up", help="build, start, wait until healthy")
    down = steps.add_parser("down", help="stop and remove the containers")
    down.add_argument("--volumes", action="store_true", help="and the data volumes")
    roll = steps.add_parser("roll", help="rebuild one service and replace it without downtime")
    roll.add_argument("service", choices=list(DATABASES))  # the gateway holds the port
    for name in ("backup", "restore"):
        step = steps.add_parser(name, help=f"{name} every service's database")
        step.add_argument("folder", type=Path)
    test = steps.add_parser("test", help="the suites against a composed stack of their own")
    test.add_argument("--keep", action="store_true", help="leave the test stack running")
    args = parser.parse_args(argv)

    try:
        if args.step == "test":
            return run_tests(args.keep)
        if args.step == "up" and write_env(args.env_file):
            log(f"wrote {args.env_file} with fresh secrets (keep it: the volume needs them)")
        if not args.env_file.exists():
            raise ComposeError(f"no {args.env_file}: run `make compose-up` first")
        stack = Stack(args.env_file)
        if args.step == "up":
            seconds = stack.up()
            log(f"{stack.project} is ready at {stack.base_url}/ ({seconds:.0f} s)")
        elif args.step == "down":
            stack.down(volumes=args.volumes)
        elif args.step == "roll":
            stack.roll(args.service)
        elif args.step == "backup":
            for path in stack.backup(args.folder):
                log(f"wrote {path}")
        elif args.step == "restore":
            stack.restore(args.folder)
            log("restored")
    except (ComposeError, subprocess.CalledProcessError) as exc:
        print(f"compose: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
