"""Throttling: failed logins, wrong current passwords and registrations, in sliding windows.

Login counts failures in one window (AUTH_LOGIN_FAILURE_WINDOW_SECONDS, at most 15
minutes) under three limits:

    per (email, address)   tight (10): one address guessing one account
    per email              loose (50): many addresses guessing one account
    per address            (100): one address trying many accounts

and an address from which the email logged in successfully within the last
AUTH_LOGIN_KNOWN_ADDRESS_SECONDS (30 days) is a *known address* of that email: the per-email
limit does not apply to it (the other two do). An address is an IPv4 address or an IPv6 /64.

What this guarantees:
- Failures sent from other addresses never refuse a login from a known address: they
  fill only the per-email limit, which known addresses skip, and the (email, address) and
  address limits of *their* addresses. Only failures sent from the very same address (a
  shared NAT, the same /64) can refuse it, for at most the window.
- From a new address, the right password is refused only while the email holds its loose
  limit of failures from unknown addresses in the window; since one address adds at most
  the tight limit, keeping an email closed to new addresses takes failures from several
  addresses (five at the defaults), without end, and still leaves its known addresses open.
- Guesses at one password: at most the tight limit per address and the loose limit from
  all unknown addresses together, each window. Becoming a known address takes the right
  password, so known addresses add no guesses for an attacker.
- A refused attempt records nothing (hammering does not prolong a lock), and Retry-After
  is the seconds until the first counted failure leaves the window: never more than it.

Each attempt first reserves its place in every limit that applies, atomically: all or
none. A limit already full refuses (429). A successful login takes its reservations back
(and makes its address known); a failed one leaves them as failures; one whose password
was never checked (the hash queue was full) takes them back too. Reserving before the
check makes the limits exact under concurrency.

Unknown and known emails go through the same steps (the known-address lookup included),
so neither a 429 nor the work done tells whether an account exists. Emails and (email,
address) pairs are stored as SHA-256 digests, never as text.

The same reservations count wrong current passwords per account (`AttemptLimiter`, on the
password change) and registrations per address (kept whatever their outcome).

Two stores behind one small interface: `MemoryFailureLog` (one process; the default) and
`RedisFailureLog` (shared by every replica; AUTH_REDIS_URL or REDIS_URL), whose scripts
touch several keys at once: one Redis server (with replicas or not), not Redis Cluster.
Redis down means 503 (fail closed), never an uncounted attempt.
"""

import hashlib
import ipaddress
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from auth_service.config import AuthSettings
from shared.errors import RateLimited, ServiceUnavailable

STORE_DOWN_MESSAGE = "This is unavailable for a moment. Try again shortly."

Limit = tuple[str, int]  # a log's key and how many entries its window may hold


class FailureLog(Protocol):
    async def reserve(
        self, limits: Sequence[Limit], member: str, *, now: float, window: float
    ) -> float | None:
        """Record `member` at `now` under every key, unless a key's window already holds
        its limit: then record nothing and return the seconds until every full key has
        room again (at most `window`). All or nothing, atomically."""
        ...

    async def release(self, keys: Sequence[str], member: str) -> None:
        """Forget `member` under these keys (the attempt is not a failure)."""
        ...

    async def remember(self, key: str, member: str, *, now: float, ttl: float, keep: int) -> None:
        """Note `member` under `key` as seen at `now`, for `ttl` seconds; only the `keep`
        most recent members stay."""
        ...

    async def recalls(self, key: str, member: str, *, now: float, ttl: float) -> bool:
        """Whether `member` was noted under `key` less than `ttl` seconds ago."""
        ...

    async def aclose(self) -> None: ...


