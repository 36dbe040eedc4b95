"""Check the deployment without Docker: `.venv/bin/python scripts/check_deploy.py`.

What CI can verify of docker-compose.yml and the Dockerfiles on a machine without a
Docker daemon:

  compose      the file parses, interpolates like Compose does, and validates against the
               Compose Specification's JSON schema (deploy/compose-spec.json)
  dockerfiles  every service that compose builds has its Dockerfile, and every service
               folder is built; each Dockerfile copies files that exist, layers the
               dependencies before the code, runs as a non-root user, has a HEALTHCHECK,
               and installs nothing only the tests need (testkit/, schemathesis,
               hypothesis, pytest), directly or as a dependency of its projects
  health       every long-running container has a health check; every depends_on waits
               on a condition; each service starts after its one-shot migration
  environment  every setting a service reads (found by importing the service's
               pydantic-settings classes) is set in compose or has a default; nothing
               set there is unknown; the settings load in production mode with it
  secrets      every variable compose interpolates is documented in .env.example;
               secrets have no default (compose stops without them); .env is ignored;
               Redis runs with a password (--requirepass) and every redis:// URL
               given to a service carries one
  gateway      every placeholder of the gateway's templates has a value in the image or
               in compose, and the configuration rendered for compose passes `nginx -t`;
               the image has its entrypoint and TLS template; compose publishes the
               image's HTTP and HTTPS ports, redirects to the published HTTPS port, and
               mounts the certificate and key read-only where the image looks for them
  monitoring   the `monitoring` profile's Prometheus scrapes every service
  standins     every official image the stack runs on (the Dockerfiles' FROM, and the
               image of each service outside a profile) has a stand-in for machines
               without a registry (deploy/ci/standins.sh), and each stand-in its Dockerfile

Exit status 0 when every check passes, 1 otherwise (each problem on its own line).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import re
import secrets
import shlex
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "gateway"))

import render  # noqa: E402  (gateway/render.py, standard library only)

COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "deploy" / "compose-spec.json"
ENV_EXAMPLE = ROOT / ".env.example"

# Variables a Python service's container may set that are not its settings.
PROCESS_VARIABLES = frozenset(
    {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "TZ", "FORWARDED_ALLOW_IPS"}
)
PROCESS_PREFIXES = ("UVICORN_",)
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN")
# Secrets that are empty on purpose most of the time: the key being retired during a
# signing-key rotation (SECURITY.md). Written ${NAME:-}; never given a value in .env.example.
OPTIONAL_SECRETS = frozenset({"JWT_PREVIOUS_SECRET"})
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME, $$
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class CheckError(Exception):
    """The deployment files cannot even be read (the other checks cannot run)."""


@dataclass(frozen=True)
class Reference:
    """One `${NAME...}` in the compose file."""

    name: str
    operator: str  # "", ":-", "-", ":?", "?", ":+", "+"
    argument: str


@dataclass
class Project:
    """The files the checks read; tests point it at broken copies."""

    root: Path = ROOT
    compose_file: Path = COMPOSE_FILE
    schema_file: Path = SCHEMA_FILE
    env_example: Path = ENV_EXAMPLE
    raw: dict[str, Any] = field(default_factory=dict)  # the compose file, not interpolated
    compose: dict[str, Any] = field(default_factory=dict)  # interpolated
    references: list[Reference] = field(default_factory=list)
    documented: set[str] = field(default_factory=set)  # names in .env.example
    example_values: dict[str, str] = field(default_factory=dict)  # its uncommented lines

    @classmethod
    def load(
        cls,
        root: Path = ROOT,
        compose_file: Path | None = None,
        env_example: Path | None = None,
    ) -> Project:
        project = cls(
            root=root,
            compose_file=compose_file or root / "docker-compose.yml",
            schema_file=root / "deploy" / "compose-spec.json",
            env_example=env_example or root / ".env.example",
        )
        try:
            text = project.compose_file.read_text(encoding="utf-8")
            raw = yaml.safe_load(text)
        except (OSError, yaml.YAMLError) as exc:
            raise CheckError(f"{project.compose_file.name} cannot be read: {exc}") from exc
        if not isinstance(raw, dict):
            raise CheckError(f"{project.compose_file.name} is not a mapping")
        project.raw = raw
        project.example_values = read_env_file(project.env_example)
        project.documented = documented_names(project.env_example)
        project.references = references(raw)
        project.compose = interpolate(raw, sample_environment(project.references))
        return project

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        services = self.compose.get("services") or {}
        return services if isinstance(services, dict) else {}


# --------------------------------------------------------------------------------------
# Reading: env files, interpolation, Dockerfiles
# --------------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines (comments and blank lines skipped); {} when the file is missing."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values


_DOCUMENTED = re.compile(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def documented_names(path: Path) -> set[str]:
    """Every NAME= of an env file, commented out (`# NAME=default`) or not."""
    if not path.is_file():
        return set()
    return set(_DOCUMENTED.findall(path.read_text(encoding="utf-8")))


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def references(node: Any) -> list[Reference]:
    found: list[Reference] = []
    for text in _strings(node):
        for match in _INTERPOLATION.finditer(text):
            name = match["braced"] or match["bare"]
            if name:
                found.append(Reference(name, match["operator"] or "", match["argument"] or ""))
    return found


def sample_environment(refs: list[Reference]) -> dict[str, str]:
    """What an operator's .env holds, for the checks: a fresh random value per secret."""
    return {
        ref.name: secrets.token_urlsafe(48)
        for ref in refs
        if ref.operator in (":?", "?")
        or (SECRET_NAME.search(ref.name) and ref.name not in OPTIONAL_SECRETS)
    }


