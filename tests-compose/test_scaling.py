"""`--scale catalog-service=3 --scale auth-service=2 --scale user-service=2`, nothing else
changed: every replica gets requests, and what must be shared across replicas is."""

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from accounts import Account, login, sign_up
from compose import Stack
from compose_support import PASSWORD, report, request_id, scale, served_by

REPLICAS = {"catalog-service": 3, "auth-service": 2, "user-service": 2}


@pytest.fixture(scope="module", autouse=True)
def scaled(stack: Stack) -> Iterator[None]:
    scale(stack, catalog_service=3, auth_service=2, user_service=2)
    try:
        yield
    finally:
        scale(stack, catalog_service=1, auth_service=1, user_service=1)


def spread(stack: Stack, service: str, send: Callable[[str], None]) -> dict[str, int]:
    """Requests until every replica of `service` has answered one (the gateway looks the
    name up again every 5 s), at most 60 of them in batches a second apart; how many each
    replica got. The deadline only bounds a hang: a loaded machine takes longer over the
    same batches, which only gives the gateway more time to look the name up again."""
    ids: list[str] = []
    deadline = time.monotonic() + 300
    counts: dict[str, int] = {}
    while time.monotonic() < deadline and len(ids) < 60:
        batch = [request_id() for _ in range(10)]
        for rid in batch:
            send(rid)
        ids += batch
        counts = dict(served_by(stack, service, ids))
        if len(counts) == REPLICAS[service]:
            break
        time.sleep(1)
    return counts


@pytest.mark.parametrize("service", REPLICAS)
def test_requests_reach_every_replica(stack: Stack, api: httpx.Client, service: str) -> None:
    running = [c.name for c in stack.containers(service) if c.status == "running"]
    assert len(running) == REPLICAS[service]

    def send(rid: str) -> None:
        headers = {"X-Request-ID": rid}
        if service == "catalog-service":
            answer = api.get("/movies/", params={"page": 1, "r": rid}, headers=headers)
            assert answer.status_code == 200
        elif service == "auth-service":  # refused before any hash or throttle count
            assert api.post("/auth/login/", json={}, headers=headers).status_code == 422
        else:
            assert api.get("/user/", headers=headers).status_code == 401

    counts = spread(stack, service, send)
    report(f"{service}: requests per replica {sorted(counts.values())}")
    assert sorted(counts) == sorted(running), counts


def test_login_throttling_counts_across_auth_replicas(
    stack: Stack, api: httpx.Client, account: Account
) -> None:
    ids = [request_id() for _ in range(10)]
    for rid in ids:
        answer = api.post(
            "/auth/login/", json={"email": account.email, "password": "wrong-password"},
            headers={"X-Request-ID": rid},
        )  # fmt: skip
        assert answer.status_code == 401, answer.text
    counts = served_by(stack, "auth-service", ids)
    assert len(counts) == 2, f"the ten failures all reached one replica: {counts}"
    # Ten failures on this email, on two replicas: the limit is reached for both.
    for _ in range(4):
        refused = login(api, account.email, PASSWORD)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) > 0


def test_refresh_rotation_and_reuse_detection_across_replicas(
    stack: Stack, api: httpx.Client
) -> None:
    """The rotation and the reuse land on different replicas at least once; every round
    must hold whichever replicas it met."""
    different = 0
    for _ in range(6):
        issued = sign_up(api, PASSWORD).refresh_token
        first, second = request_id(), request_id()
        rotated = api.put("/auth/login/", json={"refresh_token": issued},
                          headers={"X-Request-ID": first})  # fmt: skip
        assert rotated.status_code == 200, rotated.text
        reused = api.put("/auth/login/", json={"refresh_token": issued},
                         headers={"X-Request-ID": second})  # fmt: skip
        assert reused.status_code == 401, reused.text
        # The reuse revoked the family: the token the rotation issued is dead as well.
        newest = api.put("/auth/login/", json={"refresh_token": rotated.json()["refresh_token"]})
        assert newest.status_code == 401, newest.text
        replicas = served_by(stack, "auth-service", [first, second])
        if len(replicas) == 2:
            different += 1
    report(f"refresh rotation then reuse on different auth replicas in {different} of 6 rounds")
    assert different > 0
