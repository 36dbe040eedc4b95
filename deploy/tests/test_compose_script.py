"""scripts/compose.py without Docker: the env file `make compose-up` writes, and the
compose command line every step runs."""

import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import compose  # noqa: E402


def test_env_file_gets_a_fresh_secret_each_and_the_rest_of_the_example(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    assert compose.write_env(path)
    values = compose.read_env(path)
    secrets = [values[name] for name in compose.SECRETS]
    assert all(len(secret) >= 48 for secret in secrets)
    assert len(set(secrets)) == len(secrets)
    assert values["COMPOSE_PROJECT_NAME"] == "kinoarchive"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Every documented line of the example is still there, commented or not.
    example = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    written = path.read_text(encoding="utf-8").splitlines()
    assert len(written) == len(example)
    assert [line for line in written if line.startswith("#")] == [
        line for line in example if line.startswith("#")
    ]


def test_an_existing_env_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("JWT_SECRET=mine\n", encoding="utf-8")
    assert not compose.write_env(path, {"GATEWAY_PORT": "9000"})
    assert path.read_text(encoding="utf-8") == "JWT_SECRET=mine\n"


def test_overrides_replace_their_line_or_are_added(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    compose.write_env(path, {"COMPOSE_PROJECT_NAME": "other", "GATEWAY_PORT": "9000"})
    values = compose.read_env(path)
    assert values["COMPOSE_PROJECT_NAME"] == "other"
    assert values["GATEWAY_PORT"] == "9000"
    assert path.read_text(encoding="utf-8").count("COMPOSE_PROJECT_NAME=") == 1


def test_every_step_names_the_project_and_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compose, "compose_command", lambda: ("docker-compose",))
    path = tmp_path / ".env"
    compose.write_env(path, {"COMPOSE_PROJECT_NAME": "kino-x", "GATEWAY_PORT": "9123"})
    stack = compose.Stack(path)
    command = stack.command("ps")
    assert command[0] == "docker-compose"
    assert command[command.index("--env-file") + 1] == str(path.resolve())
    assert command[command.index("-p") + 1] == "kino-x"
    assert command[-1] == "ps"
    assert stack.base_url == "http://127.0.0.1:9123"
