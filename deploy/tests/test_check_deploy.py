"""scripts/check_deploy.py: the real deployment passes, and each check fails when its
part of a copy of the deployment is broken."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_deploy  # noqa: E402
from check_deploy import CheckError, Project, interpolate, references, run_checks  # noqa: E402

SERVICES = ("catalog-service", "auth-service", "user-service")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of everything the checks read; big folders that no test edits are links."""
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in (
        "docker-compose.yml",
        ".env.example",
        ".gitignore",
        ".dockerignore",
        "constraints.txt",
    ):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "deploy", copy / "deploy", ignore=shutil.ignore_patterns("tests"))
    (copy / "shared").symlink_to(ROOT / "shared")
    for folder in SERVICES:
        (copy / folder).mkdir()
        for name in ("Dockerfile", "pyproject.toml"):
            shutil.copy(ROOT / folder / name, copy / folder / name)
        package = folder.replace("-", "_")
        (copy / folder / package).symlink_to(ROOT / folder / package)
    (copy / "gateway").mkdir()
    shutil.copy(ROOT / "gateway" / "Dockerfile", copy / "gateway" / "Dockerfile")
    for name in ("nginx", "web"):
        (copy / "gateway" / name).symlink_to(ROOT / "gateway" / name)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path.name}: the test needs updating"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(root: Path, check: str) -> list[str]:
    return run_checks(Project.load(root), [check])[check]


def assert_fails(root: Path, check: str, *expected: str) -> None:
    found = problems(root, check)
    assert found, f"the {check} check passed a broken deployment"
    for text in expected:
        assert any(text in problem for problem in found), (text, found)


# --------------------------------------------------------------------------------------
# The real files
# --------------------------------------------------------------------------------------


def test_the_real_deployment_passes_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_deploy.main([]) == 0
    out = capsys.readouterr().out
    assert f"deploy: {len(check_deploy.CHECKS)} passed, 0 failed" in out


def test_the_copy_passes_every_check(root: Path) -> None:
    assert run_checks(Project.load(root)) == {name: [] for name in check_deploy.CHECKS}


def test_main_reports_a_failure(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(root / "docker-compose.yml", "  redis:\n", "  redis:\n    bogus: 1\n")
    assert check_deploy.main(["--compose-file", str(root / "docker-compose.yml")]) == 1
    out = capsys.readouterr().out
    assert "FAIL compose" in out
    assert "failed" in out.splitlines()[-1]


# --------------------------------------------------------------------------------------
# Interpolation, as Compose does it
# --------------------------------------------------------------------------------------


def test_interpolation_follows_compose() -> None:
    environment = {"SET": "value", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET:-dflt}-${EMPTY:-dflt}-${EMPTY-dflt}", environment) == (
        "value-dflt-dflt-"
    )
    assert interpolate("$$HOME $SET ${SET:+alt}", environment) == "$HOME value alt"
    assert interpolate({"a": ["${SET:?needed}"]}, environment) == {"a": ["value"]}
    with pytest.raises(CheckError, match=r"UNSET.*is required: set it"):
        interpolate("${UNSET:?set it}", environment)
    with pytest.raises(CheckError, match="EMPTY"):
        interpolate("${EMPTY:?set it}", environment)
    found = references({"x": "${A:?m} $B ${C:-d}"})
    assert [(r.name, r.operator) for r in found] == [("A", ":?"), ("B", ""), ("C", ":-")]


def test_unreadable_compose_file_is_an_error(root: Path) -> None:
    (root / "docker-compose.yml").write_text("services: [unclosed\n", encoding="utf-8")
    with pytest.raises(CheckError, match="cannot be read"):
        Project.load(root)


# --------------------------------------------------------------------------------------
# Each check fails on its own kind of breakage
# --------------------------------------------------------------------------------------


def test_compose_schema_refuses_unknown_keys_and_wrong_types(root: Path) -> None:
    compose = root / "docker-compose.yml"
    edit(compose, "    restart: unless-stopped\n", "    restart: unless-stopped\n    portz: [1]\n")
    edit(compose, "condition: service_started", "condition: service_finished")
    assert_fails(
        root,
        "compose",
        "services/postgres: 'portz' does not match any of the regexes",
        "services/prometheus/depends_on",
    )


def test_compose_without_services_fails(root: Path) -> None:
    (root / "docker-compose.yml").write_text("name: empty\nservices: {}\n", encoding="utf-8")
    assert_fails(root, "compose", "no services")


def test_missing_dockerfile(root: Path) -> None:
    (root / "user-service" / "Dockerfile").unlink()
    assert_fails(
        root,
        "dockerfiles",
        "user-service/ has no Dockerfile",
        "user-migrate: its Dockerfile",
    )


