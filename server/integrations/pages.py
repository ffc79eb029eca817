"""The dashboard's Integrations page: API tokens and webhooks per site, with the delivery log.

Only owners and admins, and only for sites they belong to; another site's token or webhook is
answered as not found. A new token or webhook secret is shown once, on the page that made it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.dashboard.views import Dashboard
from server.integrations.records import WEBHOOK_EVENTS
from server.integrations.tokens import new_secret, new_token
from server.models import Role, Site, User

MANAGERS_OF_INTEGRATIONS = (Role.OWNER, Role.ADMIN)


class IntegrationPages:
    def __init__(self, dashboard: Dashboard) -> None:
        self.dash = dashboard
        self.store = dashboard.store

    async def _allowed(self, request: Request) -> tuple[User, list[Site]] | Response:
        user = await self.dash.require_user(request)
        if isinstance(user, Response):
            return user
        if user.role not in MANAGERS_OF_INTEGRATIONS:
            what = "manage API tokens and webhooks"
            return self.dash.render(request, "forbidden.html", {"what": what}, status_code=403)
        return user, await self.store.user_sites(user.id)

    def _not_found(self, request: Request) -> Response:
        return self.dash.render(request, "not_found.html", {}, status_code=404)

    async def index(
        self, request: Request, shown: dict[str, Any] | None = None, error: str | None = None, status_code: int = 200
    ) -> Response:
        allowed = await self._allowed(request)
        if isinstance(allowed, Response):
            return allowed
        _, sites = allowed
        ids = [s.id for s in sites]
        names = {s.id: s for s in sites}
        hooks = []
        for hook in await self.store.webhooks(ids):
            hooks.append({"hook": hook, "site": names[hook.site_id], "log": await self.store.deliveries(hook.id, 20)})
        context = {
            "sites": sites,
            "site_by_id": names,
            "tokens": await self.store.api_tokens(ids),
            "hooks": hooks,
            "events": WEBHOOK_EVENTS,
            "shown": shown,
            "error": error,
        }
        return self.dash.render(request, "integrations.html", context, status_code=status_code)

    async def _form(self, request: Request) -> tuple[User, list[Site], FormData] | Response:
        allowed = await self._allowed(request)
        if isinstance(allowed, Response):
            return allowed
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        return allowed[0], allowed[1], form

    async def create_token(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        user, sites, form = got
        site = next((s for s in sites if s.key == form.get("site")), None)
        if site is None:
            return self._not_found(request)
        name = str(form.get("name") or "").strip()[:80]
        if not name:
            return await self.index(
                request, error="Give the token a name, e.g. the system that will use it.", status_code=400
            )
        token, hashed, hint = new_token()
        await self.store.create_api_token(site.id, name, hashed, hint, user.id)
        shown = {"what": "API token", "name": name, "site": site.name, "value": token}
        return await self.index(request, shown=shown)

    async def revoke_token(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        _, sites, _ = got
        token = await self.store.get_api_token(_int(request.path_params["token_id"]))
        if token is None or token.site_id not in {s.id for s in sites}:
            return self._not_found(request)
        await self.store.revoke_api_token(token.id)
        return RedirectResponse("/app/integrations", status_code=303)

    async def create_webhook(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        user, sites, form = got
        site = next((s for s in sites if s.key == form.get("site")), None)
        if site is None:
            return self._not_found(request)
        url = str(form.get("url") or "").strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
            return await self.index(
                request, error="The webhook URL must be an http:// or https:// address.", status_code=400
            )
        events = [e for e in form.getlist("events") if e in WEBHOOK_EVENTS]
        secret = new_secret()
        await self.store.create_webhook(
            site.id, url, secret, events if len(events) < len(WEBHOOK_EVENTS) else [], user.id
        )
        shown = {"what": "webhook signing secret", "name": url, "site": site.name, "value": secret}
        return await self.index(request, shown=shown)

    async def toggle_webhook(self, request: Request) -> Response:
        got = await self._form(request)
        if isinstance(got, Response):
            return got
        _, sites, _ = got
        hook = await self.store.get_webhook(_int(request.path_params["webhook_id"]))
        if hook is None or hook.site_id not in {s.id for s in sites}:
            return self._not_found(request)
        await self.store.set_webhook_active(hook.id, not hook.active)
        return RedirectResponse("/app/integrations", status_code=303)


def _int(raw: str) -> int:
    return int(raw) if raw.isdigit() else 0
