"""PUT /internal/users/{id}/password: the password change that user-service forwards."""

import httpx
import pytest

from auth_service.main import create_app
from auth_service.passwords import HashQueueFull, Passwords
from testkit.database import use_session
from tests.conftest import (
    INTERNAL_TOKEN,
    PASSWORD,
    Clock,
    asgi_client,
    assert_rate_limited,
    auth_settings,
    fresh_throttle,
    login,
    register,
)

NEW_PASSWORD = "a brand new passphrase"
HEADERS = {"X-Internal-Token": INTERNAL_TOKEN}


async def change(
    client: httpx.AsyncClient,
    user_id: int,
    current: str = PASSWORD,
    new: str = NEW_PASSWORD,
    headers: dict[str, str] = HEADERS,
) -> httpx.Response:
    return await client.put(
        f"/internal/users/{user_id}/password",
        json={"current_password": current, "new_password": new},
        headers=headers,
    )


async def test_change_password(client) -> None:
    user_id = await register(client, "change@x.io")
    families = [await login(client, "change@x.io") for _ in range(2)]
    response = await change(client, user_id)
    assert response.status_code == 204
    assert response.content == b""
    old = await client.post("/auth/login/", json={"email": "change@x.io", "password": PASSWORD})
    assert old.status_code == 401
    await login(client, "change@x.io", NEW_PASSWORD)
    # Every refresh family issued before the change is revoked.
    for pair in families:
        response = await client.put("/auth/login/", json={"refresh_token": pair["refresh_token"]})
        assert response.status_code == 401


async def test_trailing_slash_too(client) -> None:
    user_id = await register(client, "slash@x.io")
    response = await client.put(
        f"/internal/users/{user_id}/password/",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=HEADERS,
    )
    assert response.status_code == 204


async def test_a_wrong_current_password_changes_nothing(client) -> None:
    user_id = await register(client, "keep@x.io")
    pair = await login(client, "keep@x.io")
    response = await change(client, user_id, current="not my password")
    assert response.status_code == 400
    assert response.json()["code"] == "wrong_password"
    await login(client, "keep@x.io")
    response = await client.put("/auth/login/", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 200


@pytest.mark.parametrize("new", ["short", "x" * 1025, ""])
async def test_a_new_password_against_the_policy_is_422(client, new) -> None:
    user_id = await register(client, "policy@x.io")
    response = await change(client, user_id, new=new)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["new_password"]


@pytest.mark.parametrize("user_id", [999_999, 0, -1, 2**40])
async def test_an_unknown_user_is_404(client, user_id) -> None:
    response = await change(client, user_id)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Internal-Token": ""},
        {"X-Internal-Token": "wrong"},
        {"X-Internal-Token": "é".encode()},
    ],
)
async def test_without_the_internal_token_it_is_403(client, headers) -> None:
    user_id = await register(client, "guarded@x.io")
    response = await change(client, user_id, headers=headers)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    await login(client, "guarded@x.io")  # unchanged


async def test_a_bearer_token_is_no_internal_credential(client) -> None:
    user_id = await register(client, "bearer@x.io")
    pair = await login(client, "bearer@x.io")
    response = await change(
        client, user_id, headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert response.status_code == 403


async def test_403_comes_before_validation(client) -> None:
    response = await client.put("/internal/users/1/password", json={"nonsense": 1})
    assert response.status_code == 403


async def test_unset_internal_token_turns_the_endpoint_off(app, session, database_url) -> None:
    off = create_app(
        auth_settings(database_url, internal_api_token=None), app.state.tokens.codec.settings
    )
    use_session(off, session)
    try:
        async with asgi_client(off) as client:
            user_id = await register(client, "off@x.io")
            for headers in ({}, HEADERS):
                response = await change(client, user_id, headers=headers)
                assert response.status_code == 503
                assert response.json()["code"] == "service_unavailable"
    finally:
        await off.state.database.dispose()


async def test_the_internal_endpoint_is_documented_apart(app) -> None:
    paths = app.openapi()["paths"]
    operation = paths["/internal/users/{user_id}/password"]["put"]
    assert operation["tags"] == ["internal"]
    assert {"204", "400", "403", "404", "422", "429", "503"} <= set(operation["responses"])


# --- wrong current passwords are throttled per account ------------------------------------


async def test_ten_wrong_current_passwords_then_429(client, app) -> None:
    """Failed before issue 14: a stolen access token could guess at hash speed."""
    clock = Clock()
    fresh_throttle(app, clock=clock)
    user_id = await register(client, "guessed@x.io")
    other_id = await register(client, "other@x.io")
    for minute in range(10):
        clock.now = 1_000_000.0 + minute * 60
        response = await change(client, user_id, current=f"guess {minute}")
        assert response.status_code == 400
        assert response.json()["code"] == "wrong_password"
    assert assert_rate_limited(await change(client, user_id, current="guess 10"), 900) == 900 - 540
    # The right password waits too (else a 429 would tell a right guess from a wrong one)...
    assert_rate_limited(await change(client, user_id), 900)
    await login(client, "guessed@x.io")  # ...and the password is unchanged.
    # Another account is not held.
    assert (await change(client, other_id)).status_code == 204
    # The lock ends when the oldest failure leaves the window; refusals did not prolong it.
    clock.now = 1_000_000.0 + 900
    assert (await change(client, user_id)).status_code == 204
    await login(client, "guessed@x.io", NEW_PASSWORD)


async def test_a_right_password_is_no_failure(client) -> None:
    user_id = await register(client, "careful@x.io")
    for _ in range(9):
        assert (await change(client, user_id, current="wrong one")).status_code == 400
    for index in range(5):  # back and forth: none of these count
        old, new = (PASSWORD, NEW_PASSWORD) if index % 2 == 0 else (NEW_PASSWORD, PASSWORD)
        assert (await change(client, user_id, current=old, new=new)).status_code == 204
    assert (await change(client, user_id, current="wrong one")).status_code == 400  # tenth
    assert_rate_limited(await change(client, user_id, current="wrong one"), 900)


async def test_a_full_hash_queue_is_503_and_no_failure(client, app, monkeypatch) -> None:
    user_id = await register(client, "queued@x.io")
    passwords: Passwords = app.state.passwords

    async def full(*_args: str) -> bool:
        raise HashQueueFull()

    monkeypatch.setattr(passwords, "verify", full)
    for _ in range(15):
        response = await change(client, user_id, current="wrong one")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
    monkeypatch.undo()
    for _ in range(10):
        assert (await change(client, user_id, current="wrong one")).status_code == 400
    assert_rate_limited(await change(client, user_id, current="wrong one"), 900)
