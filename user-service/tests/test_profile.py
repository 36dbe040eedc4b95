"""GET and PATCH /user/: the profile made on first use, both genre spellings, the rules."""

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from user_service.models import Profile


def profile(user_id: int = 7, email: str = "a@x.io", **fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": user_id,
        "email": email,
        "name": None,
        "surname": None,
        "favorite_genre": None,
        "favourite_genre": None,
    }
    body.update(fields)
    return body


def assert_invalid(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"]
    assert field in [error["field"] for error in body["errors"]], body


async def profiles_in(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Profile))).scalar_one()


async def test_the_first_read_makes_the_profile_from_the_token(client, session, bearer) -> None:
    assert await profiles_in(session) == 0
    response = await client.get("/user/", headers=bearer(7, "a@x.io"))
    assert response.status_code == 200
    assert response.json() == profile()
    assert (await client.get("/user", headers=bearer(7, "a@x.io"))).json() == profile()
    assert await profiles_in(session) == 1


async def test_the_email_follows_the_token(client, bearer) -> None:
    await client.patch("/user/", json={"name": "Анна"}, headers=bearer(7, "a@x.io"))
    response = await client.get("/user/", headers=bearer(7, "new@x.io"))
    assert response.json() == profile(email="new@x.io", name="Анна")


async def test_patch_sets_name_and_surname_and_they_stay(client, bearer) -> None:
    response = await client.patch(
        "/user/", json={"name": "Анна", "surname": "Каренина"}, headers=bearer()
    )
    assert response.status_code == 200
    assert response.json() == profile(name="Анна", surname="Каренина")
    assert (await client.get("/user/", headers=bearer())).json() == response.json()


async def test_patch_works_without_the_trailing_slash(client, bearer) -> None:
    response = await client.patch("/user", json={"name": "Анна"}, headers=bearer())
    assert response.json()["name"] == "Анна"


async def test_fields_patch_does_not_send_do_not_change(client, bearer) -> None:
    await client.patch(
        "/user/",
        json={"name": "Анна", "surname": "Каренина", "favourite_genre": 3},
        headers=bearer(),
    )
    response = await client.patch("/user/", json={"surname": "Иванова"}, headers=bearer())
    assert response.json() == profile(
        name="Анна", surname="Иванова", favorite_genre=3, favourite_genre=3
    )
    assert (await client.patch("/user/", json={}, headers=bearer())).json() == response.json()


async def test_fields_patch_does_not_own_are_ignored(client, bearer) -> None:
    response = await client.patch(
        "/user/",
        json={
            "id": 99,
            "email": "evil@x.io",
            "password": "secret secret",
            "user_id": 99,
            "is_admin": True,
            "name": "Анна",
        },
        headers=bearer(7, "a@x.io"),
    )
    assert response.status_code == 200
    assert response.json() == profile(name="Анна")
    assert (await client.get("/user/", headers=bearer(99, "b@x.io"))).json() == profile(
        99, "b@x.io"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"favorite_genre": 2}, 2),
        ({"favourite_genre": 2}, 2),
        ({"favourite_genre": "4"}, 4),
        ({"favorite_genre": " 3 "}, 3),
        ({"favorite_genre": 2, "favourite_genre": "2"}, 2),
    ],
)
async def test_the_genre_is_read_in_both_spellings_and_written_in_both(
    client, bearer, body, expected
) -> None:
    response = await client.patch("/user/", json=body, headers=bearer())
    assert response.status_code == 200, response.text
    assert response.json() == profile(favorite_genre=expected, favourite_genre=expected)
    assert (await client.get("/user/", headers=bearer())).json() == response.json()


@pytest.mark.parametrize("spelling", ["favorite_genre", "favourite_genre"])
async def test_null_clears_the_genre(client, bearer, spelling) -> None:
    await client.patch("/user/", json={"favourite_genre": 1, "name": "Анна"}, headers=bearer())
    response = await client.patch("/user/", json={spelling: None}, headers=bearer())
    assert response.json() == profile(name="Анна")


async def test_the_two_spellings_may_not_disagree(client, bearer) -> None:
    response = await client.patch(
        "/user/", json={"favorite_genre": 1, "favourite_genre": 2}, headers=bearer()
    )
    assert_invalid(response, "favorite_genre")
    response = await client.patch(
        "/user/", json={"favorite_genre": 1, "favourite_genre": None}, headers=bearer()
    )
    assert_invalid(response, "favorite_genre")


@pytest.mark.parametrize("genre", [99, "99", 0, -1, 2**31, 10**30])
async def test_a_genre_that_does_not_exist_is_422(client, bearer, genre) -> None:
    await client.patch("/user/", json={"favourite_genre": 1}, headers=bearer())
    response = await client.patch("/user/", json={"favorite_genre": genre}, headers=bearer())
    assert_invalid(response, "favorite_genre")
    assert (await client.get("/user/", headers=bearer())).json() == profile(
        favorite_genre=1, favourite_genre=1
    )