def interpolate(node: Any, environment: Mapping[str, str]) -> Any:
    """Compose's variable substitution, applied to every string of the file."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        operator, argument = match["operator"] or "", match["argument"] or ""
        value = environment.get(name)
        if operator == ":-":
            return value or argument
        if operator == "-":
            return argument if value is None else value
        if operator in (":?", "?") and (value is None or (operator == ":?" and not value)):
            raise CheckError(f"${{{name}}} is required: {argument}")
        if operator == ":+":
            return argument if value else ""
        if operator == "+":
            return "" if value is None else argument
        return value or ""

    if isinstance(node, str):
        return _INTERPOLATION.sub(substitute, node)
    if isinstance(node, dict):
        return {key: interpolate(value, environment) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, environment) for item in node]
    return node


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    arguments: str
    stage: int  # index of the FROM it belongs to


def read_dockerfile(path: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = (pending + stripped).strip()
        pending = ""
        if not text:
            continue
        keyword, _, arguments = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, arguments.strip(), stage))
    return instructions


def dockerfile_env(instructions: list[Instruction]) -> dict[str, str]:
    """ENV of the final stage (`ENV A=1 B=2` and the old `ENV A 1` form)."""
    final = max((i.stage for i in instructions), default=0)
    values: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword != "ENV" or instruction.stage != final:
            continue
        words = shlex.split(instruction.arguments)
        if words and "=" not in words[0]:
            values[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            name, _, value = word.partition("=")
            values[name] = value
    return values


# --------------------------------------------------------------------------------------
# The checks: each returns a list of problems (empty: passed)
# --------------------------------------------------------------------------------------


def check_compose(project: Project) -> list[str]:
    try:
        schema = yaml.safe_load(project.schema_file.read_text(encoding="utf-8"))
    except OSError as exc:
        return [f"the Compose schema cannot be read: {exc}"]
    validator = jsonschema.Draft7Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(project.compose), key=lambda e: list(e.path)):
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        problems.append(f"compose schema: {where}: {error.message}")
    if not project.services:
        problems.append("compose: no services")
    return problems


def built_services(project: Project) -> dict[str, Path]:
    """Compose service -> the Dockerfile it builds from."""
    result: dict[str, Path] = {}
    for name, service in project.services.items():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = (project.compose_file.parent / build.get("context", ".")).resolve()
        result[name] = context / build.get("dockerfile", "Dockerfile")
    return result


def service_folders(root: Path) -> list[Path]:
    """The folders that make an image: every *-service/ and the gateway."""
    return [*sorted(root.glob("*-service")), root / "gateway"]


def check_dockerfiles(project: Project) -> list[str]:
    problems: list[str] = []
    built = built_services(project)
    for name, dockerfile in built.items():
        if not dockerfile.is_file():
            problems.append(f"{name}: its Dockerfile {dockerfile} does not exist")
    used = {path.resolve() for path in built.values()}
    for folder in service_folders(project.root):
        dockerfile = folder / "Dockerfile"
        if not dockerfile.is_file():
            problems.append(f"{folder.name}/ has no Dockerfile")
        elif dockerfile.resolve() not in used:
            problems.append(f"{folder.name}/Dockerfile is built by no compose service")
    for dockerfile in sorted(used):
        if dockerfile.is_file():
            problems += [f"{dockerfile.relative_to(project.root)}: {p}" for p in lint(dockerfile)]
    return problems


# What a Dockerfile copies to install dependencies, before the code.
DEPENDENCY_FILES = ("pyproject.toml", "constraints.txt")
# What only the test suites need (and `pytest-*`): no image installs it or depends on it.
TEST_ONLY = frozenset({"kinoarchive-testkit", "testkit", "schemathesis", "hypothesis", "pytest"})


def lint(dockerfile: Path) -> list[str]:
    """What a small, safe image needs, and COPY sources that exist."""
    instructions = read_dockerfile(dockerfile)
    problems: list[str] = []
    final = max((i.stage for i in instructions), default=-1)
    if final < 0:
        return ["no FROM"]
    context = dockerfile.parent.parent  # the repository root, as compose builds it
    copies = []
    for instruction in instructions:
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        words = [w for w in shlex.split(instruction.arguments) if not w.startswith("--")]
        if "--from=" in instruction.arguments:
            continue
        for source in words[:-1]:
            copies.append(source)
            if not any(context.glob(source.rstrip("/"))):
                problems.append(f"COPY source {source} does not exist in the build context")
    users = [i.arguments for i in instructions if i.keyword == "USER" and i.stage == final]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the image runs as root (no USER, or USER root, in the final stage)")
    if not any(i.keyword == "HEALTHCHECK" and i.stage == final for i in instructions):
        problems.append("no HEALTHCHECK")
    code = [n for n, source in enumerate(copies) if not source.endswith(DEPENDENCY_FILES)]
    manifests = [n for n, source in enumerate(copies) if source.endswith(DEPENDENCY_FILES)]
    if manifests and code and min(code) < max(manifests):
        problems.append("code is copied before the dependencies are installed (layering)")
    for instruction in instructions:
        # An install that resolves dependencies takes the versions CI tested.
        command = instruction.arguments
        resolves = "pip install" in command and "--no-deps" not in command
        if instruction.keyword == "RUN" and resolves and "-c constraints.txt" not in command:
            problems.append("pip installs without -c constraints.txt (unpinned versions)")
        if instruction.keyword == "RUN":
            problems += installs_for_tests(command, context)
    if any(Path(source).parts[:1] == ("testkit",) for source in copies):
        problems.append("copies testkit/, the test suites' helpers, into the image")
    return problems


def distribution(requirement: str) -> str:
    """The normalized project name of a requirement: `Hypothesis[cli]>=6` -> `hypothesis`."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    return re.sub(r"[-_.]+", "-", match.group()).lower() if match else ""


