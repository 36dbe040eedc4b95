"""Races on a real database with real commits and concurrent sessions (no overrides)."""

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.dialects.sqlite import pysqlite

from auth_service import cli as auth_cli
from auth_service import repository
from auth_service.main import create_app, purge_periodically
from auth_service.models import RefreshToken, User, UserSession
from auth_service.tokens import purge_expired
from shared.db import DirectStatement
from shared.jwt import JwtSettings
from testkit.database import SessionReader, migrated_database
from tests.conftest import (
    INTERNAL_TOKEN,
    PASSWORD,
    asgi_client,
    auth_settings,
    login,
    register,
)

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
        sessions = (await session.execute(select(UserSession))).scalars().all()
    assert len(rows) == 2
    assert sum(row.used_at is not None for row in rows) == 1
    assert len(sessions) == 1
    assert sessions[0].revoked_at is not None


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
            select(UserSession.revoked_at).where(UserSession.user_id == 1)
        )
        assert [value is not None for value in revoked.scalars()] == [True]
    async with asgi_client(committed_app) as client:
        response = await client.put("/auth/login/", json={"refresh_token": newer["refresh_token"]})
        assert response.status_code == 401


async def add_session(
    database, user_id: int, session_id: str, *, version: int = 1, expires_in: timedelta
) -> None:
    now = datetime.now(UTC)
    async with database.sessionmaker() as session, session.begin():
        assert await repository.open_session(
            session,
            session_id=session_id,
            user_id=user_id,
            credential_version=version,
            now=now,
            expires_at=now + expires_in,
            client_address=None,
            user_agent=None,
        )


async def add_token(database, user_id: int, session_id: str, jti: str, expires_in: timedelta):
    async with database.sessionmaker() as session, session.begin():
        await repository.add_refresh_token(
            session,
            jti=jti,
            session_id=session_id,
            user_id=user_id,
            expires_at=datetime.now(UTC) + expires_in,
        )


async def add_tokens(database, user_id: int) -> None:
    """A live session with an expired token ("old") and a live one ("live")."""
    await add_session(database, user_id, "s", expires_in=timedelta(days=1))
    await add_token(database, user_id, "s", "old", -timedelta(seconds=5))
    await add_token(database, user_id, "s", "live", timedelta(days=1))


async def jtis(database) -> list[str]:
    async with database.sessionmaker() as session:
        return sorted((await session.execute(select(RefreshToken.jti))).scalars())


async def session_ids(database) -> list[str]:
    async with database.sessionmaker() as session:
        return sorted((await session.execute(select(UserSession.id))).scalars())


async def test_expired_rows_are_purged(committed_app) -> None:
    database = committed_app.state.database
    async with asgi_client(committed_app) as client:
        user_id = await register(client, "purge@x.io")
    await add_tokens(database, user_id)
    assert await purge_expired(database, 100) == 1
    assert await jtis(database) == ["live"]
    assert await purge_expired(database, 100) == 0


async def test_ended_sessions_are_purged_with_their_tokens(committed_app) -> None:
    database = committed_app.state.database
    async with asgi_client(committed_app) as client:
        user_id = await register(client, "ended@x.io")
    day = timedelta(days=1)
    await add_session(database, user_id, "live", expires_in=day)
    await add_session(database, user_id, "aged", expires_in=-timedelta(seconds=1))
    await add_session(database, user_id, "ended", expires_in=day)
    for session_id in ("live", "aged", "ended"):
        await add_token(database, user_id, session_id, f"t-{session_id}", day)
    async with database.sessionmaker() as session, session.begin():
        assert await repository.end_session(session, user_id, "ended", datetime.now(UTC))
        # A password change: the version moves on, and a session it missed is stale.
        await session.execute(update(User).where(User.id == user_id).values(credential_version=2))
    await add_session(database, user_id, "current", version=2, expires_in=day)
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            update(UserSession).where(UserSession.id == "live").values(revoked_at=None)
        )
    assert await purge_expired(database, 100) == 3  # aged, ended, live (now stale)
    assert await session_ids(database) == ["current"]
    assert await jtis(database) == []


async def test_the_purge_works_in_bounded_batches(committed_app) -> None:
    database = committed_app.state.database
    async with asgi_client(committed_app) as client:
        user_id = await register(client, "batches@x.io")
    await add_session(database, user_id, "s", expires_in=timedelta(days=1))
    for number in range(5):
        await add_token(database, user_id, "s", f"old-{number}", -timedelta(seconds=1))
    async with database.sessionmaker() as session, session.begin():
        assert await repository.purge_expired_tokens(session, datetime.now(UTC), 2) == 2
    assert len(await jtis(database)) == 3
    assert await purge_expired(database, 2) == 3  # two transactions of 2, then 1
    assert await jtis(database) == []


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
        await purge_periodically(database, 3600, batch_size=10, sleep=sleep)
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
    """It would still work the ordinary way; this guards its speed (shared/db/readers.py)."""
    statement = repository._CREDENTIALS_BY_EMAIL
    assert DirectStatement.of(statement, pysqlite.dialect()) is not None


# --- A password change against logins and refreshes in flight -------------------------

ROUNDS = 20
LOGIN_WORKERS = 4
REFRESH_WORKERS = 3
CHANGE_HEADERS = {"X-Internal-Token": INTERNAL_TOKEN}


