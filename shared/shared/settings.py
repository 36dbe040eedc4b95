"""The settings every service shares; each service subclasses with its own prefix.

    class CatalogSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="CATALOG_")
        service_name: str = "catalog"

`CATALOG_DATABASE_URL` then configures the catalog's database, `AUTH_DATABASE_URL`
the auth service's, and so on: one settings class per service, never one for all.
"""

from pathlib import Path
from typing import Literal, Self

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    environment: Literal["development", "production", "test"] = "development"
    # Folder for the embedded SQLite database when no URL is given.
    data_dir: Path = Path("var")
    # SQLAlchemy URL: sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db.
    database_url: str = ""
    database_echo: bool = False
    # PostgreSQL: the connections each of the two pools (reads, writes) keeps, and may
    # open as many again under load.
    database_pool_size: int = 10
    # SQLite only: reads run in the event loop's thread (shared/db/readers.py,
    # `SqliteReader`); false reads through aiosqlite's worker thread like the writes.
    database_sqlite_inline: bool = True
    # Bring the database to the newest schema (and seed an empty catalog) before serving.
    # The local run sets it where a database needs it; compose runs migrate jobs instead.
    prepare_on_start: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _default_database(self) -> Self:
        if not self.database_url:
            path = (self.data_dir / f"{self.service_name}.db").resolve()
            self.database_url = f"sqlite+aiosqlite:///{path}"
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"
