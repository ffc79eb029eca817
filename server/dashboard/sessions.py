"""Dashboard sign-in: server-side sessions behind a signed HttpOnly cookie, CSRF tokens, login throttling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import HTTPConnection
from starlette.responses import Response

from server.models import User
from server.ratelimit import SlidingWindow
from server.security import request_is_tls
from server.settings import Settings
from server.store import Store

SESSION_COOKIE = "beckon_session"
CSRF_COOKIE = "beckon_csrf"
SESSION_TTL = 14 * 24 * 3600
_UNSET = object()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._signer = URLSafeSerializer(settings.secret_key, salt="beckon.session")
        self._csrf_key = hmac.new(settings.secret_key.encode(), b"beckon.csrf", hashlib.sha256).digest()

    def _token(self, conn: HTTPConnection) -> str | None:
        raw = conn.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            token = self._signer.loads(raw)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None

    async def user(self, conn: HTTPConnection) -> User | None:
        cached = getattr(conn.state, "user", _UNSET)
        if cached is not _UNSET:
            return cached
        token = self._token(conn)
        user = await self.store.session_user(_digest(token), time.time()) if token else None
        conn.state.user = user
        return user

    async def sign_in(self, conn: HTTPConnection, response: Response, user: User) -> None:
        # A fresh token on every sign-in: a planted cookie never becomes a live session.
        old = self._token(conn)
        if old:
            await self.store.delete_session(_digest(old))
        token = secrets.token_urlsafe(32)
        await self.store.create_session(_digest(token), user.id, time.time() + SESSION_TTL)
        self._set(conn, response, SESSION_COOKIE, self._signer.dumps(token), SESSION_TTL, "lax")
        self._set(conn, response, CSRF_COOKIE, secrets.token_urlsafe(24), SESSION_TTL, "strict")

    async def sign_out(self, conn: HTTPConnection, response: Response) -> None:
        token = self._token(conn)
        if token:
            await self.store.delete_session(_digest(token))
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/app")

    def _set(
        self, conn: HTTPConnection, response: Response, name: str, value: str, max_age: int, samesite: str
    ) -> None:
        # Secure whenever the browser reached us over https, directly or through a trusted proxy.
        secure = self.settings.secure_cookies or request_is_tls(conn.scope, self.settings.trust_proxy)
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/" if name == SESSION_COOKIE else "/app",
            httponly=True,
            secure=secure,
            samesite=samesite,  # type: ignore[arg-type]
        )

    # -- CSRF: a token bound to the browser's CSRF cookie and its session -------------

    def ensure_csrf_cookie(self, conn: HTTPConnection, response: Response) -> None:
        if not conn.cookies.get(CSRF_COOKIE):
            self._set(conn, response, CSRF_COOKIE, conn.state.csrf_seed, SESSION_TTL, "strict")

    def csrf_token(self, conn: HTTPConnection) -> str:
        seed = conn.cookies.get(CSRF_COOKIE)
        if not seed:
            seed = getattr(conn.state, "csrf_seed", None) or secrets.token_urlsafe(24)
            conn.state.csrf_seed = seed
        message = f"{seed}|{self._token(conn) or ''}".encode()
        return hmac.new(self._csrf_key, message, hashlib.sha256).hexdigest()

    def csrf_valid(self, conn: HTTPConnection, submitted: str | None) -> bool:
        if not submitted or not conn.cookies.get(CSRF_COOKIE):
            return False
        return hmac.compare_digest(self.csrf_token(conn), submitted)


class LoginThrottle:
    """Failed sign-ins per account and per address; success clears the account's count."""

    def __init__(self, settings: Settings) -> None:
        self.per_email = SlidingWindow(settings.login_max_failures, settings.login_window)
        self.per_ip = SlidingWindow(settings.login_max_failures * 4, settings.login_window)

    def wait(self, email: str, ip: str) -> float:
        return max(self.per_email.retry_after(email.lower()), self.per_ip.retry_after(ip))

    def failed(self, email: str, ip: str) -> None:
        self.per_email.hit(email.lower())
        self.per_ip.hit(ip)

    def succeeded(self, email: str) -> None:
        self.per_email.reset(email.lower())
