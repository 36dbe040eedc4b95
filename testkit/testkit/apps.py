"""What a test can ask of a FastAPI app's routes."""

import inspect
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def threaded_callables(app: FastAPI) -> list[str]:
    """The route functions and dependencies of `app` written as plain functions, which
    FastAPI runs in a worker thread: a thread hand-off per request for no gain when the
    function never blocks (bench/ measured it in the catalog and the auth service)."""
    found: set[str] = set()

    def visit(dependant: Dependant) -> None:
        call = dependant.call
        if call is not None:
            function = call if inspect.isroutine(call) else type(call).__call__
            if not (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
                found.add(f"{call.__module__}.{getattr(call, '__qualname__', call)}")
        for sub in dependant.dependencies:
            visit(sub)

    def routes(items: list[Any]) -> None:
        for route in items:
            if isinstance(route, APIRoute):
                visit(route.dependant)
            elif (router := getattr(route, "original_router", None)) is not None:
                routes(router.routes)  # a router included with include_router

    routes(app.router.routes)
    return sorted(found)
