"""The user service's dependencies, each declared once as an `Annotated` alias."""

import logging
from typing import Annotated

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import Unauthorized
from shared.jwt import Claims, TokenCodec, TokenError, TokenType
from shared.logging import user_id_var
from user_service.auth import AuthClient
from user_service.catalog import CatalogClient
from user_service.config import UserSettings
from user_service.models import EMAIL_MAX_LENGTH

logger = logging.getLogger("user_service.auth")

_bearer = HTTPBearer(auto_error=False, description="An access token from `/auth/login/`.")


async def get_current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    """The verified claims of the request's access token, or 401.

    Async on purpose: the user id set here must reach the access log, which reads the
    context variable in the same task (a sync dependency would run in a thread).
    """
    if credentials is None:
        raise Unauthorized("Authentication is required: send an access token.")
    codec: TokenCodec = request.app.state.token_codec
    try:
        claims = codec.verify(credentials.credentials, TokenType.ACCESS)
    except TokenError as exc:
        logger.info("access token refused: %s", exc)
        raise Unauthorized("The access token is not valid or has expired.") from exc
    if len(claims.email) > EMAIL_MAX_LENGTH:
        logger.warning("access token with an impossible email refused")
        raise Unauthorized("The access token is not valid or has expired.")
    user_id_var.set(claims.sub)
    return claims


CurrentUser = Annotated[Claims, Depends(get_current_user)]


async def get_http_client(request: Request) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.http
    return client


HttpClientDep = Annotated[httpx.AsyncClient, Depends(get_http_client)]


async def get_catalog(request: Request, http: HttpClientDep) -> CatalogClient:
    settings: UserSettings = request.app.state.settings
    return CatalogClient(http, settings.catalog_url, request.app.state.genre_cache)


async def get_auth(request: Request, http: HttpClientDep) -> AuthClient:
    settings: UserSettings = request.app.state.settings
    return AuthClient(http, settings.auth_url, settings.internal_api_token)


CatalogDep = Annotated[CatalogClient, Depends(get_catalog)]
AuthDep = Annotated[AuthClient, Depends(get_auth)]
