import base64
import json
import time

import jwt as pyjwt
import pytest
from pydantic import ValidationError

from shared.jwt import JwtSettings, TokenCodec, TokenError, TokenType

SECRET = "s" * 40


@pytest.fixture
def codec() -> TokenCodec:
    return TokenCodec(JwtSettings(secret=SECRET), can_sign=True)


def test_round_trip(codec: TokenCodec) -> None:
    issued = codec.issue(subject="7", email="a@x.io", token_type=TokenType.ACCESS)
    claims = codec.verify(issued.token, TokenType.ACCESS)
    assert (claims.sub, claims.user_id, claims.email, claims.jti) == ("7", 7, "a@x.io", issued.jti)
    assert claims.exp - claims.iat == 15 * 60
    header = pyjwt.get_unverified_header(issued.token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "HS256"


def test_types_never_pass_for_each_other(codec: TokenCodec) -> None:
    access = codec.issue(subject="1", email="a@x.io", token_type=TokenType.ACCESS).token
    refresh = codec.issue(subject="1", email="a@x.io", token_type=TokenType.REFRESH).token
    with pytest.raises(TokenError):
        codec.verify(access, TokenType.REFRESH)
    with pytest.raises(TokenError):
        codec.verify(refresh, TokenType.ACCESS)


def _forge(claims: dict, header: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def test_refuses_forgeries(codec: TokenCodec) -> None:
    now = int(time.time())
    claims = {"sub": "1", "email": "a@x.io", "type": "access", "iat": now, "exp": now + 60,
              "jti": "j", "iss": "kinoarchive"}  # fmt: skip
    attempts = [
        _forge(claims, {"alg": "none", "typ": "at+jwt"}),
        pyjwt.encode(claims, "another-secret-of-enough-length-000", headers={"typ": "at+jwt"}),
        pyjwt.encode({**claims, "iss": "evil"}, SECRET, headers={"typ": "at+jwt"}),
        pyjwt.encode({**claims, "sub": 1}, SECRET, headers={"typ": "at+jwt"}),
        pyjwt.encode({**claims, "sub": "١"}, SECRET, headers={"typ": "at+jwt"}),
        pyjwt.encode(claims, SECRET, headers={"typ": "JWT"}),  # header marker missing
        pyjwt.encode({**claims, "exp": now - 3600}, SECRET, headers={"typ": "at+jwt"}),
        pyjwt.encode({k: v for k, v in claims.items() if k != "jti"}, SECRET,
                     headers={"typ": "at+jwt"}),
        "garbage", "", "a.b.c", "x" * 10_000, "токен",
    ]  # fmt: skip
    genuine = codec.issue(subject="1", email="a@x.io", token_type=TokenType.ACCESS).token
    head, payload, signature = genuine.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["sub"] = "2"
    attempts.append(f"{head}.{_forge(tampered, {}).split('.')[1]}.{signature}")
    for token in attempts:
        with pytest.raises(TokenError):
            codec.verify(token, TokenType.ACCESS)


def test_expired_can_be_read_when_asked(codec: TokenCodec) -> None:
    old = codec.issue(
        subject="3", email="a@x.io", token_type=TokenType.ACCESS, now=time.time() - 7200
    ).token
    with pytest.raises(TokenError):
        codec.verify(old, TokenType.ACCESS)
    assert codec.verify(old, TokenType.ACCESS, verify_exp=False).sub == "3"


@pytest.mark.parametrize("secret", [None, "short", "changeme", "CHANGEME"])
def test_weak_or_missing_secret_is_refused(secret: str | None) -> None:
    with pytest.raises(ValidationError):
        JwtSettings(secret=secret)


def test_verifier_without_signing_key_cannot_sign() -> None:
    verifier = TokenCodec(JwtSettings(secret=SECRET))
    with pytest.raises(RuntimeError):
        verifier.issue(subject="1", email="a@x.io", token_type=TokenType.ACCESS)


@pytest.mark.parametrize("sub", ["0", "2147483648", "99999999999999999999"])
def test_subject_must_be_a_user_id(codec: TokenCodec, sub: str) -> None:
    token = codec.issue(subject=sub, email="a@x.io", token_type=TokenType.ACCESS).token
    with pytest.raises(TokenError):
        codec.verify(token, TokenType.ACCESS)
