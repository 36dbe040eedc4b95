"""Faults against the real local stack: services killed (-9), paused, restarted.

The module runs its own stack (conftest's `ProcessStack`): each service and nginx is a
process of its own, on free ports, with the databases of the run (SQLite files in WAL
mode, or fresh PostgreSQL databases when TEST_DATABASE_URL is set). Every test leaves
every process running and ready, so the tests do not depend on one another's order.

- kill -9 one service: its routes answer the gateway's 502/503 JSON, the others keep
  answering, /health/ready names it; started again, the gateway serves it again by itself.
- Durability: every write acknowledged before a kill -9 is there after the restart.
- A paused service (SIGSTOP): the gateway answers 504 JSON after its upstream timeout.
- The catalog down or hung: the user service degrades (503, never 500 or a hang).

No stopwatch decides pass or fail here, as a loaded machine would make it lie. The
contract's "a service down answers 502/503 within 5 s" holds by construction: a refused
connection is answered at once, and a connection that does not come is given up after the
gateway's 2 s connect timeout (both checked in gateway/tests, with the rendered values).
Here each answer's status and body show which of those it was: a 503 service_unavailable
is the gateway's own, a 504 gateway_timeout its timeout, a 503 naming the catalog from the
user service. The time limits below only bound a hang.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

# GATEWAY_UPSTREAM_TIMEOUT of this module's stack, seconds: many times CATALOG_TIMEOUT, so
# that the user service gives up on a hung catalog first however late a loaded machine
# runs its timers.
GATEWAY_TIMEOUT = 10.0
CATALOG_TIMEOUT = 1.5  # USER_HTTP_READ_TIMEOUT: how long the user service waits for the catalog
HANG = 120.0  # seconds: bounds a wait that would otherwise hang; never a pass/fail line
PASSWORD = "fault tolerant password 1"
NEW_PASSWORD = "fault tolerant password 2"

SERVICES = ("catalog", "auth", "user")


@dataclass
class Account:
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture(scope="module")
def stack(new_stack: Callable[..., Any]) -> Any:
    return new_stack(
        processes=True,
        env={
            "GATEWAY_UPSTREAM_TIMEOUT": f"{GATEWAY_TIMEOUT:g}s",
            "USER_HTTP_READ_TIMEOUT": str(CATALOG_TIMEOUT),
        },
    )


@pytest.fixture
def client(stack: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=HANG, follow_redirects=False) as client:
        yield client


@pytest.fixture(autouse=True)
def _everything_runs_afterwards(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed test must not leave a process killed or paused for the next ones."""
    yield
    if "stack" not in request.fixturenames:
        return
    stack = request.getfixturevalue("stack")
    for name in (*SERVICES, "gateway"):
        process = stack.processes[name]
        if process.poll() is None:
            stack.resume(name)
        else:
            stack.restart(name)


def new_email() -> str:
    return f"fault-{uuid.uuid4().hex[:12]}@example.org"


def register(client: httpx.Client, email: str, password: str = PASSWORD) -> None:
    response = client.post("/auth/register/", json={"email": email, "password": password})
    assert response.status_code == 201, response.text


def log_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/auth/login/", json={"email": email, "password": password})


def account(client: httpx.Client) -> Account:
    email = new_email()
    register(client, email)
    response = log_in(client, email)
    assert response.status_code == 200, response.text
    pair = response.json()
    return Account(email, PASSWORD, pair["access_token"], pair["refresh_token"])


def uncached(path: str) -> str:
    """A catalog address the gateway has never seen: its short-lived cache of catalog
    answers (1 s, then served stale while it revalidates) must not answer for the service."""
    return f"{path}{'&' if '?' in path else '?'}nocache={uuid.uuid4().hex}"


def movie_ids(client: httpx.Client) -> list[int]:
    response = client.get("/movies/", params={"page": 1})
    assert response.status_code == 200, response.text
    return [movie["id"] for movie in response.json()]


def probe(client: httpx.Client, name: str, user: Account) -> httpx.Response:
    """One request that only `name` (and its database) can answer."""
    if name == "catalog":
        return client.get(uncached("/genres/"))
    if name == "auth":
        # A refresh with a token that is not one: 401 from the auth service, no throttle.
        return client.put("/auth/login/", json={"refresh_token": "not-a-token"})
    return client.get("/user/", headers=user.headers)


EXPECTED = {"catalog": 200, "auth": 401, "user": 200}


