import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.models import User
from tests.conftest import PASSWORD, register


@pytest.mark.parametrize("path", ["/auth/register", "/auth/register/"])
async def test_register_answers_id_and_email(client, path) -> None:
    response = await client.post(path, json={"email": "reg@x.io", "password": PASSWORD})
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "email": "reg@x.io"}
    assert isinstance(body["id"], int)


async def test_register_accepts_a_form(client) -> None:
    response = await client.post(
        "/auth/register/", data={"email": "form@x.io", "password": "пароль с пробелами"}
    )
    assert response.status_code == 201
    assert response.json()["email"] == "form@x.io"
    login = await client.post(
        "/auth/login/", data={"email": "form@x.io", "password": "пароль с пробелами"}
    )
    assert login.status_code == 200


async def test_email_is_trimmed_and_lowercased(client, session: AsyncSession) -> None:
    response = await client.post(
        "/auth/register/", json={"email": "  Mixed.Case@Example.IO ", "password": PASSWORD}
    )
    assert response.json()["email"] == "mixed.case@example.io"
    stored = (await session.execute(select(User.email))).scalars().all()
    assert stored == ["mixed.case@example.io"]


async def test_one_email_is_one_account_whatever_its_case(client) -> None:
    await register(client, "dup@x.io")
    response = await client.post(
        "/auth/register/", json={"email": " DUP@x.io", "password": PASSWORD}
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "email_taken"
    assert body["message"]


async def test_the_database_refuses_a_second_row_with_one_email(client, session) -> None:
    """The UNIQUE constraint itself, not a check in the code, keeps emails unique."""
    await register(client, "unique@x.io")
    session.add(User(email="unique@x.io", password_hash="x"))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_the_password_is_stored_as_an_argon2id_hash(client, session) -> None:
    await register(client, "hash@x.io")
    stored = (await session.execute(select(User.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("1234567", False),
        ("12345678", True),
        ("ж" * 8, True),
        ("🎬" * 8, True),  # 8 characters, 32 bytes
        ("a" * 1024, True),
        ("a" * 1025, False),
        ("", False),
    ],
)
async def test_password_policy(client, password, ok) -> None:
    response = await client.post("/auth/register/", json={"email": "p@x.io", "password": password})
    if ok:
        assert response.status_code == 201
    else:
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "validation_error"
        assert [e["field"] for e in body["errors"]] == ["password"]


@pytest.mark.parametrize("email", ["", "plain", "a@b", "two@@x.io", "sp ace@x.io", "a@x.io\n@y"])
async def test_an_invalid_email_is_422(client, email) -> None:
    response = await client.post("/auth/register/", json={"email": email, "password": PASSWORD})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["email"]


async def test_missing_fields_are_named(client) -> None:
    response = await client.post("/auth/register/", json={})
    assert response.status_code == 422
    assert sorted(e["field"] for e in response.json()["errors"]) == ["email", "password"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b'"a string"', b"[1, 2]", b'{"email": 5, "password": 12345678}'],
)
async def test_bad_json_is_422(client, body) -> None:
    response = await client.post(
        "/auth/register/", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_invalid_json_is_reported_as_such(client) -> None:
    response = await client.post(
        "/auth/register/", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert response.json()["errors"] == [
        {"field": "body", "message": "The body is not valid JSON."}
    ]


async def test_an_unknown_content_type_is_415_json(client) -> None:
    response = await client.post(
        "/auth/register/", content=b"email=a", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


async def test_a_json_body_without_content_type_is_read(client) -> None:
    response = await client.post(
        "/auth/register/", content=b'{"email": "noct@x.io", "password": "12345678"}'
    )
    assert response.status_code == 201


async def test_register_ignores_authorization(client) -> None:
    response = await client.post(
        "/auth/register/",
        json={"email": "undef@x.io", "password": PASSWORD},
        headers={"Authorization": "Bearer undefined"},
    )
    assert response.status_code == 201


async def test_unknown_fields_are_ignored(client) -> None:
    response = await client.post(
        "/auth/register/", json={"email": "extra@x.io", "password": PASSWORD, "id": 999}
    )
    assert response.status_code == 201
    assert response.json()["id"] != 999
