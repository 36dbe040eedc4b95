from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    """Environment variables start with CATALOG_ (CATALOG_DATABASE_URL, ...)."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore")

    service_name: str = "catalog"