def assert_unavailable(response: httpx.Response, service: str) -> None:
    """The gateway's own answer for a service it cannot reach (not a timeout's 504)."""
    assert response.status_code in (502, 503), response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert service in body["message"]


def timed(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    response = send()
    return response, time.monotonic() - began


def wait_served(send: Callable[[], httpx.Response], status: int) -> None:
    """Poll through the gateway until `send` answers `status` (no reload, no step of ours);
    HANG only bounds a gateway that never serves it again."""
    deadline = time.monotonic() + HANG
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        last = send()
        if last.status_code == status:
            return
        time.sleep(0.1)
    detail = f"{last.status_code} {last.text}" if last is not None else "nothing"
    pytest.fail(f"never served again: last answer {detail}")


@pytest.mark.parametrize("victim", SERVICES)
def test_killed_service_is_unavailable_quickly_and_comes_back_by_itself(
    stack: Any, client: httpx.Client, victim: str
) -> None:
    user = account(client)
    for name in SERVICES:
        assert probe(client, name, user).status_code == EXPECTED[name]

    stack.kill(victim)

    # Every route prefix of the victim answers the gateway's 503 JSON, again and again.
    routes = {
        "catalog": [("GET", "/movies/?page=1"), ("GET", "/genres/1/"), ("GET", "/directors/")],
        # The catalog's routes with an unseen query each time: see uncached().
        "auth": [("POST", "/auth/login/"), ("POST", "/auth/register/"), ("PUT", "/auth/login/")],
        "user": [("GET", "/user/"), ("PATCH", "/user/"), ("GET", "/favorites/movies/")],
    }[victim]
    for _ in range(2):
        for method, path in routes:
            target = uncached(path) if victim == "catalog" else path
            response = client.request(
                method,
                target,
                json={"email": new_email(), "password": PASSWORD},
                headers=user.headers,
            )
            assert_unavailable(response, victim)

    # The others keep answering.
    for name in SERVICES:
        if name != victim:
            assert probe(client, name, user).status_code == EXPECTED[name], name
    ready = client.get("/health/ready")
    assert ready.status_code == 503, ready.text
    assert ready.json()["code"] == "service_unavailable"
    states = {name: "down" if name == victim else "up" for name in SERVICES}
    assert ready.json()["services"] == states

    # Started again: the gateway picks it up with no step of ours (no reload of nginx).
    stack.restart(victim)
    wait_served(lambda: probe(client, victim, user), EXPECTED[victim])
    assert client.get("/health/ready").status_code == 200


def test_acknowledged_writes_survive_kill_9(stack: Any, client: httpx.Client) -> None:
    # Registrations: five at once, acknowledged, then the auth service is killed at once.
    emails = [new_email() for _ in range(5)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda email: register(client, email), emails))
    stack.kill("auth")
    stack.restart("auth")
    for email in emails:
        assert log_in(client, email).status_code == 200, email

    # A refresh retires its token: after a crash, presenting the old one again is a reuse.
    user = account(client)
    rotated = client.put("/auth/login/", json={"refresh_token": user.refresh_token})
    assert rotated.status_code == 200, rotated.text
    stack.kill("auth")
    stack.restart("auth")
    replay = client.put("/auth/login/", json={"refresh_token": user.refresh_token})
    assert replay.status_code == 401, replay.text

    # A password change (stored by the auth service, asked for through the user service).
    user = account(client)
    changed = client.put(
        "/user/password/",
        json={"password_1": PASSWORD, "password_2": NEW_PASSWORD},
        headers=user.headers,
    )
    assert changed.status_code == 204, changed.text
    stack.kill("auth")
    stack.restart("auth")
    assert log_in(client, user.email, NEW_PASSWORD).status_code == 200
    assert log_in(client, user.email, PASSWORD).status_code == 401

    # A profile change, then the user service is killed at once.
    genres = [genre["id"] for genre in client.get("/genres/").json()]
    patched = client.patch(
        "/user/",
        json={"name": "Андрей", "surname": "Тарковский", "favourite_genre": str(genres[1])},
        headers=user.headers,
    )
    assert patched.status_code == 200, patched.text
    stack.kill("user")
    stack.restart("user")
    profile = client.get("/user/", headers=user.headers)
    assert profile.status_code == 200, profile.text
    assert profile.json()["name"] == "Андрей"
    assert profile.json()["surname"] == "Тарковский"
    assert profile.json()["favorite_genre"] == genres[1]

    # Bookmarks: each acknowledged add, then a removal, each followed by a kill.
    ids = movie_ids(client)[:4]
    for movie_id in ids:
        added = client.post(f"/favorites/movies/{movie_id}/", headers=user.headers)
        assert added.status_code == 201, added.text
    stack.kill("user")
    stack.restart("user")
    listed = client.get("/favorites/movies/", headers=user.headers)
    assert listed.status_code == 200, listed.text
    assert [movie["id"] for movie in listed.json()] == ids[::-1]
    removed = client.delete(f"/favorites/movies/{ids[0]}/", headers=user.headers)
    assert removed.status_code == 204
    stack.kill("user")
    stack.restart("user")
    listed = client.get("/favorites/movies/", headers=user.headers)
    assert [movie["id"] for movie in listed.json()] == ids[:0:-1]


