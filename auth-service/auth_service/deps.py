"""The auth service's dependencies, declared once as `Annotated` aliases."""

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from auth_service.addresses import client_address
from auth_service.bodies import json_or_form
from auth_service.config import AuthSettings
from auth_service.passwords import Passwords
from auth_service.schemas import Credentials, Registration
from auth_service.throttle import AttemptLimiter, LoginThrottle
from auth_service.tokens import Tokens
from shared.errors import Forbidden, ServiceUnavailable

# Every dependency is `async def`, even those that only read app.state: FastAPI runs a plain
# `def` dependency in a worker thread, a thread hand-off per request (bench/).


async def get_settings(request: Request) -> AuthSettings:
    settings: AuthSettings = request.app.state.settings
    return settings


async def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


async def get_tokens(request: Request) -> Tokens:
    tokens: Tokens = request.app.state.tokens
    return tokens


async def get_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.throttle
    return throttle


async def get_user_agent(request: Request) -> str | None:
    """The User-Agent header as sent (a login records it, bounded, with its session)."""
    return request.headers.get("user-agent")


async def get_password_change_limiter(request: Request) -> AttemptLimiter:
    limiter: AttemptLimiter = request.app.state.password_change_limiter
    return limiter


async def get_registration_limiter(request: Request) -> AttemptLimiter:
    limiter: AttemptLimiter = request.app.state.registration_limiter
    return limiter


async def get_client_address(request: Request) -> str:
    settings = await get_settings(request)
    return client_address(
        request.client.host if request.client else None,
        request.headers.get("x-real-ip"),
        request.headers.getlist("x-forwarded-for"),
        settings.trusted_proxy_networks,
    )


async def require_internal_caller(
    settings: Annotated[AuthSettings, Depends(get_settings)],
    x_internal_token: Annotated[
        str | None, Header(description="INTERNAL_API_TOKEN, shared by the services.")
    ] = None,
) -> None:
    """The caller holds INTERNAL_API_TOKEN (compared in constant time).

    While the service has no token configured (development only: production refuses to
    start), the internal endpoints are off: 503, never open.
    """
    expected = settings.internal_api_token
    if expected is None:
        raise ServiceUnavailable("The internal API is off: INTERNAL_API_TOKEN is not set.")
    given = (x_internal_token or "").encode()
    if not hmac.compare_digest(given, expected.get_secret_value().encode()):
        raise Forbidden("This endpoint is for the Kinoarchive services only.")


SettingsDep = Annotated[AuthSettings, Depends(get_settings)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
TokensDep = Annotated[Tokens, Depends(get_tokens)]
ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]
PasswordChangeLimiterDep = Annotated[AttemptLimiter, Depends(get_password_change_limiter)]
RegistrationLimiterDep = Annotated[AttemptLimiter, Depends(get_registration_limiter)]
ClientAddressDep = Annotated[str, Depends(get_client_address)]
UserAgentDep = Annotated[str | None, Depends(get_user_agent)]
InternalCaller = Depends(require_internal_caller)

RegistrationBody = Annotated[Registration, Depends(json_or_form(Registration))]
CredentialsBody = Annotated[Credentials, Depends(json_or_form(Credentials))]
# The refresh and logout bodies depend on the token transport: auth_service/cookies.py.
