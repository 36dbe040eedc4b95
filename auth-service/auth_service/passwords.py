"""Password hashing with argon2id, off the event loop and bounded in memory.

Every hash and verification runs on a pool of `concurrency` threads of its own (one per
usable CPU by default), so a flood of logins never starves the event loop, and at most
`concurrency` hashes hold their work memory at once. Behind the threads waits a queue of
at most `queue_limit` hashes (8 per thread by default: at the default cost, well under a
second of waiting); a hash asked for beyond that is refused at once with 503 and
Retry-After (`HashQueueFull`), instead of joining a backlog whose answers would come after
the client gave up. The bound counts hashes in the pool, not the requests waiting for
them: a request that gives up leaves its hash counted until the thread is done with it.

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
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from auth_service.config import AuthSettings
from shared.errors import ServiceUnavailable

T = TypeVar("T")
IDLE_SECONDS = 1.0  # without a hash for this long, the work memory goes back
QUEUE_PER_THREAD = 8  # the default queue_limit, per thread of the pool
# A full queue drains in (queue_limit / threads) hashes' time: 8 x 34-57 ms at the default
# cost. Retry-After counts whole seconds, so one is the shortest honest answer.
QUEUE_FULL_RETRY_AFTER = 1


class HashQueueFull(ServiceUnavailable):
    """Too many hashes waiting: 503 with Retry-After, answered without waiting."""

    def __init__(self) -> None:
        super().__init__(
            "Too many requests are being handled right now. Try again in a moment.",
            retry_after=QUEUE_FULL_RETRY_AFTER,
        )


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
        queue_limit: int = 0,
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
        self._capacity = self._threads + (queue_limit or QUEUE_PER_THREAD * self._threads)
        self._pool: ThreadPoolExecutor | None = None  # started on first use
        self._idle_seconds = idle_seconds
        self._release_memory = release_memory
        # Hashes in the pool (running or queued); ended by the pool's threads.
        self._jobs = 0
        self._jobs_lock = threading.Lock()
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
        """Run on the pool, or raise HashQueueFull at once when it holds its capacity."""
        loop = asyncio.get_running_loop()
        with self._jobs_lock:
            if self._jobs >= self._capacity:
                raise HashQueueFull()
            self._jobs += 1
        try:
            job = self._executor().submit(function, *args)
        except BaseException:
            self._job_done()
            raise
        # Counted until the thread is done (or the job is cancelled before it starts), even
        # when the request waiting for it is cancelled first.
        job.add_done_callback(self._job_done)
        try:
            return await asyncio.wrap_future(job, loop=loop)
        finally:
            if self._trim_timer is not None:
                self._trim_timer.cancel()
            self._trim_timer = loop.call_later(self._idle_seconds, self._trim_if_idle)

    def _job_done(self, _job: object = None) -> None:
        with self._jobs_lock:
            self._jobs -= 1

    def _trim_if_idle(self) -> None:
        self._trim_timer = None
        if self._jobs == 0 and self._pool is not None:
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
