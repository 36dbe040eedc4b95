import pytest
from pydantic import ValidationError

from user_service.catalog import GenreCache
from user_service.config import UserSettings


def test_defaults(monkeypatch) -> None:
    monkeypatch.delenv("INTERNAL_API_TOKEN", raising=False)
    settings = UserSettings()
    assert settings.catalog_url == "http://127.0.0.1:8001"
    assert settings.auth_url == "http://127.0.0.1:8002"
    assert (settings.http_connect_timeout, settings.http_read_timeout) == (1.0, 3.0)
    assert settings.genre_cache_ttl_seconds == 60
    assert settings.internal_api_token is None


def test_environment_variables(monkeypatch) -> None:
    monkeypatch.setenv("USER_CATALOG_URL", "http://catalog:8000")
    monkeypatch.setenv("USER_AUTH_URL", "http://auth:8000")
    monkeypatch.setenv("INTERNAL_API_TOKEN", "t" * 40)
    settings = UserSettings()
    assert (settings.catalog_url, settings.auth_url) == ("http://catalog:8000", "http://auth:8000")
    assert settings.internal_api_token is not None
    assert settings.internal_api_token.get_secret_value() == "t" * 40


@pytest.mark.parametrize("token", [None, "changeme", "short"])
def test_production_refuses_a_missing_or_weak_internal_token(monkeypatch, token) -> None:
    monkeypatch.delenv("INTERNAL_API_TOKEN", raising=False)
    if token is not None:
        monkeypatch.setenv("INTERNAL_API_TOKEN", token)
    with pytest.raises(ValidationError, match="INTERNAL_API_TOKEN"):
        UserSettings(environment="production")


def test_the_genre_cache_forgets_after_its_ttl(monkeypatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("user_service.catalog.time.monotonic", lambda: clock[0])
    cache = GenreCache(ttl=60)
    cache.put(2, True)
    cache.put(99, False)
    clock[0] += 59
    assert (cache.get(2), cache.get(99), cache.get(3)) == (True, False, None)
    clock[0] += 2
    assert (cache.get(2), cache.get(99)) == (None, None)


def test_a_zero_ttl_caches_nothing() -> None:
    cache = GenreCache(ttl=0)
    cache.put(2, True)
    assert cache.get(2) is None
