"""Endpoints for the other services only: not routed by the gateway, and refused
without `X-Internal-Token` (INTERNAL_API_TOKEN)."""

from fastapi import APIRouter

from auth_service import repository
from auth_service.deps import InternalCaller, PasswordsDep
from auth_service.models import utcnow
from auth_service.schemas import PasswordChange
from shared.db import INT32_MAX, SessionDep
from shared.errors import BadRequest, NotFound, error_responses

router = APIRouter(prefix="/internal", tags=["internal"], dependencies=[InternalCaller])

WRONG_PASSWORD_MESSAGE = "The current password is wrong."  # noqa: S105


@router.put(
    "/users/{user_id}/password",
    status_code=204,
    responses=error_responses(400, 403, 404, 422, 503),
)
async def change_password(
    user_id: int, body: PasswordChange, session: SessionDep, passwords: PasswordsDep
) -> None:
    """Set a new password after checking the current one; revoke every refresh family."""
    user = await repository.get_user(session, user_id) if 1 <= user_id <= INT32_MAX else None
    if user is None:
        raise NotFound("There is no user with this id.")
    await session.commit()  # end the read before hashing (see log_in)
    if not await passwords.verify(user.password_hash, body.current_password):
        raise BadRequest(WRONG_PASSWORD_MESSAGE, code="wrong_password")
    new_hash = await passwords.hash(body.new_password)
    # Conditional on the hash just verified: a concurrent change makes this one fail.
    if not await repository.replace_password_hash(session, user.id, user.password_hash, new_hash):
        raise BadRequest(WRONG_PASSWORD_MESSAGE, code="wrong_password")
    await repository.revoke_user_tokens(session, user.id, utcnow())