def installs_for_tests(command: str, context: Path) -> list[str]:
    """What the `pip install`s of one RUN would put in the image that only the tests
    need: named on the command line, listed in a `-r` file, or a dependency of a project
    installed from the build context (WORKDIR mirrors it: `./shared` is its shared/)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: the build would fail first
        return []
    steps: list[list[str]] = [[]]
    for token in tokens:
        if token in ("&&", "||", ";", "|", "&"):
            steps.append([])
        else:
            steps[-1].append(token)
    problems: list[str] = []
    for words in steps:
        if "install" not in words or not any(word.endswith("pip") for word in words):
            continue
        arguments = iter(words[words.index("install") + 1 :])
        for option in arguments:
            word = option
            if option in ("-c", "--constraint", "-r", "--requirement", "-e", "--editable"):
                word = next(arguments, "")
            if option in ("-c", "--constraint") or not word or word.startswith("-"):
                continue
            if option in ("-r", "--requirement"):
                names = {distribution(line) for line in _lines(context / word)} - {""}
                where = f" (listed in {word})"
            elif word.startswith((".", "/")):
                project = context / word.lstrip("/")
                name, dependencies = _project(project / "pyproject.toml")
                if {distribution(project.name), name} & TEST_ONLY:
                    problems.append(f"installs {word}, which only the tests need")
                    continue
                if "--no-deps" in words:
                    continue
                names, where = dependencies, f" (a dependency of {word})"
            else:
                names, where = {distribution(word)}, ""
            for name in sorted(names):
                if name in TEST_ONLY or name.startswith("pytest-"):
                    problems.append(f"installs {name}, which only the tests need{where}")
    return problems


def _lines(requirements: Path) -> list[str]:
    """A requirements file's requirements (options and comments left out)."""
    try:
        text = requirements.read_text(encoding="utf-8")
    except OSError:
        return []
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def _project(pyproject: Path) -> tuple[str, set[str]]:
    """The project's name and its dependencies, normalized (nothing if unreadable)."""
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return "", set()
    dependencies = {distribution(requirement) for requirement in project.get("dependencies", [])}
    return distribution(project.get("name", "")), dependencies - {""}


