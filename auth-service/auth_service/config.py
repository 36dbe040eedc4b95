import ipaddress
from functools import cached_property
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

# OWASP Password Storage Cheat Sheet: the least argon2id configuration it accepts.
OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2
OWASP_MIN_PARALLELISM = 1
MIN_INTERNAL_TOKEN_CHARS = 32
# The contract: no lockout lasts longer than 15 minutes.
MAX_FAILURE_WINDOW_SECONDS = 15 * 60

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[IpNetwork, ...]:
    """`"127.0.0.1, ::1, 10.0.0.0/8"` -> networks; a bare address is a /32 (or /128)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in value.split(",")
        if part.strip()
    )


class AuthSettings(ServiceSettings):
    """Environment variables start with AUTH_, except those that several services share.

    Database: AUTH_DATABASE_URL (default: SQLite file `auth.db` in AUTH_DATA_DIR).

    Password hashing (argon2id), production refuses less than OWASP's minimum:
        AUTH_ARGON2_MEMORY_KIB [19456]  AUTH_ARGON2_TIME_COST [2]  AUTH_ARGON2_PARALLELISM [1]
        AUTH_HASH_CONCURRENCY [0 = one per CPU]: hashes running at once (memory bound).

    Login throttling (failures in a sliding window, at most 15 minutes):
        AUTH_LOGIN_MAX_FAILURES_PER_EMAIL [10]   AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS [100]
        AUTH_LOGIN_FAILURE_WINDOW_SECONDS [900]
        AUTH_REDIS_URL, or else plain REDIS_URL: counts in Redis, shared by every replica;
        unset: counts in this process's memory. AUTH_REDIS_KEY_PREFIX names the keys.
        AUTH_TRUSTED_PROXIES ["127.0.0.1,::1"]: addresses or networks (comma-separated)
        whose X-Real-IP / X-Forwarded-For are believed; anyone else is its own address.

    Refresh tokens: AUTH_PURGE_INTERVAL_SECONDS [3600] between deletions of expired rows.

    INTERNAL_API_TOKEN (no prefix, shared by the services): the credential of the
    internal endpoints (`X-Internal-Token`). Production refuses to start without one of
    at least 32 characters; in development, while it is unset, the internal endpoints
    answer 503 `service_unavailable` (they are off, not open).

    The JWT keys and lifetimes are `shared.jwt.JwtSettings` (JWT_SECRET, JWT_ALGORITHM, ...).
    """

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", populate_by_name=True)

    service_name: str = "auth"

    argon2_memory_kib: int = Field(default=OWASP_MIN_MEMORY_KIB, ge=8)
    argon2_time_cost: int = Field(default=OWASP_MIN_TIME_COST, ge=1)
    argon2_parallelism: int = Field(default=OWASP_MIN_PARALLELISM, ge=1)
    hash_concurrency: int = Field(default=0, ge=0)

    login_max_failures_per_email: int = Field(default=10, ge=1)
    login_max_failures_per_address: int = Field(default=100, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1, le=MAX_FAILURE_WINDOW_SECONDS)
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AUTH_REDIS_URL", "REDIS_URL")
    )
    redis_key_prefix: str = "kinoarchive:auth:"
    trusted_proxies: str = "127.0.0.1,::1"

    purge_interval_seconds: int = Field(default=3600, ge=1)

    internal_api_token: SecretStr | None = Field(
        default=None,
        validation_alias="INTERNAL_API_TOKEN",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        parse_networks(value)  # raises ValueError on a bad entry
        return value

    @field_validator("redis_url", "internal_api_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _production_ready(self) -> Self:
        if not self.is_production:
            return self
        token = self.internal_api_token
        if token is None or len(token.get_secret_value()) < MIN_INTERNAL_TOKEN_CHARS:
            raise ValueError(
                f"INTERNAL_API_TOKEN must be set to at least {MIN_INTERNAL_TOKEN_CHARS} "
                "random characters in production."
            )
        if (
            self.argon2_memory_kib < OWASP_MIN_MEMORY_KIB
            or self.argon2_time_cost < OWASP_MIN_TIME_COST
            or self.argon2_parallelism < OWASP_MIN_PARALLELISM
        ):
            raise ValueError(
                "The argon2 parameters are below OWASP's minimum "
                f"(m={OWASP_MIN_MEMORY_KIB} KiB, t={OWASP_MIN_TIME_COST}, p=1)."
            )
        return self

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IpNetwork, ...]:
        """Parsed once: every login asks (bench/)."""
        return parse_networks(self.trusted_proxies)
