"""Sessions: credential versions, the limits, and the internal endpoints that list and
end them (GET/DELETE /internal/users/{id}/sessions)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from auth_service import repository
from auth_service.main import create_app
from auth_service.models import USER_AGENT_MAX_LENGTH, User, UserSession
from shared.jwt import JwtSettings
from tests.conftest import INTERNAL_TOKEN, PASSWORD, auth_settings, jwt_parts, login, register

HEADERS = {"X-Internal-Token": INTERNAL_TOKEN}
NEW_PASSWORD = "a brand new passphrase"


async def refresh(client: httpx.AsyncClient, pair: dict[str, Any]) -> httpx.Response:
    return await client.put("/auth/login/", json={"refresh_token": pair["refresh_token"]})


def sid(pair: dict[str, Any]) -> str:
    session_id: str = jwt_parts(pair["access_token"])[1]["sid"]
    return session_id


async def listed(client: httpx.AsyncClient, user_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"/internal/users/{user_id}/sessions", headers=HEADERS)
    assert response.status_code == 200, response.text
    sessions: list[dict[str, Any]] = response.json()
    return sessions


async def change_password(client, user_id: int) -> None:
    response = await client.put(
        f"/internal/users/{user_id}/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=HEADERS,
    )
    assert response.status_code == 204, response.text


# --- credential versions ----------------------------------------------------------------


async def test_a_password_change_bumps_the_version_and_ends_every_session(client, session) -> None:
    user_id = await register(client, "bump@x.io")
    pairs = [await login(client, "bump@x.io") for _ in range(2)]
    await change_password(client, user_id)
    user = await session.get(User, user_id)
    await session.refresh(user)
    assert user.credential_version == 2
    revoked = (
        await session.execute(select(UserSession.revoked_at).where(UserSession.user_id == user_id))
    ).scalars()
    assert all(value is not None for value in revoked)
    for pair in pairs:
        assert (await refresh(client, pair)).status_code == 401
    assert await listed(client, user_id) == []


async def test_a_login_that_read_the_old_version_opens_no_session(client, app, session) -> None:
    """The login read the hash and version, then the password changed before it wrote:
    the conditional INSERT finds no account of that version, and the login is refused."""
    user_id = await register(client, "late@x.io")
    tokens = app.state.tokens
    await change_password(client, user_id)  # version 1 -> 2
    pair = await tokens.open_session(
        session,
        user_id=user_id,
        email="late@x.io",
        credential_version=1,
        client_address="192.0.2.1",
        user_agent="late",
    )
    assert pair is None
    count = (
        await session.execute(select(UserSession.id).where(UserSession.user_id == user_id))
    ).all()
    assert count == []


async def test_a_session_of_an_older_version_cannot_refresh(client, session) -> None:
    """A session the change's revocation missed (begun while it ran) is still refused."""
    user_id = await register(client, "missed@x.io")
    pair = await login(client, "missed@x.io")
    await session.execute(update(User).where(User.id == user_id).values(credential_version=2))
    response = await refresh(client, pair)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert await listed(client, user_id) == []


async def test_a_rehash_of_the_same_password_ends_no_session(client, session) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=32, parallelism=1).hash(PASSWORD)
    user = User(email="rehash@x.io", password_hash=weak)
    session.add(user)
    await session.flush()
    first = await login(client, "rehash@x.io")  # upgrades the hash
    second = await login(client, "rehash@x.io")
    await session.refresh(user)
    assert user.password_hash != weak
    assert user.credential_version == 1
    for pair in (first, second):
        assert (await refresh(client, pair)).status_code == 200


async def test_a_change_checked_against_an_old_version_fails(client, session) -> None:
    user_id = await register(client, "twice@x.io")
    assert await repository.change_password_hash(session, user_id, 1, "new hash")
    assert not await repository.change_password_hash(session, user_id, 1, "other hash")
    user = await session.get(User, user_id)
    await session.refresh(user)
    assert (user.password_hash, user.credential_version) == ("new hash", 2)


# --- what a session records, its limits ------------------------------------------------


