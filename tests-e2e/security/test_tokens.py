"""Forged and misused tokens, through the gateway (the session's stack, HS256).

alg none, tampered claims, foreign keys, a refresh token used as an access token and
the reverse, refresh reuse (one after the other and at the same moment), tokens issued
before a password change.
"""

import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from accounts import Account
from security_support import (
    PASSWORD,
    assert_json_error,
    assert_unauthorized,
    hs256,
    parts,
    register,
    unsigned,
    with_signature,
)


@pytest.fixture
def alice(api: httpx.Client) -> Account:
    return register(api)


@pytest.fixture
def bob(api: httpx.Client) -> Account:
    return register(api)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_real_token_works(api: httpx.Client, alice: Account) -> None:
    assert api.get("/user/", headers=alice.headers).json()["id"] == alice.id


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_alg_none_is_refused(api: httpx.Client, alice: Account, alg: str) -> None:
    header, claims, _ = parts(alice.access_token)
    assert_unauthorized(api.get("/user/", headers=bearer(unsigned(header, claims, alg))))
    # With the original signature kept, too.
    _, _, signature = parts(alice.access_token)
    forged = with_signature({**header, "alg": alg}, claims, signature)
    assert_unauthorized(api.get("/user/", headers=bearer(forged)))
    header, claims, _ = parts(alice.refresh_token)
    refresh = api.put("/auth/login/", json={"refresh_token": unsigned(header, claims, alg)})
    assert_json_error(refresh, 401, "invalid_token")


def test_tampered_claims_are_refused(api: httpx.Client, alice: Account, bob: Account) -> None:
    header, claims, signature = parts(alice.access_token)
    tampered = [
        {**claims, "sub": str(bob.id)},  # become Bob
        {**claims, "email": bob.email},
        {**claims, "exp": claims["exp"] + 86400 * 365},  # live for a year
        {**claims, "type": "refresh"},
        {**claims, "iss": "someone-else"},
        {**claims, "admin": True},
    ]
    for forged_claims in tampered:
        forged = with_signature(header, forged_claims, signature)
        assert_unauthorized(api.get("/user/", headers=bearer(forged)))
    for forged_header in ({**header, "typ": "rt+jwt"}, {**header, "kid": "../../etc/passwd"}):
        forged = with_signature(forged_header, claims, signature)
        assert_unauthorized(api.get("/user/", headers=bearer(forged)))
    # A flipped character of the signature.
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert_unauthorized(api.get("/user/", headers=bearer(with_signature(header, claims, flipped))))
    # Bob's data was never reached: his profile is untouched and his own.
    assert api.get("/user/", headers=bob.headers).json()["email"] == bob.email


def test_tokens_signed_with_a_foreign_key_are_refused(api: httpx.Client, alice: Account) -> None:
    header, claims, _ = parts(alice.access_token)
    for key in (secrets.token_bytes(48), b"secret", b"", b"kinoarchive", b"changeme"):
        assert_unauthorized(api.get("/user/", headers=bearer(hs256(header, claims, key))))
    header, claims, _ = parts(alice.refresh_token)
    forged = hs256(header, claims, secrets.token_bytes(48))
    assert_json_error(api.put("/auth/login/", json={"refresh_token": forged}), 401, "invalid_token")


@pytest.mark.parametrize(
    "value",
    ["", "Bearer", "Bearer  x", "Bearer undefined", "Bearer null", "Basic YTpi", "Bearer a.b.c",
     "Bearer ...", "bearer x.y", "Bearer \u00e9.\u00e9.\u00e9"],
)  # fmt: skip
def test_malformed_authorization_is_401(api: httpx.Client, value: str) -> None:
    headers = {b"Authorization": value.encode("utf-8")}  # raw bytes: é goes out as UTF-8
    assert_unauthorized(api.get("/user/", headers=headers))
    assert_unauthorized(api.get("/favorites/movies/", headers=headers))


def test_refresh_token_is_no_access_token(api: httpx.Client, alice: Account) -> None:
    assert_unauthorized(api.get("/user/", headers=bearer(alice.refresh_token)))
    assert_unauthorized(api.post("/favorites/movies/1/", headers=bearer(alice.refresh_token)))
    assert_unauthorized(
        api.put(
            "/user/password/",
            json={"password_1": PASSWORD, "password_2": "another password 9"},
            headers=bearer(alice.refresh_token),
        )
    )


def test_access_token_is_no_refresh_token(api: httpx.Client, alice: Account) -> None:
    refresh = api.put("/auth/login/", json={"refresh_token": alice.access_token})
    assert_json_error(refresh, 401, "invalid_token")
    swapped = api.put(
        "/auth/login/",
        json={"refresh_token": alice.access_token, "access_token": alice.refresh_token},
    )
    assert_json_error(swapped, 401, "invalid_token")
    # Logging out with an access token revokes nothing.
    assert api.post("/auth/logout/", json={"refresh_token": alice.access_token}).status_code == 401
    assert api.put("/auth/login/", json={"refresh_token": alice.refresh_token}).status_code == 200


def test_refresh_reuse_revokes_the_family(api: httpx.Client, alice: Account) -> None:
    first = api.put("/auth/login/", json={"refresh_token": alice.refresh_token})
    assert first.status_code == 200
    second = api.put("/auth/login/", json={"refresh_token": first.json()["refresh_token"]})
    assert second.status_code == 200
    # The thief replays the first token: refused, and the family is cut off.
    replay = api.put("/auth/login/", json={"refresh_token": alice.refresh_token})
    assert_json_error(replay, 401, "invalid_token")
    newest = api.put("/auth/login/", json={"refresh_token": second.json()["refresh_token"]})
    assert_json_error(newest, 401, "invalid_token")


def test_concurrent_reuse_wins_at_most_once(base_url: str, alice: Account) -> None:
    def refresh(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            return client.put("/auth/login/", json={"refresh_token": alice.refresh_token})

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(refresh, range(6)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(200) <= 1, statuses
    assert set(statuses) <= {200, 401}, [answer.text for answer in answers]
    for answer in answers:
        if answer.status_code == 200:
            # The others were replays: the winner's new token went with the family.
            with httpx.Client(base_url=base_url, timeout=30) as client:
                again = client.put(
                    "/auth/login/", json={"refresh_token": answer.json()["refresh_token"]}
                )
            assert_json_error(again, 401, "invalid_token")


def test_tokens_after_a_password_change(api: httpx.Client, alice: Account) -> None:
    second_session = api.post(
        "/auth/login/", json={"email": alice.email, "password": PASSWORD}
    ).json()
    changed = api.put(
        "/user/password/",
        json={"old_password": PASSWORD, "new_password": "a brand new password 7"},
        headers=alice.headers,
    )
    assert changed.status_code == 204, changed.text
    for refresh_token in (alice.refresh_token, second_session["refresh_token"]):
        response = api.put("/auth/login/", json={"refresh_token": refresh_token})
        assert_json_error(response, 401, "invalid_token")
    old = api.post("/auth/login/", json={"email": alice.email, "password": PASSWORD})
    assert_json_error(old, 401, "invalid_credentials")
    new = api.post(
        "/auth/login/", json={"email": alice.email, "password": "a brand new password 7"}
    )
    assert new.status_code == 200
    # The new session's refresh token works.
    assert api.put("/auth/login/", json={"refresh_token": new.json()["refresh_token"]}).is_success
