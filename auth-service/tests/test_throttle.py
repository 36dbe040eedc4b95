"""Login throttling per (email, address), per email (known addresses exempt) and per
address, in memory and in Redis. The limits are the defaults: 10, 50 and 100 failures in
15 minutes; an address is known to an email for 30 days after a login from it."""

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from auth_service.main import create_app
from auth_service.passwords import HashQueueFull, Passwords
from auth_service.throttle import (
    FailureLog,
    LoginThrottle,
    MemoryFailureLog,
    RedisFailureLog,
    address_key,
    pair_key,
)
from shared.errors import RateLimited
from tests.conftest import (
    CLOCK_START as START,
)
from tests.conftest import (
    PASSWORD,
    Clock,
    asgi_client,
    assert_rate_limited,
    auth_settings,
    fresh_throttle,
    register,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
WINDOW = 900
DAY = 24 * 3600

VICTIM_HOME = "198.51.100.10"
ATTACKER = "203.0.113.66"


async def fail(
    client: httpx.AsyncClient, email: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        "/auth/login/", json={"email": email, "password": "wrong password"}, headers=headers
    )


async def right(
    client: httpx.AsyncClient, email: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        "/auth/login/", json={"email": email, "password": PASSWORD}, headers=headers
    )


def assert_logged_in(response) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


@asynccontextmanager
async def clients(
    make_client: Callable[[str], httpx.AsyncClient], addresses: list[str]
) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(make_client(a)) for a in addresses]


ATTACKERS = [f"203.0.113.{i}" for i in range(1, 6)]  # 5 x 10 failures fill the email's 50


async def fill_email_limit(make_client, email: str) -> None:
    async with clients(make_client, ATTACKERS) as attackers:
        for attacker in attackers:
            for _ in range(10):
                assert (await fail(attacker, email)).status_code == 401


# --- one address guessing one account --------------------------------------------------


async def test_ten_failures_from_one_address_then_429_for_that_address(app, make_client) -> None:
    async with make_client(ATTACKER) as attacker, make_client(VICTIM_HOME) as victim:
        await register(victim, "victim@x.io")
        for _ in range(10):
            assert (await fail(attacker, "victim@x.io")).status_code == 401
        assert_rate_limited(await fail(attacker, "victim@x.io"), WINDOW)
        # That address waits even with the right password: the lock is on the pair.
        assert_rate_limited(await right(attacker, "victim@x.io"), WINDOW)
        # Another email from the same address is not locked.
        await register(victim, "bystander@x.io")
        assert_logged_in(await right(attacker, "bystander@x.io"))


async def test_the_right_password_from_elsewhere_is_not_refused(app, make_client) -> None:
    """Failed before issue 14: ten failures from anywhere locked the email everywhere."""
    async with make_client(ATTACKER) as attacker, make_client(VICTIM_HOME) as victim:
        await register(victim, "target@x.io")
        for _ in range(10):
            await fail(attacker, "target@x.io")
        assert_rate_limited(await fail(attacker, "target@x.io"), WINDOW)
        # Never logged in before, so not even a known address: still let in.
        assert_logged_in(await right(victim, "target@x.io"))
        async with make_client("192.0.2.77") as elsewhere:  # a new device, too
            assert_logged_in(await right(elsewhere, "target@x.io"))


async def test_a_trickling_attacker_never_keeps_the_owner_out(app, make_client) -> None:
    """Failed before issue 14: ten failures every 15 minutes, timed by Retry-After, kept
    the email locked for good. Here they go on for a day and the owner is never refused."""
    clock = Clock()
    fresh_throttle(app, clock=clock)
    async with make_client(ATTACKER) as attacker, make_client(VICTIM_HOME) as victim:
        await register(victim, "trickled@x.io")
        for _ in range(16):  # four hours
            for _ in range(10):
                assert (await fail(attacker, "trickled@x.io")).status_code == 401
            wait = assert_rate_limited(await fail(attacker, "trickled@x.io"), WINDOW)
            assert_logged_in(await right(victim, "trickled@x.io"))
            clock.now += wait  # back exactly when the attacker may try again


