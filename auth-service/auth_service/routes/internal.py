"""Endpoints for the other services only: not routed by the gateway, and refused
without `X-Internal-Token` (INTERNAL_API_TOKEN)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from auth_service import repository
from auth_service.deps import InternalCaller, PasswordChangeLimiterDep, PasswordsDep
from auth_service.models import SESSION_ID_MAX_LENGTH, utcnow
from auth_service.passwords import HashQueueFull
from auth_service.schemas import PasswordChange, SessionOut
from shared.db import INT32_MAX, ReaderDep, WriterDep
from shared.errors import BadRequest, NotFound, error_responses

router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[InternalCaller])

WRONG_PASSWORD_MESSAGE = "The current password is wrong."  # noqa: S105


def _is_user_id(user_id: int) -> bool:
    return 1 <= user_id <= INT32_MAX


@router.put(
    "/users/{user_id}/password",
    status_code=204,
    responses=error_responses(400, 403, 404, 422, 429, 503),
)
async def change_password(
    user_id: int,
    body: PasswordChange,
    reader: ReaderDep,
    writer: WriterDep,
    passwords: PasswordsDep,
    limiter: PasswordChangeLimiterDep,
) -> None:
    """Set a new password after checking the current one; end every session."""
    # Read without a session, so nothing stays open while the passwords are hashed.
    user = (
        await repository.find_credentials_by_id(reader, user_id) if _is_user_id(user_id) else None
    )
    if user is None:
        raise NotFound("There is no user with this id.")
    # Wrong current passwords are throttled per account like logins (a stolen access
    # token must not guess at hash speed): reserved as a failure, taken back unless wrong.
    attempt = await limiter.begin(str(user.id))
    try:
        right = await passwords.verify(user.password_hash, body.current_password)
    except HashQueueFull:
        await limiter.take_back(attempt)  # never checked: not a failure
        raise
    if not right:
        raise BadRequest(WRONG_PASSWORD_MESSAGE, code="wrong_password")
    await limiter.take_back(attempt)
    new_hash = await passwords.hash(body.new_password)
    # Conditional on the credential version read with the hash just verified (a
    # concurrent change makes this one fail), and bumping it: from its commit on, no
    # session of the old version issues a token that can be refreshed (repository.py).
    async with writer() as session:
        changed = await repository.change_password_hash(
            session, user.id, user.credential_version, new_hash
        )
        if changed:
            await repository.end_sessions(session, user.id, utcnow())
    if not changed:
        raise BadRequest(WRONG_PASSWORD_MESSAGE, code="wrong_password")


SessionIdPath = Annotated[str, Path(max_length=SESSION_ID_MAX_LENGTH)]
NO_SUCH_SESSION_MESSAGE = "The account has no live session with this id."


@router.get("/users/{user_id}/sessions", responses=error_responses(403, 422, 503))
async def list_sessions(user_id: int, reader: ReaderDep) -> list[SessionOut]:
    """The account's live sessions, the most recently used first (none for an unknown
    account). At most AUTH_MAX_SESSIONS_PER_ACCOUNT, so not paginated."""
    if not _is_user_id(user_id):
        return []
    rows = await repository.list_sessions(reader, user_id, utcnow())
    return [SessionOut.model_validate(row, from_attributes=True) for row in rows]


@router.delete(
    "/users/{user_id}/sessions/{session_id}",
    status_code=204,
    responses=error_responses(403, 404, 422, 503),
)
async def end_session(user_id: int, session_id: SessionIdPath, writer: WriterDep) -> None:
    """End one live session of the account; 404 when it has none by that id."""
    ended = False
    if _is_user_id(user_id):
        async with writer() as session:
            ended = await repository.end_session(session, user_id, session_id, utcnow())
    if not ended:
        raise NotFound(NO_SUCH_SESSION_MESSAGE, code="session_not_found")


@router.delete(
    "/users/{user_id}/sessions", status_code=204, responses=error_responses(403, 422, 503)
)
async def end_sessions(
    user_id: int,
    writer: WriterDep,
    keep: Annotated[
        str | None,
        Query(max_length=SESSION_ID_MAX_LENGTH, description="The one session to leave alone."),
    ] = None,
) -> None:
    """End every session of the account, or all but `keep`."""
    if _is_user_id(user_id):
        async with writer() as session:
            await repository.end_sessions(session, user_id, utcnow(), keep=keep)