def one_shot(service: Mapping[str, Any]) -> bool:
    return str(service.get("restart", "no")) == "no"


def check_health(project: Project) -> list[str]:
    problems: list[str] = []
    services = project.services
    for name, service in services.items():
        healthcheck = service.get("healthcheck") or {}
        if one_shot(service):
            continue
        if not healthcheck.get("test") or healthcheck.get("disable"):
            problems.append(f"{name}: no health check")
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on without conditions (use the long form)")
            continue
        for other, condition in depends.items():
            if other not in services:
                problems.append(f"{name}: depends on {other}, which compose does not define")
            elif not (condition or {}).get("condition"):
                problems.append(f"{name}: depends on {other} without a condition")
    for name, dockerfile in built_services(project).items():
        if not dockerfile.parent.name.endswith("-service") or one_shot(services[name]):
            continue
        image = services[name].get("image")
        migrations = [
            other
            for other, service in services.items()
            if one_shot(service)
            and service.get("image") == image
            and "migrate" in " ".join(map(str, _as_list(service.get("command"))))
        ]
        if not migrations:
            problems.append(f"{name}: no one-shot migration service runs `migrate` first")
            continue
        conditions = services[name].get("depends_on") or {}
        if not isinstance(conditions, dict) or not any(
            (conditions.get(m) or {}).get("condition") == "service_completed_successfully"
            for m in migrations
        ):
            problems.append(
                f"{name}: does not wait for {migrations[0]} "
                "(depends_on condition: service_completed_successfully)"
            )
    return problems


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# --- settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    owner: str  # class name
    field: str
    names: tuple[str, ...]  # environment variables, any one of which sets it
    required: bool


def settings_classes(package: str) -> list[type[BaseSettings]]:
    """The pydantic-settings classes a service package uses: those its modules define or
    import (JwtSettings from shared.jwt, ...), without the bases of the others."""
    root = importlib.import_module(package)
    modules = [root]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        tail = info.name.rsplit(".", 1)[-1]
        if tail == "__main__" or ".migrations" in info.name:
            continue  # running code, not settings
        modules.append(importlib.import_module(info.name))
    found: list[type[BaseSettings]] = []
    for module in modules:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseSettings)
                and value is not BaseSettings
                and value not in found
            ):
                found.append(value)
    return [cls for cls in found if not any(o is not cls and issubclass(o, cls) for o in found)]


def settings_of(cls: type[BaseSettings]) -> list[Setting]:
    prefix = str(cls.model_config.get("env_prefix") or "")
    result = []
    for name, info in cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names: tuple[str, ...] = (alias,)
        elif isinstance(alias, AliasChoices):
            names = tuple(choice for choice in alias.choices if isinstance(choice, str))
        else:
            names = (prefix + name,)
        result.append(
            Setting(cls.__name__, name, tuple(n.upper() for n in names), info.is_required())
        )
    return result


def compose_environment(service: Mapping[str, Any], base: Path) -> dict[str, str]:
    """environment (mapping or list) over env_file entries, as compose merges them."""
    values: dict[str, str] = {}
    for entry in _as_list(service.get("env_file")):
        path = entry if isinstance(entry, str) else entry.get("path", "")
        values.update(read_env_file(base / path))
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    values.update({str(k): "" if v is None else str(v) for k, v in environment.items()})
    return values


