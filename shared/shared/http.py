"""Calls from one service to another over HTTP.

- `create_client()`: the one pooled `httpx.AsyncClient` of a process, with explicit
  timeouts and pool limits, never following redirects, ignoring proxy variables, and
  adding the current request's `X-Request-ID` to every request it sends. Create it in
  the app's startup hook, close it in the shutdown hook; tests pass `transport=`
  (an `httpx.MockTransport`) to fake the other side.
- `call_service()`: sends one request and turns an outage of the other service
  (unreachable, timing out, answering 5xx) into `ServiceUnavailable` (503).
- `json_body()`: the decoded JSON of an answer; garbage is an outage too.

Messages of the raised errors name the service, never its address.
"""

import logging
from typing import Any

import httpx

from shared.errors import ServiceUnavailable
from shared.logging import request_id_var

logger = logging.getLogger("shared.http")

REQUEST_ID_HEADER = "X-Request-ID"

# Connecting is quick on a working network, so a slow connect means "down": fail fast.
DEFAULT_TIMEOUT = httpx.Timeout(connect=1.0, read=3.0, write=3.0, pool=1.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


def make_timeout(*, connect: float, read: float) -> httpx.Timeout:
    """Connect and pool waits get `connect`; reading and writing get `read`."""
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


async def _add_request_id(request: httpx.Request) -> None:
    request_id = request_id_var.get()
    if request_id != "-" and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


def create_client(
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    limits: httpx.Limits = DEFAULT_LIMITS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The process's pooled client for calls to the other services."""
    return httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        transport=transport,
        follow_redirects=False,
        trust_env=False,  # service-to-service traffic never goes through a proxy
        event_hooks={"request": [_add_request_id]},
    )


async def call_service(
    client: httpx.AsyncClient, method: str, url: str, *, service: str, **kwargs: Any
) -> httpx.Response:
    """Send one request; an unreachable, slow or failing (5xx) service raises 503 (with
    the service's own Retry-After when it answered 503 with one: busy, not down).

    Any other answer (2xx, 3xx, 4xx) is returned for the caller to interpret.
    `service` names the other side in the error message ("catalog", "auth").
    """
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        logger.warning("%s service timed out: %s %s (%s)", service, method, url, type(exc).__name__)
        raise unavailable(service) from exc
    except httpx.RequestError as exc:
        logger.warning("%s service unreachable: %s %s (%r)", service, method, url, exc)
        raise unavailable(service) from exc
    if response.status_code >= 500:
        logger.warning(
            "%s service failed: %s %s answered %s", service, method, url, response.status_code
        )
        raise unavailable(service, retry_after=_retry_after_seconds(response))
    return response


def json_body(response: httpx.Response, *, service: str) -> Any:
    """The answer's JSON; an answer that is not JSON means the service is broken."""
    try:
        return response.json()
    except ValueError as exc:
        logger.warning("%s service answered %s with a body that is not JSON", service, response)
        raise unavailable(service) from exc


def unavailable(service: str, *, retry_after: int | None = None) -> ServiceUnavailable:
    """The error our client gets when `service` cannot do its part (`retry_after`: when
    the service itself said when to try again)."""
    return ServiceUnavailable(
        f"The {service} service is unavailable. Please try again later.", retry_after=retry_after
    )


def _retry_after_seconds(response: httpx.Response) -> int | None:
    """A 503's Retry-After in seconds (a busy service that knows when it will have room);
    None for an outage, a date, or anything else."""
    value = response.headers.get("Retry-After", "")
    if response.status_code != 503 or not (value.isascii() and value.isdigit()):
        return None
    return int(value)
