"""Quizzes, popups and countdowns in the dashboard: the list with how each converts, and a JSON
editor that validates on save (nothing is stored while any error remains) and shows every earlier
version with who saved it, so that no deadline or offer changes unseen."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server import countdown, popup
from server.dashboard.views import Dashboard
from server.models import Role, Site, User, Widget
from server.quiz import definition
from server.visitor_api import VisitorAPI, public_base

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
EDITORS = (Role.OWNER, Role.ADMIN)
Invalid = (definition.QuizInvalid, popup.PopupInvalid, countdown.CountdownInvalid)
VALIDATORS: dict[str, Callable[[Any, Site], None]] = {
    "quiz": lambda config, site: definition.validate(config),
    "popup": lambda config, site: popup.validate(config),
    "countdown": lambda config, site: countdown.validate(config, site.timezone),
}
LABELS = {"quiz": "Quiz", "popup": "Popup", "countdown": "Countdown"}
STARTERS: dict[str, dict[str, Any]] = {
    "quiz": {
        "title": "A new quiz",
        "steps": [
            {
                "id": "first",
                "type": "single",
                "question": "What do you need?",
                "options": [{"id": "a", "label": "Option A", "add": {"score": 1}}, {"id": "b", "label": "Option B"}],
            },
            {"id": "contact", "type": "contact", "fields": ["phone", "name"]},
        ],
        "results": {"score": "score"},
        "show": [{"result": "score", "label": "Score"}],
    },
    "popup": {
        "title": "A new offer",
        "text": "Leave your number and we'll call you back.",
        "fields": ["phone"],
        "triggers": {"any": [{"type": "exit_intent"}, {"type": "delay", "seconds": 40}]},
        "frequency": {"show": "session", "after_close_days": 7},
    },
    "countdown": {"mode": "evergreen", "minutes": 1440, "title": "A new offer", "expiry": {"action": "hide"}},
}


def checked(source: str, kind: str, site: Site) -> tuple[dict[str, Any], list[str]]:
    """The config as typed, or the errors that keep it from being saved or previewed."""
    try:
        config = json.loads(source)
        VALIDATORS[kind](config, site)
    except json.JSONDecodeError as exc:
        return {}, [f"Not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"]
    except Invalid as exc:
        return {}, exc.errors
    return config, []


def changes(older: dict[str, Any] | None, newer: dict[str, Any]) -> list[str]:
    """What a version changed, field by field, in words short enough for a list."""
    if older is None:
        return ["created"]
    out = []
    for key in sorted(set(older["config"]) | set(newer["config"])):
        before, after = older["config"].get(key), newer["config"].get(key)
        if before != after:
            text = f"{key}: {json.dumps(before, ensure_ascii=False)} → {json.dumps(after, ensure_ascii=False)}"
            out.append(text if len(text) <= 160 else f"{key} changed")
    if older["enabled"] != newer["enabled"]:
        out.append("switched " + ("on" if newer["enabled"] else "off"))
    return out or ["saved without changes"]


PREVIEW_TTL = 3600.0


class WidgetPages:
    def __init__(self, dashboard: Dashboard, visitor: VisitorAPI) -> None:
        self.dash = dashboard
        self.store = dashboard.store
        self.visitor = visitor
        # Drafts being previewed, by a random token: never stored, never shown to visitors.
        self._drafts: dict[str, tuple[float, Site, Widget]] = {}

    async def _editor(self, request: Request) -> tuple[User, list[Site]] | Response:
        user = await self.dash.require_user(request)
        if isinstance(user, Response):
            return user
        if user.role not in EDITORS:
            return self.dash.render(request, "forbidden.html", {"what": "edit widgets"}, status_code=403)
        return user, await self.store.user_sites(user.id)

    async def index(self, request: Request, error: str | None = None, status_code: int = 200) -> Response:
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        _, sites = found
        rows = []
        for site in sites:
            counts = await self.store.widget_counts(site.id)
            for kind in VALIDATORS:
                for widget in await self.store.site_widgets(site.id, kind):
                    rows.append({"site": site, "widget": widget, "counts": counts.get((kind, widget.slug), {})})
        context = {"rows": rows, "sites": sites, "error": error, "labels": LABELS}
        return self.dash.render(request, "widgets.html", context, status_code=status_code)

    async def create(self, request: Request) -> Response:
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        site = next((s for s in found[1] if s.key == form.get("site")), None)
        kind, slug = str(form.get("kind") or ""), str(form.get("slug") or "").strip()
        if site is None or kind not in VALIDATORS or not SLUG.match(slug):
            error = "Choose a site, a kind and an id of lowercase letters, digits, '-' or '_' (up to 40)."
            return await self.index(request, error, 400)
        return RedirectResponse(f"/app/widgets/{site.key}/{kind}/{slug}", status_code=303)

    def _target(self, request: Request, sites: list[Site]) -> tuple[Site, str, str] | None:
        site = next((s for s in sites if s.key == request.path_params["site"]), None)
        kind, slug = request.path_params["kind"], request.path_params["slug"]
        if site is None or kind not in VALIDATORS or not SLUG.match(slug):
            return None
        return site, kind, slug

    async def edit(self, request: Request) -> Response:
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        target = self._target(request, found[1])
        if target is None:
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        site, kind, slug = target
        widget = await self.store.get_widget(site.id, kind, slug)
        source = json.dumps(widget.config if widget else STARTERS[kind], indent=2, ensure_ascii=False)
        return await self._page(request, target, source, widget is None or widget.enabled, [])

    async def save(self, request: Request) -> Response:
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        target = self._target(request, found[1])
        if target is None:
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        site, kind, slug = target
        source = str(form.get("definition") or "")
        enabled = form.get("enabled") == "on"
        config, errors = checked(source, kind, site)
        if errors:
            return await self._page(request, target, source, enabled, errors, status_code=400)
        widget = await self.store.put_widget(site.id, kind, config, enabled=enabled, slug=slug, actor_id=found[0].id)
        return RedirectResponse(f"/app/widgets/{site.key}/{kind}/{slug}?saved={widget.version}", status_code=303)

    async def _page(
        self,
        request: Request,
        target: tuple[Site, str, str],
        source: str,
        enabled: bool,
        errors: list[str],
        status_code: int = 200,
    ) -> Response:
        site, kind, slug = target
        widget = await self.store.get_widget(site.id, kind, slug)
        versions = await self.store.widget_history(widget.id) if widget else []
        history = [
            version | {"changes": changes(versions[i + 1] if i + 1 < len(versions) else None, version)}
            for i, version in enumerate(versions)
        ]
        context = {
            "site": site,
            "kind": kind,
            "label": LABELS[kind],
            "slug": slug,
            "source": source,
            "enabled": enabled,
            "errors": errors,
            "widget": widget,
            "history": history,
            "saved": request.query_params.get("saved") if not errors else None,
        }
        return self.dash.render(request, "widget_edit.html", context, status_code=status_code)

    async def restore(self, request: Request) -> Response:
        """Roll back: an earlier version becomes the newest one (the history keeps both)."""
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        target = self._target(request, found[1])
        widget = await self.store.get_widget(target[0].id, target[1], target[2]) if target else None
        if target is None or widget is None:
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        site, kind, slug = target
        wanted = request.path_params["version"]
        old = next((v for v in await self.store.widget_history(widget.id, limit=1000) if v["version"] == wanted), None)
        if old is None:
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        saved = await self.store.put_widget(
            site.id, kind, old["config"], enabled=old["enabled"], slug=slug, actor_id=found[0].id
        )
        return RedirectResponse(f"/app/widgets/{site.key}/{kind}/{slug}?saved={saved.version}", status_code=303)

    # -- live preview: the real widget code, in a frame beside the form --------------------

    async def preview(self, request: Request) -> Response:
        """GET: the saved version; POST (the form's Preview button): the draft as typed."""
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        target = self._target(request, found[1])
        if target is None:
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        site, kind, slug = target
        errors: list[str] = []
        if request.method == "POST":
            form = await self.dash.checked_form(request)
            if isinstance(form, Response):
                return form
            config, errors = checked(str(form.get("definition") or ""), kind, site)
        else:
            saved = await self.store.get_widget(site.id, kind, slug)
            config = saved.config if saved else STARTERS[kind]
        token = ""
        if not errors:
            now = time.time()
            self._drafts = {t: d for t, d in self._drafts.items() if d[0] > now}
            token = secrets.token_urlsafe(16)
            draft = Widget(0, site.id, kind, slug, config, enabled=True, version=0, updated_at=now)
            self._drafts[token] = (now + PREVIEW_TTL, site, draft)
        context = {"site": site, "kind": kind, "slug": slug, "token": token, "errors": errors, "label": LABELS[kind]}
        return self.dash.render(request, "widget_preview.html", context, status_code=400 if errors else 200)

    async def preview_config(self, request: Request) -> Response:
        """The loader's config for a preview frame: only the draft widget; the token is the key."""
        draft = self._drafts.get(request.path_params["token"])
        if draft is None or draft[0] < time.time():
            return JSONResponse({"error": {"code": "gone", "message": "This preview has expired."}}, status_code=404)
        _, site, widget = draft
        body = await self.visitor.config_body(site, [widget], public_base(request, self.visitor.settings))
        return JSONResponse(body)
