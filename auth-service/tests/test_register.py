import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import repository
from auth_service.models import User
from auth_service.passwords import HashQueueFull, Passwords
from tests.conftest import PASSWORD, Clock, assert_rate_limited, fresh_throttle, register


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


# --- the per-address limit and the order of the checks ------------------------------------


async def sign_up(client, email: str, password: str = PASSWORD):
    return await client.post("/auth/register/", json={"email": email, "password": password})


async def test_registrations_per_address_are_limited(app, make_client) -> None:
    """20 an hour from one address (a taken email counts too: 409 tells whether an account
    exists, and this limit is what bounds that question); other addresses are not held."""
    clock = Clock()
    fresh_throttle(app, clock=clock)
    async with make_client("203.0.113.5") as busy, make_client("198.51.100.5") as other:
        assert (await sign_up(busy, "first@x.io")).status_code == 201
        for minute in range(1, 19):
            clock.now += 60
            assert (await sign_up(busy, f"user{minute}@x.io")).status_code == 201
        assert (await sign_up(busy, "first@x.io")).status_code == 409  # the 20th
        clock.now += 60
        assert assert_rate_limited(await sign_up(busy, "late@x.io"), 3600) == 3600 - 19 * 60
        assert_rate_limited(await sign_up(busy, "first@x.io"), 3600)  # a taken one alike
        assert (await sign_up(other, "late@x.io")).status_code == 201
        # Refused attempts are not counted: the first leaves the window on time.
        clock.now = 1_000_000.0 + 3600
        assert (await sign_up(busy, "later@x.io")).status_code == 201
        assert_rate_limited(await sign_up(busy, "later2@x.io"), 3600)


async def test_invalid_bodies_are_not_counted(app, make_client) -> None:
    async with make_client("203.0.113.6") as client:
        for _ in range(30):
            assert (await sign_up(client, "not an email")).status_code == 422
            assert (await sign_up(client, "short@x.io", "short")).status_code == 422
        assert (await sign_up(client, "valid@x.io")).status_code == 201


async def test_a_taken_email_costs_no_hash(client, app, monkeypatch) -> None:
    """Failed before issue 14: the password was hashed before the email was looked up."""
    await register(client, "taken@x.io")
    passwords: Passwords = app.state.passwords
    hashed: list[str] = []
    original = passwords._hash

    def counting(password: str) -> str:
        hashed.append(password)
        return original(password)

    monkeypatch.setattr(passwords, "_hash", counting)
    response = await sign_up(client, " TAKEN@x.io")
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert hashed == []
    assert (await sign_up(client, "free@x.io")).status_code == 201
    assert len(hashed) == 1


async def test_an_email_taken_after_the_lookup_is_still_409(client, monkeypatch) -> None:
    """Two registrations of one email at once both find it free; the UNIQUE constraint
    refuses the second (test_races.py does it for real, concurrently)."""
    await register(client, "raced@x.io")

    async def nobody(*_args: object) -> None:
        return None

    monkeypatch.setattr(repository, "find_credentials", nobody)
    response = await sign_up(client, "raced@x.io")
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


async def test_a_full_hash_queue_is_503_and_not_counted(app, make_client, monkeypatch) -> None:
    passwords: Passwords = app.state.passwords

    async def full(_password: str) -> str:
        raise HashQueueFull()

    async with make_client("203.0.113.7") as client:
        monkeypatch.setattr(passwords, "hash", full)
        for _ in range(25):
            response = await sign_up(client, "queued@x.io")
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert response.json()["code"] == "service_unavailable"
        monkeypatch.undo()
        for index in range(20):
            assert (await sign_up(client, f"queued{index}@x.io")).status_code == 201
        assert_rate_limited(await sign_up(client, "queued-more@x.io"), 3600)
