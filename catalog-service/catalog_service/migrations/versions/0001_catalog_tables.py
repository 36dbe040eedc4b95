"""Genres, directors and movies.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "genres",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_genres"),
    )
    op.create_table(
        "directors",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_directors"),
    )
    op.create_table(
        "movies",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("search_title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("trailer", sa.String(length=500), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=False),
        sa.Column("genre_id", sa.Integer(), nullable=False),
        sa.Column("director_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["genre_id"], ["genres.id"], name="fk_movies_genre_id_genres"),
        sa.ForeignKeyConstraint(
            ["director_id"], ["directors.id"], name="fk_movies_director_id_directors"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_movies"),
    )
    op.create_index("ix_movies_genre_id", "movies", ["genre_id"])
    op.create_index("ix_movies_director_id", "movies", ["director_id"])
    op.create_index("ix_movies_year_id", "movies", ["year", "id"])


def downgrade() -> None:
    op.drop_table("movies")
    op.drop_table("directors")
    op.drop_table("genres")
