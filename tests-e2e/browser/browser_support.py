"""Accounts for the browser tests, made through the API (shared by conftest and tests)."""

import uuid
from dataclasses import dataclass

import httpx

PASSWORD = "correct horse battery 1"
TOKENS_KEY = "kinoarchive.tokens"  # where the app keeps the token pair (localStorage)


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
