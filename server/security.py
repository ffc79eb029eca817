"""Response headers that every page gets, and whether a request reached us over TLS."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = b"max-age=31536000; includeSubDomains"


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def request_is_tls(scope: Scope, trust_proxy: bool) -> bool:
    """Came over https/wss, or a proxy we were told to trust says the browser used https.

    Without ``trust_proxy`` the header is ignored: anyone can send X-Forwarded-Proto.
    """
    if scope.get("scheme") in ("https", "wss"):
        return True
    if not trust_proxy:
        return False
    forwarded = (header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
    return forwarded == "https"


def forwarded_client(scope: Scope) -> str | None:
    """The address our own proxy saw: the last X-Forwarded-For entry (it appends it; earlier ones are the client's word)."""
    forwarded = header(scope, b"x-forwarded-for")
    if not forwarded:
        return None
    last = forwarded.split(",")[-1].strip()
    return last[:64] or None


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, trust_proxy: bool, public_https: bool = False) -> None:
        self.app = app
        self.trust_proxy = trust_proxy
        self.public_https = public_https  # BECKON_PUBLIC_URL is https://: the owner says browsers arrive on TLS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        tls = self.public_https or request_is_tls(scope, self.trust_proxy)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}  # an endpoint's own choice wins
                message["headers"] = headers + [h for h in headers_for(path, tls) if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def headers_for(path: str, tls: bool) -> list[tuple[bytes, bytes]]:
    extra = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
    ]
    if path.startswith("/app/preview/"):
        # The widget editor's live preview: framed by the dashboard itself, by nothing else.
        csp = DASHBOARD_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
        extra += [(b"content-security-policy", csp.encode()), (b"x-frame-options", b"SAMEORIGIN")]
    elif path.startswith("/app") or path == "/":
        extra += [(b"content-security-policy", DASHBOARD_CSP.encode()), (b"x-frame-options", b"DENY")]
    if tls:
        # Only over TLS: on plain http the header means nothing and would pin a dev host to https.
        extra.append((b"strict-transport-security", HSTS))
    return extra
