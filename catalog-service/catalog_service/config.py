from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    """Environment variables start with CATALOG_ (CATALOG_DATABASE_URL, ...).

    The answer cache (catalog_service/cache.py): CATALOG_CACHE_ENABLED [true];
    CATALOG_CACHE_MAX_ENTRIES [2048] answers at most; CATALOG_CACHE_MAX_BYTES [67108864,
    64 MiB] in all, the least recently used dropped first; CATALOG_CACHE_MAX_BODY_BYTES
    [1048576] the largest answer kept; CATALOG_CACHE_CHECK_INTERVAL_SECONDS [1.0] how
    stale an answer may be after an import.
    """

    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore")

    service_name: str = "catalog"

    # Serialized answers kept in memory (catalog_service/cache.py).
    cache_enabled: bool = True
    cache_max_entries: int = Field(default=2048, ge=1)
    cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    cache_max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    # How stale an answer may be after an import, in seconds.
    cache_check_interval_seconds: float = Field(default=1.0, ge=0)
