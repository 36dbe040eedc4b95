"""The web app's cookie mode (auth_service/cookies.py) and the cross-site refusals.

API clients keep the JSON pair; `X-Token-Transport: cookie` moves the refresh token into
an HttpOnly cookie; a browser's cross-site request cannot use it, and cross-site forms
cannot log in or register.
"""

from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from auth_service.config import parse_origin
from auth_service.cookies import COOKIE_NAME
from tests.conftest import PASSWORD, auth_settings, jwt_parts, login, register

COOKIE_MODE = {"X-Token-Transport": "cookie"}
REFRESH_TTL = 30 * 24 * 3600
# The test client's own origin: it sends `Host: auth.test` over plain HTTP.
OWN_ORIGIN = "http://auth.test"
CREDENTIALS = {"email": "cookie@x.io", "password": PASSWORD}


def refresh_cookie(response: httpx.Response) -> dict[str, str | bool]:
    """The refresh cookie that `response` sets: its value and attributes (lower case)."""
    cookies = [
        header for header in response.headers.get_list("set-cookie") if COOKIE_NAME in header
    ]
    assert len(cookies) == 1, response.headers.get_list("set-cookie")
    morsel = SimpleCookie(cookies[0])[COOKIE_NAME]
    attributes: dict[str, str | bool] = {
        key: value for key, value in morsel.items() if value not in ("", False)
    }
    return {"value": morsel.value, **attributes}


def assert_cleared(response: httpx.Response) -> None:
    cookie = refresh_cookie(response)
    assert cookie["value"] == ""
    assert cookie["max-age"] == "0"
    assert cookie["path"] == "/auth/"


def with_cookie(token: str, **headers: str) -> dict[str, str]:
    return {**COOKIE_MODE, "Cookie": f"{COOKIE_NAME}={token}", **headers}


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["message"]