@contextlib.contextmanager
def only_environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def check_environment(project: Project) -> list[str]:
    problems: list[str] = []
    for name, dockerfile in built_services(project).items():
        folder = dockerfile.parent
        if not folder.name.endswith("-service"):
            continue
        package = folder.name.replace("-", "_")
        try:
            classes = settings_classes(package)
        except ImportError as exc:
            problems.append(f"{name}: cannot import {package} to read its settings: {exc}")
            continue
        environment = compose_environment(project.services[name], project.compose_file.parent)
        environment.update(
            {
                k: v
                for k, v in dockerfile_env(read_dockerfile(dockerfile)).items()
                if k not in environment
            }
        )
        known: set[str] = set()
        prefixes = {str(cls.model_config.get("env_prefix") or "") for cls in classes} - {""}
        for cls in classes:
            for setting in settings_of(cls):
                known.update(setting.names)
                undocumented = [n for n in setting.names if n not in project.documented]
                for variable in undocumented:
                    problems.append(f"{name}: {variable} is not documented in .env.example")
                if setting.required and not any(n in environment for n in setting.names):
                    problems.append(
                        f"{name}: {' or '.join(setting.names)} ({cls.__name__}.{setting.field}) "
                        "is required and not set"
                    )
        for variable in environment:
            if variable in known or variable in PROCESS_VARIABLES:
                continue
            if variable.startswith(PROCESS_PREFIXES):
                continue
            problems.append(f"{name}: {variable} is set but no setting of {package} reads it")
        service_prefix = package.split("_")[0].upper() + "_"
        if service_prefix in prefixes:
            if environment.get(f"{service_prefix}ENVIRONMENT") != "production":
                problems.append(f"{name}: {service_prefix}ENVIRONMENT is not production")
            if environment.get(f"{service_prefix}LOG_FORMAT") != "json":
                problems.append(f"{name}: {service_prefix}LOG_FORMAT is not json")
        with only_environment(environment):
            for cls in classes:
                try:
                    cls(_env_file=None)
                except Exception as exc:  # what the service would die of at start
                    first = str(exc).splitlines()
                    problems.append(
                        f"{name}: {cls.__name__} refuses the compose environment: "
                        + " ".join(line.strip() for line in first[:3])
                    )
    return problems


def check_secrets(project: Project) -> list[str]:
    problems: list[str] = []
    if not project.env_example.is_file():
        problems.append(f"{project.env_example.name} is missing")
    for ref in project.references:
        if ref.name not in project.documented:
            problems.append(f"${{{ref.name}}} is used in compose but not in .env.example")
        if (
            SECRET_NAME.search(ref.name)
            and ref.operator != ":?"
            and ref.name not in OPTIONAL_SECRETS
        ):
            problems.append(
                f"${{{ref.name}}} is a secret: write it ${{{ref.name}:?message}} "
                "so that compose stops when .env lacks it"
            )
    for name, value in project.example_values.items():
        if SECRET_NAME.search(name) and value:
            problems.append(f".env.example gives {name} a value: secrets stay empty there")
    for ignore in (".gitignore", ".dockerignore"):
        path = project.root / ignore
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        if ".env" not in [line.strip() for line in lines]:
            problems.append(f"{ignore} does not list .env")
    return problems + redis_passwords(project)


_REDIS_URL = re.compile(r"rediss?://[^\s\"']*")


def redis_passwords(project: Project) -> list[str]:
    """Redis asks for a password, and every service that talks to it has one."""
    problems: list[str] = []
    for name, service in project.services.items():
        image = str(service.get("image") or "")
        if image.rpartition("/")[2].startswith("redis:"):
            command = [str(part) for part in _as_list(service.get("command"))]
            given = command.index("--requirepass") + 1 if "--requirepass" in command else 0
            if not given or given >= len(command) or not command[given]:
                problems.append(f"{name}: Redis runs without a password (--requirepass)")
        for text in _strings(service.get("environment")):
            for url in _REDIS_URL.findall(text):
                if not urlsplit(url).password:
                    problems.append(f"{name}: {url} has no password (redis://:PASSWORD@host)")
    return problems


