"""PUT /user/password/: forwarded to auth-service's internal endpoint, answers translated."""

import json

import httpx
import pytest
from pydantic import SecretStr

from shared.errors import ServiceUnavailable
from tests.fakes import INTERNAL_TOKEN
from user_service.auth import AuthClient

NUMBERED = {"password_1": "old password 1", "password_2": "new password 2"}
NAMED = {"old_password": "old password 1", "new_password": "new password 2"}


@pytest.mark.parametrize("body", [NUMBERED, NAMED], ids=["password_1/2", "old/new_password"])
async def test_the_password_changes_with_either_body(client, bearer, auth_service, body) -> None:
    response = await client.put(
        "/user/password/", json=body, headers={**bearer(7), "X-Request-ID": "req-pw-1"}
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert auth_service.passwords[7] == "new password 2"
    [sent] = auth_service.requests
    assert sent.method == "PUT"
    assert sent.url.path == "/internal/users/7/password"
    assert sent.headers["X-Internal-Token"] == INTERNAL_TOKEN
    assert sent.headers["X-Request-ID"] == "req-pw-1"
    assert json.loads(sent.content) == {
        "current_password": "old password 1",
        "new_password": "new password 2",
    }


async def test_the_route_answers_without_the_trailing_slash(client, bearer, auth_service) -> None:
    assert (await client.put("/user/password", json=NUMBERED, headers=bearer())).status_code == 204


async def test_each_user_changes_only_their_own_password(client, bearer, auth_service) -> None:
    body = {"password_1": "other password 8", "password_2": "brand new 8"}
    assert (await client.put("/user/password/", json=body, headers=bearer(8))).status_code == 204
    assert auth_service.passwords == {7: "old password 1", 8: "brand new 8"}


@pytest.mark.parametrize("body", [NUMBERED, NAMED], ids=["password_1/2", "old/new_password"])
async def test_a_wrong_current_password_is_400_and_changes_nothing(
    client, bearer, auth_service, body
) -> None:
    wrong = {
        key: "not my password" if key in ("password_1", "old_password") else value
        for key, value in body.items()
    }
    response = await client.put("/user/password/", json=wrong, headers=bearer())
    assert response.status_code == 400
    assert response.json()["code"] == "wrong_password"
    assert response.json()["message"]
    assert auth_service.passwords[7] == "old password 1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password_1": "old password 1", "password_2": "short"}, "password_2"),
        ({"old_password": "old password 1", "new_password": "x" * 1025}, "new_password"),
    ],
)
async def test_the_auth_services_policy_error_is_passed_on(
    client, bearer, auth_service, body, field
) -> None:
    response = await client.put("/user/password/", json=body, headers=bearer())
    assert response.status_code == 422
    answer = response.json()
    assert answer["code"] == "validation_error"
    assert [error["field"] for error in answer["errors"]] == [field]
    assert "8 to 1024" in answer["errors"][0]["message"]
    assert answer["message"].startswith(field)
    assert auth_service.passwords[7] == "old password 1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "password_1"),
        ({"password_1": "old password 1"}, "password_2"),
        ({"password_2": "new password 2"}, "password_1"),
        ({"old_password": "old password 1"}, "password_2"),
        ({"password_1": "", "password_2": "new password 2"}, "password_1"),
        ({"password_1": "a", "old_password": "b", "password_2": "new password 2"}, "password_1"),
        ({"password_1": "old password 1", "password_2": "x", "new_password": "y"}, "password_2"),
        ({"password_1": 12345678, "password_2": "new password 2"}, "password_1"),
        ({"password_1": None, "password_2": "new password 2"}, "password_1"),
    ],
)
async def test_a_malformed_body_is_422_without_calling_auth(
    client, bearer, auth_service, body, field
) -> None:
    response = await client.put("/user/password/", json=body, headers=bearer())
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["errors"]]
    assert auth_service.requests == []


async def test_both_spellings_may_be_sent_when_they_agree(client, bearer, auth_service) -> None:
    response = await client.put("/user/password/", json={**NUMBERED, **NAMED}, headers=bearer())
    assert response.status_code == 204


@pytest.mark.parametrize("content", [b"[]", b"null", b"{broken", b""])
async def test_a_body_that_is_not_an_object_is_422(client, bearer, auth_service, content) -> None:
    response = await client.put(
        "/user/password/",
        content=content,
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert auth_service.requests == []


async def test_an_account_auth_does_not_know_is_401(client, bearer, auth_service) -> None:
    response = await client.put("/user/password/", json=NUMBERED, headers=bearer(555))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_refused_internal_token_is_our_fault_503(client, bearer, auth_service) -> None:
    auth_service.token = "the auth service expects another token"
    response = await client.put("/user/password/", json=NUMBERED, headers=bearer())
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert auth_service.passwords[7] == "old password 1"


@pytest.mark.parametrize(
    "outage", [httpx.ConnectError, httpx.ReadTimeout, httpx.WriteTimeout, 500, 502], ids=str
)
async def test_auth_down_is_503(client, bearer, auth_service, outage) -> None:
    auth_service.down = outage
    response = await client.put("/user/password/", json=NUMBERED, headers=bearer())
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert "auth.test" not in response.text


async def test_an_unexpected_auth_answer_is_503(client, bearer, auth_service) -> None:
    auth_service.answer = httpx.Response(409, json={"message": "?", "code": "conflict"})
    response = await client.put("/user/password/", json=NUMBERED, headers=bearer())
    assert response.status_code == 503


async def test_auth_rate_limiting_is_passed_on(client, bearer, auth_service) -> None:
    auth_service.answer = httpx.Response(
        429,
        headers={"Retry-After": "30"},
        json={"message": "Too many attempts.", "code": "rate_limited"},
    )
    response = await client.put("/user/password/", json=NUMBERED, headers=bearer())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.json() == {"message": "Too many attempts.", "code": "rate_limited"}


async def test_a_busy_password_hasher_is_503_with_its_retry_after(
    client, bearer, auth_service
) -> None:
    """auth-service's full hash queue: the client is told when to try again."""
    auth_service.answer = httpx.Response(
        503,
        headers={"Retry-After": "1"},
        json={"message": "Too many passwords are being checked.", "code": "service_unavailable"},
    )
    response = await client.put("/user/password/", json=NUMBERED, headers=bearer())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {
        "message": "The auth service is unavailable. Please try again later.",
        "code": "service_unavailable",
    }


async def test_an_outage_503_promises_no_retry_time(client, bearer, auth_service) -> None:
    auth_service.answer = httpx.Response(503, json={"message": "down", "code": "x"})
    response = await client.put("/user/password/", json=NUMBERED, headers=bearer())
    assert response.status_code == 503
    assert "Retry-After" not in response.headers
    assert response.json()["message"] == "The auth service is unavailable. Please try again later."


async def test_without_an_internal_token_nothing_is_sent(http_client, auth_service) -> None:
    auth = AuthClient(http_client, "http://auth.test", None)
    with pytest.raises(ServiceUnavailable):
        await auth.change_password(7, "a", "b", field_names={})
    assert auth_service.requests == []
    configured = AuthClient(http_client, "http://auth.test/", SecretStr(INTERNAL_TOKEN))
    await configured.change_password(7, "old password 1", "new password 2", field_names={})
    assert auth_service.requests[0].url == "http://auth.test/internal/users/7/password"
