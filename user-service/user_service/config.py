from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class UserSettings(ServiceSettings):
    """Environment variables start with USER_ (USER_DATABASE_URL, ...)."""

    model_config = SettingsConfigDict(env_prefix="USER_", extra="ignore")

    service_name: str = "user"