def gateway_values(project: Project) -> tuple[str | None, dict[str, str], list[str]]:
    """The gateway service, the placeholder values its container has, and problems."""
    for name, dockerfile in built_services(project).items():
        if dockerfile.parent.name == "gateway":
            values = dockerfile_env(read_dockerfile(dockerfile))
            values.update(compose_environment(project.services[name], project.compose_file.parent))
            return name, values, []
    return None, {}, ["no compose service builds gateway/Dockerfile"]


def check_gateway(project: Project, nginx: str | None = None) -> list[str]:
    name, values, problems = gateway_values(project)
    if name is None:
        return problems
    dockerfile = project.root / "gateway" / "Dockerfile"
    copied = " ".join(i.arguments for i in read_dockerfile(dockerfile) if i.keyword == "COPY")
    templates = [render.TEMPLATE_PATH, render.UPSTREAMS_TEMPLATES["compose"]]
    for path in (*templates, render.TLS_TEMPLATE_PATH, render.ENTRYPOINT_PATH):
        if f"gateway/nginx/{path.name}" not in copied:
            problems.append(f"gateway/Dockerfile does not copy {path.name} into the image")
    templates.append(render.TLS_TEMPLATE_PATH)
    for template in templates:
        for placeholder in sorted(set(re.findall(r"\$\{(\w+)\}", template.read_text()))):
            if not values.get(placeholder):
                problems.append(
                    f"{name}: placeholder ${{{placeholder}}} of {template.name} has no value "
                    "(set it in compose or as ENV in gateway/Dockerfile)"
                )
    problems += check_gateway_tls(name, project.services[name], values)
    if problems:
        return problems
    nginx = nginx or render.find_nginx()
    if nginx is None:
        return ["nginx is not installed: cannot run nginx -t on the compose rendering"]
    with tempfile.TemporaryDirectory(prefix="check-deploy-nginx-") as folder:
        placeholders = {key: values[key] for key in render.PLACEHOLDERS if key in values}
        # As the container starts without a certificate mounted (TLS off), with the
        # trusted proxies compose gives it; nothing from this process's environment.
        placeholders.update(
            GATEWAY_TRUSTED_PROXIES=values.get("GATEWAY_TRUSTED_PROXIES", ""),
            GATEWAY_TLS_CERT="",
            GATEWAY_TLS_KEY="",
        )
        try:
            conf = render.write_local_config(Path(folder), placeholders, mode="compose")
        except render.RenderError as exc:
            return [f"{name}: the compose rendering fails: {exc}"]
        result = subprocess.run(
            [nginx, "-t", "-q", "-p", folder, "-c", str(conf)],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        problems.append(f"{name}: nginx -t refuses the compose rendering:\n{result.stderr}")
    return problems


def check_gateway_tls(
    name: str, service: Mapping[str, Any], values: Mapping[str, str]
) -> list[str]:
    """Ports and TLS files of the gateway service, against the image's settings."""
    problems: list[str] = []
    published: dict[str, str] = {}  # container port -> host port
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published[str(entry.get("target"))] = str(entry.get("published", ""))
        else:
            host_side, _, container = str(entry).rpartition(":")
            published[container.split("/")[0]] = host_side.rpartition(":")[2]
    for setting in ("GATEWAY_PORT", "GATEWAY_HTTPS_PORT"):
        port = values.get(setting, "")
        if port not in published:
            problems.append(f"{name}: does not publish container port {port} ({setting})")
    https = published.get(values.get("GATEWAY_HTTPS_PORT", ""))
    if https is not None and values.get("GATEWAY_HTTPS_REDIRECT_PORT") != https:
        problems.append(
            f"{name}: GATEWAY_HTTPS_REDIRECT_PORT is not the published HTTPS port ({https}): "
            "plain HTTP would be redirected to a port that nobody serves"
        )
    mounts: dict[str, str] = {}  # container path -> options
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            read_only = "ro" if volume.get("read_only") else "rw"
            mounts[str(volume.get("target"))] = read_only
        else:
            parts = str(volume).split(":")
            if len(parts) >= 2:
                mounts[parts[1]] = parts[2] if len(parts) > 2 else "rw"
    for setting in ("GATEWAY_TLS_CERT", "GATEWAY_TLS_KEY"):
        path = values.get(setting, "")
        if path not in mounts:
            problems.append(f"{name}: mounts nothing at {path} ({setting} of the image)")
        elif "ro" not in mounts[path].split(","):
            problems.append(f"{name}: mounts {path} ({setting}) writable: make it :ro")
    return problems


def check_monitoring(project: Project) -> list[str]:
    problems: list[str] = []
    monitors = [
        (name, s)
        for name, s in project.services.items()
        if "monitoring" in (s.get("profiles") or [])
    ]
    if not monitors:
        return ["no service in the `monitoring` profile"]
    mounted = [
        str(volume).split(":")[0]
        for _, service in monitors
        for volume in service.get("volumes") or []
        if str(volume).split(":")[0].endswith((".yml", ".yaml"))
    ]
    if not mounted:
        return ["the monitoring profile mounts no Prometheus configuration"]
    config = yaml.safe_load((project.compose_file.parent / mounted[0]).read_text(encoding="utf-8"))
    targets: set[str] = set()  # host names that Prometheus scrapes
    for job in config.get("scrape_configs") or []:
        for discovery in job.get("dns_sd_configs") or []:
            targets.update(discovery.get("names") or [])
        for static in job.get("static_configs") or []:
            targets.update(str(t).rsplit(":", 1)[0] for t in static.get("targets") or [])
    for name, dockerfile in built_services(project).items():
        service = project.services[name]
        is_service = dockerfile.parent.name.endswith("-service") and not one_shot(service)
        if is_service and name not in targets:
            problems.append(f"Prometheus ({mounted[0]}) does not scrape {name}")
    return problems


def standin_images(root: Path) -> dict[str, str]:
    """deploy/ci/standins.sh's list: official image -> the folder of its stand-in."""
    script = root / "deploy" / "ci" / "standins.sh"
    try:
        text = script.read_text(encoding="utf-8")
    except OSError:
        return {}
    listing = re.search(r"^IMAGES=\((.*?)^\)", text, re.MULTILINE | re.DOTALL)
    entries = re.findall(r'"(\S+) (\S+)"', listing.group(1)) if listing else []
    return dict(entries)


def check_standins(project: Project) -> list[str]:
    used: set[str] = set()
    for dockerfile in built_services(project).values():
        if not dockerfile.is_file():
            continue
        froms = [i.arguments.split() for i in read_dockerfile(dockerfile) if i.keyword == "FROM"]
        stages = {words[-1] for words in froms if len(words) == 3 and words[1].upper() == "AS"}
        used.update(words[0] for words in froms if words[0] not in stages)
    for service in project.services.values():
        if "build" not in service and not service.get("profiles") and service.get("image"):
            used.add(str(service["image"]))
    standins = standin_images(project.root)
    folder = project.root / "deploy" / "ci" / "standins"
    problems = [f"{image} has no stand-in in deploy/ci/standins.sh" for image in sorted(used)
                if image not in standins]  # fmt: skip
    problems += [
        f"deploy/ci/standins/{name}/Dockerfile is missing (the stand-in for {image})"
        for image, name in sorted(standins.items())
        if not (folder / name / "Dockerfile").is_file()
    ]
    return problems


CHECKS: dict[str, Callable[[Project], list[str]]] = {
    "compose": check_compose,
    "dockerfiles": check_dockerfiles,
    "health": check_health,
    "environment": check_environment,
    "secrets": check_secrets,
    "gateway": check_gateway,
    "monitoring": check_monitoring,
    "standins": check_standins,
}


def run_checks(project: Project, only: list[str] | None = None) -> dict[str, list[str]]:
    return {name: check(project) for name, check in CHECKS.items() if not only or name in only}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--compose-file", type=Path, default=COMPOSE_FILE)
    parser.add_argument("--only", action="append", choices=list(CHECKS), help="run only these")
    args = parser.parse_args(argv)
    try:
        project = Project.load(ROOT, compose_file=args.compose_file.resolve())
    except CheckError as exc:
        print(f"FAIL compose: {exc}")
        print("deploy: 0 passed, 1 failed")
        return 1
    results = run_checks(project, args.only)
    for name, problems in results.items():
        print(f"{'ok  ' if not problems else 'FAIL'} {name}")
        for problem in problems:
            print(f"     - {problem}")
    failed = sum(1 for problems in results.values() if problems)
    print(f"deploy: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