@pytest.fixture
async def roomy_app(jwt_settings: JwtSettings) -> AsyncIterator[FastAPI]:
    """`committed_app` whose accounts may keep many sessions: the oldest are not ended
    while the race below makes new ones."""
    async with migrated_database("auth_race", auth_cli.migrate) as url:
        application = create_app(auth_settings(url, max_sessions_per_account=100_000), jwt_settings)
        yield application
        await application.state.database.dispose()


async def race_one_change(app: FastAPI, round_number: int) -> int:
    """Workers log in with the password (each from its own address) or refresh their
    session, over and over, while the password changes; each stops at its first refusal
    or once the change has answered. How many pairs the workers were given.

    Once the change has answered, no session any worker holds may refresh: neither those
    begun or refreshed before the change, nor those whose login read the old hash before
    the change and finished after it.
    """
    email, new_password = f"round{round_number}@x.io", f"new password of round {round_number}"

    def client_for(worker: int) -> httpx.AsyncClient:
        return asgi_client(app, (f"10.{round_number}.{worker}.1", 40000))

    async with client_for(250) as client:
        user_id = await register(client, email)
        pairs = [await login(client, email) for _ in range(REFRESH_WORKERS)]
    heads: list[dict[str, Any]] = []  # the newest unused pair of every session
    running, changed = asyncio.Event(), asyncio.Event()
    started = issued = 0

    def one_more_start() -> None:
        nonlocal started
        started += 1
        if started == LOGIN_WORKERS + REFRESH_WORKERS:
            running.set()

    async def log_in_until_refused(worker: int) -> None:
        nonlocal issued
        async with client_for(worker) as client:
            for attempt in itertools.count():
                response = await client.post(
                    "/auth/login/", json={"email": email, "password": PASSWORD}
                )
                if attempt == 0:
                    one_more_start()
                if response.status_code != 200:
                    assert response.status_code == 401, response.text
                    return
                heads.append(response.json())
                issued += 1
                if changed.is_set():
                    return

    async def refresh_until_refused(pair: dict[str, Any]) -> None:
        nonlocal issued
        async with client_for(100) as client:
            for attempt in itertools.count():
                response = await client.put(
                    "/auth/login/", json={"refresh_token": pair["refresh_token"]}
                )
                if attempt == 0:
                    one_more_start()
                if response.status_code != 200:
                    assert response.status_code == 401, response.text
                    return
                pair = response.json()
                issued += 1
                if changed.is_set():
                    heads.append(pair)
                    return

    async def change_once_all_run() -> httpx.Response:
        await running.wait()
        async with client_for(200) as client:
            response = await client.put(
                f"/internal/users/{user_id}/password",
                json={"current_password": PASSWORD, "new_password": new_password},
                headers=CHANGE_HEADERS,
            )
        changed.set()
        return response

    change, *_ = await asyncio.gather(
        change_once_all_run(),
        *(log_in_until_refused(worker) for worker in range(LOGIN_WORKERS)),
        *(refresh_until_refused(pair) for pair in pairs),
    )
    assert isinstance(change, httpx.Response)  # the others return None
    assert change.status_code == 204, change.text
    async with client_for(201) as client:
        survivors = [
            pair
            for pair in heads
            if (
                await client.put("/auth/login/", json={"refresh_token": pair["refresh_token"]})
            ).status_code
            != 401
        ]
        assert not survivors, f"round {round_number}: {len(survivors)} of {len(heads)} live"
        # The new password works, and its session refreshes: the refusals above were not
        # a broken refresh.
        fresh = await login(client, email, new_password)
        response = await client.put("/auth/login/", json={"refresh_token": fresh["refresh_token"]})
        assert response.status_code == 200, response.text
    return issued


async def test_a_password_change_cuts_off_every_session_even_those_being_made(
    roomy_app: FastAPI,
) -> None:
    issued = [await race_one_change(roomy_app, number) for number in range(ROUNDS)]
    assert sum(issued) > 0


@pytest.fixture
async def strict_app(jwt_settings: JwtSettings) -> AsyncIterator[FastAPI]:
    """`committed_app` whose accounts keep at most 3 sessions."""
    async with migrated_database("auth_race", auth_cli.migrate) as url:
        application = create_app(auth_settings(url, max_sessions_per_account=3), jwt_settings)
        yield application
        await application.state.database.dispose()


async def test_simultaneous_logins_keep_to_the_session_limit(strict_app: FastAPI) -> None:
    """Logins of one account are serialized on its row: however they interleave, the
    account ends with exactly its 3 newest sessions live."""
    async with asgi_client(strict_app) as client:
        user_id = await register(client, "limit@x.io")
        pairs = await asyncio.gather(*(login(client, "limit@x.io") for _ in range(CONCURRENCY)))
        refreshed = [
            (await client.put("/auth/login/", json={"refresh_token": pair["refresh_token"]}))
            for pair in pairs
        ]
    assert sorted(response.status_code for response in refreshed) == [200] * 3 + [401] * 7
    database = strict_app.state.database
    async with database.sessionmaker() as session:
        live = await repository.list_sessions(SessionReader(session), user_id, datetime.now(UTC))
    assert len(live) == 3
