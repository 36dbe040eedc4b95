"""Every request verifies its access token; every failure is 401 JSON, never a 500."""

import base64
import hashlib
import hmac
import json
import time

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from shared.jwt import JwtSettings, TokenCodec, TokenType
from testkit.database import use_session
from testkit.keys import write_key_pair
from tests.conftest import JWT_SECRET, serve, user_settings
from user_service.main import create_app
from user_service.models import Profile

NOW = int(time.time())
GOOD_CLAIMS = {
    "sub": "7",
    "email": "a@x.io",
    "type": "access",
    "iat": NOW,
    "exp": NOW + 900,
    "jti": "0123456789abcdef",
    "iss": "kinoarchive",
}
ACCESS_HEADER = {"typ": "at+jwt"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(claims: dict[str, object], *, secret: str = JWT_SECRET, **header: object) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={**ACCESS_HEADER, **header})


def unsigned(claims: dict[str, object], alg: str = "none") -> str:
    head = b64(json.dumps({"alg": alg, "typ": "at+jwt"}).encode())
    return f"{head}.{b64(json.dumps(claims).encode())}."


def tampered() -> str:
    head, _payload, signature = forge(GOOD_CLAIMS).split(".")
    payload = b64(json.dumps({**GOOD_CLAIMS, "sub": "8"}).encode())
    return f"{head}.{payload}.{signature}"


def without(claim: str) -> dict[str, object]:
    return {key: value for key, value in GOOD_CLAIMS.items() if key != claim}


BAD_AUTHORIZATION: dict[str, str | bytes | None] = {
    "missing header": None,
    "empty header": "",
    "Bearer undefined": "Bearer undefined",
    "Bearer null": "Bearer null",
    "Bearer alone": "Bearer",
    "Bearer and spaces": "Bearer    ",
    "no scheme": forge(GOOD_CLAIMS),
    "Basic scheme": "Basic " + base64.b64encode(b"a@x.io:password").decode(),
    "garbage": "Bearer not-a-token",
    "three garbage parts": "Bearer a.b.c",
    "10 KB token": "Bearer " + forge({**GOOD_CLAIMS, "pad": "x" * 10_000}),
    "non-ASCII bytes": b"Bearer \xff\xfe\xfd.\xc3\xa9.\x00",
    "non-ASCII text": "Bearer ключ".encode(),
    "alg none": "Bearer " + unsigned(GOOD_CLAIMS),
    "alg None": "Bearer " + unsigned(GOOD_CLAIMS, alg="None"),
    "alg HS512": "Bearer "
    + jwt.encode(GOOD_CLAIMS, JWT_SECRET, algorithm="HS512", headers=ACCESS_HEADER),
    "tampered payload": "Bearer " + tampered(),
    "wrong secret": "Bearer " + forge(GOOD_CLAIMS, secret="another-secret-" + "y" * 40),
    "expired": "Bearer " + forge({**GOOD_CLAIMS, "iat": NOW - 7200, "exp": NOW - 3600}),
    "refresh type claim": "Bearer " + forge({**GOOD_CLAIMS, "type": "refresh"}),
    "refresh header typ": "Bearer " + forge(GOOD_CLAIMS, typ="rt+jwt"),
    "refresh token": "Bearer " + forge({**GOOD_CLAIMS, "type": "refresh"}, typ="rt+jwt"),
    "no typ header": "Bearer " + jwt.encode(GOOD_CLAIMS, JWT_SECRET, algorithm="HS256"),
    "wrong issuer": "Bearer " + forge({**GOOD_CLAIMS, "iss": "somebody-else"}),
    "no exp": "Bearer " + forge(without("exp")),
    "no sub": "Bearer " + forge(without("sub")),
    "no email": "Bearer " + forge(without("email")),
    "no iss": "Bearer " + forge(without("iss")),
    "no type": "Bearer " + forge(without("type")),
    "sub not digits": "Bearer " + forge({**GOOD_CLAIMS, "sub": "admin"}),
    "sub an integer": "Bearer " + forge({**GOOD_CLAIMS, "sub": 7}),
    "sub zero": "Bearer " + forge({**GOOD_CLAIMS, "sub": "0"}),
    "sub too large": "Bearer " + forge({**GOOD_CLAIMS, "sub": "99999999999999999999"}),
    "email not a string": "Bearer " + forge({**GOOD_CLAIMS, "email": ["a@x.io"]}),
    "email too long": "Bearer " + forge({**GOOD_CLAIMS, "email": "a" * 400 + "@x.io"}),
    "issued in the future": "Bearer " + forge({**GOOD_CLAIMS, "iat": NOW + 3600}),
}


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert body["code"] == "unauthorized"
    assert body["message"]