def test_service_folder_that_compose_does_not_build(root: Path) -> None:
    edit(
        root / "docker-compose.yml",
        "dockerfile: auth-service/Dockerfile",
        "dockerfile: x/Dockerfile",
    )
    assert_fails(root, "dockerfiles", "auth-service/Dockerfile is built by no compose service")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("USER kinoarchive\n", "", "runs as root"),
        ("USER kinoarchive\n", "USER root\n", "runs as root"),
        ("HEALTHCHECK --interval", "# HEALTHCHECK --interval", "no HEALTHCHECK"),
        (
            "COPY shared/pyproject.toml shared/\n",
            "COPY shared/ shared/\nCOPY shared/pyproject.toml shared/\n",
            "code is copied before the dependencies",
        ),
        ("COPY catalog-service/pyproject.toml", "COPY catalog-service/setup.cfg", "setup.cfg"),
        ("pip install -c constraints.txt ./shared", "pip install ./shared", "unpinned versions"),
        (
            "pip install -c constraints.txt ./shared",
            "pip install -c constraints.txt Hypothesis ./shared",
            "installs hypothesis, which only the tests need",
        ),
        (
            "pip install --no-deps ./shared ./catalog-service",
            "pip install --no-deps ./shared ./catalog-service ./testkit",
            "installs ./testkit, which only the tests need",
        ),
        (
            "COPY catalog-service/ catalog-service/\n",
            "COPY catalog-service/ catalog-service/\nCOPY testkit/ testkit/\n",
            "copies testkit/",
        ),
    ],
)
def test_dockerfile_lint(root: Path, old: str, new: str, expected: str) -> None:
    edit(root / "catalog-service" / "Dockerfile", old, new)
    assert_fails(root, "dockerfiles", "catalog-service/Dockerfile: ", expected)


def test_no_image_depends_on_what_only_the_tests_need(root: Path) -> None:
    edit(
        root / "catalog-service" / "pyproject.toml",
        '"kinoarchive-shared",',
        '"kinoarchive-shared",\n    "schemathesis>=4.32",',
    )
    assert_fails(
        root,
        "dockerfiles",
        "catalog-service/Dockerfile: installs schemathesis, which only the tests need"
        " (a dependency of ./catalog-service)",
    )


def test_gateway_dockerfile_must_not_run_as_root(root: Path) -> None:
    edit(root / "gateway" / "Dockerfile", "USER nginx\n", "")
    assert_fails(root, "dockerfiles", "gateway/Dockerfile: the image runs as root")


def test_container_without_health_check(root: Path) -> None:
    compose = root / "docker-compose.yml"
    edit(
        compose,
        "    healthcheck:\n      # A refused password",
        "    x-h:\n      # A refused password",
    )
    assert_fails(root, "health", "redis: no health check")


def test_depends_on_needs_conditions(root: Path) -> None:
    edit(
        root / "docker-compose.yml",
        "    depends_on:\n      catalog-service:\n        condition: service_started\n"
        "      auth-service:\n        condition: service_started\n"
        "      user-service:\n        condition: service_started\n",
        "    depends_on: [catalog-service]\n",
    )
    assert_fails(root, "health", "prometheus: depends_on without conditions")


def test_service_must_wait_for_its_migration(root: Path) -> None:
    edit(
        root / "docker-compose.yml",
        "      catalog-migrate:\n        condition: service_completed_successfully",
        "      catalog-migrate:\n        condition: service_started",
    )
    assert_fails(root, "health", "catalog-service: does not wait for catalog-migrate")


def test_service_without_a_migration_service(root: Path) -> None:
    edit(root / "docker-compose.yml", '["python", "-m", "auth_service", "migrate"]', '["true"]')
    assert_fails(root, "health", "auth-service: no one-shot migration service")


def test_secret_missing_from_a_service(root: Path) -> None:
    # user-service then has no JWT_SECRET: its JwtSettings refuse to load.
    edit(
        root / "docker-compose.yml",
        "x-user-environment: &user-environment\n  <<: *shared-secrets\n",
        "x-user-environment: &user-environment\n",
    )
    assert_fails(root, "environment", "user-service: JwtSettings refuses the compose environment")


def test_misspelt_variable_is_reported(root: Path) -> None:
    edit(root / "docker-compose.yml", "  CATALOG_LOG_LEVEL:", "  CATALOG_LOG_LEVLE:")
    assert_fails(root, "environment", "CATALOG_LOG_LEVLE is set but no setting of catalog_service")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("USER_ENVIRONMENT: production", "USER_ENVIRONMENT: development", "not production"),
        ("AUTH_LOG_FORMAT: json", "AUTH_LOG_FORMAT: text", "AUTH_LOG_FORMAT is not json"),
        (
            "AUTH_TRUSTED_PROXIES: ${AUTH_TRUSTED_PROXIES:-10.0.0.0/8,",
            "AUTH_TRUSTED_PROXIES: ${AUTH_TRUSTED_PROXIES:-nonsense,",
            "AuthSettings refuses",
        ),
    ],
)
def test_settings_that_a_service_would_refuse(
    root: Path, old: str, new: str, expected: str
) -> None:
    edit(root / "docker-compose.yml", old, new)
    assert_fails(root, "environment", expected)


