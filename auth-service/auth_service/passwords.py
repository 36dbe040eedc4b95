"""Password hashing with argon2id, off the event loop and bounded in memory.

Every hash and verification runs in a worker thread, and at most `concurrency` of them
at once (each holds `memory_kib` of RAM while it runs): a flood of logins queues here
instead of exhausting memory or starving the event loop.

A login for an unknown email verifies the password against a dummy hash made with the
same parameters, so it costs the same work as a wrong password.
"""

import asyncio
import ctypes
import ctypes.util
import os
import secrets
import sys
from dataclasses import dataclass

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from auth_service.config import AuthSettings

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def _give_hash_memory_back() -> None:
    """Keep argon2's work memory out of the resident set once a hash is done.

    Each hash mallocs `memory_kib` (19 MiB) in its worker thread. glibc serves so large a
    block with mmap, but freeing one raises its dynamic mmap threshold, after which the
    blocks come from per-thread arenas and stay resident: measured (bench/), the auth
    service grew from 90 to 168 MB RSS after a burst of logins. A fixed threshold turns
    the adjustment off: every large block is mmapped and returned when freed.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


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
    def __init__(self, parameters: Argon2Parameters, *, concurrency: int = 0) -> None:
        self.parameters = parameters
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._slots = asyncio.Semaphore(concurrency or _usable_cpus())
        _give_hash_memory_back()
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await anyio.to_thread.run_sync(self._hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await anyio.to_thread.run_sync(self._verify, password_hash, password)

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
