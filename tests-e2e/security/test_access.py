"""Who may touch what: mass assignment on PATCH and registration, bookmarks across users."""

import httpx
import pytest
from accounts import Account, new_email
from security_support import PASSWORD, register


@pytest.fixture
def alice(api: httpx.Client) -> Account:
    return register(api)


@pytest.fixture
def bob(api: httpx.Client) -> Account:
    return register(api)


@pytest.fixture
def movie_ids(api: httpx.Client) -> list[int]:
    return [movie["id"] for movie in api.get("/movies/", params={"page": 1}).json()]


def test_patch_ignores_fields_it_does_not_own(
    api: httpx.Client, alice: Account, bob: Account
) -> None:
    before = api.get("/user/", headers=alice.headers).json()
    evil = new_email("evil")
    response = api.patch(
        "/user/",
        json={
            "name": "Alice",
            "id": bob.id,
            "user_id": bob.id,
            "sub": str(bob.id),
            "email": evil,
            "password": "taken over password",
            "password_hash": "x",
            "is_admin": True,
            "role": "admin",
            "favourite_genre_id": 10**9,
            "created_at": "1970-01-01T00:00:00Z",
        },
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after == {**before, "name": "Alice"}
    assert api.get("/user/", headers=alice.headers).json() == after
    # Nothing changed in the auth service either, and Bob is untouched.
    assert api.post("/auth/login/", json={"email": alice.email, "password": PASSWORD}).is_success
    denied = api.post("/auth/login/", json={"email": evil, "password": "taken over password"})
    assert denied.status_code == 401
    assert api.get("/user/", headers=bob.headers).json()["email"] == bob.email
    assert api.get("/user/", headers=bob.headers).json()["name"] is None


def test_registration_ignores_fields_it_does_not_own(api: httpx.Client, alice: Account) -> None:
    email = new_email()
    created = api.post(
        "/auth/register/",
        json={"email": email, "password": PASSWORD, "id": alice.id, "is_admin": True},
    )
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"id", "email"}
    assert created.json()["id"] != alice.id
    assert api.post("/auth/login/", json={"email": alice.email, "password": PASSWORD}).is_success


def test_bookmarks_belong_to_their_owner(
    api: httpx.Client, alice: Account, bob: Account, movie_ids: list[int]
) -> None:
    mine, other = movie_ids[0], movie_ids[1]
    assert api.post(f"/favorites/movies/{mine}/", headers=alice.headers).status_code == 201
    assert api.post(f"/favorites/movies/{other}/", headers=bob.headers).status_code == 201

    # Bob sees only his own, whatever he asks for.
    attempts: list[dict[str, str | int]] = [
        {},
        {"user_id": alice.id},
        {"user": alice.id},
        {"owner": alice.email},
        {"id": alice.id},
        {"sub": alice.id},
    ]
    for params in attempts:
        listed = api.get("/favorites/movies/", params=params, headers=bob.headers)
        assert listed.status_code == 200, listed.text
        assert [movie["id"] for movie in listed.json()] == [other], params
    spoofed = {**bob.headers, "X-User-Id": str(alice.id), "X-Forwarded-User": alice.email}
    assert [m["id"] for m in api.get("/favorites/movies/", headers=spoofed).json()] == [other]
    assert api.get("/user/", params={"id": alice.id}, headers=bob.headers).json()["id"] == bob.id
    assert api.get("/user/", headers=spoofed).json()["id"] == bob.id

    # Bob removing "Alice's" bookmark removes nothing of hers.
    assert api.delete(f"/favorites/movies/{mine}/", headers=bob.headers).status_code == 204
    assert [m["id"] for m in api.get("/favorites/movies/", headers=alice.headers).json()] == [mine]
    # No path names another user's bookmarks.
    for path in (f"/favorites/movies/{mine}/", f"/favorites/{alice.id}/movies/", "/favorites/"):
        response = api.get(path, headers=bob.headers)
        assert response.status_code in (404, 405), f"{path}: {response.status_code}"
        assert "title" not in response.text, path

    # Without a token, nothing at all.
    for method, path in (("GET", "/favorites/movies/"), ("POST", f"/favorites/movies/{mine}/"),
                         ("DELETE", f"/favorites/movies/{mine}/"), ("GET", "/user/")):  # fmt: skip
        assert api.request(method, path).status_code == 401, path
    assert [m["id"] for m in api.get("/favorites/movies/", headers=alice.headers).json()] == [mine]