async def cookie_login(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    response = await client.post("/auth/login/", json=CREDENTIALS, headers=COOKIE_MODE | headers)
    assert response.status_code == 200, response.text
    return response


@pytest.fixture
async def account(client: httpx.AsyncClient) -> int:
    return await register(client, CREDENTIALS["email"])


@pytest.fixture
def set_settings(app: FastAPI) -> Iterator[Callable[..., None]]:
    """Swap the app's settings for the test: `set_settings(web_origins=...)`."""
    original = app.state.settings

    def swap(**overrides: Any) -> None:
        app.state.settings = auth_settings(original.database_url, **overrides)

    yield swap
    app.state.settings = original


# --- API clients: the JSON pair, as before -------------------------------------------------


async def test_without_the_header_login_answers_the_pair_and_sets_no_cookie(
    client, account
) -> None:
    response = await client.post("/auth/login/", json=CREDENTIALS)
    assert response.status_code == 200
    assert set(response.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert response.headers.get_list("set-cookie") == []


async def test_without_the_header_the_cookie_is_never_read(client, account) -> None:
    cookie = str(refresh_cookie(await cookie_login(client))["value"])
    client.cookies.clear()
    sent = {"Cookie": f"{COOKIE_NAME}={cookie}"}
    # PUT and logout want their body, as the contract says; the cookie stands in for nothing.
    assert_refused(await client.put("/auth/login/", headers=sent), 422, "validation_error")
    assert_refused(await client.post("/auth/logout/", headers=sent), 422, "validation_error")
    # ... and it was not used up: it still refreshes.
    assert (await client.put("/auth/login/", headers=with_cookie(cookie))).status_code == 200


async def test_an_unknown_transport_is_a_validation_error(client, account) -> None:
    response = await client.post(
        "/auth/login/", json=CREDENTIALS, headers={"X-Token-Transport": "body"}
    )
    assert_refused(response, 422, "validation_error")
    assert response.json()["errors"][0]["field"] == "X-Token-Transport"


# --- Cookie mode ---------------------------------------------------------------------------


async def test_cookie_mode_login_keeps_the_refresh_token_out_of_the_body(client, account) -> None:
    response = await cookie_login(client)
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert jwt_parts(body["access_token"])[1]["sub"] == str(account)
    cookie = refresh_cookie(response)
    assert jwt_parts(str(cookie["value"]))[1]["type"] == "refresh"
    assert jwt_parts(str(cookie["value"]))[1]["sub"] == str(account)
    assert cookie["httponly"] is True
    assert str(cookie["samesite"]).lower() == "strict"
    assert cookie["path"] == "/auth/"
    assert cookie["max-age"] == str(REFRESH_TTL)
    assert "secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    assert "domain" not in cookie


async def test_the_cookie_is_secure_over_https_behind_a_trusted_proxy(client, account) -> None:
    response = await cookie_login(
        client, **{"X-Forwarded-Proto": "https", "Origin": "https://auth.test"}
    )
    assert refresh_cookie(response)["secure"] is True


async def test_an_untrusted_peer_cannot_claim_https(make_client, account) -> None:
    async with make_client("203.0.113.7") as stranger:
        response = await stranger.post(
            "/auth/login/",
            json=CREDENTIALS,
            headers=COOKIE_MODE | {"X-Forwarded-Proto": "https"},
        )
    assert response.status_code == 200
    assert "secure" not in refresh_cookie(response)


async def test_the_cookie_can_be_always_secure(client, account, set_settings) -> None:
    set_settings(refresh_cookie_secure="always")
    assert refresh_cookie(await cookie_login(client))["secure"] is True


async def test_refresh_reads_the_cookie_and_rotates_it(client, account) -> None:
    first = refresh_cookie(await cookie_login(client))["value"]
    response = await client.put("/auth/login/", headers=COOKIE_MODE)  # no body at all
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "token_type", "expires_in"}
    second = refresh_cookie(response)
    assert second["value"] != first
    assert second["max-age"] == str(REFRESH_TTL)
    # The client's cookie jar now holds the new one, which refreshes in turn.
    assert (await client.put("/auth/login/", headers=COOKIE_MODE)).status_code == 200


async def test_refresh_takes_an_access_token_along(client, account) -> None:
    login_answer = await cookie_login(client)
    response = await client.put(
        "/auth/login/",
        json={"access_token": login_answer.json()["access_token"]},
        headers=COOKIE_MODE,
    )
    assert response.status_code == 200


async def test_a_reused_cookie_is_refused_cleared_and_ends_the_session(client, account) -> None:
    first = str(refresh_cookie(await cookie_login(client))["value"])
    second = str(refresh_cookie(await client.put("/auth/login/", headers=COOKIE_MODE))["value"])
    client.cookies.clear()

    replay = await client.put("/auth/login/", headers=with_cookie(first))
    assert_refused(replay, 401, "invalid_token")
    assert_cleared(replay)
    # Theft assumed: the newest cookie of the session is dead too.
    newest = await client.put("/auth/login/", headers=with_cookie(second))
    assert_refused(newest, 401, "invalid_token")
    assert_cleared(newest)


@pytest.mark.parametrize(
    "cookie",
    ["garbage", "a.b.c", "x" * 20_000],
    ids=["garbage", "not-ours", "too-long"],
)
async def test_an_invalid_cookie_is_refused_and_cleared(client, account, cookie) -> None:
    response = await client.put("/auth/login/", headers=with_cookie(cookie))
    assert_refused(response, 401, "invalid_token")
    assert_cleared(response)


async def test_refresh_without_a_cookie_is_refused_and_cleared(client, account) -> None:
    response = await client.put("/auth/login/", headers=COOKIE_MODE)
    assert_refused(response, 401, "invalid_token")
    assert_cleared(response)


async def test_an_access_token_of_someone_else_is_refused_and_clears(client, account) -> None:
    await register(client, "other@x.io")
    others = await login(client, "other@x.io")
    await cookie_login(client)
    response = await client.put(
        "/auth/login/", json={"access_token": others["access_token"]}, headers=COOKIE_MODE
    )
    assert_refused(response, 401, "invalid_token")
    assert_cleared(response)


async def test_a_stored_pair_moves_into_the_cookie_once(client, account) -> None:
    """How the web app moves a pair it kept in localStorage (before cookie mode)."""
    pair = await login(client, CREDENTIALS["email"])
    response = await client.put(
        "/auth/login/", json={"refresh_token": pair["refresh_token"]}, headers=COOKIE_MODE
    )
    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    moved = str(refresh_cookie(response)["value"])
    assert jwt_parts(moved)[1]["sub"] == str(account)
    # The stored refresh token is used up, like any refresh.
    client.cookies.clear()
    again = await client.put("/auth/login/", json={"refresh_token": pair["refresh_token"]})
    assert_refused(again, 401, "invalid_token")


async def test_logout_reads_the_cookie_ends_the_session_and_clears_it(client, account) -> None:
    cookie = str(refresh_cookie(await cookie_login(client))["value"])
    response = await client.post("/auth/logout/", headers=COOKIE_MODE)  # no body
    assert response.status_code == 204, response.text
    assert_cleared(response)
    client.cookies.clear()
    assert_refused(
        await client.put("/auth/login/", headers=with_cookie(cookie)), 401, "invalid_token"
    )


async def test_logout_without_a_cookie_is_refused_and_cleared(client, account) -> None:
    response = await client.post("/auth/logout/", headers=COOKIE_MODE)
    assert_refused(response, 401, "invalid_token")
    assert_cleared(response)


# --- Cross-site requests in cookie mode: refused ----------------------------------------

FOREIGN = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},  # a sandboxed frame, a data: URL
    {"Origin": "http://auth.test:8443"},  # another port is another origin
    {"Origin": "https://auth.test"},  # another scheme too (this request is plain HTTP)
    {"Origin": "http://sub.auth.test"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": OWN_ORIGIN},
]
FOREIGN_IDS = [
    "other-origin",
    "null-origin",
    "other-port",
    "other-scheme",
    "subdomain",
    "cross-site",
    "same-site",
    "cross-site-own-origin",
]


