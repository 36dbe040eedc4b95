"""The two baselines the main cases are compared with, measured in the same run: a bare
ASGI hello-world (bench/hello.py on uvicorn with uvloop and httptools) and nginx with a
static JSON file (the catalog page's own body)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from .harness import BENCH, PYTHON, VAR, Bench, free_port, pinned, wait_http


@contextmanager
def baselines(bench: Bench, page_body: bytes) -> Iterator[tuple[str, str]]:
    """The URLs of the hello-world and of the static file, both pinned to the stack's core."""
    port = free_port()
    hello = bench.procs.start(
        "hello",
        pinned(
            bench.s.stack_core,
            [
                PYTHON,
                "-m",
                "uvicorn",
                "--app-dir",
                str(BENCH),
                "hello:app",
                "--port",
                str(port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
        ),
        os.environ.copy(),
        bench.logs / "hello.log",
    )
    static_dir = VAR / "static-nginx"
    (static_dir / "temp").mkdir(parents=True, exist_ok=True)
    (static_dir / "page.json").write_bytes(page_body)
    static_port = free_port()
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (static_dir / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {static_dir / 'nginx.pid'};\nerror_log stderr;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;\n"
        f"    client_body_temp_path {static_dir / 'temp'};\n"
        f"    proxy_temp_path {static_dir / 'temp'};\n"
        f"    fastcgi_temp_path {static_dir / 'temp'};\n"
        f"    uwsgi_temp_path {static_dir / 'temp'};\n"
        f"    scgi_temp_path {static_dir / 'temp'};\n"
        f"    server {{\n        listen 127.0.0.1:{static_port};\n"
        f"        location = /page.json {{ default_type application/json; "
        f"root {static_dir}; }}\n    }}\n}}\n",
        encoding="utf-8",
    )
    nginx = bench.procs.start(
        "static-nginx",
        pinned(
            bench.s.stack_core,
            [
                "nginx",
                "-p",
                str(static_dir),
                "-c",
                str(static_dir / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
        ),
        os.environ.copy(),
        bench.logs / "static-nginx.log",
    )
    try:
        hello_url = f"http://127.0.0.1:{port}/"
        static_url = f"http://127.0.0.1:{static_port}/page.json"
        wait_http(hello_url, 30, hello)
        wait_http(static_url, 30, nginx)
        yield hello_url, static_url
    finally:
        bench.procs.stop(hello)
        bench.procs.stop(nginx)
