"""Structured logs: one JSON line per request (and per socket), each with a request id.

The id is returned in ``X-Request-ID`` and shown on error pages, so a person who reports
"it broke" can hand over the one thing that finds their line in the log.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.security import forwarded_client, header

ACCESS = "beckon.access"
# What we accept from a proxy as an id: short and printable, so it can't forge log lines.
_PROXY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# One encoder made once: json.dumps with options builds a new JSONEncoder for every line (bench #10).
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return _encode(line)


def install_logs() -> None:
    """Send access lines as JSON to stderr; they replace uvicorn's plain-text access log."""
    access = logging.getLogger(ACCESS)
    if not any(isinstance(h.formatter, JsonFormatter) for h in access.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
    logging.getLogger("uvicorn.access").disabled = True


def request_id(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


def _site_key(scope: Scope) -> str | None:
    params = scope.get("path_params") or {}
    key = params.get("key") or params.get("site")
    if key:
        return str(key)
    for pair in (scope.get("query_string") or b"").decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if name == "site" and value:
            return value[:64]
    return None


class RequestLog:
    """Outermost app middleware: gives every request an id and writes its access line when it ends."""

    def __init__(self, app: ASGIApp, *, trust_proxy: bool) -> None:
        self.app = app
        self.trust_proxy = trust_proxy
        self.log = logging.getLogger(ACCESS)

    def _id_for(self, scope: Scope) -> str:
        offered = header(scope, b"x-request-id") if self.trust_proxy else None
        return offered if offered and _PROXY_ID.match(offered) else secrets.token_hex(8)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = self._id_for(scope)
        scope.setdefault("state", {})["request_id"] = rid
        if self.trust_proxy and (client := forwarded_client(scope)):
            # Behind our proxy every peer is the proxy: per-address limits must see the real address.
            scope["client"] = (client, 0)
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            elif kind == "websocket.accept":
                status = 101
            elif kind == "websocket.close" and status is None:
                status = 403  # closed before accepting: uvicorn answers the handshake with 403
            elif kind == "websocket.http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = status or 500
            raise
        finally:
            if self.log.isEnabledFor(logging.INFO):  # nothing is built for a line nobody writes
                self._write(scope, rid, status, started)

    def _write(self, scope: Scope, rid: str, status: int | None, started: float) -> None:
        fields: dict[str, Any] = {
            "request_id": rid,
            "method": scope.get("method", "WS") if scope["type"] == "http" else "WS",
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "client": (scope.get("client") or ("", 0))[0],
        }
        site = _site_key(scope)
        if site:
            fields["site"] = site
        self.log.info("%s %s %s", fields["method"], scope["path"], status, extra={"fields": fields})
