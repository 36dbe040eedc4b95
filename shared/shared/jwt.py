"""JSON Web Tokens: the one module that signs and verifies them.

The auth service signs; every service verifies with the same code. Every decode pins
the algorithm list to the configured one (so `none`, or HS256 signed with an RSA public
key, never passes), requires every claim, checks the issuer, and checks the token type
twice: the `type` claim and the header's `typ`, so an access token never passes where a
refresh token is expected, nor the reverse.

Keys (environment variables start with JWT_, shared by the services on purpose):
- HS256 (default): `JWT_SECRET`, at least 32 bytes.
- RS256 / EdDSA: `JWT_PRIVATE_KEY_FILE` (the auth service only) and
  `JWT_PUBLIC_KEY_FILE` (everyone), PEM files.

Key rotation without logging anyone out: every token names its key in the header's `kid`
(a fingerprint of the verifying key, so no key needs a name). The signer always uses the
current key; verifiers also accept the previous one, `JWT_PREVIOUS_SECRET` (HS256) or
`JWT_PREVIOUS_PUBLIC_KEY_FILE` (RS256 / EdDSA), while it is set. A token without `kid`
(issued before key ids) is tried against both. The procedure is in SECURITY.md.

Verification is remembered: the same access token comes with every request of a client
for its whole life, and decoding and checking it again cost more than the rest of a
`GET /user/` (bench/). A codec keeps the claims of the last `VERIFIED_CACHE_SIZE` tokens
that passed, by their exact text; a token seen again is checked only for its type and
expiry. A token that failed is never remembered, so it is checked in full every time.

Sessions: a token issued for a session of the auth service carries its id as `sid`
(at most `MAX_SESSION_ID_LENGTH` characters of `[0-9a-z_-]`). The claim is optional, as
tokens issued before sessions existed have none: such a token verifies, with `sid` None.
"""

import hashlib
import re
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

import jwt
from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.db import INT32_MAX

MIN_SECRET_BYTES = 32
MAX_TOKEN_LENGTH = 4096  # ours are ~400 bytes; anything far larger is not ours
VERIFIED_CACHE_SIZE = 4096  # tokens (~1 KB each with their claims)
_PLACEHOLDERS = {"changeme", "change-me", "secret", "please-change", "placeholder"}


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


# The header marker of each type (RFC 9068 names access tokens "at+jwt").
_HEADER_TYP = {TokenType.ACCESS: "at+jwt", TokenType.REFRESH: "rt+jwt"}
_REQUIRED = ["exp", "iat", "sub", "jti", "iss", "type", "email"]
MAX_SESSION_ID_LENGTH = 64
_SESSION_ID = re.compile(rf"[0-9a-z_-]{{1,{MAX_SESSION_ID_LENGTH}}}")


def is_session_id(value: str) -> bool:
    """Whether `value` has the shape of a session id (what a `sid` claim may hold)."""
    return _SESSION_ID.fullmatch(value) is not None


class TokenError(Exception):
    """The token is not one we accept; the message is for logs, not for clients."""


class JwtSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JWT_", extra="ignore")

    algorithm: Literal["HS256", "RS256", "EdDSA"] = "HS256"
    secret: SecretStr | None = None
    private_key_file: Path | None = None
    public_key_file: Path | None = None
    # The key being retired during a rotation: still accepted, never used to sign.
    previous_secret: SecretStr | None = None
    previous_public_key_file: Path | None = None
    issuer: str = "kinoarchive"
    access_ttl_seconds: int = 15 * 60
    refresh_ttl_seconds: int = 30 * 24 * 3600
    leeway_seconds: int = 10

    @field_validator("previous_secret", "previous_public_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _keys_present(self) -> Self:
        if self.algorithm == "HS256":
            if self.secret is None:
                raise ValueError("JWT_SECRET is not set (make run keeps one in the data folder).")
            _check_secret("JWT_SECRET", self.secret)
            if self.previous_secret is not None:
                _check_secret("JWT_PREVIOUS_SECRET", self.previous_secret)
        elif self.public_key_file is None:
            raise ValueError(f"JWT_PUBLIC_KEY_FILE is required with {self.algorithm}.")
        return self


def _check_secret(name: str, secret: SecretStr) -> None:
    value = secret.get_secret_value()
    if value.strip().lower() in _PLACEHOLDERS:
        raise ValueError(f"{name} is a placeholder; set a random secret.")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"{name} must be at least {MIN_SECRET_BYTES} bytes.")


def key_id(verifying_key: str | bytes) -> str:
    """The `kid` of a key: a fingerprint of its verifying half (the secret, or the public
    key). It tells which key signed a token and reveals nothing usable about the key."""
    material = verifying_key.encode() if isinstance(verifying_key, str) else verifying_key
    return hashlib.sha256(b"kinoarchive-jwt-kid\0" + material).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    email: str
    type: TokenType
    iat: int
    exp: int
    jti: str
    sid: str | None = None  # the session the token belongs to; None in older tokens

    @property
    def user_id(self) -> int:
        return int(self.sub)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: int


