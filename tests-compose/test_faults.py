"""Faults on purpose: a replica killed under traffic, PostgreSQL and Redis stopped and
started again. The services must answer 503 JSON meanwhile and recover by themselves."""

import subprocess
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from accounts import Account, login
from compose import Stack
from compose_support import PASSWORD, Traffic, catalog_get, report, scale


@pytest.fixture
def two_catalogs(stack: Stack) -> Iterator[None]:
    scale(stack, catalog_service=2)
    try:
        yield
    finally:
        scale(stack, catalog_service=1)


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> float:
    """Poll `check` until it holds; the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if check():
            return time.monotonic() - began
        time.sleep(0.5)
    pytest.fail(f"not recovered within {timeout:.0f} s")


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, (answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["message"]


@pytest.mark.usefixtures("two_catalogs")
def test_killing_a_replica_fails_only_the_requests_in_flight(stack: Stack) -> None:
    victim = next(c for c in stack.containers("catalog-service") if c.status == "running")
    traffic = Traffic(catalog_get, stack.base_url, clients=4)
    with traffic:
        traffic.wait_for(200)
        killed_at = time.monotonic()
        subprocess.run(["docker", "kill", victim.name], check=True, capture_output=True)
        time.sleep(10)  # two lifetimes of the gateway's DNS answers, and then some
        traffic.wait_for(len(traffic.results) + 200)
    failures = traffic.failures()
    report(f"docker kill of one of two catalog replicas, 4 clients: {traffic.summary()}; "
           f"failed: {len(failures)}")  # fmt: skip
    # Each client has at most one request in flight when the kill lands...
    assert len(failures) <= traffic.clients, failures
    # ...and each failure is one of those: still running when the kill began (one that had
    # ended could not fail from it), and none once the stream went on: the 200 requests
    # begun last, after the kill and the DNS answers' lifetime, all succeeded. Events, not
    # a window of seconds, which a loaded machine could stretch.
    assert all(began + seconds >= killed_at for began, seconds, _ in failures), failures
    latest = sorted(traffic.results)[-200:]
    assert [result for result in latest if result[2] != "200"] == [], traffic.summary()
    subprocess.run(["docker", "start", victim.name], check=True, capture_output=True)
    stack.wait_ready()


def test_postgres_stopped_gives_503_json_and_recovers_without_a_restart(
    stack: Stack, api: httpx.Client, account: Account
) -> None:
    before = {c.name: c.started_at for c in stack.containers() if not c.one_shot}
    stack.compose("stop", "postgres")
    try:
        assert_unavailable(catalog_get(api, 1))
        assert_unavailable(api.get("/genres/", params={"n": 1}))
        assert_unavailable(api.get("/user/", headers=account.headers))
        assert_unavailable(api.get("/favorites/movies/", headers=account.headers))
        assert_unavailable(login(api, account.email, PASSWORD))
        ready = api.get("/health/ready")
        assert ready.status_code == 503, ready.text
    finally:
        stack.compose("start", "postgres")
    seconds = wait_until(lambda: all(
        answer.status_code == 200 for answer in (
            catalog_get(api, 2), api.get("/user/", headers=account.headers),
            login(api, account.email, PASSWORD),
        )
    ))  # fmt: skip
    report(f"PostgreSQL started again: every service answering in {seconds:.1f} s")
    after = {c.name: c.started_at for c in stack.containers() if not c.one_shot}
    restarted = [name for name in before if "postgres" not in name and after[name] != before[name]]
    assert not restarted, f"restarted: {restarted}"


def test_redis_stopped_login_fails_closed_and_recovers(
    stack: Stack, api: httpx.Client, account: Account
) -> None:
    stack.compose("stop", "redis")
    try:
        # Without its failure counts, login refuses everyone rather than count nothing.
        assert_unavailable(login(api, account.email, PASSWORD))
        assert_unavailable(login(api, account.email, "wrong-password"))
        # What does not count login failures goes on.
        assert api.get("/user/", headers=account.headers).status_code == 200
    finally:
        stack.compose("start", "redis")
    seconds = wait_until(lambda: login(api, account.email, PASSWORD).status_code == 200)
    report(f"Redis started again: login answering in {seconds:.1f} s")
