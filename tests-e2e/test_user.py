"""Profiles, password change, sessions and bookmarks through the gateway, as clients
use them.

Black box: only HTTP, with trailing slashes as the course's frontend sends them. Every
test registers its own accounts (unique emails), so tests do not depend on each other.
"""

import ipaddress
from typing import Any

import httpx
import pytest
from accounts import Account, login, sign_up

PASSWORD = "correct horse battery 1"
NEW_PASSWORD = "новый пароль staple 2"


def register(api: httpx.Client, password: str = PASSWORD) -> Account:
    return sign_up(api, password)


@pytest.fixture
def alice(api: httpx.Client) -> Account:
    return register(api)


@pytest.fixture
def bob(api: httpx.Client) -> Account:
    return register(api)


@pytest.fixture
def movie_ids(api: httpx.Client) -> list[int]:
    movies = api.get("/movies/", params={"page": 1}).json()
    assert len(movies) >= 4
    return [movie["id"] for movie in movies]


@pytest.fixture
def genre_ids(api: httpx.Client) -> list[int]:
    genres = api.get("/genres/").json()
    assert len(genres) >= 2
    return [genre["id"] for genre in genres]


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


# -- profile -----------------------------------------------------------------------------


def test_a_new_account_has_an_empty_profile(api: httpx.Client, alice: Account) -> None:
    response = api.get("/user/", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {
        "id": alice.id,
        "email": alice.email,
        "name": None,
        "surname": None,
        "favorite_genre": None,
        "favourite_genre": None,
    }
    assert api.get("/user", headers=alice.headers).json() == response.json()


def test_patch_accepts_both_spellings_and_persists(
    api: httpx.Client, alice: Account, genre_ids: list[int]
) -> None:
    first, second = genre_ids[0], genre_ids[1]
    response = api.patch(
        "/user/",
        json={"name": "Анна", "surname": "Каренина", "favorite_genre": first},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["surname"]) == ("Анна", "Каренина")
    assert body["favorite_genre"] == body["favourite_genre"] == first

    # The frontend's spelling, with the id as a string.
    response = api.patch("/user/", json={"favourite_genre": str(second)}, headers=alice.headers)
    assert response.json()["favorite_genre"] == response.json()["favourite_genre"] == second

    stored = api.get("/user/", headers=alice.headers).json()
    assert stored == {
        "id": alice.id,
        "email": alice.email,
        "name": "Анна",
        "surname": "Каренина",
        "favorite_genre": second,
        "favourite_genre": second,
    }

    cleared = api.patch("/user/", json={"favourite_genre": None}, headers=alice.headers).json()
    assert cleared["favorite_genre"] is None
    assert cleared["favourite_genre"] is None
    assert cleared["name"] == "Анна"


def test_patch_refuses_what_is_not_a_genre(
    api: httpx.Client, alice: Account, genre_ids: list[int]
) -> None:
    missing = max(genre_ids) + 100_000
    body = assert_error(
        api.patch("/user/", json={"favorite_genre": missing}, headers=alice.headers),
        422,
        "validation_error",
    )
    assert "favorite_genre" in [error["field"] for error in body["errors"]]
    for value in ("abc", 1.5, [1]):
        response = api.patch("/user/", json={"favourite_genre": value}, headers=alice.headers)
        assert_error(response, 422, "validation_error")
    assert api.get("/user/", headers=alice.headers).json()["favorite_genre"] is None


def test_patch_ignores_fields_it_does_not_own(api: httpx.Client, alice: Account) -> None:
    response = api.patch(
        "/user/",
        json={"id": alice.id + 1000, "email": "evil@example.org", "password": "x", "name": "Аня"},
        headers=alice.headers,
    )
    assert response.status_code == 200
    assert response.json()["id"] == alice.id
    assert response.json()["email"] == alice.email
    assert response.json()["name"] == "Аня"
    assert login(api, alice.email, alice.password).status_code == 200


def test_patch_needs_a_json_object(api: httpx.Client, alice: Account) -> None:
    for content in (b"[]", b"not json", b'"name"'):
        response = api.patch(
            "/user/", content=content, headers={**alice.headers, "Content-Type": "application/json"}
        )
        assert_error(response, 422, "validation_error")


# -- password ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"password_1": PASSWORD, "password_2": NEW_PASSWORD},
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
    ],
    ids=["password_1/2", "old/new_password"],
)
def test_password_change(api: httpx.Client, body: dict[str, str]) -> None:
    account = register(api)
    response = api.put("/user/password/", json=body, headers=account.headers)
    assert response.status_code == 204, response.text

    assert_error(login(api, account.email, PASSWORD), 401, "invalid_credentials")
    assert login(api, account.email, NEW_PASSWORD).status_code == 200
    # Every refresh token issued before the change is revoked.
    stale = api.put("/auth/login/", json={"refresh_token": account.refresh_token})
    assert stale.status_code == 401


