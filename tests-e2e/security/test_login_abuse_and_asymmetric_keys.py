"""Attacks that need a stack of their own, configured for them.

One stack, started for this module only (conftest's `new_stack`):
- asymmetric tokens (JWT_ALGORITHM=RS256 with a key pair made here): the algorithm
  confusion attack (an HS256 token whose secret is the public key), a foreign RSA key,
  alg none;
- login enumeration: an unknown email and a wrong password answer with the same status
  and body (their times are recorded in the report, not compared: see the test);
- throttling, with the auth service's default limits: a client's own X-Forwarded-For /
  X-Real-IP neither resets nor dodges the lock of an (email, address) pair (429 with
  Retry-After after 10 failures) nor of an address (100); wrong current passwords on
  PUT /user/password/ (10 per account); registrations per address (20 an hour).

Its own stack keeps these failures away from the session's stack, which raises the
per-address limits (tests-e2e/conftest.py); this one keeps the defaults, but for the
gateway's flood limit (not what is tested here), raised as for the session's stack.

A second stack, behind a "proxy" (GATEWAY_TRUSTED_PROXIES=127.0.0.1, so that the
client's X-Forwarded-For names its address), lets clients come from many addresses:
nobody else's failures keep an account's owner out.
"""

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from accounts import Account, new_email
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from security_support import (
    PASSWORD,
    assert_json_error,
    assert_unauthorized,
    b64url,
    hs256,
    parts,
    register,
    signing_input,
    unsigned,
)

from testkit.keys import write_key_pair

# The auth service's defaults (auth_service/config.py).
PER_EMAIL_AND_ADDRESS = 10  # failures in 15 minutes for one email from one address
PER_EMAIL = 50  # for one email from every address it has not logged in from
PER_ADDRESS = 100  # for one address, whatever the emails
PASSWORD_CHANGE_FAILURES = 10  # wrong current passwords per account
REGISTRATIONS_PER_ADDRESS = 20  # an hour
ATTEMPTS = 8  # per kind: each account gets 4 wrong passwords, under its limit of 10
# The gateway's flood limit on /auth/ would answer some of these fast sequential calls
# itself: raised, as for the session's stack.
GATEWAY_FLOOD = {"GATEWAY_AUTH_RATE": "1000r/s", "GATEWAY_AUTH_BURST": "1000"}


@pytest.fixture(scope="module")
def keys() -> Iterator[tuple[Path, Path]]:
    with tempfile.TemporaryDirectory(prefix="kinoarchive-keys-") as folder:
        yield write_key_pair(Path(folder), "RS256")


@pytest.fixture(scope="module")
def stack(new_stack: Callable[..., Any], keys: tuple[Path, Path]) -> Any:
    private, public = keys
    return new_stack(
        env={
            "JWT_ALGORITHM": "RS256",
            "JWT_PRIVATE_KEY_FILE": str(private),
            "JWT_PUBLIC_KEY_FILE": str(public),
            **GATEWAY_FLOOD,
        }
    )


