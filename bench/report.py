"""The report: a line on the terminal per result as it comes, then the Markdown of
bench/RESULTS.md (the machine and the run, the table of results, the notes)."""

# ruff: noqa: S603  (version look-ups: nproc, nginx, wrk, the project's Python)

from __future__ import annotations

import os
import platform
import re
import sqlite3
import subprocess
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .harness import PYTHON


@dataclass
class Row:
    case: str
    measured: str
    ratio: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    started: datetime
    load_at_start: str
    settings: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        verdict = {True: "met", False: "MISSED", None: ""}[row.met]
        print(f"  {row.case}: {row.measured} {row.ratio} {verdict}".rstrip(), flush=True)

    def markdown(self, machine: list[str]) -> str:
        lines = [
            "# Benchmark results",
            "",
            "Written by `make bench` (`python -m bench`); numbers from one run on the machine "
            "below.",
            "",
            "## Machine and run",
            "",
            *[f"- {item}" for item in machine],
            f"- date: {self.started:%Y-%m-%d %H:%M} UTC",
            f"- load average at start (1, 5, 15 min): {self.load_at_start}",
            f"- settings: {self.settings}",
            "",
            "## Results",
            "",
            "| case | measured | ratio | target | met |",
            "|---|---|---|---|---|",
        ]
        for row in self.rows:
            verdict = {True: "yes", False: "**no**", None: ""}[row.met]
            lines.append(
                f"| {row.case} | {row.measured} | {row.ratio} | {row.target} | {verdict} |"
            )
        if self.notes:
            lines += ["", "## Notes", "", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def machine_info() -> list[str]:
    cpu = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"

    def version(command: list[str], pattern: str = r"[\d.]+") -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError:
            return "missing"
        match = re.search(pattern, out.stdout + out.stderr)
        return match.group(0) if match else "?"

    packages = subprocess.run(
        [
            PYTHON,
            "-c",
            "import importlib.metadata as m; print(' '.join(f'{p} {m.version(p)}' "
            "for p in ('fastapi','starlette','uvicorn','uvloop','httptools','sqlalchemy',"
            "'aiosqlite','asyncpg','argon2-cffi')))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    nproc = version(["nproc"], r"\d+")
    nginx = version(["nginx", "-v"], r"nginx/[\d.]+")
    wrk = version(["wrk", "-v"], r"[\d.]+(-\S+)?")
    return [
        f"CPU: {cpu}, {os.cpu_count()} cores (nproc {nproc})",
        f"memory: {memory}",
        f"kernel: {platform.release()}",
        f"Python {platform.python_version()}; {packages}",
        f"{nginx}, wrk {wrk}, SQLite {sqlite3.sqlite_version}",
    ]
