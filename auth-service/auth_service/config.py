from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    """Environment variables start with AUTH_ (AUTH_DATABASE_URL, ...)."""

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    service_name: str = "auth"
