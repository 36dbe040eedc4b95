"""Helpers of the security tests: accounts, hand-made JWTs, raw HTTP requests.

Tokens are built by hand (base64url, HMAC, cryptography for RSA) so that any header,
algorithm or key can be forged, including what a JWT library refuses to produce (an
HS256 token keyed with a PEM public key, `alg: none`).
"""

import base64
import hashlib
import hmac
import json
import socket
from dataclasses import dataclass
from typing import Any

import httpx
from accounts import Account, sign_up

PASSWORD = "security suite password 1"


def register(api: httpx.Client, password: str = PASSWORD, **extra: Any) -> Account:
    return sign_up(api, password, **extra)


def assert_json_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body["message"], str)
    assert body["message"]
    if code is not None:
        assert body["code"] == code, body


def assert_unauthorized(response: httpx.Response) -> None:
    """The user service's answer to a token it does not accept."""
    assert_json_error(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")


# --- JWTs by hand ---------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A token's header, claims and signature (as sent)."""
    header, payload, signature = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload)), signature


def signing_input(header: dict[str, Any], claims: dict[str, Any]) -> bytes:
    encoded = (
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    return ".".join(encoded).encode()


def hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    data = signing_input({**header, "alg": "HS256"}, claims)
    return f"{data.decode()}.{b64url(hmac.new(key, data, hashlib.sha256).digest())}"


def unsigned(header: dict[str, Any], claims: dict[str, Any], alg: str = "none") -> str:
    return f"{signing_input({**header, 'alg': alg}, claims).decode()}."


def with_signature(header: dict[str, Any], claims: dict[str, Any], signature: str) -> str:
    """New header and claims, with the signature of another token (a tampered token)."""
    return f"{signing_input(header, claims).decode()}.{signature}"


# --- Raw HTTP -------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    base_url: str, method: str, target: str, headers: dict[str, str] | None = None
) -> RawResponse:
    """Send the request line exactly as given (no normalisation of the path by a client
    library) and read the whole answer (Connection: close)."""
    address = httpx.URL(base_url)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {address.host}:{address.port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines += ["Connection: close", "", ""]
    with socket.create_connection((address.host, address.port or 80), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return RawResponse(status=int(status_line.split()[1]), headers=fields, body=body)


def _unchunk(data: bytes) -> bytes:
    body = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        body += rest[:size]
        data = rest[size + 2 :]
    return body