@pytest.mark.parametrize("foreign", FOREIGN, ids=FOREIGN_IDS)
async def test_cookie_mode_refuses_a_cross_site_refresh(client, account, foreign) -> None:
    cookie = str(refresh_cookie(await cookie_login(client))["value"])
    client.cookies.clear()
    response = await client.put("/auth/login/", headers=with_cookie(cookie, **foreign))
    assert_refused(response, 403, "cross_site_request")
    assert response.headers.get_list("set-cookie") == []  # another site cannot clear it
    # The cookie was not used: it refreshes from the app's own origin.
    own = await client.put("/auth/login/", headers=with_cookie(cookie, Origin=OWN_ORIGIN))
    assert own.status_code == 200


@pytest.mark.parametrize("foreign", FOREIGN, ids=FOREIGN_IDS)
async def test_cookie_mode_refuses_a_cross_site_logout(client, account, foreign) -> None:
    cookie = str(refresh_cookie(await cookie_login(client))["value"])
    client.cookies.clear()
    response = await client.post("/auth/logout/", headers=with_cookie(cookie, **foreign))
    assert_refused(response, 403, "cross_site_request")
    assert (await client.put("/auth/login/", headers=with_cookie(cookie))).status_code == 200


@pytest.mark.parametrize("foreign", FOREIGN, ids=FOREIGN_IDS)
async def test_cookie_mode_refuses_a_cross_site_login(client, account, foreign) -> None:
    response = await client.post("/auth/login/", json=CREDENTIALS, headers=COOKIE_MODE | foreign)
    assert_refused(response, 403, "cross_site_request")
    assert response.headers.get_list("set-cookie") == []


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no Origin: not a browser's cross-site request (curl, a server)
        {"Origin": OWN_ORIGIN},
        {"Origin": "HTTP://Auth.Test:80"},  # the same origin, spelt otherwise
        {"Sec-Fetch-Site": "same-origin", "Origin": OWN_ORIGIN},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
    ],
    ids=["no-origin", "own-origin", "own-origin-spelt-otherwise", "same-origin", "none"],
)
async def test_cookie_mode_accepts_its_own_origin(client, account, headers) -> None:
    await cookie_login(client, **headers)
    assert (await client.put("/auth/login/", headers=COOKIE_MODE | headers)).status_code == 200
    assert (await client.post("/auth/logout/", headers=COOKIE_MODE | headers)).status_code == 204


async def test_the_https_origin_is_own_behind_a_trusted_proxy(client, account) -> None:
    https = {"Origin": "https://auth.test", "X-Forwarded-Proto": "https"}
    cookie = str(refresh_cookie(await cookie_login(client, **https))["value"])
    assert (
        await client.put("/auth/login/", headers=with_cookie(cookie, **https))
    ).status_code == 200


async def test_an_untrusted_peer_cannot_claim_the_https_origin(make_client, account) -> None:
    async with make_client("203.0.113.7") as stranger:
        response = await stranger.post(
            "/auth/login/",
            json=CREDENTIALS,
            headers=COOKIE_MODE | {"Origin": "https://auth.test", "X-Forwarded-Proto": "https"},
        )
    assert_refused(response, 403, "cross_site_request")


async def test_web_origins_lets_a_public_origin_in(client, account, set_settings) -> None:
    set_settings(web_origins="https://kino.example.org")
    await cookie_login(client, Origin="https://kino.example.org")
    response = await client.post(
        "/auth/login/", json=CREDENTIALS, headers=COOKIE_MODE | {"Origin": "https://evil.example"}
    )
    assert_refused(response, 403, "cross_site_request")


