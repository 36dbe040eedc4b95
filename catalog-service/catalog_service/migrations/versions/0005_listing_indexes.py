"""Indexes for the `sort` orders of the movie list.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = {"rating": "rating", "year": "year", "title": "search_title"}


def upgrade() -> None:
    for name, column in _COLUMNS.items():
        op.create_index(f"ix_movies_{name}_id", "movies", [column, "id"])
        op.create_index(f"ix_movies_{name}_desc_id", "movies", [sa.text(f"{column} DESC"), "id"])


def downgrade() -> None:
    for name in _COLUMNS:
        op.drop_index(f"ix_movies_{name}_desc_id", table_name="movies")
        op.drop_index(f"ix_movies_{name}_id", table_name="movies")
