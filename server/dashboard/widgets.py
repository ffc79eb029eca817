"""Quiz pages of the dashboard: the list with how each quiz converts, and the JSON editor that
validates on save (nothing is stored while any error remains)."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.dashboard.views import Dashboard
from server.models import Role, Site, User
from server.quiz.definition import QuizInvalid, validate

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
EDITORS = (Role.OWNER, Role.ADMIN)
STARTER: dict[str, Any] = {
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
}


class QuizPages:
    def __init__(self, dashboard: Dashboard) -> None:
        self.dash = dashboard
        self.store = dashboard.store

    async def _editor(self, request: Request) -> tuple[User, list[Site]] | Response:
        user = await self.dash.require_user(request)
        if isinstance(user, Response):
            return user
        if user.role not in EDITORS:
            return self.dash.render(request, "forbidden.html", {"what": "edit quizzes"}, status_code=403)
        return user, await self.store.user_sites(user.id)

    async def index(self, request: Request) -> Response:
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        _, sites = found
        rows = []
        for site in sites:
            counts = await self.store.quiz_counts(site.id)
            for widget in await self.store.site_widgets(site.id, "quiz"):
                started, contacts = counts.get(widget.slug, (0, 0))
                rows.append({"site": site, "widget": widget, "started": started, "contacts": contacts})
        return self.dash.render(request, "quizzes.html", {"rows": rows, "sites": sites, "error": None})

    async def create(self, request: Request) -> Response:
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        _, sites = found
        site = next((s for s in sites if s.key == form.get("site")), None)
        slug = str(form.get("slug") or "").strip()
        if site is None or not SLUG.match(slug):
            error = "Choose one of your sites and an id of lowercase letters, digits, '-' or '_' (up to 40)."
            return self.dash.render(request, "quizzes.html", {"rows": [], "sites": sites, "error": error}, 400)
        return RedirectResponse(f"/app/quizzes/{site.key}/{slug}", status_code=303)

    async def _site(self, request: Request, sites: list[Site]) -> Site | None:
        return next((s for s in sites if s.key == request.path_params["site"]), None)

    async def edit(self, request: Request) -> Response:
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        site = await self._site(request, found[1])
        slug = request.path_params["slug"]
        if site is None or not SLUG.match(slug):
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        widget = await self.store.get_widget(site.id, "quiz", slug)
        source = json.dumps(widget.config if widget else STARTER, indent=2, ensure_ascii=False)
        return self._page(request, site, slug, source, widget is None or widget.enabled, [], widget)

    async def save(self, request: Request) -> Response:
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        site = await self._site(request, found[1])
        slug = request.path_params["slug"]
        if site is None or not SLUG.match(slug):
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        source = str(form.get("definition") or "")
        enabled = form.get("enabled") == "on"
        try:
            quiz = json.loads(source)
            validate(quiz)
        except json.JSONDecodeError as exc:
            errors = [f"Not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        except QuizInvalid as exc:
            errors = exc.errors
        else:
            widget = await self.store.put_widget(site.id, "quiz", quiz, enabled=enabled, slug=slug)
            return RedirectResponse(f"/app/quizzes/{site.key}/{slug}?saved={widget.version}", status_code=303)
        widget = await self.store.get_widget(site.id, "quiz", slug)
        return self._page(request, site, slug, source, enabled, errors, widget, status_code=400)

    def _page(
        self,
        request: Request,
        site: Site,
        slug: str,
        source: str,
        enabled: bool,
        errors: list[str],
        widget: Any,
        status_code: int = 200,
    ) -> Response:
        context = {
            "site": site,
            "slug": slug,
            "source": source,
            "enabled": enabled,
            "errors": errors,
            "widget": widget,
            "saved": request.query_params.get("saved") if not errors else None,
        }
        return self.dash.render(request, "quiz_edit.html", context, status_code=status_code)
