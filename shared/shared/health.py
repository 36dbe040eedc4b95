"""Liveness and readiness, the same in every service (not routed by the gateway)."""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from shared.db import DatabaseDep
from shared.errors import ServiceUnavailable, error_responses


class Health(BaseModel):
    status: Literal["ok", "ready"]


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health")
    async def read_liveness() -> Health:
        """The process runs and answers."""
        return Health(status="ok")

    @router.get("/health/ready", responses=error_responses(503))
    async def read_readiness(database: DatabaseDep) -> Health:
        """The service can do its work: its database answers."""
        if not await database.ping():
            raise ServiceUnavailable("The database does not answer.")
        return Health(status="ready")

    return router
