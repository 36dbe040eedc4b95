"""Accounts for the browser tests, made through the API (shared by conftest and tests)."""

import uuid
from dataclasses import dataclass

import httpx

PASSWORD = "correct horse battery 1"
# The web app keeps its refresh token in this HttpOnly cookie (path /auth/), its access
# token in memory, and in localStorage only a mark that a session may exist.
COOKIE_NAME = "kinoarchive_refresh"
SESSION_KEY = "kinoarchive.session"
# Where versions before the cookie kept the token pair; moved into the cookie on load.
LEGACY_TOKENS_KEY = "kinoarchive.tokens"


@dataclass
class Account:
    email: str
    password: str
    tokens: dict[str, str]


def new_email() -> str:
    return f"web-{uuid.uuid4().hex[:12]}@example.org"


def register_account(base_url: str, password: str = PASSWORD) -> Account:
    email = new_email()
    with httpx.Client(base_url=base_url, timeout=15) as api:
        created = api.post("/auth/register/", json={"email": email, "password": password})
        assert created.status_code == 201, created.text
        pair = api.post("/auth/login/", json={"email": email, "password": password})
        assert pair.status_code == 200, pair.text
    return Account(email=email, password=password, tokens=pair.json())
