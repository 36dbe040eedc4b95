"""Refresh (PUT /auth/login/), logout, and the token attacks."""

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import select

from auth_service.models import RefreshToken
from shared.jwt import JwtSettings, TokenCodec, TokenType
from tests.conftest import b64url, jwt_parts, login, register


async def refresh(
    client: httpx.AsyncClient,
    refresh_token: str,
    access_token: str | None = None,
    path: str = "/auth/login/",
) -> httpx.Response:
    body = {"refresh_token": refresh_token}
    if access_token is not None:
        body["access_token"] = access_token
    return await client.put(path, json=body)


def assert_invalid_token(response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_token"
    assert response.json()["message"]


@pytest.fixture
async def pair(client):
    await register(client, "pair@x.io")
    return await login(client, "pair@x.io")


@pytest.mark.parametrize("path", ["/auth/login", "/auth/login/"])
async def test_refresh_by_pair_gives_a_new_pair(client, pair, path) -> None:
    response = await refresh(client, pair["refresh_token"], pair["access_token"], path)
    assert response.status_code == 200
    new = response.json()
    assert new["token_type"] == "bearer"
    assert new["expires_in"] == 900
    assert new["refresh_token"] != pair["refresh_token"]
    assert new["access_token"] != pair["access_token"]
    assert jwt_parts(new["access_token"])[1]["sub"] == jwt_parts(pair["access_token"])[1]["sub"]
    # The new refresh token works in turn.
    assert (await refresh(client, new["refresh_token"], new["access_token"])).status_code == 200


async def test_refresh_without_the_access_token(client, pair) -> None:
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_refresh_with_an_empty_access_token_is_without_it(client, pair) -> None:
    response = await client.put(
        "/auth/login/", json={"refresh_token": pair["refresh_token"], "access_token": ""}
    )
    assert response.status_code == 200


async def test_refresh_accepts_a_form(client, pair) -> None:
    response = await client.put("/auth/login/", data={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 200


async def test_refresh_ignores_authorization(client, pair) -> None:
    response = await client.put(
        "/auth/login/",
        json={"refresh_token": pair["refresh_token"]},
        headers={"Authorization": "Bearer undefined"},
    )
    assert response.status_code == 200


async def test_refresh_accepts_an_expired_access_token_of_the_same_user(client, app, pair) -> None:
    tokens = app.state.tokens
    claims = jwt_parts(pair["access_token"])[1]
    expired = tokens.codec.issue(
        subject=claims["sub"],
        email=claims["email"],
        token_type=TokenType.ACCESS,
        now=time.time() - 3600,
    ).token
    response = await refresh(client, pair["refresh_token"], expired)
    assert response.status_code == 200


async def test_a_mismatched_pair_is_refused(client, pair) -> None:
    await register(client, "other@x.io")
    other = await login(client, "other@x.io")
    assert_invalid_token(await refresh(client, pair["refresh_token"], other["access_token"]))
    # Refused before anything changed: the right pair still works.
    assert (await refresh(client, pair["refresh_token"], pair["access_token"])).status_code == 200


async def test_reusing_a_retired_refresh_token_revokes_the_whole_family(client, pair) -> None:
    first = (await refresh(client, pair["refresh_token"])).json()
    second = (await refresh(client, first["refresh_token"])).json()
    # The original token again: a replay.
    assert_invalid_token(await refresh(client, pair["refresh_token"]))
    # Every token of the family stops working, the newest included.
    assert_invalid_token(await refresh(client, second["refresh_token"]))
    assert_invalid_token(await refresh(client, first["refresh_token"]))


async def test_a_replay_does_not_touch_other_families(client, pair) -> None:
    other_session = await login(client, "pair@x.io")
    await refresh(client, pair["refresh_token"])
    assert_invalid_token(await refresh(client, pair["refresh_token"]))
    assert (await refresh(client, other_session["refresh_token"])).status_code == 200


async def test_logout_revokes_the_family(client, pair) -> None:
    response = await client.post("/auth/logout/", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    assert response.content == b""
    assert_invalid_token(await refresh(client, pair["refresh_token"]))


async def test_logout_with_an_older_token_revokes_the_newest(client, pair) -> None:
    newer = (await refresh(client, pair["refresh_token"])).json()
    response = await client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    assert_invalid_token(await refresh(client, newer["refresh_token"]))


async def test_logout_is_idempotent_and_leaves_other_sessions(client, pair) -> None:
    other = await login(client, "pair@x.io")
    for _ in range(2):
        response = await client.post(
            "/auth/logout/",
            json={"refresh_token": pair["refresh_token"]},
            headers={"Authorization": "Bearer undefined"},
        )
        assert response.status_code == 204
    assert (await refresh(client, other["refresh_token"])).status_code == 200


async def test_logout_accepts_a_form(client, pair) -> None:
    response = await client.post("/auth/logout/", data={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    assert_invalid_token(await refresh(client, pair["refresh_token"]))


async def test_logout_refuses_what_is_not_a_refresh_token(client, pair) -> None:
    assert_invalid_token(
        await client.post("/auth/logout/", json={"refresh_token": pair["access_token"]})
    )
    assert_invalid_token(await client.post("/auth/logout/", json={"refresh_token": "garbage"}))
    assert (await client.post("/auth/logout/", json={})).status_code == 422


async def test_only_the_jti_is_stored(client, session, pair) -> None:
    rows = (await session.execute(select(RefreshToken))).scalars().all()
    assert len(rows) == 1
    row = rows[0]
    assert row.jti == jwt_parts(pair["refresh_token"])[1]["jti"]
    stored = " ".join(str(getattr(row, c.key)) for c in RefreshToken.__table__.columns)
    assert pair["refresh_token"] not in stored
    assert pair["refresh_token"].split(".")[2] not in stored


async def test_rotation_keeps_the_session_and_marks_the_old_token_used(client, session, pair):
    new = (await refresh(client, pair["refresh_token"])).json()
    rows = {row.jti: row for row in (await session.execute(select(RefreshToken))).scalars().all()}
    old_row = rows[jwt_parts(pair["refresh_token"])[1]["jti"]]
    new_row = rows[jwt_parts(new["refresh_token"])[1]["jti"]]
    assert old_row.session_id == new_row.session_id
    assert old_row.used_at is not None
    assert new_row.used_at is None
    # Every token of the pair names the session.
    for answer in (pair, new):
        for token in (answer["access_token"], answer["refresh_token"]):
            assert jwt_parts(token)[1]["sid"] == old_row.session_id


# --- token attacks ------------------------------------------------------------------


def forge(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


async def test_alg_none_is_refused(client, pair) -> None:
    header, payload, _ = jwt_parts(pair["refresh_token"])
    for alg in ("none", "None", "NONE"):
        token = forge({**header, "alg": alg}, payload, None)
        assert_invalid_token(await refresh(client, token))
    token = forge({**jwt_parts(pair["access_token"])[0], "alg": "none"}, payload, None)
    assert_invalid_token(await refresh(client, pair["refresh_token"], token))


async def test_a_tampered_payload_is_refused(client, pair) -> None:
    header_b64, _, signature = pair["refresh_token"].split(".")
    _, payload, _ = jwt_parts(pair["refresh_token"])
    for change in ({"sub": "2"}, {"exp": payload["exp"] + 3600}, {"type": "refresh", "x": 1}):
        forged_payload = b64url(json.dumps({**payload, **change}).encode())
        assert_invalid_token(await refresh(client, f"{header_b64}.{forged_payload}.{signature}"))
    # The untouched token still works: nothing was consumed by the attempts.
    assert (await refresh(client, pair["refresh_token"])).status_code == 200


async def test_a_token_signed_with_a_foreign_key_is_refused(client, pair) -> None:
    header, payload, _ = jwt_parts(pair["refresh_token"])
    assert_invalid_token(await refresh(client, forge(header, payload, secrets.token_bytes(32))))
    foreign = TokenCodec(JwtSettings(secret=SecretStr(secrets.token_urlsafe(32))), can_sign=True)
    token = foreign.issue(
        subject=payload["sub"], email=payload["email"], token_type=TokenType.REFRESH
    )
    assert_invalid_token(await refresh(client, token.token))


async def test_a_token_of_another_issuer_is_refused(client, app, pair) -> None:
    settings = app.state.tokens.codec.settings
    other = TokenCodec(settings.model_copy(update={"issuer": "someone-else"}), can_sign=True)
    payload = jwt_parts(pair["refresh_token"])[1]
    token = other.issue(
        subject=payload["sub"], email=payload["email"], token_type=TokenType.REFRESH
    )
    assert_invalid_token(await refresh(client, token.token))


async def test_wrong_token_types_are_refused_both_ways(client, pair) -> None:
    # An access token where the refresh token goes...
    assert_invalid_token(await refresh(client, pair["access_token"]))
    # ...and a refresh token where the access token goes.
    assert_invalid_token(await refresh(client, pair["refresh_token"], pair["refresh_token"]))
    # A refresh payload under an access header (and the reverse) fails too.
    assert_invalid_token(await refresh(client, pair["access_token"], pair["access_token"]))


async def test_an_expired_refresh_token_is_refused(client, app, pair) -> None:
    payload = jwt_parts(pair["refresh_token"])[1]
    codec = app.state.tokens.codec
    expired = codec.issue(
        subject=payload["sub"],
        email=payload["email"],
        token_type=TokenType.REFRESH,
        now=time.time() - codec.settings.refresh_ttl_seconds - 60,
    )
    assert_invalid_token(await refresh(client, expired.token))


async def test_a_well_signed_but_unrecorded_refresh_token_is_refused(client, app, pair) -> None:
    payload = jwt_parts(pair["refresh_token"])[1]
    unknown = app.state.tokens.codec.issue(
        subject=payload["sub"], email=payload["email"], token_type=TokenType.REFRESH
    )
    assert_invalid_token(await refresh(client, unknown.token))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "é" * 10, "x" * 5000])
async def test_malformed_refresh_tokens_are_refused(client, token) -> None:
    response = await refresh(client, token)
    assert response.status_code in (401, 422)
    assert response.json()["code"] in ("invalid_token", "validation_error")


async def test_reuse_and_failed_logins_are_counted(client, pair) -> None:
    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    reuses, failures = value("refresh_reuse_detections_total"), value("login_failures_total")
    assert (await refresh(client, pair["refresh_token"])).status_code == 200
    assert_invalid_token(await refresh(client, pair["refresh_token"]))  # cuts the family off
    assert_invalid_token(await refresh(client, pair["refresh_token"]))  # nothing live is left
    assert value("refresh_reuse_detections_total") == reuses + 1
    wrong = await client.post("/auth/login/", json={"email": "pair@x.io", "password": "x" * 9})
    assert wrong.status_code == 401
    assert value("login_failures_total") == failures + 1
    metrics = await client.get("/metrics")
    assert "refresh_reuse_detections_total" in metrics.text
