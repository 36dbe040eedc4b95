"""Positions of each movie in the single-key sorts, for deep sorted pages.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The orders as they are at this revision (models.POSITION_ORDERS): a column and its
# direction, then id ascending.
_ORDERS = {
    "rating": ("rating", False),
    "-rating": ("rating", True),
    "year": ("year", False),
    "-year": ("year", True),
    "title": ("search_title", False),
    "-title": ("search_title", True),
}
_MOVIES = sa.table(
    "movies", sa.column("id"), sa.column("rating"), sa.column("year"), sa.column("search_title")
)
_POSITIONS = sa.table(
    "movie_positions", sa.column("sort_order"), sa.column("position"), sa.column("movie_id")
)


def upgrade() -> None:
    op.create_table(
        "movie_positions",
        sa.Column("sort_order", sa.String(10), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sort_order", "position"),
        sqlite_with_rowid=False,
    )
    # Position what is already there (the importer keeps the positions from now on).
    for name, (column, descending) in _ORDERS.items():
        key = _MOVIES.c[column].desc() if descending else _MOVIES.c[column]
        position = sa.func.row_number().over(order_by=[key, _MOVIES.c.id])
        ranked = sa.select(sa.literal(name, sa.String), position, _MOVIES.c.id)
        op.execute(_POSITIONS.insert().from_select(list(_POSITIONS.c), ranked))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE movie_positions")  # planned right from the first page


def downgrade() -> None:
    op.drop_table("movie_positions")
