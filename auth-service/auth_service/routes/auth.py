"""Public auth routes (CONTRACT.md, Auth). None of them reads `Authorization`."""

from fastapi import APIRouter

from auth_service import repository
from auth_service.bodies import openapi_body
from auth_service.deps import (
    ClientAddressDep,
    CredentialsBody,
    LogoutBody,
    PasswordsDep,
    RefreshBody,
    RegistrationBody,
    ThrottleDep,
    TokensDep,
)
from auth_service.models import utcnow
from auth_service.schemas import (
    Credentials,
    LogoutRequest,
    RefreshRequest,
    Registration,
    TokenPair,
    UserOut,
)
from auth_service.tokens import INVALID_TOKEN_MESSAGE
from shared.db import OpenSessionDep, ReaderDep, SessionDep
from shared.errors import Conflict, Unauthorized, error_responses
from shared.jwt import TokenType
from shared.metrics import login_failures_total, refresh_reuse_detections_total

router = APIRouter(prefix="/auth", tags=["auth"])

INVALID_CREDENTIALS_MESSAGE = "The email or the password is wrong."


@router.post(
    "/register",
    status_code=201,
    responses=error_responses(409, 415, 422),
    openapi_extra=openapi_body(Registration),
)
async def register_user(
    body: RegistrationBody, session: SessionDep, passwords: PasswordsDep
) -> UserOut:
    """Create an account from an email and a password."""
    password_hash = await passwords.hash(body.password)
    user = await repository.create_user(session, body.email, password_hash)
    if user is None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    return UserOut(id=user.id, email=user.email)


@router.post(
    "/login",
    responses=error_responses(401, 415, 422, 429, 503),
    openapi_extra=openapi_body(Credentials),
)
async def log_in(
    body: CredentialsBody,
    reader: ReaderDep,
    open_session: OpenSessionDep,
    passwords: PasswordsDep,
    tokens: TokensDep,
    throttle: ThrottleDep,
    address: ClientAddressDep,
) -> TokenPair:
    """Exchange an email and a password for a token pair."""
    attempt = await throttle.begin(body.email, address)
    # Read without a session: a queue of logins holds no connection or snapshot while
    # it waits for the hash, and only a login that succeeds writes.
    user = await repository.find_credentials(reader, body.email)
    if user is None:
        await passwords.spend_verification(body.password)  # the same work as a wrong password
        login_failures_total.inc()
        raise Unauthorized(INVALID_CREDENTIALS_MESSAGE, code="invalid_credentials")
    if not await passwords.verify(user.password_hash, body.password):
        login_failures_total.inc()
        raise Unauthorized(INVALID_CREDENTIALS_MESSAGE, code="invalid_credentials")
    await throttle.succeeded(attempt)
    upgraded = None
    if passwords.needs_rehash(user.password_hash):
        upgraded = await passwords.hash(body.password)
    async with open_session() as session:
        if upgraded is not None:
            await repository.replace_password_hash(session, user.id, user.password_hash, upgraded)
        return await tokens.issue_pair(session, user_id=user.id, email=user.email)


@router.put(
    "/login",
    responses=error_responses(401, 415, 422),
    openapi_extra=openapi_body(RefreshRequest),
)
async def refresh_tokens(body: RefreshBody, session: SessionDep, tokens: TokensDep) -> TokenPair:
    """Exchange a refresh token (with its access token, maybe expired) for a new pair."""
    claims = tokens.verify(body.refresh_token, TokenType.REFRESH)
    if body.access_token is not None:
        access = tokens.verify(body.access_token, TokenType.ACCESS, verify_exp=False)
        if access.sub != claims.sub:
            raise Unauthorized(INVALID_TOKEN_MESSAGE, code="invalid_token")
    now = utcnow()
    family_id = await repository.retire_refresh_token(
        session, jti=claims.jti, user_id=claims.user_id, now=now
    )
    if family_id is None:
        # Already used (a replay: maybe a stolen copy), revoked, or unknown. The whole
        # family goes, the newest token included; the revocation must outlive the 401.
        if await repository.revoke_family_of(session, claims.jti, now):
            refresh_reuse_detections_total.inc()  # a live family cut off: likely theft
        await session.commit()
        raise Unauthorized(INVALID_TOKEN_MESSAGE, code="invalid_token")
    return await tokens.issue_pair(
        session, user_id=claims.user_id, email=claims.email, family_id=family_id
    )


@router.post(
    "/logout",
    status_code=204,
    responses=error_responses(401, 415, 422),
    openapi_extra=openapi_body(LogoutRequest),
)
async def log_out(body: LogoutBody, session: SessionDep, tokens: TokensDep) -> None:
    """Revoke the refresh token's whole family (an expired token is accepted)."""
    claims = tokens.verify(body.refresh_token, TokenType.REFRESH, verify_exp=False)
    await repository.revoke_family_of(session, claims.jti, utcnow())
