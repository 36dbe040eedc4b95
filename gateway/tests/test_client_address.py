"""The client's address behind proxies: realip, GATEWAY_TRUSTED_PROXIES (empty by default).

Every request of these tests comes from 127.0.0.1: a gateway that trusts 127.0.0.1 plays
one behind a load balancer, a gateway that trusts another network one reached directly.
The stub services echo the headers they received.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import render
from conftest import StubUpstream


def upstream_headers(echo: dict[str, Any], name: str) -> list[str]:
    """Values of header *name* as the stub service received it."""
    return [value for key, value in echo["headers"] if key.lower() == name.lower()]


def service_values(upstreams: dict[str, StubUpstream]) -> dict[str, str]:
    return {f"{name.upper()}_UPSTREAM": stub.address for name, stub in upstreams.items()}


def echo(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    start_gateway: Any, upstreams: dict[str, StubUpstream]
) -> None:
    gateway = start_gateway(**service_values(upstreams), GATEWAY_TRUSTED_PROXIES="10.0.0.0/8")
    with gateway.client() as client:
        received = echo(
            client.post(
                "/auth/login/",
                headers={
                    "X-Forwarded-For": "203.0.113.7",
                    "X-Real-IP": "198.51.100.1",
                    "X-Forwarded-Proto": "https",
                },
            )
        )
    assert upstream_headers(received, "X-Real-IP") == ["127.0.0.1"]
    assert upstream_headers(received, "X-Forwarded-For") == ["127.0.0.1"]
    assert upstream_headers(received, "X-Forwarded-Proto") == ["http"]


def test_a_trusted_proxy_names_the_client(
    start_gateway: Any, upstreams: dict[str, StubUpstream]
) -> None:
    """Behind a load balancer (here 127.0.0.1) that terminated TLS for 203.0.113.7."""
    gateway = start_gateway(**service_values(upstreams), GATEWAY_TRUSTED_PROXIES="127.0.0.1")
    with gateway.client() as client:
        received = echo(
            client.post(
                "/auth/login/",
                headers={
                    "X-Forwarded-For": "203.0.113.7",
                    "X-Real-IP": "198.51.100.1",  # the gateway's own replaces it
                    "X-Forwarded-Proto": "https",
                },
            )
        )
        without_header = echo(client.get("/user/"))
    assert upstream_headers(received, "X-Real-IP") == ["203.0.113.7"]
    assert upstream_headers(received, "X-Forwarded-For") == ["203.0.113.7"]
    assert upstream_headers(received, "X-Forwarded-Proto") == ["https"]
    # A request of the proxy's own (no X-Forwarded-For) is the proxy's.
    assert upstream_headers(without_header, "X-Real-IP") == ["127.0.0.1"]
    assert upstream_headers(without_header, "X-Forwarded-Proto") == ["http"]


def test_entries_a_client_wrote_before_the_proxies_prove_nothing(
    start_gateway: Any, upstreams: dict[str, StubUpstream]
) -> None:
    """client 203.0.113.7 -> inner proxy 10.0.0.6 -> load balancer 127.0.0.1 -> gateway;
    the client itself wrote 198.51.100.66 first. The rightmost untrusted address counts."""
    gateway = start_gateway(
        **service_values(upstreams), GATEWAY_TRUSTED_PROXIES="127.0.0.0/8, 10.0.0.0/8"
    )
    with gateway.client() as client:
        received = echo(
            client.get(
                "/favorites/movies/",
                headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.7, 10.0.0.6"},
            )
        )
    assert upstream_headers(received, "X-Real-IP") == ["203.0.113.7"]
    assert upstream_headers(received, "X-Forwarded-For") == ["203.0.113.7"]


def test_the_access_log_keeps_both_addresses(
    start_gateway: Any, upstreams: dict[str, StubUpstream]
) -> None:
    gateway = start_gateway(**service_values(upstreams), GATEWAY_TRUSTED_PROXIES="127.0.0.1")
    with gateway.client() as client:
        client.get("/genres/", headers={"X-Forwarded-For": "203.0.113.7"})
    gateway.stop()  # nginx writes its log before it exits
    (line,) = [line for line in gateway.access_log() if line["uri"] == "/genres/"]
    assert line["remote_addr"] == "203.0.113.7"
    assert line["peer_addr"] == "127.0.0.1"


def test_the_list_is_rendered_for_realip_and_for_the_trusted_peer_map() -> None:
    entries = render.trusted_proxies(" 10.0.0.5, ,2001:db8::/32 ")
    assert entries == ["10.0.0.5", "2001:db8::/32"]
    text = render.render_trusted_proxies(entries)
    assert "set_real_ip_from 10.0.0.5;\nset_real_ip_from 2001:db8::/32;\n" in text
    assert "    10.0.0.5 1;\n    2001:db8::/32 1;\n" in text
    empty = render.render_trusted_proxies(render.trusted_proxies(""))
    assert "set_real_ip_from" not in empty
    assert "geo $realip_remote_addr $gw_trusted_peer {\n    default 0;\n}\n" in empty


@pytest.mark.parametrize("value", ["10.0.0.5/8", "example.com", "10.0.0.0/33", "*"])
def test_a_list_entry_that_is_no_network_is_refused(value: str) -> None:
    with pytest.raises(render.RenderError, match="GATEWAY_TRUSTED_PROXIES"):
        render.trusted_proxies(f"127.0.0.1,{value}")
