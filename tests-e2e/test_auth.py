"""Register, login, refresh, logout through the gateway (docs/api.md, Auth).

Black box: only HTTP. Each test registers its own account (a unique email). Failed
logins are kept to a few, so that the per-address throttle of a long-running stack
is never reached by this suite.
"""

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

PASSWORD = "correct horse battery staple"


def new_email() -> str:
    return f"auth-{uuid.uuid4().hex[:12]}@example.org"


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


def register(api: httpx.Client, email: str, password: str = PASSWORD) -> int:
    response = api.post("/auth/register/", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    user_id: int = response.json()["id"]
    return user_id


def login(api: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = api.post("/auth/login/", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]


@pytest.mark.parametrize("slash", ["/", ""])
def test_register_login_refresh_logout(api: httpx.Client, slash: str) -> None:
    email = new_email()
    created = api.post(f"/auth/register{slash}", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    assert created.json() == {"id": created.json()["id"], "email": email}

    logged_in = api.post(f"/auth/login{slash}", json={"email": email, "password": PASSWORD})
    assert logged_in.status_code == 200, logged_in.text
    pair = logged_in.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    access = claims(pair["access_token"])
    assert access["sub"] == str(created.json()["id"])
    assert access["email"] == email
    assert access["type"] == "access"
    assert claims(pair["refresh_token"])["type"] == "refresh"

    refreshed = api.put(f"/auth/login{slash}", json=pair)
    assert refreshed.status_code == 200, refreshed.text
    new_pair = refreshed.json()
    assert new_pair["refresh_token"] != pair["refresh_token"]

    out = api.post(f"/auth/logout{slash}", json={"refresh_token": new_pair["refresh_token"]})
    assert out.status_code == 204
    assert_error(
        api.put(f"/auth/login{slash}", json={"refresh_token": new_pair["refresh_token"]}),
        401,
        "invalid_token",
    )


def test_reuse_of_a_refresh_token_revokes_the_family(api: httpx.Client) -> None:
    email = new_email()
    register(api, email)
    pair = login(api, email)
    first = api.put("/auth/login/", json={"refresh_token": pair["refresh_token"]})
    assert first.status_code == 200
    newest = first.json()
    assert_error(
        api.put("/auth/login/", json={"refresh_token": pair["refresh_token"]}), 401, "invalid_token"
    )
    # The newest token of the family stops working too.
    assert_error(
        api.put("/auth/login/", json={"refresh_token": newest["refresh_token"]}),
        401,
        "invalid_token",
    )
    # Another login starts a family of its own.
    assert api.put(
        "/auth/login/", json={"refresh_token": login(api, email)["refresh_token"]}
    ).is_success


def test_refresh_needs_a_matching_pair(api: httpx.Client) -> None:
    mine, theirs = new_email(), new_email()
    register(api, mine)
    register(api, theirs)
    pair = login(api, mine)
    other = login(api, theirs)
    assert_error(
        api.put(
            "/auth/login/",
            json={"refresh_token": pair["refresh_token"], "access_token": other["access_token"]},
        ),
        401,
        "invalid_token",
    )
    # An access token is no refresh token.
    assert_error(
        api.put("/auth/login/", json={"refresh_token": pair["access_token"]}), 401, "invalid_token"
    )


def test_form_bodies(api: httpx.Client) -> None:
    email = new_email()
    created = api.post("/auth/register/", data={"email": email, "password": "пароль 🎬 формы"})
    assert created.status_code == 201, created.text
    logged_in = api.post("/auth/login/", data={"email": email, "password": "пароль 🎬 формы"})
    assert logged_in.status_code == 200, logged_in.text
    assert logged_in.json()["token_type"] == "bearer"


def test_bearer_undefined_is_ignored(api: httpx.Client) -> None:
    headers = {"Authorization": "Bearer undefined"}
    email = new_email()
    created = api.post(
        "/auth/register/", json={"email": email, "password": PASSWORD}, headers=headers
    )
    assert created.status_code == 201, created.text
    logged_in = api.post(
        "/auth/login/", json={"email": email, "password": PASSWORD}, headers=headers
    )
    assert logged_in.status_code == 200, logged_in.text
    pair = logged_in.json()
    refreshed = api.put("/auth/login/", json=pair, headers=headers)
    assert refreshed.status_code == 200, refreshed.text
    out = api.post(
        "/auth/logout/", json={"refresh_token": refreshed.json()["refresh_token"]}, headers=headers
    )
    assert out.status_code == 204


def test_emails_ignore_case_and_spaces(api: httpx.Client) -> None:
    email = new_email()
    register(api, email)
    assert_error(
        api.post("/auth/register/", json={"email": f"  {email.upper()} ", "password": PASSWORD}),
        409,
        "email_taken",
    )
    login(api, email.upper())


def test_wrong_password_and_unknown_email_answer_alike(api: httpx.Client) -> None:
    email = new_email()
    register(api, email)
    wrong = api.post("/auth/login/", json={"email": email, "password": "not the password"})
    unknown = api.post("/auth/login/", json={"email": new_email(), "password": "not the password"})
    assert_error(wrong, 401, "invalid_credentials")
    assert wrong.status_code == unknown.status_code
    assert wrong.json() == unknown.json()


def test_validation_errors(api: httpx.Client) -> None:
    short = api.post("/auth/register/", json={"email": new_email(), "password": "short"})
    assert_error(short, 422, "validation_error")
    assert [e["field"] for e in short.json()["errors"]] == ["password"]
    bad_json = api.post(
        "/auth/login/", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(bad_json, 422, "validation_error")


def test_a_long_password_is_not_truncated(api: httpx.Client) -> None:
    email = new_email()
    password = "🎬" * 100
    register(api, email, password)
    login(api, email, password)
    prefix = password.encode()[:72].decode()
    assert_error(
        api.post("/auth/login/", json={"email": email, "password": prefix}),
        401,
        "invalid_credentials",
    )


def test_the_internal_password_endpoint_is_not_public(api: httpx.Client) -> None:
    for path in ("/internal/users/1/password", "/internal/users/1/password/"):
        response = api.put(path, json={"current_password": "x", "new_password": "y" * 10})
        assert response.status_code in (404, 405), response.text
