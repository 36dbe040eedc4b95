"""Code every Kinoarchive service needs exactly once.

Services import from here; nothing in this package is copied into a service.
"""
