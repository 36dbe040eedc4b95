from sqlalchemy.orm import DeclarativeBase


class UserBase(DeclarativeBase):
    """The user service's own metadata: its tables and nobody else's."""


metadata = UserBase.metadata
