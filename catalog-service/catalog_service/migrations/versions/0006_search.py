"""The search index (see catalog_service.search), built for the movies already there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from catalog_service import search

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    schema = search.SQLITE_SCHEMA if bind.dialect.name == "sqlite" else search.POSTGRESQL_SCHEMA
    for statement in schema:
        op.execute(statement)
    search.refresh_sync(bind)  # the importer keeps it up to date from now on


def downgrade() -> None:
    for table in search.DROP:
        op.execute(f"DROP TABLE IF EXISTS {table}")