class MemoryFailureLog:
    """Per-process log: a dict of keys, each a dict of member -> time, and when each key
    can be forgotten. Keys past that moment are swept, at most once a minute, so memory
    holds only what the windows (and known addresses, `keep` per email) still need."""

    SWEEP_SECONDS = 60.0

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, float]] = {}
        self._forget_at: dict[str, float] = {}
        self._next_sweep = 0.0

    async def reserve(
        self, limits: Sequence[Limit], member: str, *, now: float, window: float
    ) -> float | None:
        self._sweep(now)
        horizon = now - window
        waits: list[float] = []
        for key, limit in limits:
            times = sorted(t for t in self._entries.get(key, {}).values() if t > horizon)
            if len(times) >= limit:
                waits.append(times[len(times) - limit] + window - now)
        if waits:
            return max(waits)
        for key, _ in limits:
            entries = self._entries.setdefault(key, {})
            for stale in [m for m, t in entries.items() if t <= horizon]:
                del entries[stale]
            entries[member] = now
            self._forget_at[key] = max(self._forget_at.get(key, 0.0), now + window)
        return None

    async def release(self, keys: Sequence[str], member: str) -> None:
        for key in keys:
            entries = self._entries.get(key)
            if entries is not None:
                entries.pop(member, None)
                if not entries:
                    self._drop(key)

    async def remember(self, key: str, member: str, *, now: float, ttl: float, keep: int) -> None:
        self._sweep(now)
        entries = self._entries.setdefault(key, {})
        entries.pop(member, None)
        entries[member] = now  # dicts keep insertion order: the oldest come first
        for stale in [m for m, t in entries.items() if t <= now - ttl]:
            del entries[stale]
        while len(entries) > keep:
            del entries[next(iter(entries))]
        self._forget_at[key] = now + ttl

    async def recalls(self, key: str, member: str, *, now: float, ttl: float) -> bool:
        seen = self._entries.get(key, {}).get(member)
        return seen is not None and seen > now - ttl

    async def aclose(self) -> None:
        self._entries.clear()
        self._forget_at.clear()

    def _drop(self, key: str) -> None:
        self._entries.pop(key, None)
        self._forget_at.pop(key, None)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_SECONDS
        for key in [k for k, moment in self._forget_at.items() if moment <= now]:
            self._drop(key)


# KEYS: the logs; ARGV: member, now, window, then each key's limit. Returns nil when the
# member was recorded under every key, else the seconds (as a string: Lua numbers come
# back truncated) until every full log has room again; then nothing is recorded.
_RESERVE = """
local member = ARGV[1]
local now, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = nil
for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[3 + i])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local count = redis.call('ZCARD', key)
    if count >= limit then
        local entry = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
        local seconds = tonumber(entry[2]) + window - now
        if wait == nil or seconds > wait then
            wait = seconds
        end
    end
end
if wait ~= nil then
    return tostring(wait)
end
for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, member)
    redis.call('EXPIRE', key, math.ceil(window))
end
return false
"""

# KEYS[1] the set; ARGV: member, now, ttl, keep.
_REMEMBER = """
local key, member = KEYS[1], ARGV[1]
local now, ttl, keep = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZADD', key, now, member)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - ttl)
redis.call('ZREMRANGEBYRANK', key, 0, -(keep + 1))
redis.call('EXPIRE', key, math.ceil(ttl))
return false
"""


class RedisFailureLog:
    """Shared log: one sorted set per key (scores are times), updated by Lua scripts."""

    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._reserve = self._redis.register_script(_RESERVE)
        self._remember = self._redis.register_script(_REMEMBER)

    async def reserve(
        self, limits: Sequence[Limit], member: str, *, now: float, window: float
    ) -> float | None:
        keys = [key for key, _ in limits]
        args: list[str | float] = [member, now, window, *(limit for _, limit in limits)]
        try:
            answer = await self._reserve(keys=keys, args=args)
        except RedisError as exc:
            raise ServiceUnavailable(STORE_DOWN_MESSAGE) from exc
        return None if answer is None else float(answer)

    async def release(self, keys: Sequence[str], member: str) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zrem(key, member)
                await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailable(STORE_DOWN_MESSAGE) from exc

    async def remember(self, key: str, member: str, *, now: float, ttl: float, keep: int) -> None:
        try:
            await self._remember(keys=[key], args=[member, now, ttl, keep])
        except RedisError as exc:
            raise ServiceUnavailable(STORE_DOWN_MESSAGE) from exc

    async def recalls(self, key: str, member: str, *, now: float, ttl: float) -> bool:
        try:
            seen = await self._redis.zscore(key, member)
        except RedisError as exc:
            raise ServiceUnavailable(STORE_DOWN_MESSAGE) from exc
        return seen is not None and float(seen) > now - ttl

    async def aclose(self) -> None:
        await self._redis.aclose()


def address_key(address: str) -> str:
    """An IPv4 address as is; IPv6 by its /64 (one subscriber gets a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def email_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def pair_key(email: str, address: str) -> str:
    """One digest for an (email, address) pair: neither can be read back from it."""
    return hashlib.sha256(f"{email}\n{address_key(address)}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt's reservations, to take back if it turns out not to be a failure."""

    keys: tuple[str, ...]
    member: str = field(default_factory=lambda: uuid.uuid4().hex)