def test_required_setting_without_a_value(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class NeedsSomething(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="CATALOG_")
        something: str  # no default

    original: Callable[[str], list[type[BaseSettings]]] = check_deploy.settings_classes

    def with_extra(package: str) -> list[type[BaseSettings]]:
        extra = [NeedsSomething] if package == "catalog_service" else []
        return [*original(package), *extra]

    monkeypatch.setattr(check_deploy, "settings_classes", with_extra)
    (root / ".env.example").write_text(
        (root / ".env.example").read_text() + "# CATALOG_SOMETHING=\n", encoding="utf-8"
    )
    assert_fails(
        root,
        "environment",
        "catalog-service: CATALOG_SOMETHING (NeedsSomething.something) is required",
    )


def test_every_setting_is_documented_in_env_example(root: Path) -> None:
    edit(root / ".env.example", "# AUTH_HASH_CONCURRENCY=0\n", "")
    assert_fails(root, "environment", "AUTH_HASH_CONCURRENCY is not documented in .env.example")


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        (
            "docker-compose.yml",
            "${JWT_SECRET:?",
            "${JWT_SECRET:-changeme-but-never",
            "${JWT_SECRET} is a secret",
        ),
        (
            "docker-compose.yml",
            "${CATALOG_LOG_LEVEL:-INFO}",
            "${CATALOG_VERBOSITY:-INFO}",
            "${CATALOG_VERBOSITY} is used in compose but not in .env.example",
        ),
        (
            ".env.example",
            "\nJWT_SECRET=\n",
            "\nJWT_SECRET=committed-by-mistake\n",
            "gives JWT_SECRET a value",
        ),
        (".gitignore", "\n.env\n", "\n", ".gitignore does not list .env"),
        (".dockerignore", "\n.env\n", "\n", ".dockerignore does not list .env"),
    ],
)
def test_secrets_stay_out_of_the_repository(
    root: Path, path: str, old: str, new: str, expected: str
) -> None:
    edit(root / path, old, new)
    assert_fails(root, "secrets", expected)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "      - --requirepass\n      - ${REDIS_PASSWORD:?",
            "      - --protected-mode\n      - no${REDIS_PASSWORD:?",
            "redis: Redis runs without a password (--requirepass)",
        ),
        (
            "redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env (see .env.example)}@redis",
            "redis://redis",
            "auth-service: redis://redis:6379/0 has no password",
        ),
    ],
)
def test_redis_needs_a_password(root: Path, old: str, new: str, expected: str) -> None:
    assert not [p for p in problems(root, "secrets") if "redis" in p.lower()]
    edit(root / "docker-compose.yml", old, new)
    assert_fails(root, "secrets", expected)


def test_gateway_placeholder_without_a_value(root: Path) -> None:
    edit(root / "gateway" / "Dockerfile", "    GATEWAY_RESOLVER=127.0.0.11\n", "\n")
    edit(
        root / "gateway" / "Dockerfile",
        "GATEWAY_UPSTREAM_TIMEOUT=30s \\",
        "GATEWAY_UPSTREAM_TIMEOUT=30s",
    )
    assert_fails(
        root, "gateway", "placeholder ${GATEWAY_RESOLVER} of upstreams.compose.conf.template"
    )


def test_gateway_template_missing_from_the_image(root: Path) -> None:
    edit(root / "gateway" / "Dockerfile", " gateway/nginx/upstreams.compose.conf.template", "")
    assert_fails(root, "gateway", "does not copy upstreams.compose.conf.template")


def test_compose_rendering_that_nginx_refuses(root: Path) -> None:
    edit(root / "docker-compose.yml", "${GATEWAY_UPSTREAM_TIMEOUT:-30s}", "thirty-seconds")
    assert_fails(root, "gateway", "nginx -t refuses the compose rendering")


def test_prometheus_must_scrape_every_service(root: Path) -> None:
    edit(
        root / "deploy" / "prometheus" / "prometheus.yml",
        "names: [user-service]",
        "names: [nobody]",
    )
    assert_fails(root, "monitoring", "does not scrape user-service")


def test_monitoring_profile_must_exist(root: Path) -> None:
    edit(root / "docker-compose.yml", 'profiles: ["monitoring"]', 'profiles: ["metrics"]')
    assert_fails(root, "monitoring", "no service in the `monitoring` profile")


def test_base_image_without_a_stand_in(root: Path) -> None:
    edit(root / "docker-compose.yml", "image: redis:7-alpine", "image: redis:8-alpine")
    assert_fails(root, "standins", "redis:8-alpine has no stand-in")


def test_dockerfile_base_without_a_stand_in(root: Path) -> None:
    edit(root / "catalog-service" / "Dockerfile", "FROM python:3.11-slim AS build",
         "FROM python:3.12-slim AS build")  # fmt: skip
    assert_fails(root, "standins", "python:3.12-slim has no stand-in")


def test_stand_in_without_its_dockerfile(root: Path) -> None:
    (root / "deploy" / "ci" / "standins" / "nginx" / "Dockerfile").unlink()
    assert_fails(root, "standins", "deploy/ci/standins/nginx/Dockerfile is missing")