def headers_for(value: str | bytes | None) -> dict[str, str | bytes]:
    return {} if value is None else {"Authorization": value}


@pytest.mark.parametrize("value", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
async def test_a_bad_token_is_refused_with_401(client, session, catalog, value) -> None:
    assert_unauthorized(await client.get("/user/", headers=headers_for(value)))
    assert await session.scalar(select(func.count()).select_from(Profile)) == 0
    assert catalog.requests == []


ROUTES = [
    ("GET", "/user/", None),
    ("PATCH", "/user/", {"name": "Анна"}),
    ("PUT", "/user/password/", {"password_1": "old password 1", "password_2": "new password 2"}),
    ("GET", "/favorites/movies/", None),
    ("POST", "/favorites/movies/1/", None),
    ("DELETE", "/favorites/movies/1/", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ROUTES]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
@pytest.mark.parametrize(
    "case", ["missing header", "Bearer undefined", "refresh token", "expired", "alg none"]
)
async def test_every_route_needs_an_access_token(
    client, catalog, auth_service, method, path, body, case
) -> None:
    headers = headers_for(BAD_AUTHORIZATION[case])
    assert_unauthorized(await client.request(method, path, json=body, headers=headers))
    assert catalog.requests == []
    assert auth_service.requests == []


async def test_a_token_issued_by_the_shared_codec_is_accepted(client, bearer) -> None:
    response = await client.get("/user", headers=bearer(7, "a@x.io"))
    assert response.status_code == 200
    assert response.json()["id"] == 7


async def test_the_scheme_is_case_insensitive(client, signer) -> None:
    token = signer.issue(subject="7", email="a@x.io", token_type=TokenType.ACCESS).token
    response = await client.get("/user/", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


async def test_a_small_clock_skew_is_tolerated(client, bearer) -> None:
    # Expired five (to six) seconds ago: within the leeway (10 s) a slightly late clock
    # allows, for at least four more seconds. A machine too loaded to check it within those
    # may refuse it, rightly: only then is the token made again (the deadline bounds a hang).
    deadline = time.monotonic() + 120
    while True:
        issued = time.monotonic()
        just_expired = bearer(7, now=time.time() - 900 - 5)
        answer = await client.get("/user/", headers=just_expired)
        if answer.status_code == 200 or time.monotonic() - issued < 4:
            break
        assert time.monotonic() < deadline
    assert answer.status_code == 200, answer.text
    long_expired = bearer(7, now=time.time() - 900 - 120)
    assert_unauthorized(await client.get("/user/", headers=long_expired))


async def test_the_user_id_reaches_the_access_log(client, bearer, caplog) -> None:
    caplog.set_level("INFO", logger="access")
    await client.get("/user/", headers=bearer(42))
    await client.get("/user/", headers={"Authorization": "Bearer undefined"})
    lines = [record for record in caplog.records if record.name == "access"]
    assert [(getattr(r, "status", None), getattr(r, "user_id", None)) for r in lines] == [
        (200, "42"),
        (401, None),
    ]


async def test_asymmetric_mode_verifies_with_the_public_key_only(
    tmp_path, database_url, session, http_client
) -> None:
    private, public = write_key_pair(tmp_path, "EdDSA")
    auth_codec = TokenCodec(
        JwtSettings(algorithm="EdDSA", private_key_file=private, public_key_file=public),
        can_sign=True,
    )
    app = create_app(
        user_settings(database_url),
        jwt_settings=JwtSettings(algorithm="EdDSA", public_key_file=public),
        http_client=http_client,
    )

    use_session(app, session)
    good = auth_codec.issue(subject="7", email="a@x.io", token_type=TokenType.ACCESS).token
    # The classic confusion attack: HS256 "signed" with the public key as the secret.
    head = b64(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
    body = b64(json.dumps(GOOD_CLAIMS).encode())
    mac = hmac.new(public.read_bytes(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{head}.{body}.{b64(mac)}"
    try:
        async with serve(app) as client:
            ok = await client.get("/user/", headers={"Authorization": f"Bearer {good}"})
            assert ok.status_code == 200
            assert ok.json()["email"] == "a@x.io"
            for token in (confused, forge(GOOD_CLAIMS)):
                refused = await client.get("/user/", headers={"Authorization": f"Bearer {token}"})
                assert_unauthorized(refused)
    finally:
        await app.state.database.dispose()


def test_the_service_refuses_to_start_without_a_verifying_key(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(ValueError, match="JWT_SECRET"):
        create_app(user_settings(f"sqlite+aiosqlite:///{tmp_path / 'u.db'}"))
