"""`GATEWAY_TLS=self-signed make run`: the whole local stack over HTTPS.

A stack of its own (conftest's `new_stack`, a LocalStack) with the certificate that
scripts/stack.py makes in its data folder; the client trusts that certificate alone.
Against another deployment (E2E_BASE_URL) there is no make run to configure: skipped.
"""

import os
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from accounts import new_email

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("E2E_BASE_URL", "").strip()),
    reason="make run's own TLS: needs the local stack, not E2E_BASE_URL",
)

PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def tls_stack(new_stack: Callable[..., Any]) -> tuple[Any, int]:
    https_port = _free_port()
    stack = new_stack(env={"GATEWAY_TLS": "self-signed", "GATEWAY_HTTPS_PORT": str(https_port)})
    return stack, https_port


@pytest.fixture
def https(tls_stack: tuple[Any, int]) -> Iterator[httpx.Client]:
    stack, port = tls_stack
    cert = Path(stack.folder) / "data" / "tls" / "cert.pem"
    context = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=context, timeout=15) as client:
        yield client


def test_the_stack_serves_the_api_over_https(https: httpx.Client) -> None:
    movies = https.get("/movies/?page=1")
    assert movies.status_code == 200
    assert movies.json()
    assert movies.headers["strict-transport-security"] == "max-age=31536000"
    email = new_email("tls")
    created = https.post("/auth/register/", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = https.post("/auth/login/", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    profile = https.get(
        "/user/", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert profile.status_code == 200
    assert profile.json()["email"] == email


def test_plain_http_is_redirected_but_health_is_not(tls_stack: tuple[Any, int]) -> None:
    stack, port = tls_stack
    with httpx.Client(base_url=stack.base_url, timeout=15, follow_redirects=False) as plain:
        moved = plain.get("/movies/?page=1")
        assert moved.status_code == 301
        assert moved.headers["location"] == f"https://127.0.0.1:{port}/movies/?page=1"
        assert "strict-transport-security" not in moved.headers
        ready = plain.get("/health/ready")
        assert ready.status_code == 200
        assert "strict-transport-security" not in ready.headers


def test_the_key_is_private(tls_stack: tuple[Any, int]) -> None:
    stack, _ = tls_stack
    folder = Path(stack.folder) / "data" / "tls"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (folder / "key.pem").stat().st_mode & 0o777 == 0o600
