import ipaddress
from functools import cached_property
from typing import Literal, Self
from urllib.parse import urlsplit

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


# An origin as compared: (scheme, host, port), lower case, the port made explicit.
Origin = tuple[str, str, int]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(value: str) -> Origin | None:
    """`"https://Kino.example.org"` -> ("https", "kino.example.org", 443); None for anything
    that is not a bare http(s) origin (a path, a query, user info, `null`, a bad port)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if (
        scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def parse_origins(value: str) -> tuple[Origin, ...]:
    """`"https://a.example, http://b.example:8080"` -> origins; ValueError on a bad entry."""
    origins = []
    for part in value.split(","):
        if not part.strip():
            continue
        origin = parse_origin(part)
        if origin is None:
            raise ValueError(f"{part.strip()!r} is not an origin such as https://kino.example.org")
        origins.append(origin)
    return tuple(origins)


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
        AUTH_HASH_QUEUE_LIMIT [0 = 8 per hashing thread]: hashes that may wait for a
        thread; beyond them, 503 with Retry-After at once (passwords.py).

    Login throttling (failures in a sliding window, at most 15 minutes; throttle.py):
        AUTH_LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS [10]: one address, one account.
        AUTH_LOGIN_MAX_FAILURES_PER_EMAIL [50]: one account from all its unknown addresses
        together (at least the limit above). AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS [100].
        AUTH_LOGIN_FAILURE_WINDOW_SECONDS [900].
        AUTH_LOGIN_KNOWN_ADDRESS_SECONDS [2592000 = 30 days]: an address from which an
        email logged in that recently skips that email's limit;
        AUTH_LOGIN_KNOWN_ADDRESSES_PER_EMAIL [10]: the most recent ones kept per email.
        AUTH_PASSWORD_CHANGE_MAX_FAILURES [10]: wrong current passwords per account in
        the same window.
        AUTH_REGISTER_MAX_PER_ADDRESS [20] registrations per client address in
        AUTH_REGISTER_WINDOW_SECONDS [3600].
        AUTH_REDIS_URL, or else plain REDIS_URL: counts in Redis, shared by every replica;
        unset: counts in this process's memory. AUTH_REDIS_KEY_PREFIX names the keys.
        AUTH_TRUSTED_PROXIES ["127.0.0.1,::1"]: addresses or networks (comma-separated)
        whose X-Real-IP / X-Forwarded-For are believed; anyone else is its own address.

    Sessions (one per login; its refresh tokens belong to it):
        AUTH_SESSION_MAX_AGE_SECONDS [7776000 = 90 days]: a session ends this long after
        its login however often it is refreshed (at least JWT_REFRESH_TTL_SECONDS).
        AUTH_MAX_SESSIONS_PER_ACCOUNT [20]: a login beyond that ends the oldest sessions.
    Refresh tokens: AUTH_PURGE_INTERVAL_SECONDS [3600] between deletions of expired rows
    and ended sessions, AUTH_PURGE_BATCH_SIZE [1000] rows at most per transaction.

    The web app's refresh cookie (auth_service/cookies.py):
        AUTH_REFRESH_COOKIE_SECURE ["auto"]: `auto` marks the cookie Secure when the request
        came over HTTPS (the connection's own scheme, or X-Forwarded-Proto from
        AUTH_TRUSTED_PROXIES); `always` marks it Secure whatever the request says (behind a
        TLS proxy that talks plain HTTP to the gateway).
        AUTH_WEB_ORIGINS [""]: origins (`https://kino.example.org`, comma-separated) that may
        use the cookie besides the request's own (scheme and Host as the service sees them),
        for a web app whose public origin the service cannot see, e.g. behind such a proxy.

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
    hash_queue_limit: int = Field(default=0, ge=0)

    login_max_failures_per_email_and_address: int = Field(default=10, ge=1)
    login_max_failures_per_email: int = Field(default=50, ge=1)
    login_max_failures_per_address: int = Field(default=100, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1, le=MAX_FAILURE_WINDOW_SECONDS)
    login_known_address_seconds: int = Field(default=30 * 24 * 3600, ge=1)
    login_known_addresses_per_email: int = Field(default=10, ge=1)
    password_change_max_failures: int = Field(default=10, ge=1)
    register_max_per_address: int = Field(default=20, ge=1)
    register_window_seconds: int = Field(default=3600, ge=1, le=24 * 3600)
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AUTH_REDIS_URL", "REDIS_URL")
    )
    redis_key_prefix: str = "kinoarchive:auth:"
    trusted_proxies: str = "127.0.0.1,::1"

    purge_interval_seconds: int = Field(default=3600, ge=1)
    purge_batch_size: int = Field(default=1000, ge=1)
    session_max_age_seconds: int = Field(default=90 * 24 * 3600, ge=60)
    max_sessions_per_account: int = Field(default=20, ge=1)

    refresh_cookie_secure: Literal["auto", "always"] = "auto"
    web_origins: str = ""

    internal_api_token: SecretStr | None = Field(
        default=None,
        validation_alias="INTERNAL_API_TOKEN",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        parse_networks(value)  # raises ValueError on a bad entry
        return value

    @field_validator("web_origins")
    @classmethod
    def _valid_origins(cls, value: str) -> str:
        parse_origins(value)  # raises ValueError on a bad entry
        return value

    @field_validator("redis_url", "internal_api_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _loose_email_limit(self) -> Self:
        if self.login_max_failures_per_email < self.login_max_failures_per_email_and_address:
            raise ValueError(
                "AUTH_LOGIN_MAX_FAILURES_PER_EMAIL must be at least "
                "AUTH_LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS: else one address alone "
                "closes the account to every new address."
            )
        return self

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

    @cached_property
    def web_origin_set(self) -> frozenset[Origin]:
        """AUTH_WEB_ORIGINS, parsed once."""
        return frozenset(parse_origins(self.web_origins))
