"""Login throttling per email and per client address, in memory and in Redis."""

import uuid

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from auth_service.main import create_app
from auth_service.throttle import (
    FailureLog,
    LoginThrottle,
    MemoryFailureLog,
    RedisFailureLog,
    address_key,
)
from shared.errors import RateLimited
from tests.conftest import PASSWORD, asgi_client, auth_settings, fresh_throttle, register

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def fail(client, email, headers=None):
    return await client.post(
        "/auth/login/", json={"email": email, "password": "wrong password"}, headers=headers
    )


async def right(client, email, headers=None):
    return await client.post(
        "/auth/login/", json={"email": email, "password": PASSWORD}, headers=headers
    )


def assert_rate_limited(response, window: int = 900) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    return retry_after


async def test_ten_failures_per_email_then_429(client) -> None:
    await register(client, "victim@x.io")
    for _ in range(10):
        assert (await fail(client, "victim@x.io")).status_code == 401
    assert_rate_limited(await fail(client, "victim@x.io"))
    # Even the right password waits: the lock is on the email, not on guesses.
    assert_rate_limited(await right(client, "victim@x.io"))
    # Another email from the same address is not locked.
    await register(client, "bystander@x.io")
    assert (await right(client, "bystander@x.io")).status_code == 200


async def test_a_429_says_nothing_about_the_account(client) -> None:
    await register(client, "exists@x.io")
    known, unknown = [], []
    for _ in range(11):
        known.append(await fail(client, "exists@x.io"))
        unknown.append(await fail(client, "missing@x.io"))
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 10 + [429]
    assert known[-1].json() == unknown[-1].json()
    assert known[-1].headers["retry-after"] == unknown[-1].headers["retry-after"]


async def test_the_lock_lifts_when_the_window_slides(client, app) -> None:
    clock = Clock()
    fresh_throttle(app, clock=clock)
    await register(client, "slide@x.io")
    for minute in range(10):
        clock.now = 1_000_000.0 + minute * 60  # one failure a minute
        assert (await fail(client, "slide@x.io")).status_code == 401
    clock.now = 1_000_000.0 + 10 * 60
    # The oldest failure (t=0) leaves the window at t=900: 300 s from now.
    assert assert_rate_limited(await right(client, "slide@x.io")) == 300
    clock.now = 1_000_000.0 + 899
    assert assert_rate_limited(await right(client, "slide@x.io")) == 1
    clock.now = 1_000_000.0 + 900
    assert (await right(client, "slide@x.io")).status_code == 200


async def test_refused_attempts_do_not_prolong_the_lock(client, app) -> None:
    clock = Clock()
    fresh_throttle(app, clock=clock)
    await register(client, "patient@x.io")
    for _ in range(10):
        await fail(client, "patient@x.io")
    for step in range(1, 30):
        clock.now = 1_000_000.0 + step * 30
        retry_after = assert_rate_limited(await fail(client, "patient@x.io"))
        assert step * 30 + retry_after == 900  # the end of the lock never moves
    clock.now = 1_000_000.0 + 900
    assert (await right(client, "patient@x.io")).status_code == 200


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
    assert_rate_limited(await fail(client, "mixed@x.io"))


async def test_the_email_counter_ignores_case(client) -> None:
    for index in range(10):
        email = "Case@X.io" if index % 2 else "case@x.io "
        assert (await fail(client, email)).status_code == 401
    assert_rate_limited(await fail(client, "CASE@x.io"))


async def test_per_address_limit(app, make_client) -> None:
    fresh_throttle(app, max_per_address=5)
    async with make_client("203.0.113.9") as attacker, make_client("198.51.100.1") as other:
        await register(other, "target@x.io")
        for index in range(5):
            assert (await fail(attacker, f"spray{index}@x.io")).status_code == 401
        # A new email from the same address is refused; the account is not locked.
        assert_rate_limited(await fail(attacker, "spray-new@x.io"))
        assert_rate_limited(await right(attacker, "target@x.io"))
        assert (await right(other, "target@x.io")).status_code == 200


async def test_a_client_cannot_reset_its_counter_with_headers(app, make_client) -> None:
    fresh_throttle(app, max_per_address=3)
    async with make_client("203.0.113.10") as direct:
        for index in range(3):
            headers = {"X-Real-IP": f"10.0.0.{index}", "X-Forwarded-For": f"10.1.0.{index}"}
            assert (await fail(direct, f"a{index}@x.io", headers)).status_code == 401
        headers = {"X-Real-IP": "10.9.9.9", "X-Forwarded-For": "10.9.9.9"}
        assert_rate_limited(await fail(direct, "b@x.io", headers))