def test_paused_service_gives_504_after_the_gateway_timeout(
    stack: Any, client: httpx.Client
) -> None:
    user = account(client)
    stack.pause("catalog")
    try:
        # A stopped process never answers: the 504 can only be the gateway's timeout, and
        # the stopwatch checks only that the gateway waited for it (load only adds time).
        response, elapsed = timed(lambda: client.get(uncached("/movies/?page=1")))
        assert response.status_code == 504, response.text
        assert response.json()["code"] == "gateway_timeout"
        assert "catalog" in response.json()["message"]
        assert elapsed >= GATEWAY_TIMEOUT - 0.5, f"took {elapsed:.2f} s"

        # The others answer meanwhile; readiness names the hung one (its probe gave up).
        assert probe(client, "auth", user).status_code == 401
        assert probe(client, "user", user).status_code == 200
        ready = client.get("/health/ready")
        assert ready.status_code == 503, ready.text
        assert ready.json()["services"]["catalog"] == "down"

        # The user service gives up on the hung catalog before the gateway gives up on it:
        # its own 503 naming the catalog, not the gateway's 504.
        movie_id = 1
        added = client.post(f"/favorites/movies/{movie_id}/", headers=user.headers)
        assert added.status_code == 503, added.text
        assert added.json()["code"] == "service_unavailable"
        assert "catalog" in added.json()["message"]
    finally:
        stack.resume("catalog")
    wait_served(lambda: client.get(uncached("/movies/?page=1")), 200)


def test_user_service_degrades_while_the_catalog_is_down(stack: Any, client: httpx.Client) -> None:
    user = account(client)
    ids = movie_ids(client)
    assert client.post(f"/favorites/movies/{ids[0]}/", headers=user.headers).status_code == 201
    assert client.patch("/user/", json={"name": "Before"}, headers=user.headers).is_success
    unknown_genre = max(genre["id"] for genre in client.get("/genres/").json()) + 1000

    stack.kill("catalog")
    try:
        # What needs only the user service's own data still works.
        profile = client.get("/user/", headers=user.headers)
        assert profile.status_code == 200, profile.text
        assert profile.json()["name"] == "Before"
        renamed = client.patch("/user/", json={"surname": "During"}, headers=user.headers)
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["surname"] == "During"

        # What needs the catalog: the user service's 503 service_unavailable, never 500,
        # never a hang (a hang would have been the gateway's 504).
        needs_catalog: list[Callable[[], httpx.Response]] = [
            lambda: client.patch("/user/", json={"favorite_genre": unknown_genre},
                                 headers=user.headers),
            lambda: client.post(f"/favorites/movies/{ids[1]}/", headers=user.headers),
            lambda: client.get("/favorites/movies/", headers=user.headers),
            lambda: client.get("/favorites/movies/", params={"page": 1}, headers=user.headers),
        ]  # fmt: skip
        for send in needs_catalog:
            response = send()
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["code"] == "service_unavailable"
            assert "catalog" in body["message"]
        # A removal needs no catalog.
        removed = client.delete(f"/favorites/movies/{ids[0]}/", headers=user.headers)
        assert removed.status_code == 204
    finally:
        stack.restart("catalog")

    wait_served(lambda: client.get("/favorites/movies/", headers=user.headers), 200)
    assert client.get("/favorites/movies/", headers=user.headers).json() == []
    profile = client.get("/user/", headers=user.headers).json()
    assert (profile["name"], profile["surname"]) == ("Before", "During")