@pytest.fixture(scope="module")
def client(stack: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def failures() -> list[int]:
    """Failed logins this module has sent so far (one client address: 127.0.0.1)."""
    return [0]


def log_in(
    client: httpx.Client, email: str, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return client.post("/auth/login/", json={"email": email, "password": password}, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- Asymmetric keys ------------------------------------------------------------------


def test_tokens_are_rs256_and_work(client: httpx.Client) -> None:
    account = register(client)
    assert parts(account.access_token)[0]["alg"] == "RS256"
    assert client.get("/user/", headers=account.headers).json()["id"] == account.id
    refreshed = client.put("/auth/login/", json={"refresh_token": account.refresh_token})
    assert refreshed.status_code == 200, refreshed.text


def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.Client, keys: tuple[Path, Path]
) -> None:
    account = register(client)
    pem = keys[1].read_bytes()
    der = serialization.load_pem_public_key(pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, claims, _ = parts(account.access_token)
    refresh_header, refresh_claims, _ = parts(account.refresh_token)
    for secret in (pem, pem.strip(), pem.replace(b"\n", b"\r\n"), der):
        forged = hs256(header, claims, secret)
        assert_unauthorized(client.get("/user/", headers=bearer(forged)))
        forged_refresh = hs256(refresh_header, refresh_claims, secret)
        response = client.put("/auth/login/", json={"refresh_token": forged_refresh})
        assert_json_error(response, 401, "invalid_token")
    assert client.get("/user/", headers=account.headers).status_code == 200


def test_foreign_rsa_key_and_alg_none_are_refused(client: httpx.Client) -> None:
    account = register(client)
    header, claims, _ = parts(account.access_token)
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = signing_input(header, claims)
    signature = foreign.sign(data, padding.PKCS1v15(), hashes.SHA256())
    forged = f"{data.decode()}.{b64url(signature)}"
    assert_unauthorized(client.get("/user/", headers=bearer(forged)))
    for alg in ("none", "HS256", "PS256", "EdDSA"):
        assert_unauthorized(client.get("/user/", headers=bearer(unsigned(header, claims, alg))))
    # The real key signing other claims: only via the real key, which nobody else holds.
    tampered = (
        f"{signing_input(header, {**claims, 'sub': '1'}).decode()}.{parts(account.access_token)[2]}"
    )
    assert_unauthorized(client.get("/user/", headers=bearer(tampered)))


# --- Login enumeration ----------------------------------------------------------------


def test_unknown_email_and_wrong_password_look_alike(
    client: httpx.Client, failures: list[int]
) -> None:
    """One status and one body for both, through the gateway. That both cost the same
    work is asserted where it can be counted, not timed on a loaded machine
    (auth-service/tests/test_login.py: one verification each, with alike parameters)."""
    # Wrong passwords spread over two accounts, so no email reaches its limit of 10.
    accounts = [register(client), register(client)]
    answers: set[tuple[int, str]] = set()

    def attempt(email: str) -> None:
        response = log_in(client, email, "not the password at all")
        failures[0] += 1
        answers.add((response.status_code, response.text))
        assert response.status_code == 401, response.text

    for i in range(ATTEMPTS):
        attempt(new_email())
        attempt(accounts[i % 2].email)

    assert len(answers) == 1, answers
    status, body = answers.pop()
    assert status == 401
    assert '"invalid_credentials"' in body


# --- Throttling and spoofed addresses -------------------------------------------------


def spoofed(i: int) -> dict[str, str]:
    return {
        "X-Forwarded-For": f"203.0.113.{i % 250 + 1}, 198.51.100.{i % 250 + 1}",
        "X-Real-IP": f"192.0.2.{i % 250 + 1}",
        "Forwarded": f"for=192.0.2.{i % 250 + 1}",
    }


def assert_rate_limited(response: httpx.Response) -> int:
    assert_json_error(response, 429, "rate_limited")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= 15 * 60
    return int(retry_after)


def test_spoofed_addresses_neither_reset_nor_dodge_the_pair_lock(
    client: httpx.Client, failures: list[int]
) -> None:
    account = register(client)  # logged in from here: a known address, which changes nothing
    unknown = new_email()
    for email in (account.email, unknown):
        for i in range(PER_EMAIL_AND_ADDRESS):
            response = log_in(client, email, f"wrong password {i}", spoofed(i))
            failures[0] += 1
            assert_json_error(response, 401, "invalid_credentials")
        # The 11th: refused whatever address the client claims, the right password too.
        for i in range(PER_EMAIL_AND_ADDRESS, PER_EMAIL_AND_ADDRESS + 5):
            password = PASSWORD if email == account.email else "wrong password"
            assert_rate_limited(log_in(client, email, password, spoofed(i)))
        assert_rate_limited(log_in(client, email, PASSWORD))
        assert_rate_limited(log_in(client, email.upper(), PASSWORD, spoofed(99)))
    # A 429 says nothing about whether the email exists: the same body for both.
    known = log_in(client, account.email, PASSWORD, spoofed(1))
    other = log_in(client, unknown, PASSWORD, spoofed(2))
    assert known.json() == other.json()
    # Other emails are not locked by it, and the account itself is intact.
    assert client.get("/user/", headers=account.headers).status_code == 200
    fresh = register(client)
    assert log_in(client, fresh.email, PASSWORD, spoofed(3)).status_code == 200


def change_password(client: httpx.Client, account: Account, current: str) -> httpx.Response:
    return client.put(
        "/user/password/",
        json={"old_password": current, "new_password": "a new passphrase!"},
        headers=account.headers,
    )


def test_wrong_current_passwords_are_throttled_per_account(client: httpx.Client) -> None:
    account = register(client)
    for i in range(PASSWORD_CHANGE_FAILURES):
        assert_json_error(change_password(client, account, f"guess {i}"), 400, "wrong_password")
    assert_rate_limited(change_password(client, account, "one more guess"))
    assert_rate_limited(change_password(client, account, PASSWORD))  # the right one waits
    assert log_in(client, account.email, PASSWORD).status_code == 200  # unchanged
    other = register(client)
    assert change_password(client, other, PASSWORD).status_code == 204


def test_spoofed_addresses_do_not_dodge_the_address_limit(
    client: httpx.Client, failures: list[int]
) -> None:
    # Runs after the others that log in: afterwards this client's address is locked out.
    account: Account = register(client)
    limited_after: int | None = None
    for i in range(PER_ADDRESS + 1):
        response = log_in(client, new_email(), "wrong password", spoofed(i))
        if response.status_code == 429:
            limited_after = failures[0]
            break
        assert_json_error(response, 401, "invalid_credentials")
        failures[0] += 1
    assert limited_after is not None, "no 429 although every attempt came from one address"
    assert limited_after == PER_ADDRESS, limited_after
    # Every claimed address, and a real account with its right password, share the lockout.
    for i in range(5):
        assert_rate_limited(log_in(client, new_email(), "wrong password", spoofed(200 + i)))
    assert_rate_limited(log_in(client, account.email, PASSWORD, spoofed(7)))
    # Only logins are throttled: the rest of the API answers.
    assert client.get("/user/", headers=account.headers).status_code == 200


def test_registrations_are_limited_per_address(client: httpx.Client) -> None:
    # Runs last: afterwards this client's address registers nothing for an hour.
    created = 0
    refused: httpx.Response | None = None
    for i in range(REGISTRATIONS_PER_ADDRESS + 1):
        response = client.post(
            "/auth/register/",
            json={"email": new_email("flood"), "password": PASSWORD},
            headers=spoofed(i),
        )
        if response.status_code == 429:
            refused = response
            break
        assert response.status_code == 201, response.text
        created += 1
    assert refused is not None, "no 429 although every registration came from one address"
    assert_json_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    # This module registered accounts before: the limit counts them all, the address's.
    assert created < REGISTRATIONS_PER_ADDRESS
    # A taken email asks the same question: refused alike, not answered 409.
    taken = client.post("/auth/register/", json={"email": new_email(), "password": PASSWORD})
    assert_json_error(taken, 429, "rate_limited")


# --- Many client addresses, behind a trusted proxy ---------------------------------------


@pytest.fixture(scope="module")
def proxied(new_stack: Callable[..., Any]) -> Iterator[httpx.Client]:
    """A stack whose gateway believes 127.0.0.1's X-Forwarded-For: `coming_from(address)` headers
    make a request come from that address, as through a load balancer."""
    stack = new_stack(env={"GATEWAY_TRUSTED_PROXIES": "127.0.0.1", **GATEWAY_FLOOD})
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        yield client


def coming_from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def test_nobody_elses_failures_keep_the_owner_out(proxied: httpx.Client) -> None:
    home, attackers, travel = "198.51.100.20", [f"203.0.113.{i}" for i in range(1, 6)], "192.0.2.8"
    email = new_email("owner")
    created = proxied.post("/auth/register/", json={"email": email, "password": PASSWORD},
                           headers=coming_from(home))  # fmt: skip
    assert created.status_code == 201, created.text
    assert log_in(proxied, email, PASSWORD, coming_from(home)).status_code == 200  # home is known
    # One address fails ten times: that address waits; nobody else does.
    for i in range(PER_EMAIL_AND_ADDRESS):
        assert_json_error(log_in(proxied, email, f"guess {i}", coming_from(attackers[0])), 401)
    assert_rate_limited(log_in(proxied, email, PASSWORD, coming_from(attackers[0])))
    assert log_in(proxied, email, PASSWORD, coming_from(travel)).status_code == 200
    # Four more addresses: the email's 50 failures from addresses it never logged in from.
    # A new address now waits, even with the right password; home does not.
    for attacker in attackers[1:]:
        for i in range(PER_EMAIL_AND_ADDRESS):
            assert_json_error(log_in(proxied, email, f"guess {i}", coming_from(attacker)), 401)
    assert_rate_limited(log_in(proxied, email, PASSWORD, coming_from("192.0.2.99")))
    assert log_in(proxied, email, PASSWORD, coming_from(home)).status_code == 200
    assert log_in(proxied, email, PASSWORD, coming_from(travel)).status_code == 200  # known now too