async def test_many_addresses_can_close_an_email_to_new_addresses_only(app, make_client) -> None:
    """Five addresses, ten failures each, fill the email's loose limit (50): a new
    address waits, even with the right password; the owner's known address does not.
    Failed before issue 14: there were no known addresses."""
    clock = Clock()
    fresh_throttle(app, clock=clock)
    async with make_client(VICTIM_HOME) as home, make_client("192.0.2.200") as travel:
        await register(home, "owner@x.io")
        assert_logged_in(await right(home, "owner@x.io"))  # home is now a known address
        for _round in range(3):  # and again each window, as long as they like
            await fill_email_limit(make_client, "owner@x.io")
            assert assert_rate_limited(await right(travel, "owner@x.io"), WINDOW) == WINDOW
            assert_logged_in(await right(home, "owner@x.io"))
            clock.now += WINDOW


async def test_the_email_limit_counts_failures_from_all_unknown_addresses(app, make_client) -> None:
    async with clients(make_client, ATTACKERS) as attackers:
        for index, attacker in enumerate(attackers):
            for _ in range(10 if index < 4 else 9):
                assert (await fail(attacker, "spread@x.io")).status_code == 401
        assert (await fail(attackers[4], "Spread@X.io")).status_code == 401  # the 50th
    async with make_client("192.0.2.1") as sixth:
        assert_rate_limited(await fail(sixth, "spread@x.io"), WINDOW)
        assert_rate_limited(await fail(sixth, "SPREAD@x.io "), WINDOW)  # one email, any case


async def test_a_known_address_keeps_its_own_tight_limit(app, make_client) -> None:
    async with make_client(VICTIM_HOME) as home:
        await register(home, "typo@x.io")
        assert_logged_in(await right(home, "typo@x.io"))
        for _ in range(10):
            assert (await fail(home, "typo@x.io")).status_code == 401
        assert_rate_limited(await right(home, "typo@x.io"), WINDOW)


async def test_an_address_is_known_to_one_email_only(app, make_client) -> None:
    async with make_client(VICTIM_HOME) as home:
        await register(home, "first@x.io")
        await register(home, "second@x.io")
        assert_logged_in(await right(home, "first@x.io"))
        await fill_email_limit(make_client, "second@x.io")
        assert_rate_limited(await right(home, "second@x.io"), WINDOW)  # known to first@ only


async def test_a_known_address_is_forgotten_after_30_days(app, make_client) -> None:
    clock = Clock()
    fresh_throttle(app, clock=clock)
    async with make_client(VICTIM_HOME) as home:
        await register(home, "away@x.io")
        assert_logged_in(await right(home, "away@x.io"))
        clock.now += 30 * DAY - 1
        await fill_email_limit(make_client, "away@x.io")
        assert_logged_in(await right(home, "away@x.io"))  # known still: and again 30 days
        clock.now += 30 * DAY
        await fill_email_limit(make_client, "away@x.io")
        assert_rate_limited(await right(home, "away@x.io"), WINDOW)


async def test_only_the_ten_most_recent_addresses_are_known(app, make_client) -> None:
    clock = Clock()
    fresh_throttle(app, clock=clock)
    async with make_client("192.0.2.1") as first:
        await register(first, "roams@x.io")
    for i in range(11):  # eleven addresses, one login each, the first the oldest
        clock.now += 1
        async with make_client(f"192.0.2.{i + 1}") as device:
            assert_logged_in(await right(device, "roams@x.io"))
    await fill_email_limit(make_client, "roams@x.io")
    async with make_client("192.0.2.1") as oldest, make_client("192.0.2.2") as second:
        assert_rate_limited(await right(oldest, "roams@x.io"), WINDOW)
        assert_logged_in(await right(second, "roams@x.io"))


