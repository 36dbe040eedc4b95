"""GET /user/sessions/, DELETE /user/sessions/ and DELETE /user/sessions/{id}/: asked of
auth-service's internal endpoints (faked in tests/fakes.py), answers translated."""

import httpx
import pytest
from pydantic import SecretStr

from shared.errors import ServiceUnavailable
from tests.fakes import INTERNAL_TOKEN, make_session
from user_service.auth import AuthClient

CURRENT, OTHER, THIRD = "a1" * 16, "b2" * 16, "c3" * 16


@pytest.fixture
def three_sessions(auth_service):
    auth_service.sessions = {
        7: [make_session(OTHER), make_session(CURRENT, address=None), make_session(THIRD)],
        8: [make_session("d4" * 16)],
    }
    return auth_service


@pytest.mark.parametrize("path", ["/user/sessions/", "/user/sessions"])
async def test_the_list_marks_the_current_session(client, bearer, three_sessions, path) -> None:
    response = await client.get(
        path, headers={**bearer(7, session_id=CURRENT), "X-Request-ID": "req-s-1"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(item["id"], item["current"]) for item in body] == [
        (OTHER, False),
        (CURRENT, True),
        (THIRD, False),
    ]
    assert body[0] == {
        "id": OTHER,
        "created_at": "2026-12-01T10:00:00Z",
        "last_used_at": "2026-12-03T10:00:00Z",
        "client_address": "192.0.2.7",
        "user_agent": "Mozilla/5.0 (fake)",
        "current": False,
    }
    assert body[1]["client_address"] is None
    [sent] = three_sessions.requests
    assert (sent.method, sent.url.path) == ("GET", "/internal/users/7/sessions")
    assert sent.headers["X-Internal-Token"] == INTERNAL_TOKEN
    assert sent.headers["X-Request-ID"] == "req-s-1"


async def test_each_user_sees_only_their_own(client, bearer, three_sessions) -> None:
    response = await client.get("/user/sessions/", headers=bearer(8))
    assert [item["id"] for item in response.json()] == ["d4" * 16]


async def test_a_token_from_before_sessions_has_no_current_one(
    client, bearer, three_sessions
) -> None:
    response = await client.get("/user/sessions/", headers=bearer(7))
    assert [item["current"] for item in response.json()] == [False, False, False]


async def test_no_sessions_is_an_empty_list(client, bearer, auth_service) -> None:
    response = await client.get("/user/sessions/", headers=bearer(7))
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("path", ["/user/sessions/{id}/", "/user/sessions/{id}"])
async def test_end_one_session(client, bearer, three_sessions, path) -> None:
    response = await client.delete(path.format(id=OTHER), headers=bearer(7, session_id=CURRENT))
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert [item["id"] for item in three_sessions.sessions[7]] == [CURRENT, THIRD]
    [sent] = three_sessions.requests
    assert (sent.method, sent.url.path) == ("DELETE", f"/internal/users/7/sessions/{OTHER}")
    assert sent.headers["X-Internal-Token"] == INTERNAL_TOKEN


async def test_the_current_session_may_be_ended(client, bearer, three_sessions) -> None:
    headers = bearer(7, session_id=CURRENT)
    assert (await client.delete(f"/user/sessions/{CURRENT}/", headers=headers)).status_code == 204
    assert [item["id"] for item in three_sessions.sessions[7]] == [OTHER, THIRD]


async def test_another_users_or_an_unknown_session_is_404(client, bearer, three_sessions) -> None:
    for session_id in ("d4" * 16, "0" * 32):
        response = await client.delete(f"/user/sessions/{session_id}/", headers=bearer(7))
        assert response.status_code == 404, response.text
        assert response.json() == {
            "message": "You have no active session with this id.",
            "code": "not_found",
        }
    assert len(three_sessions.sessions[8]) == 1


@pytest.mark.parametrize("session_id", ["ABC", "a" * 65, "a%20b", "%2E%2E", "a.b", "é"])
async def test_an_id_of_another_shape_is_404_without_asking_auth(
    client, bearer, three_sessions, session_id
) -> None:
    response = await client.delete(f"/user/sessions/{session_id}/", headers=bearer(7))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert three_sessions.requests == []


@pytest.mark.parametrize("path", ["/user/sessions/", "/user/sessions"])
async def test_end_every_other_session(client, bearer, three_sessions, path) -> None:
    response = await client.delete(path, headers=bearer(7, session_id=CURRENT))
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert [item["id"] for item in three_sessions.sessions[7]] == [CURRENT]
    assert len(three_sessions.sessions[8]) == 1
    [sent] = three_sessions.requests
    assert (sent.method, sent.url.path) == ("DELETE", "/internal/users/7/sessions")
    assert dict(sent.url.params) == {"keep": CURRENT}


async def test_without_a_current_session_every_session_ends(client, bearer, three_sessions) -> None:
    assert (await client.delete("/user/sessions/", headers=bearer(7))).status_code == 204
    assert three_sessions.sessions[7] == []
    assert "keep" not in three_sessions.requests[0].url.params


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/user/sessions/"),
        ("DELETE", "/user/sessions/"),
        ("DELETE", f"/user/sessions/{OTHER}/"),
    ],
)
async def test_a_token_is_required(client, three_sessions, method, path) -> None:
    for headers in ({}, {"Authorization": "Bearer undefined"}):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert three_sessions.requests == []
    assert len(three_sessions.sessions[7]) == 3


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/user/sessions/"),
        ("DELETE", "/user/sessions/"),
        ("DELETE", f"/user/sessions/{OTHER}/"),
    ],
)
@pytest.mark.parametrize("outage", [httpx.ConnectError, httpx.ReadTimeout, 500], ids=str)
async def test_auth_down_is_503(client, bearer, three_sessions, method, path, outage) -> None:
    three_sessions.down = outage
    response = await client.request(method, path, headers=bearer(7))
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "auth.test" not in response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/user/sessions/"),
        ("DELETE", "/user/sessions/"),
        ("DELETE", f"/user/sessions/{OTHER}/"),
    ],
)
async def test_a_refused_internal_token_is_our_fault_503(
    client, bearer, three_sessions, method, path
) -> None:
    three_sessions.token = "the auth service expects another token"
    response = await client.request(method, path, headers=bearer(7))
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert len(three_sessions.sessions[7]) == 3


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"not": "a list"}),
        httpx.Response(200, json=[{"id": 5}]),
        httpx.Response(200, text="not json"),
        httpx.Response(404, json={"message": "?", "code": "not_found"}),
    ],
    ids=["object", "bad item", "not json", "404"],
)
async def test_an_unexpected_list_is_503(client, bearer, auth_service, answer) -> None:
    auth_service.answer = answer
    response = await client.get("/user/sessions/", headers=bearer(7))
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


