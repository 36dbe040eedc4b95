"""The outer ring: limit_req on /auth/ and /user/password, per client address.

Most tests run a gateway allowed one request a minute with a burst of 3: the first four
requests pass and the fifth is refused, however slow the machine (the bucket would need
a minute to let one more through). One test uses the defaults (10r/s, burst 20).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import render
from conftest import GatewayProcess, StubUpstream

SLOW = {"GATEWAY_AUTH_RATE": "1r/m", "GATEWAY_AUTH_BURST": "3"}
ALLOWED = 4  # the first request, and a burst of 3 beyond the rate


def service_values(upstreams: dict[str, StubUpstream]) -> dict[str, str]:
    return {f"{name.upper()}_UPSTREAM": stub.address for name, stub in upstreams.items()}


def assert_rate_limited(response: httpx.Response, retry_after: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert response.json() == {
        "message": "Too many requests from this address. Please wait a moment and try again.",
        "code": "rate_limited",
    }
    assert response.headers.get_list("retry-after") == [retry_after]
    assert len(response.headers.get_list("x-request-id")) == 1
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "no-store"
    assert "nginx" not in response.text


@pytest.fixture
def slow_gateway(start_gateway: Any, upstreams: dict[str, StubUpstream]) -> GatewayProcess:
    gateway: GatewayProcess = start_gateway(**service_values(upstreams), **SLOW)
    return gateway


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("POST", "/auth/register/"),
        ("POST", "/auth/login/"),
        ("PUT", "/auth/login/"),  # refresh
        ("POST", "/auth/logout/"),
        ("PUT", "/user/password/"),
        ("PUT", "/user/password"),
    ],
)
def test_a_flood_is_refused_with_a_json_429(
    slow_gateway: GatewayProcess, upstreams: dict[str, StubUpstream], method: str, target: str
) -> None:
    with slow_gateway.client() as client:
        for _ in range(ALLOWED):
            assert client.request(method, target, json={}).status_code == 200
        assert_rate_limited(client.request(method, target, json={}), "60")
    service = "user" if target.startswith("/user") else "auth"
    assert len(upstreams[service].requests) == ALLOWED  # the refused one never reached it


def test_auth_and_the_password_change_share_one_allowance(
    slow_gateway: GatewayProcess,
) -> None:
    with slow_gateway.client() as client:
        assert client.post("/auth/login/", json={}).status_code == 200
        assert client.put("/user/password/", json={}).status_code == 200
        assert client.post("/auth/register/", json={}).status_code == 200
        assert client.put("/user/password/", json={}).status_code == 200
        assert_rate_limited(client.post("/auth/login/", json={}), "60")
        assert_rate_limited(client.put("/user/password/", json={}), "60")


def test_other_routes_and_preflights_are_never_limited(slow_gateway: GatewayProcess) -> None:
    with slow_gateway.client() as client:
        for _ in range(2 * ALLOWED):  # preflights are answered before the limit
            assert client.options("/auth/login/").status_code == 204
        for _ in range(ALLOWED):
            assert client.post("/auth/login/", json={}).status_code == 200
        assert client.post("/auth/login/", json={}).status_code == 429
        for target in ("/user/", "/user/passwords", "/favorites/movies/", "/movies/", "/health"):
            for _ in range(ALLOWED + 1):
                response = client.get(target)
                assert response.status_code == 200, (target, response.text)
                assert "retry-after" not in response.headers


def test_the_limit_is_per_client_behind_a_trusted_proxy(
    start_gateway: Any, upstreams: dict[str, StubUpstream]
) -> None:
    gateway = start_gateway(
        **service_values(upstreams), **SLOW, GATEWAY_TRUSTED_PROXIES="127.0.0.1"
    )
    first = {"X-Forwarded-For": "203.0.113.7"}
    second = {"X-Forwarded-For": "203.0.113.8"}
    with gateway.client() as client:
        for _ in range(ALLOWED):
            assert client.post("/auth/login/", headers=first).status_code == 200
        assert_rate_limited(client.post("/auth/login/", headers=first), "60")
        # Another client behind the same load balancer keeps its own allowance.
        assert client.post("/auth/login/", headers=second).status_code == 200


def test_a_client_cannot_dodge_the_limit_with_its_own_forwarded_for(
    slow_gateway: GatewayProcess,
) -> None:
    with slow_gateway.client() as client:
        for n in range(ALLOWED):
            forged = {"X-Forwarded-For": f"198.51.100.{n}", "X-Real-IP": f"198.51.100.{n}"}
            assert client.post("/auth/login/", headers=forged).status_code == 200
        forged = {"X-Forwarded-For": "198.51.100.200", "X-Real-IP": "198.51.100.200"}
        assert_rate_limited(client.post("/auth/login/", headers=forged), "60")


def test_a_services_own_429_passes_through_with_its_own_headers(
    slow_gateway: GatewayProcess, upstreams: dict[str, StubUpstream]
) -> None:
    with slow_gateway.client() as client:
        response = client.post("/auth/login/", headers={"X-Stub-Status": "429"})
    assert response.status_code == 429
    assert response.json()["service"] == "auth"  # the auth service's body, not the gateway's
    assert "retry-after" not in response.headers  # the stub sends none; the gateway adds none


def test_the_defaults_let_a_person_through_and_stop_a_flood(
    start_gateway: Any, upstreams: dict[str, StubUpstream]
) -> None:
    """10 requests a second, 20 at once. The first 21 pass whatever the machine's speed;
    of 100 sent one after another, some are refused unless sending them took longer than
    the 8 s in which the bucket lets the other 79 through (it takes well under a second)."""
    assert (render.DEFAULT_AUTH_RATE, render.DEFAULT_AUTH_BURST) == ("10r/s", "20")
    gateway = start_gateway(**service_values(upstreams))  # conftest: render.py's defaults
    with gateway.client() as client:
        statuses = []
        refused = None
        for _ in range(100):
            response = client.post("/auth/login/", json={})
            statuses.append(response.status_code)
            if response.status_code == 429:
                refused = response
    assert statuses[:21] == [200] * 21
    assert refused is not None, statuses
    assert_rate_limited(refused, "1")
    assert set(statuses) == {200, 429}


@pytest.mark.parametrize(
    ("name", "value"),
    [("GATEWAY_AUTH_RATE", "10"), ("GATEWAY_AUTH_RATE", "0r/s"), ("GATEWAY_AUTH_RATE", "5r/h"),
     ("GATEWAY_AUTH_BURST", "-1"), ("GATEWAY_AUTH_BURST", "many")],
)  # fmt: skip
def test_a_rate_or_burst_that_nginx_would_not_read_is_refused(
    tmp_path: Any, name: str, value: str
) -> None:
    with pytest.raises(render.RenderError, match=name):
        render.write_local_config(tmp_path, {name: value})