async def _reserve(log: FailureLog, limits: Sequence[Limit], *, now: float, window: int) -> Attempt:
    attempt = Attempt(keys=tuple(key for key, _ in limits))
    wait = await log.reserve(limits, attempt.member, now=now, window=window)
    if wait is not None:
        raise RateLimited(min(window, math.ceil(wait)))
    return attempt


class AttemptLimiter:
    """At most `limit` counted attempts per subject in a sliding window of `window_seconds`."""

    def __init__(
        self,
        log: FailureLog,
        *,
        prefix: str,
        limit: int,
        window_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self.prefix = prefix
        self.limit = limit
        self.window = window_seconds
        self.clock = clock

    async def begin(self, subject: str) -> Attempt:
        """Count this attempt, or raise RateLimited (and count nothing)."""
        limits = [(f"{self.prefix}{subject}", self.limit)]
        return await _reserve(self.log, limits, now=self.clock(), window=self.window)

    async def take_back(self, attempt: Attempt) -> None:
        """The attempt does not count after all (it succeeded, or never ran)."""
        await self.log.release(attempt.keys, attempt.member)


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    attempt: Attempt
    known_key: str
    pair: str


class LoginThrottle:
    def __init__(
        self,
        log: FailureLog,
        *,
        prefix: str,
        max_per_email_and_address: int,
        max_per_email: int,
        max_per_address: int,
        window_seconds: int,
        known_address_seconds: int,
        known_addresses_per_email: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self.prefix = prefix
        self.max_per_email_and_address = max_per_email_and_address
        self.max_per_email = max_per_email
        self.max_per_address = max_per_address
        self.window = window_seconds
        self.known_address_seconds = known_address_seconds
        self.known_addresses_per_email = known_addresses_per_email
        self.clock = clock

    async def begin(self, email: str, address: str) -> LoginAttempt:
        """Reserve this attempt as a failure, or raise RateLimited."""
        now = self.clock()
        hashed_email, pair = email_key(email), pair_key(email, address)
        known_key = f"{self.prefix}login:known:{hashed_email}"
        limits = [
            (f"{self.prefix}login:pair:{pair}", self.max_per_email_and_address),
            (f"{self.prefix}login:addr:{address_key(address)}", self.max_per_address),
        ]
        known = await self.log.recalls(known_key, pair, now=now, ttl=self.known_address_seconds)
        if not known:
            limits.append((f"{self.prefix}login:email:{hashed_email}", self.max_per_email))
        attempt = await _reserve(self.log, limits, now=now, window=self.window)
        return LoginAttempt(attempt, known_key, pair)

    async def succeeded(self, login: LoginAttempt) -> None:
        """The right password: not a failure, and its address is now known for the email."""
        await self.log.release(login.attempt.keys, login.attempt.member)
        await self.log.remember(
            login.known_key,
            login.pair,
            now=self.clock(),
            ttl=self.known_address_seconds,
            keep=self.known_addresses_per_email,
        )

    async def abandoned(self, login: LoginAttempt) -> None:
        """The password was never checked (the hash queue was full): not a failure."""
        await self.log.release(login.attempt.keys, login.attempt.member)


@dataclass(frozen=True, slots=True)
class Throttles:
    """Every limit of the service, on one store."""

    login: LoginThrottle
    password_change: AttemptLimiter  # wrong current passwords per account
    registration: AttemptLimiter  # registrations per address

    @classmethod
    def from_settings(
        cls, settings: AuthSettings, log: FailureLog, *, clock: Callable[[], float] = time.time
    ) -> "Throttles":
        prefix = settings.redis_key_prefix
        return cls(
            login=LoginThrottle(
                log,
                prefix=prefix,
                max_per_email_and_address=settings.login_max_failures_per_email_and_address,
                max_per_email=settings.login_max_failures_per_email,
                max_per_address=settings.login_max_failures_per_address,
                window_seconds=settings.login_failure_window_seconds,
                known_address_seconds=settings.login_known_address_seconds,
                known_addresses_per_email=settings.login_known_addresses_per_email,
                clock=clock,
            ),
            password_change=AttemptLimiter(
                log,
                prefix=f"{prefix}password:user:",
                limit=settings.password_change_max_failures,
                window_seconds=settings.login_failure_window_seconds,
                clock=clock,
            ),
            registration=AttemptLimiter(
                log,
                prefix=f"{prefix}register:addr:",
                limit=settings.register_max_per_address,
                window_seconds=settings.register_window_seconds,
                clock=clock,
            ),
        )
