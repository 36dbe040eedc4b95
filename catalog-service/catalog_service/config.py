from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    """Environment variables start with CATALOG_ (CATALOG_DATABASE_URL, ...)."""

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore")

    service_name: str = "catalog"

    # Serialized answers kept in memory (catalog_service/cache.py).
    cache_enabled: bool = True
    cache_max_entries: int = Field(default=2048, ge=1)
    cache_max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    # How stale an answer may be after an import, in seconds.
    cache_check_interval_seconds: float = Field(default=1.0, ge=0)
