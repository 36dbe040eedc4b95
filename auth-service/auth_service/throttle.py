"""Login throttling: failures per email and per client address in a sliding window.

Each login attempt first reserves a place in the failure log of its email and of its
address; a log already holding its limit within the window refuses (429, Retry-After =
seconds until its oldest counted failure leaves the window, so never more than the
window). A refused attempt is not recorded, so hammering does not prolong a lockout. A
successful login takes its reservation back; a failed one leaves it as a failure.
Reserving before the password is checked makes the limit exact under concurrency.

Unknown and known emails go through the same steps, so a 429 tells nothing about
whether an account exists. Email keys are SHA-256 digests: no address is stored.

Two stores behind one small interface: `MemoryFailureLog` (one process; the default)
and `RedisFailureLog` (shared by every replica; AUTH_REDIS_URL or REDIS_URL).
"""

import hashlib
import ipaddress
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.errors import RateLimited, ServiceUnavailable


class FailureLog(Protocol):
    async def reserve(
        self, key: str, member: str, *, now: float, window: float, limit: int
    ) -> float | None:
        """Record `member` at `now` under `key`, unless the window already holds `limit`
        entries: then record nothing and return the seconds until one leaves it."""
        ...

    async def release(self, key: str, member: str) -> None:
        """Forget one recorded entry (the attempt succeeded)."""
        ...

    async def aclose(self) -> None: ...


class MemoryFailureLog:
    """Per-process log: a dict of keys, each a dict of member -> time."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, float]] = {}
        self._last_sweep = 0.0

    async def reserve(
        self, key: str, member: str, *, now: float, window: float, limit: int
    ) -> float | None:
        self._sweep(now, window)
        horizon = now - window
        entries = {m: t for m, t in self._entries.get(key, {}).items() if t > horizon}
        self._entries[key] = entries
        if len(entries) >= limit:
            times = sorted(entries.values())
            return times[len(times) - limit] + window - now
        entries[member] = now
        return None

    async def release(self, key: str, member: str) -> None:
        entries = self._entries.get(key)
        if entries is not None:
            entries.pop(member, None)
            if not entries:
                del self._entries[key]

    async def aclose(self) -> None:
        self._entries.clear()

    def _sweep(self, now: float, window: float) -> None:
        """Drop the keys whose entries all left the window (bounded memory)."""
        if now - self._last_sweep < window:
            return
        self._last_sweep = now
        horizon = now - window
        for key in [k for k, e in self._entries.items() if all(t <= horizon for t in e.values())]:
            del self._entries[key]


# KEYS[1] the log; ARGV: member, now, window, limit. Returns nil when recorded, else the
# seconds (as a string: Lua numbers come back truncated) until an entry leaves.
_RESERVE = """
local key, member = KEYS[1], ARGV[1]
local now, window, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count >= limit then
    local entry = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    return tostring(tonumber(entry[2]) + window - now)
end
redis.call('ZADD', key, now, member)
redis.call('EXPIRE', key, math.ceil(window))
return false
"""


class RedisFailureLog:
    """Shared log: one sorted set per key, updated atomically by a Lua script."""

    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._reserve = self._redis.register_script(_RESERVE)

    async def reserve(
        self, key: str, member: str, *, now: float, window: float, limit: int
    ) -> float | None:
        try:
            answer = await self._reserve(keys=[key], args=[member, now, window, limit])
        except RedisError as exc:
            raise ServiceUnavailable("Logging in is unavailable for a moment.") from exc
        return None if answer is None else float(answer)

    async def release(self, key: str, member: str) -> None:
        try:
            await self._redis.zrem(key, member)
        except RedisError as exc:
            raise ServiceUnavailable("Logging in is unavailable for a moment.") from exc

    async def aclose(self) -> None:
        await self._redis.aclose()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One login attempt's reservations, to take back if it succeeds."""

    keys: tuple[str, ...]
    member: str = field(default_factory=lambda: uuid.uuid4().hex)


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


class LoginThrottle:
    def __init__(
        self,
        log: FailureLog,
        *,
        prefix: str,
        max_per_email: int,
        max_per_address: int,
        window_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self.prefix = prefix
        self.max_per_email = max_per_email
        self.max_per_address = max_per_address
        self.window = window_seconds
        self.clock = clock

    async def begin(self, email: str, address: str) -> Attempt:
        """Reserve this attempt as a failure, or raise RateLimited."""
        limits = (
            (f"{self.prefix}login:email:{email_key(email)}", self.max_per_email),
            (f"{self.prefix}login:addr:{address_key(address)}", self.max_per_address),
        )
        attempt = Attempt(keys=tuple(key for key, _ in limits))
        now = self.clock()
        waits: list[float] = []
        recorded: list[str] = []
        for key, limit in limits:
            wait = await self.log.reserve(
                key, attempt.member, now=now, window=self.window, limit=limit
            )
            if wait is None:
                recorded.append(key)
            else:
                waits.append(wait)
        if waits:
            for key in recorded:
                await self.log.release(key, attempt.member)
            raise RateLimited(min(self.window, math.ceil(max(waits))))
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        """A successful login is not a failure: take the reservations back."""
        for key in attempt.keys:
            await self.log.release(key, attempt.member)