async def test_a_429_says_nothing_about_the_account(client) -> None:
    await register(client, "exists@x.io")
    known, unknown = [], []
    for _ in range(11):
        known.append(await fail(client, "exists@x.io"))
        unknown.append(await fail(client, "missing@x.io"))
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 10 + [429]
    assert known[-1].json() == unknown[-1].json()
    assert known[-1].headers["retry-after"] == unknown[-1].headers["retry-after"]


async def test_the_email_limit_says_nothing_about_the_account(app, make_client) -> None:
    fresh_throttle(app, clock=Clock())
    async with make_client(VICTIM_HOME) as home:
        await register(home, "real@x.io")
    answers = {}
    for email in ("real@x.io", "ghost@x.io"):
        await fill_email_limit(make_client, email)
        async with make_client("192.0.2.9") as sixth:
            answers[email] = await right(sixth, email)
    assert_rate_limited(answers["real@x.io"], WINDOW)
    assert answers["real@x.io"].json() == answers["ghost@x.io"].json()
    assert (
        answers["real@x.io"].headers["retry-after"] == answers["ghost@x.io"].headers["retry-after"]
    )


async def test_the_lock_lifts_when_the_window_slides(client, app) -> None:
    clock = Clock()
    fresh_throttle(app, clock=clock)
    await register(client, "slide@x.io")
    for minute in range(10):
        clock.now = START + minute * 60  # one failure a minute
        assert (await fail(client, "slide@x.io")).status_code == 401
    clock.now = START + 10 * 60
    # The oldest failure (t=0) leaves the window at t=900: 300 s from now.
    assert assert_rate_limited(await right(client, "slide@x.io"), WINDOW) == 300
    clock.now = START + 899
    assert assert_rate_limited(await right(client, "slide@x.io"), WINDOW) == 1
    clock.now = START + 900
    assert (await right(client, "slide@x.io")).status_code == 200


async def test_refused_attempts_do_not_prolong_the_lock(client, app) -> None:
    clock = Clock()
    fresh_throttle(app, clock=clock)
    await register(client, "patient@x.io")
    for _ in range(10):
        await fail(client, "patient@x.io")
    for step in range(1, 30):
        clock.now = START + step * 30
        retry_after = assert_rate_limited(await fail(client, "patient@x.io"), WINDOW)
        assert step * 30 + retry_after == 900  # the end of the lock never moves
    clock.now = START + 900
    assert (await right(client, "patient@x.io")).status_code == 200


async def test_retry_after_waits_for_every_full_limit(app, make_client) -> None:
    """A full address limit (free at t=900) and a full email limit (free at t=1200):
    Retry-After is the later of the two, and the attempt then goes through."""
    clock = Clock()
    fresh_throttle(app, clock=clock)
    async with make_client("192.0.2.3") as sprayer:
        for index in range(100):
            assert (await fail(sprayer, f"other{index}@x.io")).status_code == 401
        clock.now = START + 300
        await fill_email_limit(make_client, "both@x.io")
        clock.now = START + 400
        assert assert_rate_limited(await fail(sprayer, "both@x.io"), WINDOW) == 800
        clock.now = START + 900
        assert assert_rate_limited(await fail(sprayer, "both@x.io"), WINDOW) == 300
        clock.now = START + 1200
        assert (await fail(sprayer, "both@x.io")).status_code == 401


async def test_successful_logins_are_not_failures(client) -> None:
    await register(client, "often@x.io")
    for _ in range(25):
        assert (await right(client, "often@x.io")).status_code == 200


async def test_a_success_does_not_wipe_earlier_failures(client) -> None:
    await register(client, "mixed@x.io")
    for _ in range(9):
        await fail(client, "mixed@x.io")
    assert (await right(client, "mixed@x.io")).status_code == 200
    assert (await fail(client, "mixed@x.io")).status_code == 401  # the tenth failure
    assert_rate_limited(await fail(client, "mixed@x.io"), WINDOW)


async def test_the_email_counter_ignores_case(client) -> None:
    for index in range(10):
        email = "Case@X.io" if index % 2 else "case@x.io "
        assert (await fail(client, email)).status_code == 401
    assert_rate_limited(await fail(client, "CASE@x.io"), WINDOW)