async def test_an_unexpected_answer_to_ending_is_503(client, bearer, auth_service) -> None:
    auth_service.answer = httpx.Response(409, json={"message": "?", "code": "conflict"})
    for path in ("/user/sessions/", f"/user/sessions/{OTHER}/"):
        response = await client.delete(path, headers=bearer(7))
        assert response.status_code == 503


async def test_without_an_internal_token_nothing_is_asked(http_client, auth_service) -> None:
    auth = AuthClient(http_client, "http://auth.test", None)
    for call in (
        auth.list_sessions(7),
        auth.end_session(7, OTHER),
        auth.end_sessions(7, keep=None),
    ):
        with pytest.raises(ServiceUnavailable):
            await call
    assert auth_service.requests == []
    configured = AuthClient(http_client, "http://auth.test/", SecretStr(INTERNAL_TOKEN))
    assert await configured.list_sessions(7) == []
    assert auth_service.requests[0].url == "http://auth.test/internal/users/7/sessions"


async def test_the_routes_are_documented(app) -> None:
    paths = app.openapi()["paths"]
    assert set(paths["/user/sessions"]) == {"get", "delete"}
    assert {"204", "401", "404", "503"} <= set(
        paths["/user/sessions/{session_id}"]["delete"]["responses"]
    )
    item = paths["/user/sessions"]["get"]["responses"]["200"]["content"]["application/json"]
    assert item["schema"]["items"]["$ref"].endswith("/SessionOut")