async def test_behind_the_gateway_the_real_ip_is_counted(app, make_client) -> None:
    fresh_throttle(app, max_per_address=3)
    async with make_client("127.0.0.1") as gateway:
        for index in range(3):
            # nginx: X-Real-IP = the address it saw; X-Forwarded-For = client's + it.
            headers = {"X-Real-IP": "192.0.2.50", "X-Forwarded-For": f"6.6.6.{index}, 192.0.2.50"}
            assert (await fail(gateway, f"c{index}@x.io", headers)).status_code == 401
        headers = {"X-Real-IP": "192.0.2.50", "X-Forwarded-For": "7.7.7.7, 192.0.2.50"}
        assert_rate_limited(await fail(gateway, "d@x.io", headers))
        # Another client behind the same gateway is counted apart.
        assert (await fail(gateway, "e@x.io", {"X-Real-IP": "192.0.2.51"})).status_code == 401


async def test_limits_come_from_the_settings(app) -> None:
    settings = app.state.settings
    assert settings.login_max_failures_per_email == 10
    assert settings.login_max_failures_per_address == 100
    assert settings.login_failure_window_seconds == 900


# --- the stores ---------------------------------------------------------------------


async def test_memory_log_reserves_until_the_limit() -> None:
    log = MemoryFailureLog()
    for index in range(3):
        assert await log.reserve("k", f"m{index}", now=100.0 + index, window=10, limit=3) is None
    assert await log.reserve("k", "m3", now=103.0, window=10, limit=3) == pytest.approx(7.0)
    await log.release("k", "m1")
    assert await log.reserve("k", "m4", now=104.0, window=10, limit=3) is None
    assert await log.reserve("k", "m5", now=110.5, window=10, limit=3) is None  # m0 left


async def test_memory_log_forgets_stale_keys() -> None:
    log = MemoryFailureLog()
    for index in range(50):
        await log.reserve(f"key{index}", "m", now=0.0, window=10, limit=5)
    await log.reserve("fresh", "m", now=100.0, window=10, limit=5)
    assert list(log._entries) == ["fresh"]


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
    except (RedisError, OSError):
        await client.aclose()
        pytest.skip("no Redis at 127.0.0.1:6379")
    prefix = f"test-auth-{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def throttle_on(log: FailureLog, prefix: str, clock=None) -> LoginThrottle:
    return LoginThrottle(
        log,
        prefix=prefix,
        max_per_email=3,
        max_per_address=100,
        window_seconds=900,
        **({"clock": clock} if clock else {}),
    )


async def test_redis_log_behaves_like_the_memory_log(redis_prefix) -> None:
    log = RedisFailureLog(REDIS_URL)
    key = f"{redis_prefix}k"
    try:
        for index in range(3):
            assert (
                await log.reserve(key, f"m{index}", now=100.0 + index, window=10, limit=3) is None
            )
        assert await log.reserve(key, "m3", now=103.0, window=10, limit=3) == pytest.approx(7.0)
        await log.release(key, "m1")
        assert await log.reserve(key, "m4", now=104.0, window=10, limit=3) is None
        assert await log.reserve(key, "m5", now=110.5, window=10, limit=3) is None
    finally:
        await log.aclose()


async def test_replicas_share_counts_through_redis(redis_prefix) -> None:
    clock = Clock()
    replica_a = throttle_on(RedisFailureLog(REDIS_URL), redis_prefix, clock)
    replica_b = throttle_on(RedisFailureLog(REDIS_URL), redis_prefix, clock)
    try:
        await replica_a.begin("shared@x.io", "192.0.2.1")
        await replica_b.begin("shared@x.io", "192.0.2.2")
        await replica_a.begin("shared@x.io", "192.0.2.3")
        with pytest.raises(RateLimited) as refused:
            await replica_b.begin("shared@x.io", "192.0.2.4")
        assert refused.value.retry_after == 900
        clock.now += 900
        attempt = await replica_b.begin("shared@x.io", "192.0.2.4")
        await replica_b.succeeded(attempt)
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
    async with asgi_client(app) as client:
        await register(client, "redis@x.io")
        for _ in range(10):
            assert (await fail(client, "redis@x.io")).status_code == 401
        assert_rate_limited(await fail(client, "redis@x.io"))
    await app.state.throttle.log.aclose()
    await app.state.database.dispose()


async def test_redis_down_is_503_not_500(client, app) -> None:
    fresh_throttle(app)
    app.state.throttle.log = RedisFailureLog("redis://127.0.0.1:1/0")
    try:
        response = await fail(client, "nobody@x.io")
    finally:
        await app.state.throttle.log.aclose()
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