async def test_a_full_hash_queue_is_503_and_no_failure(client, app, monkeypatch) -> None:
    await register(client, "busy@x.io")
    passwords: Passwords = app.state.passwords

    async def full(*_args: str) -> bool:
        raise HashQueueFull()

    monkeypatch.setattr(passwords, "verify", full)
    for email in ("busy@x.io", "nobody@x.io"):
        for _ in range(20):
            response = await fail(client, email)
            assert response.status_code == 503
            assert response.json()["code"] == "service_unavailable"
            assert response.headers["retry-after"] == "1"
    monkeypatch.undo()
    # None of the forty counted: ten failures still to go.
    for _ in range(9):
        assert (await fail(client, "busy@x.io")).status_code == 401
    assert_logged_in(await right(client, "busy@x.io"))


# --- one address trying many accounts ---------------------------------------------------


async def test_per_address_limit(app, make_client) -> None:
    fresh_throttle(app, login_max_failures_per_address=5)
    async with make_client("203.0.113.9") as attacker, make_client("198.51.100.1") as other:
        await register(other, "target@x.io")
        for index in range(5):
            assert (await fail(attacker, f"spray{index}@x.io")).status_code == 401
        # A new email from the same address is refused; the account is not locked.
        assert_rate_limited(await fail(attacker, "spray-new@x.io"), WINDOW)
        assert_rate_limited(await right(attacker, "target@x.io"), WINDOW)
        assert (await right(other, "target@x.io")).status_code == 200


async def test_ipv6_addresses_count_by_64(app, make_client) -> None:
    async with make_client("2001:db8:1:2::1") as one, make_client("2001:db8:1:2::ffff") as two:
        for _ in range(5):
            await fail(one, "six@x.io")
            await fail(two, "six@x.io")
        assert_rate_limited(await fail(two, "six@x.io"), WINDOW)
    async with make_client("2001:db8:1:3::1") as next_door:
        assert (await fail(next_door, "six@x.io")).status_code == 401


async def test_a_client_cannot_reset_its_counter_with_headers(app, make_client) -> None:
    fresh_throttle(app, login_max_failures_per_address=3)
    async with make_client("203.0.113.10") as direct:
        for index in range(3):
            headers = {"X-Real-IP": f"10.0.0.{index}", "X-Forwarded-For": f"10.1.0.{index}"}
            assert (await fail(direct, f"a{index}@x.io", headers)).status_code == 401
        headers = {"X-Real-IP": "10.9.9.9", "X-Forwarded-For": "10.9.9.9"}
        assert_rate_limited(await fail(direct, "b@x.io", headers), WINDOW)


async def test_behind_the_gateway_the_real_ip_is_counted(app, make_client) -> None:
    fresh_throttle(app, login_max_failures_per_address=3)
    async with make_client("127.0.0.1") as gateway:
        for index in range(3):
            # nginx: X-Real-IP = the address it saw; X-Forwarded-For = client's + it.
            headers = {"X-Real-IP": "192.0.2.50", "X-Forwarded-For": f"6.6.6.{index}, 192.0.2.50"}
            assert (await fail(gateway, f"c{index}@x.io", headers)).status_code == 401
        headers = {"X-Real-IP": "192.0.2.50", "X-Forwarded-For": "7.7.7.7, 192.0.2.50"}
        assert_rate_limited(await fail(gateway, "d@x.io", headers), WINDOW)
        # Another client behind the same gateway is counted apart.
        assert (await fail(gateway, "e@x.io", {"X-Real-IP": "192.0.2.51"})).status_code == 401


async def test_limits_come_from_the_settings(client, app) -> None:
    throttle: LoginThrottle = app.state.throttle
    assert throttle.max_per_email_and_address == 10
    assert throttle.max_per_email == 50
    assert throttle.max_per_address == 100
    assert throttle.window == 900
    assert throttle.known_address_seconds == 30 * DAY
    assert throttle.known_addresses_per_email == 10


