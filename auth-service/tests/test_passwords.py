import asyncio
import threading

from argon2 import PasswordHasher

from auth_service.passwords import Argon2Parameters, Passwords

CHEAP = Argon2Parameters(memory_kib=64, time_cost=1, parallelism=1)


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
    original = passwords._hash

    def tracked(password: str) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(timeout=5)
        try:
            return original(password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(passwords, "_hash", tracked)
    tasks = [asyncio.create_task(passwords.hash(f"password {i}")) for i in range(8)]
    # Wait (bounded) until two hashes run, give the others every chance to start too...
    for _ in range(500):
        if running >= 2:
            break
        await asyncio.sleep(0.01)
    for _ in range(20):
        await asyncio.sleep(0.01)
    # ...and none did: the other six wait for a slot.
    assert peak == 2
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


async def test_work_memory_goes_back_once_hashing_pauses() -> None:
    trims: list[str] = []

    def release() -> None:
        trims.append(threading.current_thread().name)

    passwords = Passwords(CHEAP, idle_seconds=0.5, release_memory=release)
    try:
        for _ in range(6):  # logins keep coming: the memory is kept for the next one
            await passwords.hash("some password")
            await asyncio.sleep(0.01)
        assert trims == []
        await asyncio.sleep(1.0)  # a pause: given back once, on the pool's thread
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
