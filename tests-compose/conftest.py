"""Tests of the composed stack itself: scaling, faults, persistence, rolling replacement.

They run inside `make compose-test` (scripts/compose.py test), which builds and starts a
compose project of their own and passes its env file as COMPOSE_ENV_FILE; they drive it
with the same `Stack` that the compose-* make targets use, and send their traffic only to
its gateway on 127.0.0.1. Each module leaves the stack as it found it (one replica each,
everything running), so the modules run in any order.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from accounts import Account, sign_up
from compose import Stack
from compose_support import PASSWORD, REPORT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORT:
        terminalreporter.section("composed stack: figures")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def stack() -> Stack:
    env_file = os.environ.get("COMPOSE_ENV_FILE", "")
    if not env_file:
        pytest.fail("tests-compose runs against a composed stack: use `make compose-test`")
    return Stack(Path(env_file))


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=15) as client:
        yield client


@pytest.fixture
def account(api: httpx.Client) -> Account:
    return sign_up(api, PASSWORD)