# --- Forms from other sites cannot log in or register ------------------------------------

FORM_BODIES: dict[str, dict[str, Any]] = {
    "urlencoded": {"data": {"email": CREDENTIALS["email"], "password": PASSWORD}},
    "multipart": {"files": {"email": (None, CREDENTIALS["email"]), "password": (None, PASSWORD)}},
    "text-plain": {
        "content": f'{{"email": "{CREDENTIALS["email"]}", "password": "{PASSWORD}", "x": "="}}',
        "headers": {"Content-Type": "text/plain"},
    },
}
CROSS_SITE = [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}]


@pytest.mark.parametrize("path", ["/auth/login/", "/auth/register/"])
@pytest.mark.parametrize("kind", list(FORM_BODIES))
@pytest.mark.parametrize("foreign", CROSS_SITE, ids=["sec-fetch-site", "origin"])
async def test_a_cross_site_form_is_refused(client, account, path, kind, foreign) -> None:
    body = FORM_BODIES[kind]
    headers = {**body.get("headers", {}), **foreign}
    extra = {key: value for key, value in body.items() if key != "headers"}
    response = await client.post(path, headers=headers, **extra)
    assert_refused(response, 403, "cross_site_request")
    assert "access_token" not in response.text


async def test_a_cross_site_form_costs_no_login_failure(client, account) -> None:
    for _ in range(30):  # more than any failure limit allows
        response = await client.post(
            "/auth/login/",
            data={"email": CREDENTIALS["email"], "password": "wrong password"},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert_refused(response, 403, "cross_site_request")
    assert (await client.post("/auth/login/", json=CREDENTIALS)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": OWN_ORIGIN, "Sec-Fetch-Site": "same-origin"}],
    ids=["no-origin", "own-origin"],
)
async def test_a_form_from_no_site_or_our_own_still_works(client, headers) -> None:
    form = {"email": "form@x.io", "password": PASSWORD}
    assert (await client.post("/auth/register/", data=form, headers=headers)).status_code == 201
    response = await client.post("/auth/login/", data=form, headers=headers)
    assert response.status_code == 200
    assert "refresh_token" in response.json()


async def test_json_from_another_origin_still_works(client) -> None:
    """CORS: the course's React frontend, served elsewhere, sends JSON without cookies."""
    foreign = {"Origin": "https://frontend.example", "Sec-Fetch-Site": "cross-site"}
    body = {"email": "react@x.io", "password": PASSWORD}
    assert (await client.post("/auth/register/", json=body, headers=foreign)).status_code == 201
    response = await client.post("/auth/login/", json=body, headers=foreign)
    assert response.status_code == 200
    pair = response.json()
    refreshed = await client.put(
        "/auth/login/", json={"refresh_token": pair["refresh_token"]}, headers=foreign
    )
    assert refreshed.status_code == 200
    logout = await client.post(
        "/auth/logout/",
        json={"refresh_token": refreshed.json()["refresh_token"]},
        headers=foreign,
    )
    assert logout.status_code == 204


# --- Settings -------------------------------------------------------------------------------


def test_origins_are_compared_normalised() -> None:
    assert parse_origin("HTTPS://Kino.Example.org") == ("https", "kino.example.org", 443)
    assert parse_origin("http://kino.example.org:80") == ("http", "kino.example.org", 80)
    assert parse_origin("http://[::1]:8000") == ("http", "::1", 8000)
    for value in (
        "null",
        "",
        "ftp://x.io",
        "https://x.io/path",
        "https://u@x.io",
        "http://x:99999",
    ):
        assert parse_origin(value) is None, value


@pytest.mark.parametrize("value", ["kino.example.org", "https://kino.example.org/app", "null"])
def test_web_origins_refuses_what_is_not_an_origin(value) -> None:
    with pytest.raises(ValidationError):
        auth_settings("sqlite+aiosqlite://", web_origins=value)


def test_web_origins_lists_several() -> None:
    settings = auth_settings(
        "sqlite+aiosqlite://", web_origins="https://a.example, http://b.example:8080,"
    )
    assert settings.web_origin_set == {("https", "a.example", 443), ("http", "b.example", 8080)}
    defaults = auth_settings("sqlite+aiosqlite://")
    assert defaults.web_origin_set == frozenset()
    assert defaults.refresh_cookie_secure == "auto"


def test_cookie_secure_takes_auto_or_always() -> None:
    with pytest.raises(ValidationError):
        auth_settings("sqlite+aiosqlite://", refresh_cookie_secure="never")
