"""`--only startup`: case 7's start time. `scripts/stack.py` from launch to the gateway's
/health/ready answering 200, with a fresh data folder and then with that folder existing.
Not pinned: what `make run` does on this machine."""

from __future__ import annotations

import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path

from .harness import SERVICES, STACK, VAR, Bench, free_port, wait_http
from .report import Row
from .stack import stack_env


def run(bench: Bench) -> None:
    times: dict[str, list[float]] = {"fresh": [], "existing": []}
    for _ in range(max(2, min(3, bench.s.repeat))):
        folder = Path(tempfile.mkdtemp(prefix="startup-", dir=VAR))
        try:
            for kind in ("fresh", "existing"):
                times[kind].append(start_once(bench, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    fresh, existing = (statistics.median(times[k]) for k in ("fresh", "existing"))
    bench.report.add(
        Row(
            "7. whole stack ready (`scripts/stack.py` to gateway /health/ready 200)",
            f"existing data {existing:.2f} s, fresh data folder {fresh:.2f} s",
            "",
            "< 5 s",
            max(fresh, existing) < 5,
        )
    )


def start_once(bench: Bench, folder: Path) -> float:
    """Seconds from starting the whole stack on `folder` until its gateway is ready."""
    ports = {name: free_port() for name in ("gateway", *SERVICES)}
    env = stack_env(folder, ports, {})
    started = time.monotonic()
    process = bench.procs.start(
        "stack", [*STACK, "--data-dir", str(folder)], env, folder / "stack.log"
    )
    try:
        wait_http(f"http://127.0.0.1:{ports['gateway']}/health/ready", 60, process)
        return time.monotonic() - started
    finally:
        process.popen.send_signal(signal.SIGINT)  # stack.py stops its children itself
        try:
            process.popen.wait(timeout=15)
        finally:
            bench.procs.stop(process)