class TokenCodec:
    """Signs (when it holds the private key or secret) and verifies tokens."""

    def __init__(self, settings: JwtSettings, *, can_sign: bool = False) -> None:
        self.settings = settings
        self.algorithm = settings.algorithm
        self._signing_key: Any = None
        previous: str | bytes | None = None
        if settings.algorithm == "HS256":
            assert settings.secret is not None
            secret = settings.secret.get_secret_value()
            current: str | bytes = secret
            self._signing_key = secret if can_sign else None
            if settings.previous_secret is not None:
                previous = settings.previous_secret.get_secret_value()
        else:
            assert settings.public_key_file is not None
            current = settings.public_key_file.read_bytes()
            if can_sign:
                if settings.private_key_file is None:
                    raise ValueError(f"JWT_PRIVATE_KEY_FILE is required to sign {self.algorithm}.")
                self._signing_key = settings.private_key_file.read_bytes()
            if settings.previous_public_key_file is not None:
                previous = settings.previous_public_key_file.read_bytes()
        self.key_id = key_id(current)
        # Every key a token may be signed with, by key id: the current one first.
        self._verifying_keys: dict[str, Any] = {self.key_id: current}
        # Token text -> its claims, for tokens that passed a full check (oldest first).
        self._verified: dict[str, Claims] = {}
        if previous is not None:
            self._verifying_keys.setdefault(key_id(previous), previous)

    def issue(
        self,
        *,
        subject: str,
        email: str,
        token_type: TokenType,
        now: float | None = None,
        session_id: str | None = None,
    ) -> IssuedToken:
        """A signed token; with `session_id`, it names that session in its `sid` claim."""
        if self._signing_key is None:
            raise RuntimeError("This service holds no signing key.")
        if session_id is not None and not is_session_id(session_id):
            raise ValueError("A session id is 1 to 64 characters of [0-9a-z_-].")
        issued_at = int(now if now is not None else time.time())
        ttl = (
            self.settings.access_ttl_seconds
            if token_type is TokenType.ACCESS
            else self.settings.refresh_ttl_seconds
        )
        jti = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "sub": subject,
            "email": email,
            "type": token_type.value,
            "iat": issued_at,
            "exp": issued_at + ttl,
            "jti": jti,
            "iss": self.settings.issuer,
        }
        if session_id is not None:
            claims["sid"] = session_id
        token = jwt.encode(
            claims,
            self._signing_key,
            algorithm=self.algorithm,
            headers={"typ": _HEADER_TYP[token_type], "kid": self.key_id},
        )
        return IssuedToken(token=token, jti=jti, expires_at=issued_at + ttl)

    def verify(self, token: str, token_type: TokenType, *, verify_exp: bool = True) -> Claims:
        if verify_exp and (known := self._verified.get(token)) is not None:
            return self._still_valid(known, token, token_type)
        claims = self._verify(token, token_type, verify_exp=verify_exp)
        if verify_exp:
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = claims
        return claims

    def _still_valid(self, claims: Claims, token: str, token_type: TokenType) -> Claims:
        """A remembered token: what a full check could say of it now (the same rules)."""
        if claims.type != token_type:
            raise TokenError(f"wrong token type, expected {token_type}")
        if claims.exp <= time.time() - self.settings.leeway_seconds:
            self._verified.pop(token, None)
            raise TokenError("Signature has expired")
        return claims

    def _verify(self, token: str, token_type: TokenType, *, verify_exp: bool) -> Claims:
        """The full check: signature, registered claims, type and our claims' shapes."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise TokenError("malformed token")
        decoded = self._decode(token, verify_exp=verify_exp)
        header, payload = decoded["header"], decoded["payload"]
        if header.get("typ") != _HEADER_TYP[token_type] or payload.get("type") != token_type:
            raise TokenError(f"wrong token type, expected {token_type}")
        sub, email, jti = payload["sub"], payload["email"], payload["jti"]
        # Subjects are user ids: 32-bit database keys, written in ASCII digits.
        if not (isinstance(sub, str) and sub.isascii() and sub.isdigit()):
            raise TokenError("bad subject claim")
        if not 1 <= int(sub) <= INT32_MAX:
            raise TokenError("subject out of range")
        if not isinstance(email, str):
            raise TokenError("bad email claim")
        if not isinstance(jti, str):
            raise TokenError("bad jti claim")
        sid = payload.get("sid")
        if sid is not None and not (isinstance(sid, str) and is_session_id(sid)):
            raise TokenError("bad sid claim")
        return Claims(
            sub=sub,
            email=email,
            type=token_type,
            iat=int(payload["iat"]),
            exp=int(payload["exp"]),
            jti=jti,
            sid=sid,
        )

    def _decode(self, token: str, *, verify_exp: bool) -> dict[str, Any]:
        """Signature and registered claims checked with the key the token names."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
        if kid is None:  # issued before key ids: either key may have signed it
            keys = list(self._verifying_keys.values())
        elif isinstance(kid, str) and kid in self._verifying_keys:
            keys = [self._verifying_keys[kid]]
        else:
            raise TokenError("unknown key id")
        for index, key in enumerate(keys):
            try:
                decoded: dict[str, Any] = jwt.decode_complete(
                    token,
                    key,
                    algorithms=[self.algorithm],
                    issuer=self.settings.issuer,
                    leeway=self.settings.leeway_seconds,
                    options={"require": _REQUIRED, "verify_exp": verify_exp},
                )
            except jwt.InvalidSignatureError as exc:
                if index == len(keys) - 1:
                    raise TokenError(str(exc)) from exc
            except jwt.PyJWTError as exc:
                raise TokenError(str(exc)) from exc
            else:
                return decoded
        raise TokenError("no key")  # unreachable: there is always a current key