# --- the stores ---------------------------------------------------------------------


def test_stored_keys_are_digests() -> None:
    assert pair_key("a@x.io", "192.0.2.1") == pair_key("a@x.io", "192.0.2.1")
    assert pair_key("a@x.io", "192.0.2.1") != pair_key("a@x.io", "192.0.2.2")
    assert pair_key("a@x.io", "2001:db8::1") == pair_key("a@x.io", "2001:db8::2")  # one /64
    assert "x.io" not in pair_key("a@x.io", "192.0.2.1")
    assert "192.0.2" not in pair_key("a@x.io", "192.0.2.1")


async def check_store(log: FailureLog, prefix: str) -> None:
    """What every store must do (memory and Redis alike)."""
    a, b = f"{prefix}a", f"{prefix}b"
    for index in range(3):
        assert await log.reserve([(a, 3)], f"m{index}", now=100.0 + index, window=10) is None
    assert await log.reserve([(a, 3)], "m3", now=103.0, window=10) == pytest.approx(7.0)
    await log.release([a], "m1")
    assert await log.reserve([(a, 3)], "m4", now=104.0, window=10) is None
    assert await log.reserve([(a, 3)], "m5", now=110.5, window=10) is None  # m0 left
    # All or nothing: `a` is full (m2, m4, m5), so nothing goes into `b` either.
    assert await log.reserve([(b, 5), (a, 3)], "x", now=111.0, window=10) == pytest.approx(1.0)
    for index in range(5):
        assert await log.reserve([(b, 5)], f"n{index}", now=111.0, window=10) is None
    # Both full: the later of their waits.
    assert await log.reserve([(a, 3), (b, 5)], "y", now=111.5, window=10) == pytest.approx(9.5)
    await log.release([a, b], "n0")  # forgetting what a key never held is harmless
    assert await log.reserve([(b, 5)], "n5", now=111.5, window=10) is None
    # Remembered members: kept for their ttl, the `keep` most recent only.
    known = f"{prefix}known"
    assert not await log.recalls(known, "p", now=0.0, ttl=100)
    for index in range(4):
        await log.remember(known, f"p{index}", now=10.0 + index, ttl=100, keep=3)
    assert not await log.recalls(known, "p0", now=14.0, ttl=100)  # the oldest went
    assert await log.recalls(known, "p1", now=14.0, ttl=100)
    await log.remember(known, "p1", now=20.0, ttl=100, keep=3)  # seen again: refreshed
    assert await log.recalls(known, "p1", now=119.0, ttl=100)
    assert not await log.recalls(known, "p2", now=112.0, ttl=100)  # too long ago


async def test_memory_store() -> None:
    await check_store(MemoryFailureLog(), "")


async def test_memory_log_forgets_stale_keys() -> None:
    log = MemoryFailureLog()
    for index in range(50):
        await log.reserve([(f"key{index}", 5)], "m", now=0.0, window=10)
    await log.remember("known", "p", now=0.0, ttl=1000, keep=3)
    await log.reserve([("fresh", 5)], "m", now=100.0, window=10)
    assert set(log._entries) == {"fresh", "known"}
    await log.reserve([("fresher", 5)], "m", now=1000.0, window=10)
    assert set(log._entries) == {"fresher"}


async def test_memory_log_keys_hold_at_most_their_limit() -> None:
    log = MemoryFailureLog()
    for index in range(1000):
        await log.reserve([("k", 10)], f"m{index}", now=float(index % 5), window=10)
    assert len(log._entries["k"]) == 10


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("unknown", "unknown"),
    ],
)
def test_address_keys(address, key) -> None:
    assert address_key(address) == key


