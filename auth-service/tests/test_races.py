"""Races on a real database with real commits and concurrent sessions (no overrides)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects.sqlite import pysqlite

from auth_service import repository
from auth_service.main import purge_periodically
from auth_service.models import RefreshToken, User
from auth_service.tokens import purge_expired
from shared.sqlite_inline import DirectStatement
from tests.conftest import PASSWORD, asgi_client, login, register

CONCURRENCY = 10


async def test_simultaneous_registrations_with_one_email_make_one_account(committed_app) -> None:
    async with asgi_client(committed_app) as client:
        emails = ["  Race@X.io" if i % 2 else "race@x.io" for i in range(CONCURRENCY)]
        responses = await asyncio.gather(
            *(
                client.post("/auth/register/", json={"email": email, "password": PASSWORD})
                for email in emails
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CONCURRENCY - 1), [r.text for r in responses]
    assert all(r.json()["code"] == "email_taken" for r in responses if r.status_code == 409)
    database = committed_app.state.database
    async with database.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 1


async def test_of_simultaneous_refreshes_with_one_token_exactly_one_wins(committed_app) -> None:
    async with asgi_client(committed_app) as client:
        await register(client, "rotate@x.io")
        pair = await login(client, "rotate@x.io")
        responses = await asyncio.gather(
            *(
                client.put("/auth/login/", json={"refresh_token": pair["refresh_token"]})
                for _ in range(CONCURRENCY)
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [401] * (CONCURRENCY - 1), [r.text for r in responses]
        # The losers presented a retired token: a replay, so the family is revoked and
        # the winner's new token stops working too.
        winner = next(r.json() for r in responses if r.status_code == 200)
        again = await client.put("/auth/login/", json={"refresh_token": winner["refresh_token"]})
        assert again.status_code == 401
    database = committed_app.state.database
    async with database.sessionmaker() as session:
        rows = (await session.execute(select(RefreshToken))).scalars().all()
    assert len(rows) == 2
    assert sum(row.used_at is not None for row in rows) == 1
    assert all(row.revoked_at is not None for row in rows)


async def test_a_replay_committed_its_revocation(committed_app) -> None:
    """The 401 rolls the request back, yet the family's revocation stays."""
    async with asgi_client(committed_app) as client:
        await register(client, "replay@x.io")
        pair = await login(client, "replay@x.io")
        newer = (await client.put("/auth/login/", json=pair)).json()
        assert (await client.put("/auth/login/", json=pair)).status_code == 401
    database = committed_app.state.database
    async with database.sessionmaker() as session:
        revoked = await session.execute(
            select(RefreshToken.revoked_at).where(RefreshToken.user_id == 1)
        )
        assert all(value is not None for value in revoked.scalars())
    async with asgi_client(committed_app) as client:
        response = await client.put("/auth/login/", json={"refresh_token": newer["refresh_token"]})
        assert response.status_code == 401


async def add_tokens(database, user_id: int) -> None:
    now = datetime.now(UTC)
    async with database.sessionmaker() as session, session.begin():
        for jti, expires_at in (
            ("old", now - timedelta(seconds=5)),
            ("live", now + timedelta(days=1)),
        ):
            await repository.add_refresh_token(
                session, jti=jti, family_id="f", user_id=user_id, expires_at=expires_at
            )


async def jtis(database) -> list[str]:
    async with database.sessionmaker() as session:
        return list((await session.execute(select(RefreshToken.jti))).scalars())


async def test_expired_rows_are_purged(committed_app) -> None:
    database = committed_app.state.database
    async with asgi_client(committed_app) as client:
        user_id = await register(client, "purge@x.io")
    await add_tokens(database, user_id)
    assert await purge_expired(database) == 1
    assert await jtis(database) == ["live"]
    assert await purge_expired(database) == 0


class StopLoop(Exception):
    pass


async def test_the_purge_runs_on_a_schedule(committed_app) -> None:
    database = committed_app.state.database
    async with asgi_client(committed_app) as client:
        user_id = await register(client, "sched@x.io")
    await add_tokens(database, user_id)
    intervals: list[float] = []

    async def sleep(interval: float) -> None:
        intervals.append(interval)
        if len(intervals) == 2:
            raise StopLoop

    with pytest.raises(StopLoop):
        await purge_periodically(database, 3600, sleep=sleep)
    assert intervals == [3600, 3600]
    assert await jtis(database) == ["live"]


async def test_the_lifespan_starts_and_stops_the_purge(committed_app) -> None:
    async with committed_app.router.lifespan_context(committed_app):
        task = committed_app.state.purge_task
        assert task.get_name() == "purge-refresh-tokens"
        assert not task.done()
    assert task.cancelled()


async def test_simultaneous_logins_each_record_a_token(committed_app) -> None:
    """The login reads through the service's own reader and writes only its token."""
    async with asgi_client(committed_app) as client:
        await register(client, "many@x.io")
        pairs = await asyncio.gather(*(login(client, "many@x.io") for _ in range(CONCURRENCY)))
        wrong = await client.post("/auth/login/", json={"email": "many@x.io", "password": "no"})
    assert wrong.status_code == 401
    database = committed_app.state.database
    async with database.sessionmaker() as session:
        rows = (await session.execute(select(RefreshToken))).scalars().all()
    assert len({pair["refresh_token"] for pair in pairs}) == len(rows) == CONCURRENCY
    assert all(row.issued_at is not None and row.used_at is None for row in rows)


def test_the_credentials_read_runs_on_the_driver() -> None:
    """It would still work the ordinary way; this guards its speed (bench/)."""
    statement = repository._CREDENTIALS_BY_EMAIL
    assert DirectStatement.of(statement, pysqlite.dialect()) is not None
