from sqlalchemy.orm import DeclarativeBase


class AuthBase(DeclarativeBase):
    """The auth service's own metadata: its tables and nobody else's."""


metadata = AuthBase.metadata
