"""The gateway's access log under scripts/stack.py: nginx writes it to a file through a
buffer (a pipe read line by line cost the gateway much of its speed), and stack.py
follows that file to the terminal. The image keeps writing it to standard output."""

import os
import queue
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402
from render import (  # noqa: E402  (gateway/render.py, on the path stack.py set)
    ACCESS_LOG_STDOUT,
    ENTRYPOINT_PATH,
    TLS_TEMPLATE_PATH,
    find_nginx,
    write_local_config,
)

# Seconds a wait for a line (or for nginx to answer) may last: it only bounds a hang. The
# follower looks every 0.2 s and nginx flushes every 1 s, but a loaded machine may run
# them late, and a wait for an event costs nothing when the event comes sooner.
DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Lines:
    """What a follower emitted, waited for with a deadline."""

    def __init__(self) -> None:
        self.queue: queue.Queue[str] = queue.Queue()

    def emit(self, texts: list[str]) -> None:
        for text in texts:
            self.queue.put(text)

    def next(self, timeout: float = DEADLINE) -> str:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no line within {timeout} s")

    def none_yet(self) -> bool:
        return self.queue.empty()


@pytest.fixture
def local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> stack.Stack:
    monkeypatch.setenv("GATEWAY_PORT", str(free_port()))
    for name in ("GATEWAY_TLS", "GATEWAY_TLS_CERT", "GATEWAY_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    return stack.configure(tmp_path / "var")


def test_the_local_run_buffers_the_access_log_into_a_file(local_stack: stack.Stack) -> None:
    log = local_stack.data_dir / "gateway" / "access.log"
    log.parent.mkdir(parents=True)
    log.write_text("a line of an earlier run\n", encoding="utf-8")
    nginx_conf = stack.render_gateway(local_stack)
    included = (nginx_conf.parent / "conf.d" / "access-log.inc").read_text(encoding="utf-8")
    assert f"access_log {log} kinoarchive_json buffer=64k flush=1s;" in included
    assert stack.access_log_path(local_stack) == log
    assert log.read_bytes() == b""  # each start's own lines
    gateway_conf = (nginx_conf.parent / "gateway.conf").read_text(encoding="utf-8")
    assert "include conf.d/access-log.inc;" in gateway_conf
    assert "/dev/stdout" not in gateway_conf


def test_the_image_and_the_default_rendering_log_to_stdout_unbuffered(tmp_path: Path) -> None:
    write_local_config(tmp_path / "local")
    local = (tmp_path / "local" / "conf.d" / "access-log.inc").read_text(encoding="utf-8")
    assert local == ACCESS_LOG_STDOUT
    assert "access_log /dev/stdout kinoarchive_json;" in local
    image = tmp_path / "image"
    image.mkdir()
    result = subprocess.run(
        ["sh", str(ENTRYPOINT_PATH), "true"],
        env={
            "PATH": os.environ["PATH"],
            "GATEWAY_CONF_OUT": str(image),
            "GATEWAY_TLS_TEMPLATE": str(TLS_TEMPLATE_PATH),
            "GATEWAY_TLS_CERT": "/dev/null",
            "GATEWAY_TLS_KEY": "/dev/null",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (image / "access-log.inc").read_text(encoding="utf-8") == ACCESS_LOG_STDOUT


@pytest.fixture
def followed(tmp_path: Path) -> Iterator[tuple[Path, Lines, stack.FileFollower]]:
    path = tmp_path / "access.log"
    path.write_text("written before the follower started\n", encoding="utf-8")
    lines = Lines()
    follower = stack.FileFollower(path, lines.emit, interval=0.02)
    follower.start()
    yield path, lines, follower
    follower.stop()
    assert not follower.thread.is_alive()


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def test_the_follower_emits_each_complete_line_appended(
    followed: tuple[Path, Lines, stack.FileFollower],
) -> None:
    path, lines, _ = followed
    append(path, '{"n": 1}\n{"n": 2}\n{"n"')
    assert lines.next() == '{"n": 1}'
    assert lines.next() == '{"n": 2}'
    append(path, ": 3}\n")  # the end of a line written in two parts
    assert lines.next() == '{"n": 3}'
    assert lines.none_yet()  # and nothing written before it started


def test_the_follower_reads_a_truncated_or_replaced_file_from_its_start(
    followed: tuple[Path, Lines, stack.FileFollower],
) -> None:
    path, lines, _ = followed
    append(path, "one\n")
    assert lines.next() == "one"
    path.write_text("", encoding="utf-8")  # truncated (as each start of the stack does)
    append(path, "two\n")  # shorter than what was read: the follower sees the cut
    assert lines.next() == "two"
    path.rename(path.with_suffix(".1"))  # rotated
    append(path.with_suffix(".1"), "three, in the old file\n")
    path.write_text("four, in the new one\n", encoding="utf-8")
    assert lines.next() == "three, in the old file"
    assert lines.next() == "four, in the new one"


def test_stopping_the_follower_prints_what_was_flushed_last(
    followed: tuple[Path, Lines, stack.FileFollower],
) -> None:
    path, lines, follower = followed
    follower.interval = 3600  # only stop() looks again
    append(path, "the last flush\n")
    follower.stop()
    assert lines.next(timeout=0) == "the last flush"


@pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed")
def test_nginx_lines_reach_the_terminal_with_the_gateway_prefix(
    local_stack: stack.Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    nginx = stack.require_nginx()
    nginx_conf = stack.render_gateway(local_stack)
    stack.check_gateway(nginx, nginx_conf)
    out = stack.Output(colour=False)
    lines = Lines()

    def emit(texts: list[str]) -> None:
        out.lines("gateway", texts)
        lines.emit(texts)

    follower = stack.FileFollower(stack.access_log_path(local_stack), emit, interval=0.05)
    follower.start()
    command = stack.commands(local_stack, nginx, nginx_conf)["gateway"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        url = local_stack.url("gateway") + "/health"
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        line = lines.next()  # within nginx's flush=1s, and the follower's next look
        assert '"uri": "/health"' in line, line
    finally:
        process.terminate()
        process.wait(timeout=10)
        follower.stop()
    printed = capsys.readouterr().out
    assert f"{'gateway'.ljust(out.width)} | {line}\n" in printed