async def test_a_login_records_the_client_and_its_user_agent(make_client, session) -> None:
    async with make_client("203.0.113.9") as client:
        user_id = await register(client, "where@x.io")
        response = await client.post(
            "/auth/login/",
            json={"email": "where@x.io", "password": PASSWORD},
            headers={"User-Agent": "Mozilla/5.0 (X11) " + "x" * 1000 + "\x7f"},
        )
        assert response.status_code == 200
        pair = response.json()
        (entry,) = await listed(client, user_id)
    assert entry["id"] == sid(pair)
    assert entry["client_address"] == "203.0.113.9"
    assert entry["user_agent"] == ("Mozilla/5.0 (X11) " + "x" * 1000)[:USER_AGENT_MAX_LENGTH]
    created = datetime.fromisoformat(entry["created_at"])
    assert created.tzinfo is not None
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)
    assert entry["last_used_at"] == entry["created_at"]
    assert set(entry) == {"id", "created_at", "last_used_at", "client_address", "user_agent"}


async def test_without_a_user_agent_it_is_null(client) -> None:
    user_id = await register(client, "noagent@x.io")
    response = await client.post(
        "/auth/login/",
        json={"email": "noagent@x.io", "password": PASSWORD},
        headers={"User-Agent": ""},
    )
    assert response.status_code == 200
    assert [entry["user_agent"] for entry in await listed(client, user_id)] == [None]


async def test_a_refresh_marks_its_session_used_and_keeps_its_id(client) -> None:
    user_id = await register(client, "used@x.io")
    pair = await login(client, "used@x.io")
    (before,) = await listed(client, user_id)
    new = (await refresh(client, pair)).json()
    assert sid(new) == sid(pair)
    (after,) = await listed(client, user_id)
    assert after["created_at"] == before["created_at"]
    assert after["last_used_at"] >= before["last_used_at"]


async def test_a_login_beyond_the_limit_ends_the_oldest(client, app, monkeypatch) -> None:
    monkeypatch.setattr(app.state.tokens, "max_sessions", 2)
    user_id = await register(client, "many@x.io")
    first, second, third = [await login(client, "many@x.io") for _ in range(3)]
    assert (await refresh(client, first)).status_code == 401
    assert {entry["id"] for entry in await listed(client, user_id)} == {sid(second), sid(third)}
    for pair in (second, third):
        assert (await refresh(client, pair)).status_code == 200


async def test_the_limit_is_per_account(client, app, monkeypatch) -> None:
    monkeypatch.setattr(app.state.tokens, "max_sessions", 1)
    await register(client, "one@x.io")
    await register(client, "two@x.io")
    one = await login(client, "one@x.io")
    await login(client, "two@x.io")
    assert (await refresh(client, one)).status_code == 200


async def test_a_session_ends_at_its_maximum_age_however_often_refreshed(client, session) -> None:
    user_id = await register(client, "aged@x.io")
    pair = (await refresh(client, await login(client, "aged@x.io"))).json()
    past = datetime.now(UTC) - timedelta(seconds=1)
    await session.execute(
        update(UserSession).where(UserSession.id == sid(pair)).values(expires_at=past)
    )
    assert (await refresh(client, pair)).status_code == 401
    assert await listed(client, user_id) == []


async def test_a_session_ends_at_the_maximum_age_the_settings_give(client, session) -> None:
    await register(client, "maxage@x.io")
    pair = await login(client, "maxage@x.io")
    row = await session.get(UserSession, sid(pair))
    assert row.expires_at - row.created_at == timedelta(days=90)


async def test_the_maximum_age_cannot_be_shorter_than_the_refresh_lifetime(
    database_url, jwt_settings
) -> None:
    short = JwtSettings(secret=jwt_settings.secret, refresh_ttl_seconds=3600, access_ttl_seconds=60)
    app = create_app(auth_settings(database_url, session_max_age_seconds=3600), short)
    await app.state.database.dispose()
    with pytest.raises(ValueError, match="AUTH_SESSION_MAX_AGE_SECONDS"):
        create_app(auth_settings(database_url, session_max_age_seconds=3599), short)


async def test_the_session_settings_defaults() -> None:
    settings = auth_settings("sqlite+aiosqlite:///:memory:")
    assert settings.session_max_age_seconds == 90 * 24 * 3600
    assert settings.max_sessions_per_account == 20
    assert settings.purge_batch_size == 1000


# --- logout and reuse end the session -----------------------------------------------------


async def test_logout_ends_the_session_only(client) -> None:
    user_id = await register(client, "bye@x.io")
    leaving, staying = await login(client, "bye@x.io"), await login(client, "bye@x.io")
    response = await client.post("/auth/logout/", json={"refresh_token": leaving["refresh_token"]})
    assert response.status_code == 204
    assert [entry["id"] for entry in await listed(client, user_id)] == [sid(staying)]


