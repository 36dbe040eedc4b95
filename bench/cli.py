"""The command line: options, settings, the groups of cases in order, the report."""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from . import __doc__ as description
from . import main_cases, mixed, scale, startup
from .harness import BENCH, VAR, Bench, Settings, ensure_wrk
from .report import Report, machine_info

# The groups of cases (--only), in the order they run.
GROUPS: dict[str, Callable[[Bench], None]] = {
    "startup": startup.run,
    "main": main_cases.run,
    "scale": scale.run,
    "mixed": mixed.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run [5]")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per case; the median counts [3]"
    )
    parser.add_argument("--mixed-duration", type=float, default=60.0, help="[60]")
    parser.add_argument("--quick", action="store_true", help="2 s a case, once, mixed 5 s")
    parser.add_argument("--only", action="append", choices=("main", "startup", "scale", "mixed"))
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH / "RESULTS.md",
        help="where the report goes [bench/RESULTS.md]; - for nowhere",
    )
    parser.add_argument("--note", action="append", default=[], help="a line for the notes")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.repeat, args.mixed_duration = 2.0, 1, 5.0
    ensure_wrk()
    cores = os.cpu_count() or 1
    stack_core, wrk_core = (0, 1) if cores >= 2 and shutil.which("taskset") else (None, None)
    settings = Settings(
        duration=args.duration,
        repeat=args.repeat,
        mixed_duration=args.mixed_duration,
        stack_core=stack_core,
        wrk_core=wrk_core,
        postgres_url=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report = Report(
        started=datetime.now(UTC),
        load_at_start=load,
        settings=(
            f"wrk -t1 for {args.duration:.0f} s a run, {args.repeat} runs a case (median; runs "
            f"interleaved, after one warm-up run), "
            + (
                f"stack pinned to core {stack_core}, wrk to core {wrk_core}"
                if stack_core is not None
                else "no pinning (fewer than 2 cores)"
            )
            + "; services at log level INFO (one access line per request), as deployed"
        ),
        notes=list(args.note),
    )
    print(f"load average at start: {load}", flush=True)
    VAR.mkdir(parents=True, exist_ok=True)
    bench = Bench(settings, report)
    parts = args.only or list(GROUPS)
    try:
        for name, run in GROUPS.items():
            if name in parts:
                run(bench)
    finally:
        bench.procs.stop_all()
    text = report.markdown(machine_info())
    print()
    print(text)
    if str(args.out) != "-":
        args.out.write_text(text, encoding="utf-8")
        print(f"written to {args.out}")
    return 0