@pytest.fixture
async def redis_prefix():
    """A random key prefix for this test; its keys are deleted afterwards."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        # CI has a Redis (REQUIRE_REDIS=1, set by .ci/run): there, none is a failure.
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"REQUIRE_REDIS=1 but there is no Redis at {REDIS_URL}: {error}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"test-auth-{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def throttle_on(log: FailureLog, prefix: str, clock) -> LoginThrottle:
    return LoginThrottle(
        log,
        prefix=prefix,
        max_per_email_and_address=2,
        max_per_email=3,
        max_per_address=100,
        window_seconds=900,
        known_address_seconds=30 * DAY,
        known_addresses_per_email=10,
        clock=clock,
    )


async def test_redis_store_behaves_like_the_memory_store(redis_prefix) -> None:
    log = RedisFailureLog(REDIS_URL)
    try:
        await check_store(log, redis_prefix)
    finally:
        await log.aclose()


async def test_redis_keys_expire(redis_prefix) -> None:
    log = RedisFailureLog(REDIS_URL)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await log.reserve([(f"{redis_prefix}k", 3)], "m", now=100.0, window=10)
        await log.remember(f"{redis_prefix}known", "p", now=100.0, ttl=1000, keep=3)
        assert 0 < await client.ttl(f"{redis_prefix}k") <= 10
        assert 10 < await client.ttl(f"{redis_prefix}known") <= 1000
    finally:
        await log.aclose()
        await client.aclose()


async def test_replicas_share_counts_through_redis(redis_prefix) -> None:
    clock = Clock()
    replica_a = throttle_on(RedisFailureLog(REDIS_URL), redis_prefix, clock)
    replica_b = throttle_on(RedisFailureLog(REDIS_URL), redis_prefix, clock)
    try:
        # The owner logs in on one replica: its address is known to the other.
        await replica_a.succeeded(await replica_a.begin("shared@x.io", "198.51.100.1"))
        await replica_a.begin("shared@x.io", "192.0.2.1")
        await replica_b.begin("shared@x.io", "192.0.2.2")
        await replica_a.begin("shared@x.io", "192.0.2.3")
        with pytest.raises(RateLimited) as refused:
            await replica_b.begin("shared@x.io", "192.0.2.4")
        assert refused.value.retry_after == 900
        await replica_b.succeeded(await replica_b.begin("shared@x.io", "198.51.100.1"))
        # The (email, address) limit is shared too.
        await replica_a.begin("pair@x.io", "192.0.2.9")
        await replica_b.begin("pair@x.io", "192.0.2.9")
        with pytest.raises(RateLimited):
            await replica_a.begin("pair@x.io", "192.0.2.9")
        clock.now += 900
        await replica_b.succeeded(await replica_b.begin("shared@x.io", "192.0.2.4"))
    finally:
        await replica_a.log.aclose()
        await replica_b.log.aclose()


async def test_the_app_uses_redis_when_configured(committed_app, redis_prefix) -> None:
    settings = committed_app.state.settings
    app = create_app(
        auth_settings(settings.database_url, redis_url=REDIS_URL, redis_key_prefix=redis_prefix),
        committed_app.state.tokens.codec.settings,
    )
    assert isinstance(app.state.throttle.log, RedisFailureLog)
    assert app.state.registration_limiter.log is app.state.throttle.log
    assert app.state.password_change_limiter.log is app.state.throttle.log
    async with asgi_client(app) as client:
        await register(client, "redis@x.io")
        for _ in range(10):
            assert (await fail(client, "redis@x.io")).status_code == 401
        assert_rate_limited(await fail(client, "redis@x.io"), WINDOW)
    await app.state.throttle.log.aclose()
    await app.state.database.dispose()


async def test_redis_down_is_503_not_500(client, app) -> None:
    await register(client, "down@x.io")
    log = RedisFailureLog("redis://127.0.0.1:1/0")
    fresh_throttle(app)
    for limiter in (app.state.throttle, app.state.registration_limiter):
        limiter.log = log
    try:
        for response in (
            await fail(client, "nobody@x.io"),
            await right(client, "down@x.io"),
            await client.post("/auth/register/", json={"email": "n@x.io", "password": PASSWORD}),
        ):
            assert response.status_code == 503
            assert response.json()["code"] == "service_unavailable"
    finally:
        await log.aclose()
