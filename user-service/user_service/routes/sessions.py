"""The signed-in user's sessions (docs/api.md, Sessions): one per login, kept by
auth-service, which this service asks (user_service/auth.py). The access token's `sid`
says which one is asking."""

from fastapi import APIRouter, Response

from shared.errors import NotFound, error_responses
from shared.jwt import is_session_id
from user_service.auth import NO_SUCH_SESSION_MESSAGE
from user_service.deps import AuthDep, CurrentUser
from user_service.schemas import SessionOut

router = APIRouter(prefix="/user/sessions", tags=["sessions"])


@router.get("", responses=error_responses(401, 503))
async def list_sessions(user: CurrentUser, auth: AuthDep) -> list[SessionOut]:
    """The user's active sessions, the most recently used first; `current` marks the one
    this access token belongs to (none for a token from before sessions)."""
    sessions = await auth.list_sessions(user.user_id)
    return [SessionOut.of(session, user.sid) for session in sessions]


@router.delete("", status_code=204, responses=error_responses(401, 503))
async def end_other_sessions(user: CurrentUser, auth: AuthDep) -> Response:
    """End every session but the current one (all of them for a token from before
    sessions, which names none)."""
    await auth.end_sessions(user.user_id, keep=user.sid)
    return Response(status_code=204)


@router.delete("/{session_id}", status_code=204, responses=error_responses(401, 404, 503))
async def end_session(session_id: str, user: CurrentUser, auth: AuthDep) -> Response:
    """End one session, the current one included; 404 when the user has no active
    session by that id. Its access tokens live on until they expire (15 minutes)."""
    # An id of another shape than the `sid` claims names no session, and never reaches
    # auth-service's URL.
    if not is_session_id(session_id):
        raise NotFound(NO_SUCH_SESSION_MESSAGE)
    await auth.end_session(user.user_id, session_id)
    return Response(status_code=204)
