"""Password hashing with argon2id, off the event loop and bounded in memory.

Every hash and verification runs on a pool of `concurrency` threads of its own (one per
usable CPU by default): a flood of logins queues here instead of exhausting memory or
starving the event loop.

Memory: each hash needs `memory_kib` (19 MiB) of work memory, which glibc keeps once
freed. That reuse is what makes a hash cheap: given back and faulted in again each time,
the same hash took 57 instead of 34 ms (bench/). So the blocks are kept while logins come
(at most one per thread of the pool) and given back to the system once no hash has run
for `idle_seconds` (`malloc_trim`). glibc trims only its main arena's heap fully, so the
process keeps to that one arena (`M_ARENA_MAX` 1): one malloc and free per hash, under
the GIL besides, contend for nothing worth the separate arenas.

A login for an unknown email verifies the password against a dummy hash made with the
same parameters, so it costs the same work as a wrong password.
"""

import asyncio
import ctypes
import ctypes.util
import os
import secrets
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from auth_service.config import AuthSettings

T = TypeVar("T")
IDLE_SECONDS = 1.0  # without a hash for this long, the work memory goes back


_M_ARENA_MAX = -8  # glibc's mallopt parameter


def _nothing() -> None:
    pass


def _heap_trimmer() -> Callable[[], None]:
    """glibc's `malloc_trim(0)`, which gives free heap memory back to the system, after
    keeping the process to one arena (see above); a no-op where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return _nothing
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        malloc_trim, mallopt = libc.malloc_trim, libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return _nothing
    mallopt(_M_ARENA_MAX, 1)
    malloc_trim.argtypes = [ctypes.c_size_t]

    def trim() -> None:
        malloc_trim(0)

    return trim


# At import, before any thread of the pool allocates (and would take an arena of its own).
release_free_memory = _heap_trimmer()


def _usable_cpus() -> int:
    """The CPUs this process may run on (taskset, a container's cpuset), not the machine's:
    more hashes at once than CPUs cannot finish sooner, and each holds `memory_kib`."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    memory_kib: int
    time_cost: int
    parallelism: int

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> "Argon2Parameters":
        return cls(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        )


class Passwords:
    def __init__(
        self,
        parameters: Argon2Parameters,
        *,
        concurrency: int = 0,
        idle_seconds: float = IDLE_SECONDS,
        release_memory: Callable[[], None] = release_free_memory,
    ) -> None:
        self.parameters = parameters
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._threads = concurrency or _usable_cpus()
        self._pool: ThreadPoolExecutor | None = None  # started on first use
        self._idle_seconds = idle_seconds
        self._release_memory = release_memory
        self._running = 0
        self._trim_timer: asyncio.TimerHandle | None = None
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await self._run(self._hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._run(self._verify, password_hash, password)

    def close(self) -> None:
        """Stop the threads (hashes still queued are cancelled) and give the memory back."""
        if self._trim_timer is not None:
            self._trim_timer.cancel()
            self._trim_timer = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._release_memory()

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="argon2")
        return self._pool

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        loop = asyncio.get_running_loop()
        self._running += 1
        try:
            return await loop.run_in_executor(self._executor(), function, *args)
        finally:
            self._running -= 1
            if self._trim_timer is not None:
                self._trim_timer.cancel()
            self._trim_timer = loop.call_later(self._idle_seconds, self._trim_if_idle)

    def _trim_if_idle(self) -> None:
        self._trim_timer = None
        if self._running == 0 and self._pool is not None:
            self._pool.submit(self._release_memory)

    async def spend_verification(self, password: str) -> None:
        """The work of a verification, for a login whose email has no account."""
        await self.verify(await self.dummy_hash(), password)

    async def dummy_hash(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(32))
        return self._dummy_hash

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other (older, weaker) parameters."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True

    def _hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
