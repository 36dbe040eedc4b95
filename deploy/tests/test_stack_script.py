"""scripts/stack.py without starting anything: its data folder and secret files, the
check of its ports, and the delays before it starts a dead process again. (The stack
itself, killed and interrupted: tests-e2e/faults/test_stack_supervision.py.)"""

import os
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away: the modes must come from stack.py itself."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_the_data_folder_is_0700_and_the_secrets_0600(tmp_path: Path) -> None:
    data = tmp_path / "deep" / "var"
    made = stack.configure(data)
    assert mode(data) == 0o700
    for name in ("jwt-secret", "internal-token"):
        assert mode(data / name) == 0o600
        assert len((data / name).read_text(encoding="utf-8").strip()) >= 48
    # The next run uses the same secrets.
    again = stack.configure(data)
    assert again.env["JWT_SECRET"] == made.env["JWT_SECRET"]


def test_an_existing_open_data_folder_is_narrowed(tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    stack.configure(data)
    assert mode(data) == 0o700


@pytest.mark.parametrize("loose", [0o640, 0o604, 0o620, 0o602], ids=lambda m: f"{m:03o}")
def test_a_secret_file_others_can_read_or_change_is_refused(tmp_path: Path, loose: int) -> None:
    data = tmp_path / "var"
    data.mkdir(mode=0o700)
    secret = data / "jwt-secret"
    secret.write_text("s" * 64 + "\n", encoding="utf-8")
    secret.chmod(loose)
    with pytest.raises(SystemExit) as refused:
        stack.configure(data)
    message = str(refused.value.code)
    assert str(secret) in message
    assert f"mode {loose:03o}" in message
    assert f"chmod 600 {secret}" in message
    assert mode(secret) == loose  # left as it was: the owner decides


def test_an_empty_or_linked_secret_file_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir(mode=0o700)
    (data / "jwt-secret").touch(mode=0o600)
    with pytest.raises(SystemExit, match="is empty"):
        stack.configure(data)
    (data / "jwt-secret").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("s" * 64, encoding="utf-8")
    elsewhere.chmod(0o600)
    (data / "jwt-secret").symlink_to(elsewhere)
    with pytest.raises(SystemExit, match="not a regular file"):
        stack.configure(data)


def test_a_secret_given_in_the_environment_leaves_the_file_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET", "from the environment " * 3)
    monkeypatch.setenv("INTERNAL_API_TOKEN", "from the environment too " * 3)
    data = tmp_path / "var"
    made = stack.configure(data)
    assert made.env["JWT_SECRET"] == "from the environment " * 3
    assert not (data / "jwt-secret").exists()


def test_a_taken_port_is_named_with_its_setting(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with socket.socket() as spare:
            spare.bind(("127.0.0.1", 0))
            free = spare.getsockname()[1]
        ports = {"gateway": free, "catalog": taken, "auth": free, "user": free}
        local = stack.Stack(host="127.0.0.1", ports=ports, data_dir=tmp_path)
        assert stack.taken_ports(local) == [
            f"port {taken} on 127.0.0.1 (catalog, CATALOG_PORT): already in use"
        ]
    assert stack.taken_ports(local) == []  # closed: free again


def test_restart_delays_double_up_to_the_maximum_and_start_over_after_a_long_run() -> None:
    restarts = stack.Restarts()
    delays = [restarts.delay("catalog", uptime=1.0) for _ in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert restarts.counts["catalog"] == 9
    # Each process has its own delays.
    assert restarts.delay("auth", uptime=1.0) == 0.5
    # Up long enough: the next delay is the first again.
    assert restarts.delay("catalog", uptime=stack.RESTART_RESET_AFTER) == 0.5
    assert restarts.delay("catalog", uptime=0.1) == 1.0