async def test_out_of_range_genres_are_refused_without_asking_the_catalog(
    client, bearer, catalog
) -> None:
    for genre in (0, -5, 2**31):
        assert_invalid(
            await client.patch("/user/", json={"favorite_genre": genre}, headers=bearer()),
            "favorite_genre",
        )
    assert catalog.requests == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"favorite_genre": "abc"}, "favorite_genre"),
        ({"favourite_genre": "-1"}, "favourite_genre"),
        ({"favourite_genre": "٣"}, "favourite_genre"),  # an Arabic-Indic digit
        ({"favorite_genre": 2.5}, "favorite_genre"),
        ({"favorite_genre": True}, "favorite_genre"),
        ({"favorite_genre": [1]}, "favorite_genre"),
        ({"favorite_genre": {"id": 1}}, "favorite_genre"),
        ({"name": "x" * 101}, "name"),
        ({"surname": "x" * 101}, "surname"),
        ({"name": 5}, "name"),
        ({"name": ["Анна"]}, "name"),
        ({"name": "Ан\x00на"}, "name"),
        ({"surname": "line\nbreak"}, "surname"),
    ],
)
async def test_invalid_values_are_422_and_change_nothing(client, bearer, body, field) -> None:
    await client.patch("/user/", json={"name": "Анна"}, headers=bearer())
    assert_invalid(await client.patch("/user/", json=body, headers=bearer()), field)
    assert (await client.get("/user/", headers=bearer())).json() == profile(name="Анна")


@pytest.mark.parametrize(
    "content", [b"[]", b'"name"', b"5", b"null", b"{not json", b"", b'[{"name": "x"}]']
)
async def test_a_body_that_is_not_a_json_object_is_422(client, bearer, content) -> None:
    response = await client.patch(
        "/user/", content=content, headers={**bearer(), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_names_are_trimmed_and_blank_means_null(client, bearer) -> None:
    response = await client.patch(
        "/user/", json={"name": "  Анна  ", "surname": "   "}, headers=bearer()
    )
    assert response.json() == profile(name="Анна")
    exactly_100 = "Ё" * 100
    response = await client.patch("/user/", json={"surname": f" {exactly_100} "}, headers=bearer())
    assert response.json()["surname"] == exactly_100
    response = await client.patch("/user/", json={"name": None}, headers=bearer())
    assert response.json() == profile(surname=exactly_100)


async def test_profiles_are_separate(client, bearer) -> None:
    await client.patch("/user/", json={"name": "Анна", "favorite_genre": 1}, headers=bearer(7))
    await client.patch("/user/", json={"name": "Борис"}, headers=bearer(8, "b@x.io"))
    assert (await client.get("/user/", headers=bearer(7))).json() == profile(
        name="Анна", favorite_genre=1, favourite_genre=1
    )
    assert (await client.get("/user/", headers=bearer(8, "b@x.io"))).json() == profile(
        8, "b@x.io", name="Борис"
    )


async def test_genres_are_asked_once_then_cached(client, bearer, catalog) -> None:
    for genre in (2, 2, 2, 99, 99):
        await client.patch("/user/", json={"favorite_genre": genre}, headers=bearer())
    assert [r.url.path for r in catalog.requests] == ["/genres/2", "/genres/99"]


async def test_the_request_id_travels_to_the_catalog(client, bearer, catalog) -> None:
    response = await client.patch(
        "/user/", json={"favorite_genre": 2}, headers={**bearer(), "X-Request-ID": "req-42"}
    )
    assert response.headers["X-Request-ID"] == "req-42"
    assert [r.headers.get("X-Request-ID") for r in catalog.requests] == ["req-42"]


OUTAGES = [
    httpx.ConnectError,
    httpx.ReadTimeout,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    502,
    500,
    503,
]


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert "catalog" in body["message"]
    assert "catalog.test" not in response.text


@pytest.mark.parametrize("outage", OUTAGES, ids=str)
async def test_without_the_catalog_profiles_still_work_but_genres_cannot_be_set(
    client, bearer, catalog, outage
) -> None:
    catalog.down = outage
    read = await client.get("/user/", headers=bearer())
    assert read.status_code == 200
    assert read.json() == profile()
    named = await client.patch("/user/", json={"name": "Анна"}, headers=bearer())
    assert named.json() == profile(name="Анна")
    cleared = await client.patch("/user/", json={"favourite_genre": None}, headers=bearer())
    assert cleared.status_code == 200
    assert_unavailable(
        await client.patch("/user/", json={"favorite_genre": 2, "name": "Б"}, headers=bearer())
    )
    assert (await client.get("/user/", headers=bearer())).json() == profile(name="Анна")


async def test_an_unexpected_catalog_answer_is_503(client, bearer, catalog) -> None:
    catalog.down = 401
    assert_unavailable(await client.patch("/user/", json={"favorite_genre": 2}, headers=bearer()))
