"""Dashboard pages: sign-in, the live leads list and the lead page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from server.dashboard.sessions import LoginThrottle, Sessions
from server.dashboard.timeline import describe
from server.models import User
from server.passwords import hash_password, needs_rehash, verify_password
from server.phones import format_phone
from server.security import request_is_tls
from server.store import Store

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat() if ts else ""


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["iso"] = _iso
TEMPLATES.env.filters["describe"] = describe
TEMPLATES.env.filters["phone"] = lambda e164: format_phone(e164) if e164 else ""


class Dashboard:
    def __init__(self, store: Store, sessions: Sessions, throttle: LoginThrottle) -> None:
        self.store = store
        self.sessions = sessions
        self.throttle = throttle

    def render(self, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
        context = {
            "csrf_token": self.sessions.csrf_token(request),
            "user": getattr(request.state, "user", None),
        } | context
        response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
        self.sessions.ensure_csrf_cookie(request, response)
        return response

    async def require_user(self, request: Request) -> User | Response:
        user = await self.sessions.user(request)
        if user is None:
            return RedirectResponse("/app/login", status_code=303)
        return user

    def _same_origin(self, request: Request) -> bool:
        """The form was posted from a page of this dashboard, as the browser saw its address."""
        origin = request.headers.get("origin")
        if origin is None:
            return True
        parts = urlsplit(origin)
        settings = self.sessions.settings
        ours = {(request.url.scheme, request.url.netloc)}
        if request_is_tls(request.scope, settings.trust_proxy):  # TLS ended at our proxy: the browser used https
            ours.add(("https", request.url.netloc))
        if settings.public_url:
            public = urlsplit(settings.public_url)
            ours.add((public.scheme, public.netloc))
        return (parts.scheme, parts.netloc) in ours

    async def checked_form(self, request: Request) -> FormData | Response:
        """The posted form (with every value of a repeated field), or a refusal without a valid CSRF token."""
        form = await request.form()
        if not self._same_origin(request) or not self.sessions.csrf_valid(request, str(form.get("csrf") or "")):
            return HTMLResponse(
                "This form has expired or came from another site. Go back, reload the page and try again.",
                status_code=403,
            )
        return form

    # -- pages --------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        user = await self.sessions.user(request)
        return RedirectResponse("/app/leads" if user else "/app/login", status_code=303)

    async def login_page(self, request: Request) -> Response:
        if await self.sessions.user(request):
            return RedirectResponse("/app/leads", status_code=303)
        if not await self.store.count_users():  # a fresh install: the first person sets it up
            return RedirectResponse("/app/setup", status_code=303)
        return self.render(request, "login.html", {"error": None, "email": ""})

    async def login(self, request: Request) -> Response:
        form = await self.checked_form(request)
        if isinstance(form, Response):
            return form
        email = str(form.get("email") or "").strip()
        password = str(form.get("password") or "")
        ip = request.client.host if request.client else "unknown"
        wait = self.throttle.wait(email, ip)
        if wait:
            minutes = max(1, round(wait / 60))
            error = f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
            return self.render(request, "login.html", {"error": error, "email": email}, status_code=429)
        user = await self.store.get_user_by_email(email) if email else None
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or not user.active:
            self.throttle.failed(email, ip)
            error = "That email and password don't match an active account."
            return self.render(request, "login.html", {"error": error, "email": email}, status_code=401)
        self.throttle.succeeded(email)
        if needs_rehash(user.password_hash):
            await self.store.set_password_hash(user.id, hash_password(password))
        response = RedirectResponse("/app/leads", status_code=303)
        await self.sessions.sign_in(request, response, user)
        return response

    async def logout(self, request: Request) -> Response:
        form = await self.checked_form(request)
        if isinstance(form, Response):
            return form
        response = RedirectResponse("/app/login", status_code=303)
        await self.sessions.sign_out(request, response)
        return response

    async def inbox(self, request: Request) -> Response:
        user = await self.require_user(request)
        if isinstance(user, Response):
            return user
        sites = await self.store.user_sites(user.id)
        canned = [c for s in sites for c in s.settings.get("canned", []) if isinstance(c, dict)]
        return self.render(request, "inbox.html", {"sites": sites, "canned": canned})
