"""Kinoarchive catalog service: movies, genres and directors (read-only over HTTP)."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
