"""Each movie's title in its original language (null where unknown).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, so existing rows need no value: the next import fills them in.
    with op.batch_alter_table("movies") as batch:
        batch.add_column(sa.Column("original_title", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("movies") as batch:
        batch.drop_column("original_title")