def test_a_wrong_current_password_changes_nothing(api: httpx.Client, alice: Account) -> None:
    response = api.put(
        "/user/password/",
        json={"old_password": "not my password", "new_password": NEW_PASSWORD},
        headers=alice.headers,
    )
    assert_error(response, 400, "wrong_password")
    assert login(api, alice.email, PASSWORD).status_code == 200
    assert_error(login(api, alice.email, NEW_PASSWORD), 401, "invalid_credentials")
    refreshed = api.put("/auth/login/", json={"refresh_token": alice.refresh_token})
    assert refreshed.status_code == 200


def test_a_new_password_against_the_policy_is_422(api: httpx.Client, alice: Account) -> None:
    response = api.put(
        "/user/password/",
        json={"password_1": PASSWORD, "password_2": "short"},
        headers=alice.headers,
    )
    assert_error(response, 422, "validation_error")
    assert login(api, alice.email, PASSWORD).status_code == 200


def test_a_password_body_missing_fields_is_422(api: httpx.Client, alice: Account) -> None:
    for body in ({}, {"password_1": PASSWORD}, {"new_password": NEW_PASSWORD}):
        assert_error(
            api.put("/user/password/", json=body, headers=alice.headers), 422, "validation_error"
        )


# -- sessions ------------------------------------------------------------------------------


