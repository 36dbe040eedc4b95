"""Kinoarchive catalog service: movies, genres and directors (read-only over HTTP)."""
