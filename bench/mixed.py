"""`--only mixed`: case 8. 200 connections of `lua/mixed.lua` (browse, log in, profile
reads and changes, bookmark lists, adds and removes) for 40 users through the gateway;
every status is counted and the services' logs are searched for errors."""

from __future__ import annotations

import re

from .harness import PASSWORD, SERVICES, VAR, Bench, request
from .report import Row
from .stack import register_and_login, running_stack, total_count


def run(bench: Bench) -> None:
    data_dir = VAR / "stack"
    with running_stack(bench.procs, data_dir, bench.s.stack_core) as stack:
        users = VAR / "mixed-users.tsv"
        lines = []
        for n in range(40):
            email = f"bench-mixed-{n}@example.com"
            lines.append(f"{email}\t{PASSWORD}\t{register_and_login(stack, email)}")
        users.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _, headers, _ = request("GET", stack.url("gateway", "/movies/?page=1"))
        movies = total_count(headers)
        print(f"mixed workload, 200 connections, {bench.s.mixed_duration:.0f} s", flush=True)
        result = bench.wrk.run(
            stack.url("gateway", "/"),
            connections=200,
            duration=bench.s.mixed_duration,
            script="mixed.lua",
            env={"BENCH_USERS": str(users), "BENCH_MOVIES": str(movies)},
            timeout="30s",
        )
        errors_in_logs = sum(
            1
            for name in SERVICES
            for line in stack.processes[name].log.read_text(errors="replace").splitlines()
            if re.search(r"\b(ERROR|CRITICAL)\b|Traceback", line)
        )
    bad = {code: n for code, n in result.statuses.items() if code >= 400}
    fives = sum(n for code, n in bad.items() if code >= 500)
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(result.statuses.items()))
    bench.report.add(
        Row(
            f"8. mixed workload, 200 conn., {bench.s.mixed_duration:.0f} s, through the gateway",
            f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; "
            f"statuses {statuses}; socket errors {result.socket_errors}; "
            f"error lines in the service logs {errors_in_logs}",
            "",
            "no 5xx, no error",
            fives == 0 and not bad and result.socket_errors == 0 and errors_in_logs == 0,
        )
    )
