"""Accounts for the end-to-end tests: a fresh user, registered and logged in."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Account:
    id: int
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"


def login(api: httpx.Client, email: str, password: str) -> httpx.Response:
    return api.post("/auth/login/", json={"email": email, "password": password})


def sign_up(api: httpx.Client, password: str, **extra: Any) -> Account:
    """Register a new email (with any `extra` fields in the body) and log in."""
    email = new_email()
    created = api.post("/auth/register/", json={"email": email, "password": password, **extra})
    assert created.status_code == 201, created.text
    logged_in = login(api, email, password)
    assert logged_in.status_code == 200, logged_in.text
    pair = logged_in.json()
    return Account(
        id=created.json()["id"],
        email=email,
        password=password,
        access_token=pair["access_token"],
        refresh_token=pair["refresh_token"],
    )
