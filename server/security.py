"""Response headers that every page gets, and request ids for the logs."""

from __future__ import annotations

import logging
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("beckon.http")

DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                    (b"x-request-id", request_id.encode()),
                ]
                if path.startswith("/app/preview/"):
                    # The widget editor's live preview: framed by the dashboard itself, by nothing else.
                    csp = DASHBOARD_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
                    extra += [(b"content-security-policy", csp.encode()), (b"x-frame-options", b"SAMEORIGIN")]
                elif path.startswith("/app"):
                    extra += [(b"content-security-policy", DASHBOARD_CSP.encode()), (b"x-frame-options", b"DENY")]
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message["headers"] = headers + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)