def log_in_as(api: httpx.Client, account: Account, user_agent: str) -> dict[str, Any]:
    response = api.post(
        "/auth/login/",
        json={"email": account.email, "password": account.password},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def sessions(api: httpx.Client, pair: dict[str, Any], path: str = "/user/sessions/") -> Any:
    response = api.get(path, headers=bearer(pair))
    assert response.status_code == 200, response.text
    return response.json()


def refreshes(api: httpx.Client, pair: dict[str, Any]) -> bool:
    response = api.put("/auth/login/", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


@pytest.mark.parametrize("path", ["/user/sessions/", "/user/sessions"])
def test_the_sessions_list_marks_the_current_one(
    api: httpx.Client, alice: Account, path: str
) -> None:
    phone = log_in_as(api, alice, "KinoPhone/1.0")
    laptop = log_in_as(api, alice, "KinoLaptop/2.0")
    listed = sessions(api, laptop, path)
    assert len(listed) == 3  # the sign-up's login, the phone, the laptop
    assert [item["user_agent"] for item in listed[:2]] == ["KinoLaptop/2.0", "KinoPhone/1.0"]
    assert [item["current"] for item in listed] == [True, False, False]
    assert set(listed[0]) == {
        "id", "created_at", "last_used_at", "client_address", "user_agent", "current",
    }  # fmt: skip
    ipaddress.ip_address(listed[0]["client_address"])  # where the gateway saw us
    assert [item["current"] for item in sessions(api, phone)] == [False, True, False]


def test_the_sessions_are_the_owners_alone(api: httpx.Client, alice: Account, bob: Account) -> None:
    alices = {item["id"] for item in sessions(api, {"access_token": alice.access_token})}
    bobs = {item["id"] for item in sessions(api, {"access_token": bob.access_token})}
    assert len(alices) == len(bobs) == 1
    assert alices.isdisjoint(bobs)
    # Bob cannot end Alice's session: to him it does not exist.
    (alice_session,) = alices
    response = api.delete(f"/user/sessions/{alice_session}/", headers=bob.headers)
    assert_error(response, 404, "not_found")
    assert refreshes(api, {"refresh_token": alice.refresh_token})


@pytest.mark.parametrize("path", ["/user/sessions/{id}/", "/user/sessions/{id}"])
def test_end_one_session(api: httpx.Client, alice: Account, path: str) -> None:
    phone = log_in_as(api, alice, "KinoPhone/1.0")
    laptop = log_in_as(api, alice, "KinoLaptop/2.0")
    (phone_session,) = [item["id"] for item in sessions(api, phone) if item["current"]]
    response = api.delete(path.format(id=phone_session), headers=bearer(laptop))
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert phone_session not in {item["id"] for item in sessions(api, laptop)}
    assert not refreshes(api, phone)
    assert refreshes(api, laptop)
    # Gone is gone: ending it again, or a session that never was, is 404.
    for session_id in (phone_session, "0" * 32, "not-a-session-id!"):
        response = api.delete(f"/user/sessions/{session_id}/", headers=bearer(laptop))
        assert_error(response, 404, "not_found")


def test_the_current_session_may_end_itself(api: httpx.Client, alice: Account) -> None:
    pair = log_in_as(api, alice, "KinoLaptop/2.0")
    (current,) = [item["id"] for item in sessions(api, pair) if item["current"]]
    assert api.delete(f"/user/sessions/{current}/", headers=bearer(pair)).status_code == 204
    assert not refreshes(api, pair)


@pytest.mark.parametrize("path", ["/user/sessions/", "/user/sessions"])
def test_end_every_other_session(api: httpx.Client, alice: Account, path: str) -> None:
    others = [log_in_as(api, alice, f"KinoPhone/{number}") for number in range(2)]
    keep = log_in_as(api, alice, "KinoLaptop/2.0")
    response = api.delete(path, headers=bearer(keep))
    assert response.status_code == 204, response.text
    assert [item["current"] for item in sessions(api, keep)] == [True]
    assert not refreshes(api, {"refresh_token": alice.refresh_token})
    for pair in others:
        assert not refreshes(api, pair)
    assert refreshes(api, keep)


def test_the_sessions_routes_need_a_token(api: httpx.Client, alice: Account) -> None:
    for method, path in (
        ("GET", "/user/sessions/"),
        ("DELETE", "/user/sessions/"),
        ("DELETE", "/user/sessions/abc/"),
    ):
        response = api.request(method, path, headers={"Authorization": "Bearer undefined"})
        assert_error(response, 401, "unauthorized")
    assert refreshes(api, {"refresh_token": alice.refresh_token})


# -- bookmarks -----------------------------------------------------------------------------


def favorites(api: httpx.Client, account: Account, **params: str | int) -> list[int]:
    response = api.get("/favorites/movies/", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return [movie["id"] for movie in response.json()]


def test_bookmarks_add_list_delete(api: httpx.Client, alice: Account, movie_ids: list[int]) -> None:
    first, second, third = movie_ids[:3]
    assert favorites(api, alice) == []
    for movie_id in (first, second, third):
        added = api.post(f"/favorites/movies/{movie_id}/", headers=alice.headers)
        assert added.status_code == 201, added.text
        assert added.json()["id"] == movie_id
        assert added.json()["genre"]["id"] == added.json()["genre_id"]
    again = api.post(f"/favorites/movies/{first}/", headers=alice.headers)
    assert again.status_code == 200
    assert again.json()["id"] == first

    listed = api.get("/favorites/movies/", headers=alice.headers)
    assert [movie["id"] for movie in listed.json()] == [third, second, first]
    assert listed.headers["x-total-count"] == "3"
    catalog = {m["id"]: m for m in api.get("/movies/", params={"page": 1}).json()}
    assert listed.json() == [catalog[third], catalog[second], catalog[first]]
    assert favorites(api, alice, page=1) == [third, second, first]
    assert favorites(api, alice, page=2) == []

    deleted = api.delete(f"/favorites/movies/{second}/", headers=alice.headers)
    assert deleted.status_code == 204
    assert api.delete(f"/favorites/movies/{second}/", headers=alice.headers).status_code == 204
    assert favorites(api, alice) == [third, first]


def test_bookmarking_an_unknown_movie_is_404(api: httpx.Client, alice: Account) -> None:
    response = api.post("/favorites/movies/2000000000/", headers=alice.headers)
    assert_error(response, 404, "not_found")
    assert favorites(api, alice) == []


def test_bookmarks_belong_to_their_owner(
    api: httpx.Client, alice: Account, bob: Account, movie_ids: list[int]
) -> None:
    first, second = movie_ids[:2]
    for movie_id in (first, second):
        assert api.post(f"/favorites/movies/{movie_id}/", headers=alice.headers).status_code == 201
    assert favorites(api, bob) == []
    assert api.delete(f"/favorites/movies/{first}/", headers=bob.headers).status_code == 204
    assert favorites(api, alice) == [second, first]
    assert api.post(f"/favorites/movies/{first}/", headers=bob.headers).status_code == 201
    assert favorites(api, bob) == [first]
    assert favorites(api, alice) == [second, first]
    assert api.get("/user/", headers=bob.headers).json()["id"] == bob.id


# -- tokens --------------------------------------------------------------------------------

BAD_AUTHORIZATIONS = {
    "missing": None,
    "undefined": "Bearer undefined",
    "null": "Bearer null",
    "garbage": "Bearer not.a.token",
    "basic": "Basic Zm9vOmJhcg==",
    # Larger than any token of ours, yet within the gateway's header buffer (8 KB).
    "6 KB": "Bearer " + "A" * 6_000,
}


@pytest.mark.parametrize(
    "authorization", BAD_AUTHORIZATIONS.values(), ids=BAD_AUTHORIZATIONS.keys()
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/user/"),
        ("PATCH", "/user/"),
        ("PUT", "/user/password/"),
        ("GET", "/favorites/movies/"),
        ("POST", "/favorites/movies/1/"),
        ("DELETE", "/favorites/movies/1/"),
    ],
)
def test_bad_tokens_are_401(
    api: httpx.Client, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = api.request(method, path, json={}, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_refresh_token_is_not_an_access_token(api: httpx.Client, alice: Account) -> None:
    response = api.get("/user/", headers={"Authorization": f"Bearer {alice.refresh_token}"})
    assert_error(response, 401, "unauthorized")
    tampered = alice.access_token[:-4] + ("AAAA" if alice.access_token[-4:] != "AAAA" else "BBBB")
    response = api.get("/user/", headers={"Authorization": f"Bearer {tampered}"})
    assert_error(response, 401, "unauthorized")


def test_the_request_id_comes_back(api: httpx.Client, alice: Account) -> None:
    response = api.get("/user/", headers={**alice.headers, "X-Request-ID": "e2e-user-1"})
    assert response.headers["x-request-id"] == "e2e-user-1"