async def test_reuse_of_a_retired_token_ends_the_session(client) -> None:
    user_id = await register(client, "reuse@x.io")
    pair = await login(client, "reuse@x.io")
    assert (await refresh(client, pair)).status_code == 200
    assert (await refresh(client, pair)).status_code == 401
    assert await listed(client, user_id) == []


# --- the internal endpoints ---------------------------------------------------------------


async def test_the_list_is_the_accounts_live_sessions_latest_used_first(client) -> None:
    user_id = await register(client, "list@x.io")
    other_id = await register(client, "other@x.io")
    older, newer = await login(client, "list@x.io"), await login(client, "list@x.io")
    ended = await login(client, "list@x.io")
    await client.post("/auth/logout/", json={"refresh_token": ended["refresh_token"]})
    await login(client, "other@x.io")
    older = (await refresh(client, older)).json()  # now the most recently used
    assert [entry["id"] for entry in await listed(client, user_id)] == [sid(older), sid(newer)]
    assert len(await listed(client, other_id)) == 1


@pytest.mark.parametrize("user_id", [999_999, 0, -1, 2**40])
async def test_an_unknown_account_has_no_sessions(client, user_id) -> None:
    assert await listed(client, user_id) == []


async def test_end_one_session(client) -> None:
    user_id = await register(client, "endone@x.io")
    ending, staying = await login(client, "endone@x.io"), await login(client, "endone@x.io")
    path = f"/internal/users/{user_id}/sessions/{sid(ending)}"
    response = await client.delete(path, headers=HEADERS)
    assert response.status_code == 204
    assert response.content == b""
    assert (await refresh(client, ending)).status_code == 401
    assert (await refresh(client, staying)).status_code == 200
    again = await client.delete(
        f"/internal/users/{user_id}/sessions/{sid(ending)}/", headers=HEADERS
    )
    assert again.status_code == 404
    assert again.json()["code"] == "session_not_found"


async def test_another_accounts_session_is_404_and_stays(client) -> None:
    await register(client, "owner@x.io")
    intruder = await register(client, "intruder@x.io")
    pair = await login(client, "owner@x.io")
    for user_id, session_id in (
        (intruder, sid(pair)),
        (intruder, "0" * 32),
        (2**40, sid(pair)),
        (intruder, "x" * 65),
    ):
        response = await client.delete(
            f"/internal/users/{user_id}/sessions/{session_id}", headers=HEADERS
        )
        assert response.status_code in (404, 422), response.text
        assert response.json()["code"] in ("session_not_found", "validation_error")
    assert (await refresh(client, pair)).status_code == 200


async def test_end_all_but_one(client) -> None:
    user_id = await register(client, "endall@x.io")
    keep, *others = [await login(client, "endall@x.io") for _ in range(3)]
    response = await client.delete(
        f"/internal/users/{user_id}/sessions/", params={"keep": sid(keep)}, headers=HEADERS
    )
    assert response.status_code == 204
    assert [entry["id"] for entry in await listed(client, user_id)] == [sid(keep)]
    for pair in others:
        assert (await refresh(client, pair)).status_code == 401
    assert (await refresh(client, keep)).status_code == 200


async def test_end_all(client) -> None:
    user_id = await register(client, "endevery@x.io")
    pairs = [await login(client, "endevery@x.io") for _ in range(2)]
    response = await client.delete(f"/internal/users/{user_id}/sessions", headers=HEADERS)
    assert response.status_code == 204
    assert await listed(client, user_id) == []
    for pair in pairs:
        assert (await refresh(client, pair)).status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/internal/users/1/sessions"),
        ("DELETE", "/internal/users/1/sessions"),
        ("DELETE", "/internal/users/1/sessions/abc"),
    ],
)
async def test_the_session_endpoints_need_the_internal_token(client, method, path) -> None:
    user_id = await register(client, "guard@x.io")
    pair = await login(client, "guard@x.io")
    for headers in ({}, {"X-Internal-Token": "wrong"}):
        response = await client.request(
            method, path.replace("/1/", f"/{user_id}/"), headers=headers
        )
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    assert (await refresh(client, pair)).status_code == 200


async def test_the_session_endpoints_are_documented(app) -> None:
    paths = app.openapi()["paths"]
    assert {"204", "403", "404"} <= set(
        paths["/internal/users/{user_id}/sessions/{session_id}"]["delete"]["responses"]
    )
    assert "200" in paths["/internal/users/{user_id}/sessions"]["get"]["responses"]
    assert "204" in paths["/internal/users/{user_id}/sessions"]["delete"]["responses"]
