"""shared.http: the pooled client, the request id it carries, and outages as 503."""

import logging

import httpx
import pytest

from shared.errors import ServiceUnavailable
from shared.http import (
    DEFAULT_TIMEOUT,
    call_service,
    create_client,
    json_body,
    make_timeout,
    unavailable,
)
from shared.logging import request_id_var

URL = "http://catalog.internal:8001/movies/1"


def client_answering(handler) -> httpx.AsyncClient:
    return create_client(transport=httpx.MockTransport(handler))


def echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"request_id": request.headers.get("X-Request-ID")})


async def test_the_current_request_id_travels_with_every_call() -> None:
    token = request_id_var.set("req-123")
    try:
        async with client_answering(echo) as client:
            response = await client.get(URL)
            explicit = await client.get(URL, headers={"X-Request-ID": "given"})
    finally:
        request_id_var.reset(token)
    assert response.json() == {"request_id": "req-123"}
    assert explicit.json() == {"request_id": "given"}


async def test_no_request_id_outside_a_request() -> None:
    async with client_answering(echo) as client:
        assert (await client.get(URL)).json() == {"request_id": None}


def test_the_client_has_explicit_timeouts_and_no_redirects() -> None:
    client = create_client()
    assert client.timeout == DEFAULT_TIMEOUT
    assert client.timeout.connect == 1.0
    assert client.timeout.read == 3.0
    assert client.follow_redirects is False
    custom = create_client(timeout=make_timeout(connect=0.5, read=2))
    assert custom.timeout == httpx.Timeout(connect=0.5, read=2, write=2, pool=0.5)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.PoolTimeout,
        httpx.ReadError,
        httpx.RemoteProtocolError,
    ],
)
async def test_transport_errors_and_timeouts_are_503(error, caplog) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    caplog.set_level(logging.WARNING, logger="shared.http")
    async with client_answering(fail) as client:
        with pytest.raises(ServiceUnavailable) as raised:
            await call_service(client, "GET", URL, service="catalog")
    assert raised.value.status_code == 503
    assert raised.value.code == "service_unavailable"
    assert "catalog" in raised.value.message
    assert "internal" not in raised.value.message  # no host name for the client
    assert "catalog.internal" in caplog.text  # but the log says where


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_answers_are_503(status) -> None:
    async with client_answering(lambda _request: httpx.Response(status)) as client:
        with pytest.raises(ServiceUnavailable):
            await call_service(client, "GET", URL, service="catalog")


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (503, "2", 2),
        (503, None, None),
        (503, "Wed, 21 Oct 2026 07:28:00 GMT", None),
        (500, "2", None),
    ],
)
async def test_a_busy_services_retry_after_is_passed_on(status, retry_after, expected) -> None:
    """A 503 that says when to come back (a full queue) keeps saying it; nothing else does."""
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    async with client_answering(lambda _request: httpx.Response(status, headers=headers)) as client:
        with pytest.raises(ServiceUnavailable) as raised:
            await call_service(client, "GET", URL, service="auth")
    assert raised.value.retry_after == expected


@pytest.mark.parametrize("status", [200, 204, 400, 404, 422])
async def test_other_answers_are_returned(status) -> None:
    async with client_answering(lambda _request: httpx.Response(status)) as client:
        response = await call_service(client, "GET", URL, service="catalog")
    assert response.status_code == status


async def test_request_arguments_are_passed_on() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    async with client_answering(record) as client:
        await call_service(
            client,
            "PUT",
            URL,
            service="auth",
            params={"ids": "1,2"},
            headers={"X-Internal-Token": "t"},
            json={"a": 1},
        )
    [request] = seen
    assert request.method == "PUT"
    assert request.url.params["ids"] == "1,2"
    assert request.headers["X-Internal-Token"] == "t"
    assert request.content == b'{"a":1}'


async def test_an_unreachable_address_is_503() -> None:
    # Port 9 on loopback: nothing listens there, the connection is refused at once.
    async with create_client(timeout=make_timeout(connect=1, read=1)) as client:
        with pytest.raises(ServiceUnavailable):
            await call_service(client, "GET", "http://127.0.0.1:9/", service="catalog")


def test_json_body() -> None:
    assert json_body(httpx.Response(200, json=[1, 2]), service="catalog") == [1, 2]
    for garbage in (b"<html>", b"\xff\xfe", b""):
        with pytest.raises(ServiceUnavailable):
            json_body(httpx.Response(200, content=garbage), service="catalog")


def test_unavailable_names_the_service() -> None:
    error = unavailable("auth")
    assert isinstance(error, ServiceUnavailable)
    assert error.body() == {
        "message": "The auth service is unavailable. Please try again later.",
        "code": "service_unavailable",
    }
