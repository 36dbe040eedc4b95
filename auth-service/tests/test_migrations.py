import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from alembic import command

from auth_service import MIGRATIONS, cli
from auth_service import cli as auth_cli
from auth_service.config import AuthSettings
from auth_service.main import create_app
from auth_service.models import UserSession, metadata
from shared.db import create_engine
from shared.jwt import JwtSettings, TokenType
from shared.migrations import alembic_config, upgrade
from testkit.database import schema_drift, temporary_database
from tests.conftest import INTERNAL_TOKEN, auth_settings, jwt_parts


async def test_migrations_match_the_models() -> None:
    assert await schema_drift(auth_cli.migrate, metadata) == []


async def test_migrate_command(tmp_path, capsys) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    assert await asyncio.to_thread(cli.main, ["--database-url", url, "migrate"]) == 0
    assert capsys.readouterr().out.startswith("auth: schema upgraded from empty to ")
    assert await asyncio.to_thread(cli.main, ["--database-url", url, "migrate"]) == 0
    assert capsys.readouterr().out.startswith("auth: schema up to date (revision ")


async def test_the_service_migrates_its_empty_database_when_asked(
    tmp_path, jwt_settings: JwtSettings
) -> None:
    settings = AuthSettings(data_dir=tmp_path, environment="test", prepare_on_start=True)
    app = create_app(settings, jwt_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as client:
            response = await client.post(
                "/auth/register/", json={"email": "first@example.com", "password": "a" * 12}
            )
    assert response.status_code == 201
    assert response.json()["email"] == "first@example.com"


_users = sa.table(
    "users",
    sa.column("id", sa.Integer()),
    sa.column("email", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_tokens = sa.table(
    "refresh_tokens",
    sa.column("jti", sa.String()),
    sa.column("family_id", sa.String()),
    sa.column("user_id", sa.Integer()),
    sa.column("issued_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("used_at", sa.DateTime(timezone=True)),
    sa.column("revoked_at", sa.DateTime(timezone=True)),
)


async def test_families_become_sessions_whose_tokens_keep_working(jwt_settings) -> None:
    """0002 on a database with data: each family is a session, a live token refreshes
    into it, a revoked family stays revoked; the downgrade turns sessions back into
    families."""
    async with temporary_database("auth_upgrade") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url, "0001")
        app = create_app(auth_settings(url), jwt_settings)
        codec = app.state.tokens.codec
        now = datetime.now(UTC)
        later = now + timedelta(days=1)
        issued = {
            name: codec.issue(subject="1", email="old@x.io", token_type=TokenType.REFRESH)
            for name in ("used", "live", "revoked")
        }
        async with app.state.database.engine.begin() as connection:
            await connection.execute(
                sa.insert(_users).values(id=1, email="old@x.io", password_hash="h", created_at=now)
            )
            for name, family, used, revoked in (
                ("used", "fam1", now, None),
                ("live", "fam1", None, None),
                ("revoked", "fam2", None, now),
            ):
                await connection.execute(
                    sa.insert(_tokens).values(
                        jti=issued[name].jti,
                        family_id=family,
                        user_id=1,
                        issued_at=now - timedelta(hours=1 if name == "used" else 0),
                        expires_at=later,
                        used_at=used,
                        revoked_at=revoked,
                    )
                )
        await asyncio.to_thread(upgrade, MIGRATIONS, url)
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://auth.test"
            ) as client:
                response = await client.put(
                    "/auth/login/", json={"refresh_token": issued["live"].token}
                )
                assert response.status_code == 200, response.text
                assert jwt_parts(response.json()["access_token"])[1]["sid"] == "fam1"
                response = await client.put(
                    "/auth/login/", json={"refresh_token": issued["revoked"].token}
                )
                assert response.status_code == 401
                listed = await client.get(
                    "/internal/users/1/sessions", headers={"X-Internal-Token": INTERNAL_TOKEN}
                )
            (session,) = listed.json()
            assert session["id"] == "fam1"
            assert session["client_address"] is None
            async with app.state.database.sessionmaker() as db:
                row = await db.get(UserSession, "fam1")
                assert row is not None
                assert row.credential_version == 1
                assert row.expires_at - row.created_at == timedelta(days=90)
        finally:
            await app.state.database.dispose()
        await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, url), "0001")
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        sa.select(_tokens.c.family_id, _tokens.c.revoked_at.is_not(None)).order_by(
                            _tokens.c.issued_at
                        )
                    )
                ).all()
        finally:
            await engine.dispose()
        # fam1 is live (its newest token included), fam2 revoked.
        assert sorted(rows) == [("fam1", False)] * 3 + [("fam2", True)]
