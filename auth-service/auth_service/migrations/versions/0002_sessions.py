"""Sessions and credential versions.

Each account gets a credential version (1 for every existing account). Refresh-token
families become sessions: each existing family is one session of version 1, begun when
its first token was issued, last used when its newest was, revoked if its tokens were,
ending 90 days after it began (AUTH_SESSION_MAX_AGE_SECONDS' default), its client
address and user agent unknown. Their refresh tokens keep working. Downgrading turns
sessions back into families; a session that had ended is then a revoked family.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MIGRATED_SESSION_MAX_AGE = timedelta(days=90)

_tokens = sa.table(
    "refresh_tokens",
    sa.column("family_id", sa.String()),
    sa.column("user_id", sa.Integer()),
    sa.column("issued_at", sa.DateTime(timezone=True)),
    sa.column("revoked_at", sa.DateTime(timezone=True)),
)
_sessions = sa.table(
    "sessions",
    sa.column("id", sa.String()),
    sa.column("user_id", sa.Integer()),
    sa.column("credential_version", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("last_used_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("revoked_at", sa.DateTime(timezone=True)),
)
_users = sa.table(
    "users", sa.column("id", sa.Integer()), sa.column("credential_version", sa.Integer())
)


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("credential_version", sa.Integer(), server_default="1", nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sessions_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_index("ix_sessions_revoked_at", "sessions", ["revoked_at"])
    _families_to_sessions()
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_index("ix_refresh_tokens_family_id")
        batch.alter_column("family_id", new_column_name="session_id")
        batch.drop_column("revoked_at")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.create_index("ix_refresh_tokens_session_id", ["session_id"])
        batch.create_foreign_key(
            "fk_refresh_tokens_session_id_sessions",
            "sessions",
            ["session_id"],
            ["id"],
            ondelete="CASCADE",
        )


def _families_to_sessions() -> None:
    families = op.get_bind().execute(
        sa.select(
            _tokens.c.family_id,
            sa.func.min(_tokens.c.user_id),
            sa.func.min(_tokens.c.issued_at),
            sa.func.max(_tokens.c.issued_at),
            sa.func.max(_tokens.c.revoked_at),
        ).group_by(_tokens.c.family_id)
    )
    rows = [
        {
            "id": family_id,
            "user_id": user_id,
            "credential_version": 1,
            "created_at": first,
            "last_used_at": last,
            "expires_at": first + MIGRATED_SESSION_MAX_AGE,
            "revoked_at": revoked,
        }
        for family_id, user_id, first, last, revoked in families
    ]
    if rows:
        op.bulk_insert(_sessions, rows)


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_constraint("fk_refresh_tokens_session_id_sessions", type_="foreignkey")
        batch.drop_index("ix_refresh_tokens_session_id")
        batch.alter_column("session_id", new_column_name="family_id")
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.create_index("ix_refresh_tokens_family_id", ["family_id"])
    now = datetime.now(UTC)
    current_version = (
        sa.select(_users.c.credential_version)
        .where(_users.c.id == _sessions.c.user_id)
        .scalar_subquery()
    )
    ended = sa.select(_sessions.c.id).where(
        sa.or_(
            _sessions.c.revoked_at.is_not(None),
            _sessions.c.expires_at <= now,
            _sessions.c.credential_version != current_version,
        )
    )
    op.get_bind().execute(
        sa.update(_tokens).where(_tokens.c.family_id.in_(ended)).values(revoked_at=now)
    )
    op.drop_table("sessions")
    # In place (SQLite 3.35+ drops columns): copying `users` would drop the old table,
    # and with foreign keys on, that deletes every refresh token by cascade.
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("credential_version")
