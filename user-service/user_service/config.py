from typing import Self

import httpx
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.http import make_timeout
from shared.settings import ServiceSettings

MIN_INTERNAL_TOKEN_BYTES = 32
_PLACEHOLDERS = {"changeme", "change-me", "secret", "please-change", "placeholder"}


class UserSettings(ServiceSettings):
    """Environment variables start with USER_ (USER_DATABASE_URL, ...).

    The exception is `INTERNAL_API_TOKEN`, shared by every service on purpose: it is the
    credential the user service shows to auth-service's internal endpoint.
    """

    model_config = SettingsConfigDict(env_prefix="USER_", extra="ignore")

    service_name: str = "user"
    catalog_url: str = "http://127.0.0.1:8001"
    auth_url: str = "http://127.0.0.1:8002"
    # Another service that does not connect within a second is down for our purposes.
    http_connect_timeout: float = Field(default=1.0, gt=0)
    http_read_timeout: float = Field(default=3.0, gt=0)
    genre_cache_ttl_seconds: float = Field(default=60.0, ge=0)
    internal_api_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("INTERNAL_API_TOKEN", "internal_api_token")
    )

    @model_validator(mode="after")
    def _internal_token_in_production(self) -> Self:
        if not self.is_production:
            return self
        token = self.internal_api_token.get_secret_value() if self.internal_api_token else ""
        if token.strip().lower() in _PLACEHOLDERS or len(token.encode()) < MIN_INTERNAL_TOKEN_BYTES:
            raise ValueError(
                f"INTERNAL_API_TOKEN must be a random secret of at least "
                f"{MIN_INTERNAL_TOKEN_BYTES} bytes in production."
            )
        return self

    @property
    def http_timeout(self) -> httpx.Timeout:
        return make_timeout(connect=self.http_connect_timeout, read=self.http_read_timeout)
