"""`--only scale`: case 6. A synthetic catalog of SCALE_MOVIES movies on SQLite and on
PostgreSQL (skipped, with a note, when it does not answer), the catalog's cache off: deep
pages and a filter against page 1, the full list streamed while the catalog's peak RSS is
read, and a bookmark list of 500 movies with the batch calls it took."""

# ruff: noqa: S603  (the project's own Python: the catalog's CLI, a database check)

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from .harness import PYTHON, SCALE_MOVIES, SERVICES, VAR, Bench, request, rss_mb
from .report import Row
from .stack import catalog_list_requests, register_and_login, running_stack, total_count


def run(bench: Bench) -> None:
    source = VAR / f"synthetic-{SCALE_MOVIES}.json"
    if not source.exists():
        print(f"generating {SCALE_MOVIES:,} movies", flush=True)
        subprocess.run(
            [
                PYTHON,
                "-m",
                "catalog_service",
                "generate",
                str(SCALE_MOVIES),
                "--out",
                str(source),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    databases: list[tuple[str, Path, dict[str, str]]] = [("SQLite", VAR / "scale-sqlite", {})]
    postgres = postgres_databases(bench)
    if postgres is not None:
        databases.append(("PostgreSQL", VAR / "scale-postgres", postgres))
    else:
        bench.report.notes.append("PostgreSQL did not answer: its scale cases were skipped.")
    for label, data_dir, urls in databases:
        scale_one(bench, label, data_dir, urls, source)


def postgres_databases(bench: Bench) -> dict[str, str] | None:
    """The services' database URLs on BENCH_POSTGRES_URL's server (the databases made
    there once), or None when it does not answer."""
    if not bench.s.postgres_url:
        return None
    code = (
        "import asyncio, sys, asyncpg\n"
        "async def main():\n"
        "    c = await asyncpg.connect(sys.argv[1], timeout=5)\n"
        "    for name in sys.argv[2:]:\n"
        "        if not await c.fetchval('SELECT 1 FROM pg_database WHERE datname=$1', name):\n"
        "            await c.execute(f'CREATE DATABASE {name}')\n"
        "    await c.close()\n"
        "asyncio.run(main())\n"
    )
    names = [f"kinoarchive_bench_{name}" for name in SERVICES]
    result = subprocess.run(
        [PYTHON, "-c", code, bench.s.postgres_url, *names],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(f"PostgreSQL skipped: {result.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    base = bench.s.postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    base = base.rsplit("/", 1)[0]
    return {f"{name.upper()}_DATABASE_URL": f"{base}/kinoarchive_bench_{name}" for name in SERVICES}


def scale_one(bench: Bench, label: str, data_dir: Path, urls: dict[str, str], source: Path) -> None:
    print(f"scale: {SCALE_MOVIES:,} movies on {label}", flush=True)
    env = {**urls, "CATALOG_CACHE_ENABLED": "false"}
    with running_stack(
        bench.procs, data_dir, bench.s.stack_core, extra_env=env, names=SERVICES
    ) as stack:
        _, headers, _ = request("GET", stack.url("catalog", "/movies/?page=1"))
        if total_count(headers) != SCALE_MOVIES:
            print(f"  importing {source.name} (once)", flush=True)
            subprocess.run(
                [PYTHON, "-m", "catalog_service", "import", str(source), "--replace"],
                env=stack.env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        catalog = stack.url("catalog")
        deep = SCALE_MOVIES // 12 - 333  # page 8,000 of 8,334
        cases = bench.median_of(
            {
                "page1": bench.throughput(catalog + "/movies/?page=1", 1),
                "deep": bench.throughput(catalog + f"/movies/?page={deep}", 1),
                "new": bench.throughput(catalog + "/movies/?status=new&page=1", 1),
            }
        )
        page1 = bench.p50(cases["page1"])
        for name, label_case, limit in (
            ("deep", f"page {deep:,}", 1.5),
            ("new", "`status=new&page=1`", 2.0),
        ):
            value = bench.p50(cases[name])
            bench.report.add(
                Row(
                    f"6. {label}, {SCALE_MOVIES // 1000}k movies, catalog cache off: "
                    f"{label_case} vs page 1 (p50, 1 conn.)",
                    f"{value:.2f} ms vs {page1:.2f} ms",
                    f"{value / page1:.2f}x",
                    f"<= {limit}x",
                    value / page1 <= limit,
                )
            )

        search_cases(bench, f"{label}, {SCALE_MOVIES // 1000}k movies", catalog, deep)

        pid = stack.processes["catalog"].pid
        before = rss_mb(pid)
        started = time.monotonic()
        size = 0
        with urllib.request.urlopen(catalog + "/movies/", timeout=300) as response:  # noqa: S310
            while chunk := response.read(1 << 16):
                size += len(chunk)
        elapsed = time.monotonic() - started
        peak = rss_mb(pid, "VmHWM")
        bench.report.add(
            Row(
                f"6. {label}: the full list without `page` (streamed), peak catalog RSS",
                f"{peak:.0f} MB (before {before:.0f} MB); {size / 1e6:.0f} MB in {elapsed:.1f} s",
                "",
                "< 300 MB",
                peak < 300,
            )
        )

        token = register_and_login(stack, "bench-bookmarks@example.com", via="auth")
        bearer = {"Authorization": f"Bearer {token}"}
        ids = [1 + n * (SCALE_MOVIES // 500) for n in range(500)]
        for movie_id in ids:
            status, _, body = request(
                "POST", stack.url("user", f"/favorites/movies/{movie_id}/"), headers=bearer
            )
            if status not in (200, 201):
                raise SystemExit(f"bookmark {movie_id}: {status} {body[:200]!r}")
        calls_before = catalog_list_requests(stack)
        started = time.monotonic()
        status, _, body = request("GET", stack.url("user", "/favorites/movies/"), headers=bearer)
        elapsed = time.monotonic() - started
        calls = catalog_list_requests(stack) - calls_before
        listed = len(json.loads(body)) if status == 200 else -1
        bench.report.add(
            Row(
                f"6. {label}: a bookmark list of 500 movies, batch calls to the catalog",
                f"{calls:.0f} calls, {listed} movies listed in {elapsed * 1000:.0f} ms",
                "",
                "<= 5 calls",
                calls <= 5 and listed == 500,
            )
        )


# Queries on the generated catalog (catalog_service/generate.py's words, seed 1): a
# title with its number (movie 273's), one word that thousands of titles share (6,182 of
# 100,000), a typo, and a prefix to suggest.
GENERATED_SEARCHES = {"exact": "Ледяной маяк 273", "broad": "маяк", "typo": "ледяой маяк"}
GENERATED_PREFIX = "ледян"
# And on the bundled catalog: a title, a Latin transliteration, a typo.
BUNDLED_SEARCHES = {"exact": "сталкер", "broad": "solyaris", "typo": "интерстелар"}
BUNDLED_PREFIX = "инте"


def search_cases(
    bench: Bench,
    label: str,
    catalog: str,
    deep: int | None,
    searches: dict[str, str] = GENERATED_SEARCHES,
    prefix: str = GENERATED_PREFIX,
) -> None:
    """Search and suggest latency (p50, p99 at one connection) and throughput (50), and,
    given `deep`, page `deep` of `sort=-rating` against its page 1."""
    quoted = {name: quote(q) for name, q in searches.items()}
    for name, q in quoted.items():  # a query that finds nothing would measure nothing
        _, headers, _ = request("GET", f"{catalog}/movies/?q={q}&page=1")
        if not total_count(headers):
            raise SystemExit(f"bench: the {name} search {searches[name]!r} finds no movie")
    one = {
        **{
            f"q-{name}": bench.throughput(f"{catalog}/movies/?q={q}&page=1", 1)
            for name, q in quoted.items()
        },
        "suggest": bench.throughput(f"{catalog}/movies/suggest/?q={quote(prefix)}", 1),
    }
    if deep is not None:
        one["rating1"] = bench.throughput(f"{catalog}/movies/?sort=-rating&page=1", 1)
        one["ratingdeep"] = bench.throughput(f"{catalog}/movies/?sort=-rating&page={deep}", 1)
    latency = bench.median_of(one)
    many = bench.median_of(
        {
            "q": bench.throughput(f"{catalog}/movies/?q={quoted['exact']}&page=1"),
            "suggest": bench.throughput(f"{catalog}/movies/suggest/?q={quote(prefix)}"),
        }
    )
    for name, query in searches.items():
        results = latency[f"q-{name}"]
        p50 = bench.p50(results)
        bench.report.add(
            Row(
                f"6. {label}: search `q={query}` (p50, p99 at 1 conn.)",
                f"p50 {p50:.2f} ms, p99 {max(r.p99_ms for r in results):.2f} ms",
                "",
                "p50 < 10 ms",
                p50 < 10,
            )
        )
    p50 = bench.p50(latency["suggest"])
    bench.report.add(
        Row(
            f"6. {label}: suggest `q={prefix}` (p50, p99 at 1 conn.)",
            f"p50 {p50:.2f} ms, p99 {max(r.p99_ms for r in latency['suggest']):.2f} ms",
            "",
            "p50 < 5 ms",
            p50 < 5,
        )
    )
    bench.report.add(
        Row(
            f"6. {label}: search and suggest throughput, 50 conn.",
            f"search {bench.rps(many['q']):,.0f} req/s, "
            f"suggest {bench.rps(many['suggest']):,.0f} req/s",
            "",
        )
    )
    if deep is not None:
        first, deepest = bench.p50(latency["rating1"]), bench.p50(latency["ratingdeep"])
        bench.report.add(
            Row(
                f"6. {label}, catalog cache off: `sort=-rating` page {deep:,} vs page 1 "
                "(p50, 1 conn.)",
                f"{deepest:.2f} ms vs {first:.2f} ms",
                f"{deepest / first:.2f}x",
                "<= 1.5x",
                deepest / first <= 1.5,
            )
        )
