import time

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from auth_service.models import User
from auth_service.passwords import HashQueueFull, Passwords
from tests.conftest import PASSWORD, jwt_parts, login, register


@pytest.mark.parametrize("path", ["/auth/login", "/auth/login/"])
async def test_login_answers_a_token_pair(client, path) -> None:
    user_id = await register(client, "login@x.io")
    before = time.time()
    response = await client.post(path, json={"email": "login@x.io", "password": PASSWORD})
    after = time.time()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    header, claims, _ = jwt_parts(body["access_token"])
    assert header.pop("kid")  # the key's fingerprint (shared/tests/test_jwt.py)
    assert header == {"alg": "HS256", "typ": "at+jwt"}
    assert set(claims) == {"sub", "email", "type", "iat", "exp", "jti", "iss", "sid"}
    assert claims["sub"] == str(user_id)
    assert claims["email"] == "login@x.io"
    assert claims["type"] == "access"
    assert claims["iss"] == "kinoarchive"
    assert claims["exp"] - claims["iat"] == 900
    assert int(before) <= claims["iat"] <= after  # issued during the request, however slow
    header, refresh, _ = jwt_parts(body["refresh_token"])
    assert header["typ"] == "rt+jwt"
    assert refresh["type"] == "refresh"
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600
    assert refresh["jti"] != claims["jti"]


async def test_login_accepts_a_form(client) -> None:
    await register(client, "loginform@x.io")
    response = await client.post(
        "/auth/login/", data={"email": "loginform@x.io", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


async def test_login_ignores_the_email_case_and_spaces(client) -> None:
    await register(client, "case@x.io")
    await login(client, "  CASE@X.IO ")


async def test_login_ignores_authorization(client) -> None:
    await register(client, "authz@x.io")
    response = await client.post(
        "/auth/login/",
        json={"email": "authz@x.io", "password": PASSWORD},
        headers={"Authorization": "Bearer undefined"},
    )
    assert response.status_code == 200


async def test_wrong_password_and_unknown_email_answer_alike(client) -> None:
    await register(client, "known@x.io")
    wrong = await client.post("/auth/login/", json={"email": "known@x.io", "password": "nope-nope"})
    unknown = await client.post(
        "/auth/login/", json={"email": "nobody@x.io", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "invalid_credentials"
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")


async def test_an_unknown_email_costs_one_verification_like_a_wrong_password(
    client, app, monkeypatch
) -> None:
    """The timing side channel, tested by its mechanism rather than a stopwatch (which a
    loaded machine makes meaningless): both paths run exactly one argon2 verification,
    of the submitted password, against a hash of the same algorithm and parameters, and
    neither hashes anything (the dummy hash is made at startup, as `_start` does)."""
    passwords: Passwords = app.state.passwords
    calls: list[tuple[str, str]] = []
    hashed: list[str] = []
    original_verify, original_hash = passwords._verify, passwords._hash

    def counting(password_hash: str, password: str) -> bool:
        calls.append((password_hash, password))
        return original_verify(password_hash, password)

    def counting_hashes(password: str) -> str:
        hashed.append(password)
        return original_hash(password)

    await register(client, "spent@x.io")
    await passwords.dummy_hash()
    monkeypatch.setattr(passwords, "_verify", counting)
    monkeypatch.setattr(passwords, "_hash", counting_hashes)
    wrong = await client.post("/auth/login/", json={"email": "spent@x.io", "password": "wrong-one"})
    assert len(calls) == 1
    known_hash, known_password = calls[0]
    unknown = await client.post(
        "/auth/login/", json={"email": "ghost@x.io", "password": "wrong-one"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert len(calls) == 2
    dummy_hash, dummy_password = calls[1]
    assert dummy_hash == await passwords.dummy_hash()
    assert known_password == dummy_password == "wrong-one"
    assert hashed == []
    # The same algorithm and parameters: the same work.
    assert dummy_hash.rsplit("$", 2)[0] == known_hash.rsplit("$", 2)[0]
    assert not passwords.needs_rehash(dummy_hash)


async def test_a_long_unicode_password_is_never_truncated(client) -> None:
    password = "🎬" * 100  # 100 characters, 400 bytes
    await register(client, "emoji@x.io", password)
    await login(client, "emoji@x.io", password)
    first_72_bytes = password.encode()[:72].decode()
    assert len(first_72_bytes) == 18
    response = await client.post(
        "/auth/login/", json={"email": "emoji@x.io", "password": first_72_bytes}
    )
    assert response.status_code == 401
    response = await client.post(
        "/auth/login/", json={"email": "emoji@x.io", "password": password[:-1]}
    )
    assert response.status_code == 401


async def test_a_weaker_hash_is_upgraded_at_the_next_login(client, session) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=32, parallelism=1).hash(PASSWORD)
    session.add(User(email="old@x.io", password_hash=weak))
    await session.flush()

    await login(client, "old@x.io")
    stored = (await session.execute(select(User.password_hash))).scalar_one()
    assert stored != weak
    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    await login(client, "old@x.io")  # the upgraded hash still verifies
    again = (await session.execute(select(User.password_hash))).scalar_one()
    assert again == stored  # no rehash when the parameters match


async def test_a_full_hash_queue_leaves_the_upgrade_for_a_later_login(
    client, session, app, monkeypatch
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=32, parallelism=1).hash(PASSWORD)
    session.add(User(email="busy@x.io", password_hash=weak))
    await session.flush()

    async def full(_password: str) -> str:
        raise HashQueueFull()

    monkeypatch.setattr(app.state.passwords, "hash", full)
    await login(client, "busy@x.io")  # the password was checked: no reason to refuse
    assert (await session.execute(select(User.password_hash))).scalar_one() == weak
    monkeypatch.undo()
    await login(client, "busy@x.io")
    assert (await session.execute(select(User.password_hash))).scalar_one() != weak


async def test_a_failed_login_does_not_upgrade_the_hash(client, session) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=32, parallelism=1).hash(PASSWORD)
    session.add(User(email="old2@x.io", password_hash=weak))
    await session.flush()
    response = await client.post(
        "/auth/login/", json={"email": "old2@x.io", "password": "wrong!!!"}
    )
    assert response.status_code == 401
    assert (await session.execute(select(User.password_hash))).scalar_one() == weak


@pytest.mark.parametrize(
    "body", [{"email": "x@x.io"}, {"password": "12345678"}, {"email": "x@x.io", "password": ""}]
)
async def test_login_validation(client, body) -> None:
    response = await client.post("/auth/login/", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_a_login_never_answers_5xx_on_odd_input(client) -> None:
    for content, content_type in [
        (b"\xff\xfe", "application/json"),
        (b"email=%FF&password=x", "application/x-www-form-urlencoded"),
        (b"[" * 100_000, "application/json"),
        (b"&".join(b"f%d=1" % i for i in range(100)), "application/x-www-form-urlencoded"),
    ]:
        response = await client.post(
            "/auth/login/", content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == 422, (content[:20], response.text)
