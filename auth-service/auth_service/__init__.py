"""Kinoarchive auth service: accounts, token pairs with rotation, throttled login."""
