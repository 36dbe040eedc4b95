"""`make compose-roll SERVICE=...` (scripts/compose.py roll) under a steady stream of
requests: a new container from the rebuilt image joins, the old one leaves, and no
request fails on the way."""

import subprocess
import sys

from compose import Stack
from compose_support import ROOT, Traffic, catalog_get, report


def test_rolling_replacement_fails_no_request(stack: Stack) -> None:
    old = {c.name for c in stack.containers("catalog-service")}
    traffic = Traffic(catalog_get, stack.base_url, clients=4)
    with traffic:
        traffic.wait_for(100)
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "compose.py"), "--env-file",
             str(stack.env_file), "roll", "catalog-service"],
            cwd=ROOT, check=True,
        )  # fmt: skip
        traffic.wait_for(len(traffic.results) + 100)
    report(f"rolling replacement of the catalog under 4 clients: {traffic.summary()}")
    assert not traffic.failures(), traffic.failures()
    (now,) = stack.containers("catalog-service")
    assert now.status == "running"
    assert now.name not in old
