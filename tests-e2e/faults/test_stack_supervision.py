"""`make run` (scripts/stack.py) as a supervisor: what it does when one of its processes
dies, on Ctrl-C, and when a port it needs is taken.

- kill -9 one service of a running stack: stack.py starts it again (a new process on the
  same port) while the other processes go on, untouched, and says so in its log.
- SIGINT (Ctrl-C) stops every process, and starts nothing again, even with a restart
  pending.
- A port taken by something else: stack.py exits non-zero naming the port and its
  setting, and starts nothing.

The processes are found by their parent (stack.py) in /proc: Linux only, as the stack is.
Every wait here is for an event (a death, a restart, a readiness answer, a log line),
bounded by DEADLINE only against a hang; no duration is asserted. The restart delays
themselves (0.5 s doubling to 30 s) are checked with given uptimes, without sleeping, in
deploy/tests/test_stack_script.py.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 90.0  # generous: a restarted service loads Python and its imports again
SERVICES = ("catalog", "auth", "user")

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def children(parent: int) -> dict[str, int]:
    """The live processes `parent` started, by name: catalog, auth, user, gateway."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        state, ppid = stat_line.rpartition(")")[2].split()[:2]
        if int(ppid) != parent or state == "Z":
            continue
        for name in SERVICES:
            if f"{name}_service.main:create_app".encode() in command:
                found[name] = int(entry.name)
        # nginx's master names itself "nginx: master process /usr/sbin/nginx ...".
        if command[0].startswith(b"nginx") or command[0].endswith(b"/nginx"):
            found["gateway"] = int(entry.name)
    return found


def gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie not yet reaped counts as gone)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def ready(url: str) -> bool:
    """Whether the process at `url` answers ready: one that runs answers, however slowly a
    loaded machine lets it (the timeout only bounds a hang); one that is gone is refused."""
    return answers(f"{url}/health/ready")


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=DEADLINE).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(condition: Callable[[], bool], what: str, stack: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen:\n{stack.output()[-6000:]}")
        time.sleep(0.05)


def service_url(stack: Any, name: str) -> str:
    return f"http://127.0.0.1:{stack.ports[name]}"


def supervised(stack: Any) -> Any:
    """The stack once stack.py itself has called it ready: until then a death stops it all
    (the gateway may answer ready a moment before stack.py has seen every service)."""
    wait_for(lambda: "Kinoarchive is ready at" in stack.output(), "stack.py's ready line", stack)
    return stack


@pytest.fixture(scope="module")
def stack(new_stack: Callable[..., Any]) -> Any:
    return supervised(new_stack())


def test_a_killed_service_is_started_again_while_the_others_serve(stack: Any) -> None:
    assert stack.process is not None
    supervisor = stack.process.pid
    before = children(supervisor)
    assert set(before) == {*SERVICES, "gateway"}, before
    os.kill(before["catalog"], signal.SIGKILL)
    wait_for(lambda: gone(before["catalog"]), "the catalog's death", stack)
    # The others answer while the catalog is away and after.
    assert ready(service_url(stack, "auth"))
    wait_for(lambda: "catalog" in children(supervisor), "the catalog's restart", stack)
    wait_for(lambda: ready(service_url(stack, "catalog")), "the catalog's readiness", stack)
    after = children(supervisor)
    assert after["catalog"] != before["catalog"]
    assert {name: after[name] for name in ("auth", "user", "gateway")} == {
        name: before[name] for name in ("auth", "user", "gateway")
    }  # nobody else was restarted
    assert stack.process.poll() is None  # and the stack itself goes on
    log = stack.output()
    assert "catalog died (killed by SIGKILL); starting it again in 0.5 s (restart 1)" in log
    assert f"catalog started again (pid {after['catalog']})" in log
    # The gateway serves the catalog again by itself.
    wait_for(
        lambda: answers(f"{stack.base_url}/movies/?page=1"),
        "the gateway serving the catalog again",
        stack,
    )
    assert ready(service_url(stack, "auth"))
    assert ready(service_url(stack, "user"))


def test_ctrl_c_stops_everything_and_restarts_nothing(new_stack: Callable[..., Any]) -> None:
    stack: Any = supervised(new_stack())
    assert stack.process is not None
    running = children(stack.process.pid)
    os.kill(running["user"], signal.SIGKILL)
    wait_for(lambda: "user died" in stack.output(), "the user service's death", stack)
    stack.process.send_signal(signal.SIGINT)  # a restart is pending (0.5 s), or just done
    assert stack.process.wait(timeout=DEADLINE) == 0
    lines = [line.partition(" | ")[2] for line in stack.output().splitlines()]
    assert "stopping" in lines
    after_stop = lines[lines.index("stopping") :]
    assert not [line for line in after_stop if "started again" in line]
    restarted = [
        int(line.rpartition("(pid ")[2].rstrip(")")) for line in lines if "started again" in line
    ]
    for pid in [*running.values(), *restarted]:
        assert gone(pid), pid
    for name in (*SERVICES, "gateway"):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{service_url(stack, name)}/health", timeout=2)


def test_a_taken_port_stops_it_before_it_starts_anything(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        spares = [socket.socket() for _ in range(3)]
        for spare in spares:
            spare.bind(("127.0.0.1", 0))
        free = dict(
            zip(("gateway", "catalog", "user"), (s.getsockname()[1] for s in spares), strict=True)
        )
        for spare in spares:
            spare.close()
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.update({f"{name.upper()}_PORT": str(port) for name, port in free.items()})
        env.update(AUTH_PORT=str(taken), HOST="127.0.0.1", DATA_DIR=str(tmp_path), NO_COLOR="1")
        result = subprocess.run(
            [sys.executable, "scripts/stack.py"], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=DEADLINE, check=False,
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"port {taken} on 127.0.0.1 (auth, AUTH_PORT): already in use" in output
    # Nothing started: no process wrote a line, no database was made, the ports are free.
    assert "| " not in result.stdout, result.stdout
    assert not list(tmp_path.glob("*.db"))
    for port in free.values():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
