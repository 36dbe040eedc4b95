"""The search index rebuilt in rating order, with whole titles (see catalog_service.search).

Its rows are now numbered by rating, so that the matches of a tier come from the index in
the order they are listed, and a title's words glued into one token find it whole. The
index holds nothing that the movies do not: it is dropped and built again from them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from catalog_service import search

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    for table in search.DROP:
        op.execute(f"DROP TABLE IF EXISTS {table}")
    schema = search.SQLITE_SCHEMA if bind.dialect.name == "sqlite" else search.POSTGRESQL_SCHEMA
    for statement in schema:
        op.execute(statement)
    search.refresh_sync(bind)


def downgrade() -> None:
    # The older layout is built by the older release's own revision 0006, from its own
    # search module: going back past this revision drops the index, and the way back to a
    # working search is down to 0005 and up to 0007 with that release.
    for table in search.DROP:
        op.execute(f"DROP TABLE IF EXISTS {table}")
