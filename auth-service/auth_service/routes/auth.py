"""Public auth routes (docs/api.md, Auth). None of them reads `Authorization`."""

import contextlib

from fastapi import APIRouter, Response

from auth_service import repository
from auth_service.bodies import openapi_body
from auth_service.cookies import CrossSiteForms, LogoutBody, RefreshBody, TransportDep
from auth_service.deps import (
    ClientAddressDep,
    CredentialsBody,
    PasswordsDep,
    RegistrationBody,
    RegistrationLimiterDep,
    ThrottleDep,
    TokensDep,
    UserAgentDep,
)
from auth_service.models import utcnow
from auth_service.passwords import HashQueueFull
from auth_service.schemas import (
    AccessToken,
    Credentials,
    LogoutRequest,
    RefreshRequest,
    Registration,
    TokenPair,
    UserOut,
)
from auth_service.throttle import address_key
from auth_service.tokens import INVALID_TOKEN_MESSAGE
from shared.db import ReaderDep, WriterDep
from shared.errors import Conflict, Unauthorized, error_responses
from shared.jwt import TokenType
from shared.metrics import login_failures_total, refresh_reuse_detections_total

router = APIRouter(prefix="/auth", tags=["auth"])

INVALID_CREDENTIALS_MESSAGE = "The email or the password is wrong."
EMAIL_TAKEN_MESSAGE = "An account with this email already exists."


@router.post(
    "/register",
    status_code=201,
    responses=error_responses(403, 409, 415, 422, 429, 503),
    openapi_extra=openapi_body(Registration),
    dependencies=[CrossSiteForms],
)
async def register_user(
    body: RegistrationBody,
    reader: ReaderDep,
    writer: WriterDep,
    passwords: PasswordsDep,
    limiter: RegistrationLimiterDep,
    address: ClientAddressDep,
) -> UserOut:
    """Create an account from an email and a password."""
    # The cheap checks come before the hash: the body (validated already), the
    # per-address limit (which counts every attempt, a taken email included: 409 tells
    # whether an account exists, so this limit is what bounds that question), the email.
    attempt = await limiter.begin(address_key(address))
    if await repository.find_credentials(reader, body.email) is not None:
        raise Conflict(EMAIL_TAKEN_MESSAGE, code="email_taken")
    try:
        password_hash = await passwords.hash(body.password)
    except HashQueueFull:
        await limiter.take_back(attempt)  # nothing was done: not counted
        raise
    async with writer() as session:
        user = await repository.create_user(session, body.email, password_hash)
    if user is None:  # registered meanwhile: the UNIQUE constraint decided
        raise Conflict(EMAIL_TAKEN_MESSAGE, code="email_taken")
    return UserOut(id=user.id, email=user.email)


@router.post(
    "/login",
    responses=error_responses(401, 403, 415, 422, 429, 503),
    openapi_extra=openapi_body(Credentials),
    dependencies=[CrossSiteForms],
)
async def log_in(
    body: CredentialsBody,
    reader: ReaderDep,
    writer: WriterDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    throttle: ThrottleDep,
    address: ClientAddressDep,
    user_agent: UserAgentDep,
    transport: TransportDep,
    response: Response,
) -> TokenPair | AccessToken:
    """Exchange an email and a password for a token pair (cookie mode: see cookies.py)."""
    attempt = await throttle.begin(body.email, address)
    # Read without a session: a queue of logins holds no connection or snapshot while
    # it waits for the hash, and only a login that succeeds writes.
    user = await repository.find_credentials(reader, body.email)
    try:
        if user is None:
            await passwords.spend_verification(body.password)  # the work of a wrong password
            right = False
        else:
            right = await passwords.verify(user.password_hash, body.password)
    except HashQueueFull:
        await throttle.abandoned(attempt)  # never checked: not a failure
        raise
    if user is None or not right:
        login_failures_total.inc()
        raise Unauthorized(INVALID_CREDENTIALS_MESSAGE, code="invalid_credentials")
    await throttle.succeeded(attempt)
    upgraded = None
    if passwords.needs_rehash(user.password_hash):
        with contextlib.suppress(HashQueueFull):  # else the upgrade waits for the next login
            upgraded = await passwords.hash(body.password)
    async with writer() as session:
        if upgraded is not None:
            await repository.upgrade_password_hash(session, user.id, user.password_hash, upgraded)
        pair = await tokens.open_session(
            session,
            user_id=user.id,
            email=user.email,
            credential_version=user.credential_version,
            client_address=address,
            user_agent=user_agent,
        )
    if pair is None:  # the password changed since it was read: the checked one is old
        raise Unauthorized(INVALID_CREDENTIALS_MESSAGE, code="invalid_credentials")
    return transport.deliver(pair, response)


@router.put(
    "/login",
    responses=error_responses(401, 403, 415, 422),
    openapi_extra=openapi_body(RefreshRequest),
)
async def refresh_tokens(
    body: RefreshBody,
    writer: WriterDep,
    tokens: TokensDep,
    transport: TransportDep,
    response: Response,
) -> TokenPair | AccessToken:
    """Exchange a refresh token (with its access token, maybe expired) for a new pair."""
    claims = tokens.verify(body.refresh_token, TokenType.REFRESH)
    if body.access_token is not None:
        access = tokens.verify(body.access_token, TokenType.ACCESS, verify_exp=False)
        if access.sub != claims.sub:
            raise Unauthorized(INVALID_TOKEN_MESSAGE, code="invalid_token")
    async with writer() as session:
        pair = await tokens.rotate(session, claims)
        # Already used (a replay: maybe a stolen copy), unknown, or of a session that has
        # ended. A replay ends the whole session, its newest token included, and the
        # revocation is committed before the 401 is raised below.
        if pair is None and await repository.end_session_of_reused_token(
            session, claims.jti, utcnow()
        ):
            refresh_reuse_detections_total.inc()  # a live session cut off: likely theft
    if pair is None:
        raise Unauthorized(INVALID_TOKEN_MESSAGE, code="invalid_token")
    return transport.deliver(pair, response)


@router.post(
    "/logout",
    status_code=204,
    responses=error_responses(401, 403, 415, 422),
    openapi_extra=openapi_body(LogoutRequest),
)
async def log_out(
    body: LogoutBody,
    writer: WriterDep,
    tokens: TokensDep,
    transport: TransportDep,
    response: Response,
) -> None:
    """End the refresh token's session (an expired token is accepted)."""
    claims = tokens.verify(body.refresh_token, TokenType.REFRESH, verify_exp=False)
    async with writer() as session:
        await repository.end_session_of_token(session, claims.jti, utcnow())
    transport.forget(response)
