"""Kinoarchive auth service: accounts, token pairs with rotation, throttled login."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
