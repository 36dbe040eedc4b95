import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from pydantic import ValidationError

from shared.jwt import JwtSettings, TokenCodec, TokenError, TokenType, key_id
from testkit.keys import write_key_pair

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


def _forge(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
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


# --- Sessions --------------------------------------------------------------------------


def test_a_token_names_its_session(codec: TokenCodec) -> None:
    for token_type in TokenType:
        issued = codec.issue(
            subject="7", email="a@x.io", token_type=token_type, session_id="0f" * 16
        )
        assert pyjwt.decode(issued.token, options={"verify_signature": False})["sid"] == "0f" * 16
        assert codec.verify(issued.token, token_type).sid == "0f" * 16


def test_a_token_without_a_session_still_verifies(codec: TokenCodec) -> None:
    """Tokens issued before sessions existed carry no `sid`."""
    issued = codec.issue(subject="7", email="a@x.io", token_type=TokenType.ACCESS)
    assert "sid" not in pyjwt.decode(issued.token, options={"verify_signature": False})
    assert codec.verify(issued.token, TokenType.ACCESS).sid is None


@pytest.mark.parametrize("sid", [7, "", "A" * 8, "a/b", "a" * 65, ["a"], "ä"])
def test_a_bad_session_claim_is_refused(codec: TokenCodec, sid: object) -> None:
    now = int(time.time())
    claims = {"sub": "1", "email": "a@x.io", "type": "access", "iat": now, "exp": now + 60,
              "jti": "j", "iss": "kinoarchive", "sid": sid}  # fmt: skip
    token = pyjwt.encode(claims, SECRET, headers={"typ": "at+jwt", "kid": codec.key_id})
    with pytest.raises(TokenError, match="sid"):
        codec.verify(token, TokenType.ACCESS)


@pytest.mark.parametrize("session_id", ["", "A", "a b", "a" * 65])
def test_a_bad_session_id_is_never_signed(codec: TokenCodec, session_id: str) -> None:
    with pytest.raises(ValueError, match="session id"):
        codec.issue(subject="1", email="a@x.io", token_type=TokenType.ACCESS, session_id=session_id)


# --- Key rotation ------------------------------------------------------------------------

OLD_SECRET, NEW_SECRET = "o" * 40, "n" * 40


def _codec(current: str, previous: str | None = None, *, can_sign: bool = False) -> TokenCodec:
    settings = JwtSettings(secret=current, previous_secret=previous)
    return TokenCodec(settings, can_sign=can_sign)


def test_tokens_name_their_key(codec: TokenCodec) -> None:
    issued = codec.issue(subject="7", email="a@x.io", token_type=TokenType.REFRESH)
    kid = pyjwt.get_unverified_header(issued.token)["kid"]
    assert kid == key_id(SECRET) == codec.key_id
    assert len(kid) == 16
    assert key_id("another secret of forty bytes or so....") != kid


def test_rotation_accepts_the_previous_key_and_signs_with_the_new() -> None:
    old_signer = _codec(OLD_SECRET, can_sign=True)
    old_token = old_signer.issue(subject="7", email="a@x.io", token_type=TokenType.ACCESS).token
    rotated = _codec(NEW_SECRET, OLD_SECRET, can_sign=True)
    assert rotated.verify(old_token, TokenType.ACCESS).sub == "7"
    new_token = rotated.issue(subject="7", email="a@x.io", token_type=TokenType.ACCESS).token
    assert pyjwt.get_unverified_header(new_token)["kid"] == key_id(NEW_SECRET)
    assert rotated.verify(new_token, TokenType.ACCESS).sub == "7"
    # A verifier that has not heard of the new key refuses its tokens ...
    with pytest.raises(TokenError):
        old_signer.verify(new_token, TokenType.ACCESS)
    # ... and once the previous key is dropped, its tokens stop working.
    with pytest.raises(TokenError):
        _codec(NEW_SECRET).verify(old_token, TokenType.ACCESS)


def test_a_key_id_chooses_the_key_and_never_widens_it() -> None:
    rotated = _codec(NEW_SECRET, OLD_SECRET)
    now = int(time.time())
    claims = {"sub": "1", "email": "a@x.io", "type": "access", "iat": now, "exp": now + 60,
              "jti": "j", "iss": "kinoarchive"}  # fmt: skip
    forged = [
        # Signed with the old key but naming the new one: the named key alone is tried.
        pyjwt.encode(claims, OLD_SECRET, headers={"typ": "at+jwt", "kid": key_id(NEW_SECRET)}),
        # An unknown key id, or one that is not a string.
        pyjwt.encode(claims, NEW_SECRET, headers={"typ": "at+jwt", "kid": "0" * 16}),
        _forge(claims, {"alg": "HS256", "typ": "at+jwt", "kid": 7}),
        # No key id and a key that is neither.
        pyjwt.encode(claims, "x" * 40, headers={"typ": "at+jwt"}),
    ]
    for token in forged:
        with pytest.raises(TokenError):
            rotated.verify(token, TokenType.ACCESS)


def test_tokens_from_before_key_ids_pass_with_either_key() -> None:
    now = int(time.time())
    claims = {"sub": "1", "email": "a@x.io", "type": "access", "iat": now, "exp": now + 60,
              "jti": "j", "iss": "kinoarchive"}  # fmt: skip
    rotated = _codec(NEW_SECRET, OLD_SECRET)
    for secret in (OLD_SECRET, NEW_SECRET):
        token = pyjwt.encode(claims, secret, headers={"typ": "at+jwt"})
        assert rotated.verify(token, TokenType.ACCESS).sub == "1"
    expired = pyjwt.encode({**claims, "exp": now - 3600}, OLD_SECRET, headers={"typ": "at+jwt"})
    with pytest.raises(TokenError):
        rotated.verify(expired, TokenType.ACCESS)
    assert rotated.verify(expired, TokenType.ACCESS, verify_exp=False).sub == "1"


@pytest.mark.parametrize("previous", ["short", "changeme"])
def test_weak_previous_secret_is_refused(previous: str) -> None:
    with pytest.raises(ValidationError, match="JWT_PREVIOUS_SECRET"):
        JwtSettings(secret=NEW_SECRET, previous_secret=previous)


def test_empty_previous_secret_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", NEW_SECRET)
    monkeypatch.setenv("JWT_PREVIOUS_SECRET", "")
    assert JwtSettings().previous_secret is None


def test_rotation_of_an_asymmetric_pair(tmp_path: Path) -> None:
    """EdDSA: the new private key signs; the old public key still verifies its tokens."""

    old_private, old_public = write_key_pair(tmp_path, "EdDSA", "old")
    new_private, new_public = write_key_pair(tmp_path, "EdDSA", "new")
    old_signer = TokenCodec(
        JwtSettings(algorithm="EdDSA", private_key_file=old_private, public_key_file=old_public),
        can_sign=True,
    )
    old_token = old_signer.issue(subject="3", email="a@x.io", token_type=TokenType.ACCESS).token
    signer = TokenCodec(
        JwtSettings(
            algorithm="EdDSA",
            private_key_file=new_private,
            public_key_file=new_public,
            previous_public_key_file=old_public,
        ),
        can_sign=True,
    )
    verifier = TokenCodec(
        JwtSettings(
            algorithm="EdDSA", public_key_file=new_public, previous_public_key_file=old_public
        )
    )
    new_token = signer.issue(subject="3", email="a@x.io", token_type=TokenType.ACCESS).token
    assert pyjwt.get_unverified_header(new_token)["kid"] == key_id(new_public.read_bytes())
    for token in (old_token, new_token):
        assert verifier.verify(token, TokenType.ACCESS).sub == "3"
    with pytest.raises(TokenError):
        TokenCodec(JwtSettings(algorithm="EdDSA", public_key_file=new_public)).verify(
            old_token, TokenType.ACCESS
        )


def test_a_remembered_token_still_expires(
    codec: TokenCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = codec.issue(subject="5", email="a@x.io", token_type=TokenType.ACCESS)
    assert codec.verify(issued.token, TokenType.ACCESS).sub == "5"
    later = issued.expires_at + codec.settings.leeway_seconds + 1
    monkeypatch.setattr("shared.jwt.time.time", lambda: later)
    with pytest.raises(TokenError):
        codec.verify(issued.token, TokenType.ACCESS)
    assert issued.token not in codec._verified  # the next check is a full one


def test_a_remembered_token_keeps_its_type(codec: TokenCodec) -> None:
    access = codec.issue(subject="1", email="a@x.io", token_type=TokenType.ACCESS).token
    codec.verify(access, TokenType.ACCESS)
    with pytest.raises(TokenError):
        codec.verify(access, TokenType.REFRESH)
    assert codec.verify(access, TokenType.ACCESS).sub == "1"


def test_a_second_check_of_a_token_is_not_a_second_decode(
    codec: TokenCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = codec.issue(subject="4", email="a@x.io", token_type=TokenType.ACCESS).token
    calls = 0
    decode = pyjwt.decode_complete

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("shared.jwt.jwt.decode_complete", counting)
    first = codec.verify(token, TokenType.ACCESS)
    assert codec.verify(token, TokenType.ACCESS) == first
    assert calls == 1
    # A token that fails is never remembered: checked in full each time.
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(TokenError):
            codec.verify(forged, TokenType.ACCESS)
    assert calls == 3


def test_the_memory_of_verified_tokens_is_bounded(
    codec: TokenCodec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shared.jwt.VERIFIED_CACHE_SIZE", 3)
    tokens = [
        codec.issue(subject=str(n), email="a@x.io", token_type=TokenType.ACCESS).token
        for n in range(1, 6)
    ]
    for token in tokens:
        codec.verify(token, TokenType.ACCESS)
    assert list(codec._verified) == tokens[-3:]
