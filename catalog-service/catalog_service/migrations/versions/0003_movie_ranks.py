"""Positions of each movie in the two list orders, for pages at any depth.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_movies_store_rank": ["store_rank"],
    "ix_movies_new_rank": ["new_rank"],
    "ix_movies_genre_store": ["genre_id", "store_rank"],
    "ix_movies_genre_new": ["genre_id", "new_rank"],
    "ix_movies_director_store": ["director_id", "store_rank"],
    "ix_movies_director_new": ["director_id", "new_rank"],
    "ix_movies_year_store": ["year", "store_rank"],
}


def upgrade() -> None:
    with op.batch_alter_table("movies") as batch:
        batch.add_column(sa.Column("store_rank", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("new_rank", sa.Integer(), server_default="0", nullable=False))
    # Rank what is already there (the importer keeps the ranks from now on).
    op.execute(
        """
        UPDATE movies SET store_rank = ranked.store, new_rank = ranked.new
        FROM (
            SELECT id,
                   ROW_NUMBER() OVER (ORDER BY id) AS store,
                   ROW_NUMBER() OVER (ORDER BY year DESC, id DESC) AS new
            FROM movies
        ) AS ranked
        WHERE movies.id = ranked.id
        """
    )
    for name in ("ix_movies_genre_id", "ix_movies_director_id", "ix_movies_year_id"):
        op.drop_index(name, table_name="movies")
    for name, columns in _INDEXES.items():
        op.create_index(name, "movies", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="movies")
    op.create_index("ix_movies_genre_id", "movies", ["genre_id"])
    op.create_index("ix_movies_director_id", "movies", ["director_id"])
    op.create_index("ix_movies_year_id", "movies", ["year", "id"])
    with op.batch_alter_table("movies") as batch:
        batch.drop_column("new_rank")
        batch.drop_column("store_rank")
