"""Logging with the request id on every line, as text for people or JSON for machines.

`RequestContextMiddleware` takes the gateway's `X-Request-ID` (or makes one), keeps it
in a context variable for every log line written while the request runs, echoes it on
the response, and writes one access line per request.
"""

import contextvars
import json
import logging
import random
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
user_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("user_id", default=None)

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_SERVICE = "service"

access_logger = logging.getLogger("access")


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.service = _SERVICE
        if record.name == "uvicorn.error":  # uvicorn's name for its general log
            record.name = "uvicorn"
        return True


class JsonFormatter(logging.Formatter):
    _EXTRA = ("method", "path", "status", "duration_ms", "user_id")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": getattr(record, "service", _SERVICE),
            "request_id": getattr(record, "request_id", "-"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in self._EXTRA:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO", fmt: str = "text") -> None:
    global _SERVICE
    _SERVICE = service
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")
        )
    # No line records where it was logged from, nor the thread or process: the logging
    # HOWTO's optimisations, a third of the cost of the access line (bench/).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log would repeat ours without the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # A service that migrates as it starts logs one line of what was done (shared.app);
    # Alembic's own INFO lines (its plugins, its DDL mode) would only bury it.
    logging.getLogger("alembic").setLevel(logging.WARNING)


# Request ids must be unique, not secret: 128 bits of a generator seeded from the OS
# once, rather than a uuid4, whose system call per request cost 10 us (bench/).
_ids = random.Random()  # noqa: S311 (unique, not secret: see above)


def new_request_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): it costs almost nothing per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _VALID_REQUEST_ID.fullmatch(candidate):
                    request_id = candidate
                break
        request_id = request_id or new_request_id()
        token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": user_id_var.get(),
                },
            )
            user_id_var.reset(user_token)
            request_id_var.reset(token)
