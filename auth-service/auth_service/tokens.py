"""Token pairs: signing through the shared codec, refresh tokens recorded by jti.

Each login opens a session (the refresh family, repository.py); each refresh retires one
token of it and adds the next. Every token of a pair names its session (`sid`), so the
user service can tell a user which of their sessions is the one asking.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service import repository
from auth_service.models import CLIENT_ADDRESS_MAX_LENGTH, USER_AGENT_MAX_LENGTH, utcnow
from auth_service.schemas import TokenPair
from shared.db import Database
from shared.errors import Unauthorized
from shared.jwt import Claims, TokenCodec, TokenError, TokenType

logger = logging.getLogger(__name__)

INVALID_TOKEN_MESSAGE = "The token is not valid or has expired; log in again."  # noqa: S105


def _bounded(value: str | None, length: int) -> str | None:
    """Printable ASCII, at most `length` characters; None when nothing is left."""
    if value is None:
        return None
    kept = "".join(char for char in value if " " <= char <= "~").strip()
    return kept[:length] or None


class Tokens:
    """Issues pairs into sessions: at most `max_sessions` live sessions per account, each
    ending `session_max_age` after it began, however often it is refreshed."""

    def __init__(
        self,
        codec: TokenCodec,
        *,
        session_max_age: timedelta,
        max_sessions: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.codec = codec
        self.session_max_age = session_max_age
        self.max_sessions = max_sessions
        self.clock = clock

    def verify(self, token: str, token_type: TokenType, *, verify_exp: bool = True) -> Claims:
        """The claims of one of our tokens of this type, or Unauthorized (`invalid_token`)."""
        try:
            claims = self.codec.verify(token, token_type, verify_exp=verify_exp)
        except TokenError as exc:
            logger.info("refused a %s token: %s", token_type, exc)
            raise Unauthorized(INVALID_TOKEN_MESSAGE, code="invalid_token") from exc
        return claims

    async def open_session(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        email: str,
        credential_version: int,
        client_address: str | None,
        user_agent: str | None,
    ) -> TokenPair | None:
        """A pair in a new session, or None when `credential_version` (read with the hash
        the password was checked against) is no longer the account's. Ends the oldest
        sessions beyond the account's limit."""
        now = self.clock()
        session_id = uuid.uuid4().hex
        opened = await repository.open_session(
            session,
            session_id=session_id,
            user_id=user_id,
            credential_version=credential_version,
            now=now,
            expires_at=now + self.session_max_age,
            client_address=_bounded(client_address, CLIENT_ADDRESS_MAX_LENGTH),
            user_agent=_bounded(user_agent, USER_AGENT_MAX_LENGTH),
        )
        if not opened:
            return None
        await repository.end_surplus_sessions(session, user_id, self.max_sessions, now)
        return await self._issue(session, user_id=user_id, email=email, session_id=session_id)

    async def rotate(self, session: AsyncSession, claims: Claims) -> TokenPair | None:
        """Retire the refresh token of `claims` and issue the next pair of its session;
        None when the token is not live (see repository.retire_refresh_token)."""
        session_id = await repository.retire_refresh_token(
            session, jti=claims.jti, user_id=claims.user_id, now=self.clock()
        )
        if session_id is None:
            return None
        return await self._issue(
            session, user_id=claims.user_id, email=claims.email, session_id=session_id
        )

    async def _issue(
        self, session: AsyncSession, *, user_id: int, email: str, session_id: str
    ) -> TokenPair:
        subject = str(user_id)
        access = self.codec.issue(
            subject=subject, email=email, token_type=TokenType.ACCESS, session_id=session_id
        )
        refresh = self.codec.issue(
            subject=subject, email=email, token_type=TokenType.REFRESH, session_id=session_id
        )
        await repository.add_refresh_token(
            session,
            jti=refresh.jti,
            session_id=session_id,
            user_id=user_id,
            expires_at=datetime.fromtimestamp(refresh.expires_at, UTC),
        )
        return TokenPair(
            access_token=access.token,
            refresh_token=refresh.token,
            expires_in=self.codec.settings.access_ttl_seconds,
        )


async def purge_expired(database: Database, batch_size: int) -> int:
    """Delete expired refresh-token rows and ended sessions (with their tokens), each
    transaction at most `batch_size` rows of each, until none is left; how many went."""
    purged = 0
    while True:
        async with database.writer() as session:
            now = datetime.now(UTC)
            tokens = await repository.purge_expired_tokens(session, now, batch_size)
            sessions = await repository.purge_ended_sessions(session, now, batch_size)
        purged += tokens + sessions
        if tokens < batch_size and sessions < batch_size:
            return purged
