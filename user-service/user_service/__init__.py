"""Kinoarchive user service: profiles, password change and bookmarks."""
