"""Token pairs: signing through the shared codec, refresh tokens recorded by jti.

Each login starts a family; each refresh retires one token of it and adds the next.
"""

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import repository
from auth_service.schemas import TokenPair
from shared.db import Database
from shared.errors import Unauthorized
from shared.jwt import Claims, TokenCodec, TokenError, TokenType

logger = logging.getLogger(__name__)

INVALID_TOKEN_MESSAGE = "The token is not valid or has expired; log in again."  # noqa: S105


class Tokens:
    def __init__(self, codec: TokenCodec) -> None:
        self.codec = codec

    def verify(self, token: str, token_type: TokenType, *, verify_exp: bool = True) -> Claims:
        """The claims of one of our tokens of this type, or Unauthorized (`invalid_token`)."""
        try:
            claims = self.codec.verify(token, token_type, verify_exp=verify_exp)
        except TokenError as exc:
            logger.info("refused a %s token: %s", token_type, exc)
            raise Unauthorized(INVALID_TOKEN_MESSAGE, code="invalid_token") from exc
        return claims

    async def issue_pair(
        self, session: AsyncSession, *, user_id: int, email: str, family_id: str | None = None
    ) -> TokenPair:
        """A new access and refresh token; the refresh token joins `family_id` (or a new one)."""
        subject = str(user_id)
        access = self.codec.issue(subject=subject, email=email, token_type=TokenType.ACCESS)
        refresh = self.codec.issue(subject=subject, email=email, token_type=TokenType.REFRESH)
        await repository.add_refresh_token(
            session,
            jti=refresh.jti,
            family_id=family_id or uuid.uuid4().hex,
            user_id=user_id,
            expires_at=datetime.fromtimestamp(refresh.expires_at, UTC),
        )
        return TokenPair(
            access_token=access.token,
            refresh_token=refresh.token,
            expires_in=self.codec.settings.access_ttl_seconds,
        )


async def purge_expired(database: Database) -> int:
    """Delete expired refresh-token rows in a transaction of its own; how many went."""
    async with database.sessionmaker() as session, session.begin():
        return await repository.purge_expired_tokens(session, datetime.now(UTC))
