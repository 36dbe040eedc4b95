"""Settings: safe defaults, and a production mode that refuses to start unsafe."""

import os
import secrets

import pytest
from pydantic import SecretStr, ValidationError

from auth_service.config import (
    OWASP_MIN_MEMORY_KIB,
    OWASP_MIN_PARALLELISM,
    OWASP_MIN_TIME_COST,
    AuthSettings,
)
from auth_service.main import create_app
from shared.jwt import JwtSettings

STRONG = secrets.token_urlsafe(40)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("AUTH_", "JWT_")) or name in ("REDIS_URL", "INTERNAL_API_TOKEN"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AUTH_DATA_DIR", str(tmp_path))
    return monkeypatch


def test_default_hashing_is_at_least_owasp_minimum(clean_env) -> None:
    settings = AuthSettings()
    assert settings.argon2_memory_kib >= OWASP_MIN_MEMORY_KIB == 19 * 1024
    assert settings.argon2_time_cost >= OWASP_MIN_TIME_COST == 2
    assert settings.argon2_parallelism >= OWASP_MIN_PARALLELISM == 1


def test_default_throttling_follows_the_contract(clean_env) -> None:
    settings = AuthSettings()
    # One email from one address: at most 10 failures; from every unknown address
    # together more (issue 14: nobody else's failures lock an account), a bounded number.
    assert settings.login_max_failures_per_email_and_address <= 10
    assert settings.login_max_failures_per_email == 50
    assert settings.login_max_failures_per_address >= 100
    assert settings.login_failure_window_seconds <= 900
    assert settings.login_known_address_seconds == 30 * 24 * 3600
    assert settings.login_known_addresses_per_email == 10
    assert settings.password_change_max_failures == 10
    assert (settings.register_max_per_address, settings.register_window_seconds) == (20, 3600)
    assert settings.hash_queue_limit == 0  # 8 per hashing thread
    assert settings.trusted_proxies == "127.0.0.1,::1"
    assert settings.redis_url is None
    assert settings.internal_api_token is None


def test_no_lockout_can_be_configured_longer_than_15_minutes(clean_env) -> None:
    clean_env.setenv("AUTH_LOGIN_FAILURE_WINDOW_SECONDS", "901")
    with pytest.raises(ValidationError):
        AuthSettings()


def test_settings_come_from_the_environment(clean_env) -> None:
    clean_env.setenv("AUTH_ARGON2_MEMORY_KIB", "65536")
    clean_env.setenv("AUTH_LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS", "5")
    clean_env.setenv("AUTH_LOGIN_MAX_FAILURES_PER_EMAIL", "5")
    clean_env.setenv("AUTH_REGISTER_MAX_PER_ADDRESS", "100000")
    clean_env.setenv("AUTH_HASH_QUEUE_LIMIT", "3")
    clean_env.setenv("AUTH_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    clean_env.setenv("INTERNAL_API_TOKEN", "shared-token")
    settings = AuthSettings()
    assert settings.argon2_memory_kib == 65536
    assert settings.login_max_failures_per_email == 5
    assert settings.login_max_failures_per_email_and_address == 5
    assert settings.register_max_per_address == 100000
    assert settings.hash_queue_limit == 3
    assert [str(n) for n in settings.trusted_proxy_networks] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert settings.internal_api_token is not None
    assert settings.internal_api_token.get_secret_value() == "shared-token"


def test_the_email_limit_is_never_below_the_email_and_address_limit(clean_env) -> None:
    """Else the failures of one address would close the account to every new address."""
    clean_env.setenv("AUTH_LOGIN_MAX_FAILURES_PER_EMAIL", "9")
    with pytest.raises(ValidationError, match="AUTH_LOGIN_MAX_FAILURES_PER_EMAIL_AND_ADDRESS"):
        AuthSettings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AUTH_REGISTER_WINDOW_SECONDS", "86401"),
        ("AUTH_REGISTER_MAX_PER_ADDRESS", "0"),
        ("AUTH_PASSWORD_CHANGE_MAX_FAILURES", "0"),
        ("AUTH_HASH_QUEUE_LIMIT", "-1"),
        ("AUTH_LOGIN_KNOWN_ADDRESSES_PER_EMAIL", "0"),
    ],
)
def test_limits_out_of_range_are_refused(clean_env, variable, value) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(ValidationError):
        AuthSettings()


def test_a_bad_trusted_proxy_is_refused(clean_env) -> None:
    clean_env.setenv("AUTH_TRUSTED_PROXIES", "127.0.0.1,localhost")
    with pytest.raises(ValidationError):
        AuthSettings()


def test_redis_url_falls_back_to_the_shared_variable(clean_env) -> None:
    clean_env.setenv("REDIS_URL", "redis://shared:6379/0")
    assert AuthSettings().redis_url == "redis://shared:6379/0"
    clean_env.setenv("AUTH_REDIS_URL", "redis://own:6379/1")
    assert AuthSettings().redis_url == "redis://own:6379/1"
    clean_env.setenv("AUTH_REDIS_URL", "")
    clean_env.delenv("REDIS_URL")
    assert AuthSettings().redis_url is None


def production(**values) -> AuthSettings:
    return AuthSettings(environment="production", **values)


def test_production_needs_a_long_internal_token(clean_env) -> None:
    with pytest.raises(ValidationError, match="INTERNAL_API_TOKEN"):
        production()
    with pytest.raises(ValidationError, match="INTERNAL_API_TOKEN"):
        production(internal_api_token="short")
    assert production(internal_api_token=STRONG).is_production


def test_production_refuses_weak_hashing(clean_env) -> None:
    with pytest.raises(ValidationError, match="OWASP"):
        production(internal_api_token=STRONG, argon2_memory_kib=1024)
    with pytest.raises(ValidationError, match="OWASP"):
        production(internal_api_token=STRONG, argon2_time_cost=1)


@pytest.mark.parametrize("secret", [None, "", "short", "changeme", "x" * 31])
def test_production_refuses_to_start_without_a_real_jwt_secret(clean_env, secret) -> None:
    clean_env.setenv("INTERNAL_API_TOKEN", STRONG)
    if secret is not None:
        clean_env.setenv("JWT_SECRET", secret)
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        create_app(production())


async def test_production_starts_with_a_real_secret(clean_env) -> None:
    clean_env.setenv("INTERNAL_API_TOKEN", STRONG)
    clean_env.setenv("JWT_SECRET", secrets.token_urlsafe(32))
    app = create_app(production())
    assert app.state.tokens.codec.algorithm == "HS256"
    await app.state.database.dispose()


async def test_explicit_jwt_settings_win(clean_env) -> None:
    jwt = JwtSettings(secret=SecretStr(STRONG), access_ttl_seconds=60)
    app = create_app(AuthSettings(environment="test"), jwt)
    assert app.state.tokens.codec.settings.access_ttl_seconds == 60
    await app.state.database.dispose()
