"""`make compose-roll SERVICE=...` (scripts/compose.py roll) under a steady stream of
requests: a new container from the rebuilt image joins, the old one leaves, and no
request fails on the way."""

from compose import Stack
from compose_support import Traffic, catalog_get, report, step


def test_rolling_replacement_fails_no_request(stack: Stack) -> None:
    old = {c.name for c in stack.containers("catalog-service")}
    traffic = Traffic(catalog_get, stack.base_url, clients=4)
    with traffic:
        traffic.wait_for(100)
        step(stack, "roll", "catalog-service")
        traffic.wait_for(len(traffic.results) + 100)
    report(f"rolling replacement of the catalog under 4 clients: {traffic.summary()}")
    assert not traffic.failures(), traffic.failures()
    (now,) = stack.containers("catalog-service")
    assert now.status == "running"
    assert now.name not in old
