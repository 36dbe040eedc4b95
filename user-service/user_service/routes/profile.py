"""The signed-in user's profile and password (docs/api.md, User)."""

from fastapi import APIRouter, Response

from shared.db import ReaderDep, WriterDep
from shared.errors import FieldError, ValidationFailed, error_responses
from user_service import repository
from user_service.deps import AuthDep, CatalogDep, CurrentUser
from user_service.schemas import PasswordChange, ProfileOut, ProfileUpdate

router = APIRouter(prefix="/user", tags=["profile"])


@router.get("", responses=error_responses(401))
async def read_profile(user: CurrentUser, reader: ReaderDep, writer: WriterDep) -> ProfileOut:
    """The user's profile (made on first use from the token)."""
    profile = await repository.find_profile(reader, user.user_id)
    if profile is None or profile.email != user.email:
        async with writer() as session:
            return ProfileOut.of(await repository.ensure_profile(session, user.user_id, user.email))
    return ProfileOut.of(profile)


@router.patch("", responses=error_responses(401, 422, 503))
async def update_profile(
    body: ProfileUpdate, user: CurrentUser, writer: WriterDep, catalog: CatalogDep
) -> ProfileOut:
    """Change the name, surname or favourite genre; other fields are ignored."""
    changes = body.changes()
    genre_id = changes.get("favourite_genre_id")
    # Asked before the unit of work, so no transaction stays open while the catalog answers.
    if genre_id is not None and not await catalog.genre_exists(genre_id):
        raise ValidationFailed(
            [FieldError(field="favorite_genre", message=f"There is no genre with id {genre_id}.")]
        )
    async with writer() as session:
        profile = await repository.update_profile(session, user.user_id, user.email, changes)
    return ProfileOut.of(profile)


@router.put("/password", status_code=204, responses=error_responses(400, 401, 422, 429, 503))
async def change_password(body: PasswordChange, user: CurrentUser, auth: AuthDep) -> Response:
    """Change the password; every session opened before is closed."""
    current, new = body.passwords()
    await auth.change_password(user.user_id, current, new, field_names=body.field_names)
    return Response(status_code=204)
