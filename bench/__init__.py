"""Kinoarchive's benchmark: `make bench` (see bench/README.md).

Measures on this machine, with wrk on loopback, the stack pinned to core 0 and wrk to
core 1, each case several times (the median counts), against two baselines measured in
the same run: a bare ASGI hello-world on uvicorn (uvloop, httptools) and nginx serving a
static JSON file. Prints a Markdown report (machine, versions, the table of results with
ratios and targets) and writes it to bench/RESULTS.md (--out).

    .venv/bin/python -m bench                 # the full run (about 10 minutes)
    .venv/bin/python -m bench --quick         # 2 s a case, once: to try the harness
    .venv/bin/python -m bench --only main     # main | startup | scale | mixed

Everything it starts (services, nginx, wrk) runs on free ports with data under
var/bench/, and is stopped at the end. PostgreSQL for the scale cases: BENCH_POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/postgres); the case is skipped when it does
not answer.

Modules: cli (the options, the order of the groups), one per group of cases (main_cases,
startup, scale, mixed; baselines for the main cases), report (the table and RESULTS.md),
harness (processes, HTTP, wrk, the run's settings and repetitions) and stack (the stack
under test, one process at a time).
"""
