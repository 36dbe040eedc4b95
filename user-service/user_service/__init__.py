"""Kinoarchive user service: profiles, password change and bookmarks."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
