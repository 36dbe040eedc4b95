import asyncio
import threading

import pytest
from argon2 import PasswordHasher

from auth_service.passwords import Argon2Parameters, HashQueueFull, Passwords

CHEAP = Argon2Parameters(memory_kib=64, time_cost=1, parallelism=1)
HANG = 120.0  # seconds: bounds a wait that would otherwise hang; never a pass/fail line


async def test_hash_and_verify() -> None:
    passwords = Passwords(CHEAP)
    hashed = await passwords.hash("пароль🎬" * 10)
    assert hashed.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert await passwords.verify(hashed, "пароль🎬" * 10)
    assert not await passwords.verify(hashed, "пароль🎬" * 9)
    assert not await passwords.verify("not a hash", "x")


async def test_hashing_runs_off_the_event_loop(monkeypatch) -> None:
    passwords = Passwords(CHEAP)
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = passwords._hash

    def spy(password: str) -> str:
        seen.append(threading.get_ident())
        return original(password)

    monkeypatch.setattr(passwords, "_hash", spy)
    await passwords.hash("some password")
    assert seen
    assert loop_thread not in seen


async def test_concurrent_hashes_are_bounded(monkeypatch) -> None:
    passwords = Passwords(CHEAP, concurrency=2)
    lock = threading.Lock()
    running = 0
    peak = 0
    release = threading.Event()
    two_running = threading.Event()
    original = passwords._hash

    def tracked(password: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            if running >= 2:
                two_running.set()
        release.wait()
        try:
            return original(password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(passwords, "_hash", tracked)
    before = set(threading.enumerate())
    tasks = [asyncio.create_task(passwords.hash(f"password {i}")) for i in range(8)]
    try:
        # Wait until two hashes run (the deadline only bounds a hang). By then every task
        # has handed its hash to the pool, which starts a thread at once for a hash that
        # finds none free, up to its size: two threads, so the other six wait for a slot.
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, two_running.wait, HANG)
        started = [t for t in threading.enumerate() if t not in before]
        assert len([t for t in started if t.name.startswith("argon2")]) == 2
        assert peak == 2
    finally:
        release.set()
    await asyncio.gather(*tasks)
    assert peak == 2


async def test_needs_rehash() -> None:
    passwords = Passwords(Argon2Parameters(memory_kib=128, time_cost=2, parallelism=1))
    current = await passwords.hash("x" * 10)
    assert not passwords.needs_rehash(current)
    weaker = PasswordHasher(memory_cost=64, time_cost=1, parallelism=1).hash("x" * 10)
    assert passwords.needs_rehash(weaker)
    assert passwords.needs_rehash("$2b$12$notargon")  # another scheme


async def test_the_dummy_hash_has_the_same_parameters() -> None:
    passwords = Passwords(CHEAP)
    dummy = await passwords.dummy_hash()
    assert dummy == await passwords.dummy_hash()  # made once
    assert not passwords.needs_rehash(dummy)


async def test_work_memory_goes_back_once_hashing_pauses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The idle timer runs on the event loop's clock, which the test moves by hand: a slow
    hash or a late thread cannot make a pause of its own."""
    trims: list[str] = []
    trimmed = threading.Event()

    def release() -> None:
        trims.append(threading.current_thread().name)
        trimmed.set()

    loop = asyncio.get_running_loop()
    clock = [loop.time()]
    monkeypatch.setattr(loop, "time", lambda: clock[0])

    async def let_the_loop_run() -> None:
        for _ in range(10):  # timers now due run within these turns
            await asyncio.sleep(0)

    passwords = Passwords(CHEAP, idle_seconds=0.5, release_memory=release)
    try:
        for _ in range(6):  # logins keep coming: the memory is kept for the next one
            await passwords.hash("some password")
            clock[0] += 0.4  # each next one comes before the pause is long enough
            await let_the_loop_run()
        assert trims == []
        clock[0] += 0.1  # a pause of 0.5 s since the last hash: given back, once
        await let_the_loop_run()
        await loop.run_in_executor(None, trimmed.wait, HANG)  # on the pool's thread
        clock[0] += 10.0  # and not again while nothing is hashed
        await let_the_loop_run()
        assert len(trims) == 1
        assert trims[0].startswith("argon2")
    finally:
        passwords.close()


async def test_a_closed_pool_starts_again_when_needed() -> None:
    passwords = Passwords(CHEAP)
    hashed = await passwords.hash("some password")
    passwords.close()
    assert await passwords.verify(hashed, "some password")
    passwords.close()


class SlowHasher:
    """Stands in for argon2: each call waits for `release`; `started` counts calls begun."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.started = 0
        self.first_started = threading.Event()

    def __call__(self, password: str) -> str:
        with self.lock:
            self.started += 1
        self.first_started.set()
        self.release.wait()
        return f"hash of {password}"


async def test_a_full_queue_answers_at_once(monkeypatch) -> None:
    passwords = Passwords(CHEAP, concurrency=1, queue_limit=2)
    slow = SlowHasher()
    monkeypatch.setattr(passwords, "_hash", slow)
    loop = asyncio.get_running_loop()
    try:
        running = asyncio.create_task(passwords.hash("running"))
        await loop.run_in_executor(None, slow.first_started.wait)
        waiting = [asyncio.create_task(passwords.hash(f"waiting {i}")) for i in range(2)]
        await asyncio.sleep(0)  # one turn of the loop: both reach the queue
        # One running, two waiting: the fourth is refused without waiting for anything
        # (the hasher is still blocked), verifications alike.
        with pytest.raises(HashQueueFull) as refused:
            await passwords.hash("one too many")
        assert refused.value.status_code == 503
        assert refused.value.retry_after == 1
        assert refused.value.headers() == {"Retry-After": "1"}
        with pytest.raises(HashQueueFull):
            await passwords.verify("$argon2id$...", "one too many")
        assert slow.started == 1
        slow.release.set()
        assert await running == "hash of running"
        assert await asyncio.gather(*waiting) == ["hash of waiting 0", "hash of waiting 1"]
        # Drained: room again.
        assert await passwords.hash("later") == "hash of later"
    finally:
        slow.release.set()
        passwords.close()


async def test_a_request_that_gives_up_keeps_its_place_until_the_thread_is_done(
    monkeypatch,
) -> None:
    """The bound counts the threads' work, not the waiting requests: a cancelled request
    whose hash is running still holds its place, or cancelled requests would let the
    backlog grow without bound."""
    passwords = Passwords(CHEAP, concurrency=1, queue_limit=1)
    slow = SlowHasher()
    monkeypatch.setattr(passwords, "_hash", slow)
    loop = asyncio.get_running_loop()
    try:
        running = asyncio.create_task(passwords.hash("running"))
        await loop.run_in_executor(None, slow.first_started.wait)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        queued = asyncio.create_task(passwords.hash("queued"))
        await asyncio.sleep(0)
        with pytest.raises(HashQueueFull):  # the cancelled hash still runs
            await passwords.hash("one too many")
        slow.release.set()
        assert await queued == "hash of queued"
        assert await passwords.hash("later") == "hash of later"
    finally:
        slow.release.set()
        passwords.close()


async def test_a_queued_hash_given_up_frees_its_place(monkeypatch) -> None:
    passwords = Passwords(CHEAP, concurrency=1, queue_limit=1)
    slow = SlowHasher()
    monkeypatch.setattr(passwords, "_hash", slow)
    loop = asyncio.get_running_loop()
    try:
        running = asyncio.create_task(passwords.hash("running"))
        await loop.run_in_executor(None, slow.first_started.wait)
        queued = asyncio.create_task(passwords.hash("queued"))
        await asyncio.sleep(0)
        queued.cancel()  # not started yet: taken out of the pool's queue
        with pytest.raises(asyncio.CancelledError):
            await queued
        replacement = asyncio.create_task(passwords.hash("replacement"))
        await asyncio.sleep(0)
        slow.release.set()
        assert await running == "hash of running"
        assert await replacement == "hash of replacement"
        assert slow.started == 2  # the cancelled one never ran
    finally:
        slow.release.set()
        passwords.close()


def test_the_default_queue_is_eight_per_thread() -> None:
    assert Passwords(CHEAP, concurrency=3)._capacity == 3 + 24
    assert Passwords(CHEAP, concurrency=3, queue_limit=5)._capacity == 3 + 5
