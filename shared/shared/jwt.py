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
"""

import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self

import jwt
from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.db import INT32_MAX

MIN_SECRET_BYTES = 32
MAX_TOKEN_LENGTH = 4096  # ours are ~400 bytes; anything far larger is not ours
_PLACEHOLDERS = {"changeme", "change-me", "secret", "please-change", "placeholder"}


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


# The header marker of each type (RFC 9068 names access tokens "at+jwt").
_HEADER_TYP = {TokenType.ACCESS: "at+jwt", TokenType.REFRESH: "rt+jwt"}
_REQUIRED = ["exp", "iat", "sub", "jti", "iss", "type", "email"]


class TokenError(Exception):
    """The token is not one we accept; the message is for logs, not for clients."""


class JwtSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JWT_", extra="ignore")

    algorithm: Literal["HS256", "RS256", "EdDSA"] = "HS256"
    secret: SecretStr | None = None
    private_key_file: Path | None = None
    public_key_file: Path | None = None
    issuer: str = "kinoarchive"
    access_ttl_seconds: int = 15 * 60
    refresh_ttl_seconds: int = 30 * 24 * 3600
    leeway_seconds: int = 10

    @model_validator(mode="after")
    def _keys_present(self) -> Self:
        if self.algorithm == "HS256":
            if self.secret is None:
                raise ValueError("JWT_SECRET is not set (make run keeps one in the data folder).")
            value = self.secret.get_secret_value()
            if value.strip().lower() in _PLACEHOLDERS:
                raise ValueError("JWT_SECRET is a placeholder; set a random secret.")
            if len(value.encode()) < MIN_SECRET_BYTES:
                raise ValueError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes.")
        elif self.public_key_file is None:
            raise ValueError(f"JWT_PUBLIC_KEY_FILE is required with {self.algorithm}.")
        return self


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    email: str
    type: TokenType
    iat: int
    exp: int
    jti: str

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
        if settings.algorithm == "HS256":
            assert settings.secret is not None
            secret = settings.secret.get_secret_value()
            self._verifying_key: Any = secret
            self._signing_key = secret if can_sign else None
        else:
            assert settings.public_key_file is not None
            self._verifying_key = settings.public_key_file.read_bytes()
            if can_sign:
                if settings.private_key_file is None:
                    raise ValueError(f"JWT_PRIVATE_KEY_FILE is required to sign {self.algorithm}.")
                self._signing_key = settings.private_key_file.read_bytes()

    def issue(
        self, *, subject: str, email: str, token_type: TokenType, now: float | None = None
    ) -> IssuedToken:
        if self._signing_key is None:
            raise RuntimeError("This service holds no signing key.")
        issued_at = int(now if now is not None else time.time())
        ttl = (
            self.settings.access_ttl_seconds
            if token_type is TokenType.ACCESS
            else self.settings.refresh_ttl_seconds
        )
        jti = uuid.uuid4().hex
        claims = {
            "sub": subject,
            "email": email,
            "type": token_type.value,
            "iat": issued_at,
            "exp": issued_at + ttl,
            "jti": jti,
            "iss": self.settings.issuer,
        }
        token = jwt.encode(
            claims,
            self._signing_key,
            algorithm=self.algorithm,
            headers={"typ": _HEADER_TYP[token_type]},
        )
        return IssuedToken(token=token, jti=jti, expires_at=issued_at + ttl)

    def verify(self, token: str, token_type: TokenType, *, verify_exp: bool = True) -> Claims:
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise TokenError("malformed token")
        try:
            decoded = jwt.decode_complete(
                token,
                self._verifying_key,
                algorithms=[self.algorithm],
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": _REQUIRED, "verify_exp": verify_exp},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
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
        return Claims(
            sub=sub,
            email=email,
            type=token_type,
            iat=int(payload["iat"]),
            exp=int(payload["exp"]),
            jti=jti,
        )
