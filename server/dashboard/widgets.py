"""Every widget in the dashboard: the list with how each converts, and an editor (a form over the
same JSON, see static/editor.js) that validates on save (nothing is stored while any error remains),
points each error at its field, previews the draft with the real widget code and shows every earlier
version with who saved it, so that no deadline or offer changes unseen.

Callback and chat are one per site (stored without a slug); their editor lives at the URL slug
``main`` so that one route serves every kind."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server import countdown, popup, widget_texts
from server.dashboard.views import Dashboard
from server.models import Role, Site, User, Widget
from server.quiz import definition
from server.visitor_api import VisitorAPI, public_base

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
EDITORS = (Role.OWNER, Role.ADMIN)
SINGLE = ("callback", "chat")  # one per site, stored with slug ""
SINGLE_SLUG = "main"  # ... and edited at /app/widgets/<site>/<kind>/main
COLOR = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
PRECHAT = ("name", "email", "phone")


class WidgetInvalid(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _looks(config: dict[str, Any], errors: list[str]) -> None:
    """What every widget may carry: a colour the widget can use, a side of the page, its own texts."""
    if "color" in config and not (isinstance(config["color"], str) and COLOR.match(config["color"])):
        errors.append(f"color: {config['color']!r} is not a colour like #0f766e")
    if config.get("position", "right") not in ("left", "right"):
        errors.append("position: left or right")
    texts = config.get("texts", {})
    if not isinstance(texts, dict):
        errors.append("texts: must map text names to texts")
        return
    for name, text in texts.items():
        if not isinstance(text, str):
            errors.append(f"texts.{name}: must be text")


def validate_callback(config: object) -> None:
    if not isinstance(config, dict):
        raise WidgetInvalid(["the callback widget must be a JSON object"])
    errors: list[str] = []
    _looks(config, errors)
    if errors:
        raise WidgetInvalid(errors)


def validate_chat(config: object) -> None:
    if not isinstance(config, dict):
        raise WidgetInvalid(["the chat widget must be a JSON object"])
    errors: list[str] = []
    _looks(config, errors)
    if not isinstance(config.get("greeting", ""), str):
        errors.append("greeting: must be text")
    prechat = config.get("prechat", [])
    if not isinstance(prechat, list) or not set(prechat) <= set(PRECHAT):
        errors.append("prechat: some of name, email, phone")
    if not isinstance(config.get("stack", False), bool):
        errors.append("stack: true or false")
    greetings = config.get("greetings", [])
    if not isinstance(greetings, list):
        errors.append("greetings: a list of greeting rules")
        greetings = []
    for i, rule in enumerate(greetings):
        place = f"greetings[{i}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("text"), str) or not rule["text"].strip():
            errors.append(f"{place}.text: a greeting needs its text")
            continue
        if not isinstance(rule.get("url", ""), str):
            errors.append(f"{place}.url: part of the page address, or /regex/")
        for key, top in (("seconds", None), ("scroll", 100)):
            value = rule.get(key, 0)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0 or (top and value > top):
                errors.append(f"{place}.{key}: a number from 0" + (f" to {top}" if top else ""))
    if errors:
        raise WidgetInvalid(errors)


def checked_canned(source: str) -> tuple[list[dict[str, str]], list[str]]:
    """The managers' canned replies (a site setting, edited with the chat): [{shortcut, text}]."""
    try:
        canned = json.loads(source or "[]")
    except json.JSONDecodeError as exc:
        return [], [f"canned: not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"]
    if not isinstance(canned, list):
        return [], ["canned: a list of {shortcut, text}"]
    errors = []
    for i, reply in enumerate(canned):
        if not isinstance(reply, dict) or not isinstance(reply.get("text"), str) or not reply["text"].strip():
            errors.append(f"canned[{i}].text: a canned reply needs its text")
        elif not isinstance(reply.get("shortcut", ""), str) or not re.match(
            r"^[\w-]{0,30}$", reply.get("shortcut", "")
        ):
            errors.append(f"canned[{i}].shortcut: up to 30 letters, digits, '-' or '_', no spaces")
    return canned, errors


Invalid = (definition.QuizInvalid, popup.PopupInvalid, countdown.CountdownInvalid, WidgetInvalid)
VALIDATORS: dict[str, Callable[[Any, Site], None]] = {
    "callback": lambda config, site: validate_callback(config),
    "chat": lambda config, site: validate_chat(config),
    "quiz": lambda config, site: definition.validate(config),
    "popup": lambda config, site: popup.validate(config),
    "countdown": lambda config, site: countdown.validate(config, site.timezone),
}
LABELS = {"callback": "Callback", "chat": "Chat", "quiz": "Quiz", "popup": "Popup", "countdown": "Countdown"}
STARTERS: dict[str, dict[str, Any]] = {
    "callback": {"color": "#0f766e", "position": "right"},
    "chat": {"color": "#0f766e", "position": "right", "prechat": [], "greeting": "Hi! How can we help?"},
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
    if kind not in SINGLE and isinstance(config.get("color"), str) and not COLOR.match(config["color"]):
        return {}, [f"color: {config['color']!r} is not a colour like #0f766e"]
    # Every kind may carry its own texts (the editor's "All texts"); the callback's and chat's
    # validators check them already, the others' do not know them.
    if kind not in SINGLE:
        texts = config.get("texts", {})
        if not isinstance(texts, dict):
            return {}, ["texts: must map text names to texts"]
        if wrong := [f"texts.{name}: must be text" for name, text in texts.items() if not isinstance(text, str)]:
            return {}, wrong
    return config, []


# The validators name places in words ("step 3 ('length'), option 2: ...") or as 1-based paths
# ("triggers.any[1]: ..."); the editor wants the JSON path of the input, 0-based.
_STEP = re.compile(r"^step (\d+)(?: \('[^']*'\))?(?:, (option|branch) (\d+))?: (.*)$", re.S)
_NUMBERED = re.compile(r"^(ranges|show) (\d+): (.*)$", re.S)
_PATH = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+|\[\d+\])*): (.*)$", re.S)
# First match wins; "unknown next step" comes first as its message quotes what was typed.
_STEP_FIELDS = (
    ("unknown next step", "next"),
    ("id ", "id"),
    ("type must", "type"),
    ("question needs", "question"),
    ("info step needs", "text"),
    ("required must", "required"),
    ("options", "options"),
    ("min must", "min"),
    ("step must", "step"),
    ("default must", "default"),
    ("fields must", "fields"),
    ("ask for a phone", "fields"),
)
_OPTION_FIELDS = (("next step", "next"), ("label", "label"), ("image", "image"), ("add must", "add"), ("id ", "id"))
# A popup trigger's message names the trigger; the field is the one the message is about.
_TRIGGER_FIELDS = (
    ("type must", "type"),
    ("CSS selector", "selector"),
    ("needs seconds", "seconds"),
    ("needs percent", "percent"),
    ("percent is at most", "percent"),
    ("needs count", "count"),
)


def located(kind: str, error: str) -> dict[str, str]:
    """An error with the JSON path of the field it is about ("" when it is about the whole)."""
    if kind == "quiz" and (m := _STEP.match(error)):
        step, part, n, text = int(m[1]) - 1, m[2], m[3], m[4]
        if part == "branch":
            field = "next" if "next step" in text else "if"
            return {"path": f"steps[{step}].branches[{int(n) - 1}].{field}", "message": error}
        table, base = (
            (_OPTION_FIELDS, f"steps[{step}].options[{int(n) - 1}]") if part else (_STEP_FIELDS, f"steps[{step}]")
        )
        field = next((f for needle, f in table if needle in text), "")
        return {"path": f"{base}.{field}" if field else base, "message": error}
    if kind == "quiz" and (m := _NUMBERED.match(error)):
        return {"path": f"{m[1]}[{int(m[2]) - 1}]", "message": error}
    if kind == "quiz" and error.startswith("a path reaches the result"):
        return {"path": "steps", "message": error}
    if m := _PATH.match(error):
        path = m[1]
        if kind == "popup":  # popup lists count from 1 in its messages
            path = re.sub(r"\[(\d+)\]", lambda n: f"[{int(n[1]) - 1}]", path)
            if path == "triggers" or path.startswith("triggers") and path.endswith("]"):
                field = next((f for needle, f in _TRIGGER_FIELDS if needle in m[2]), "")
                path = f"{path}.{field}" if field else path
        return {"path": path, "message": error}
    return {"path": "", "message": error}


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
MAX_DRAFTS = 500


def _url(site: Site, kind: str, slug: str) -> str:
    return f"/app/widgets/{site.key}/{kind}/{slug or SINGLE_SLUG}"


class WidgetPages:
    def __init__(self, dashboard: Dashboard, visitor: VisitorAPI) -> None:
        self.dash = dashboard
        self.store = dashboard.store
        self.visitor = visitor
        # Drafts being previewed, by a random token: never stored, never shown to visitors.
        self._drafts: dict[str, tuple[float, Site, Widget]] = {}
        visitor.drafts = self.draft  # a countdown preview's socket asks for its draft by token

    def draft(self, token: str) -> tuple[Site, Widget] | None:
        """A live draft by its token: the site and the unsaved widget."""
        found = self._drafts.get(token)
        return (found[1], found[2]) if found is not None and found[0] > time.time() else None

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
            for kind in SINGLE:  # always listed: a site without one yet gets a link to set it up
                widget = await self.store.get_widget(site.id, kind)
                rows.append({"site": site, "kind": kind, "widget": widget, "url_slug": SINGLE_SLUG, "counts": {}})
            for kind in (k for k in VALIDATORS if k not in SINGLE):
                for widget in await self.store.site_widgets(site.id, kind):
                    if widget.slug:
                        row = {"site": site, "kind": kind, "widget": widget, "url_slug": widget.slug}
                        rows.append(row | {"counts": counts.get((kind, widget.slug), {})})
        many = {k: v for k, v in LABELS.items() if k not in SINGLE}
        context = {"rows": rows, "sites": sites, "error": error, "labels": LABELS, "many": many}
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
        if site is None or kind not in VALIDATORS or kind in SINGLE or not SLUG.match(slug):
            error = "Choose a site, a kind and an id of lowercase letters, digits, '-' or '_' (up to 40)."
            return await self.index(request, error, 400)
        return RedirectResponse(f"/app/widgets/{site.key}/{kind}/{slug}", status_code=303)

    def _target(self, request: Request, sites: list[Site]) -> tuple[Site, str, str] | None:
        """(site, kind, stored slug) from the URL, for a site of this user only."""
        site = next((s for s in sites if s.key == request.path_params["site"]), None)
        kind, slug = request.path_params["kind"], request.path_params["slug"]
        if site is None or kind not in VALIDATORS:
            return None
        if kind in SINGLE:
            return (site, kind, "") if slug == SINGLE_SLUG else None
        return (site, kind, slug) if SLUG.match(slug) else None

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
        canned_source = form.get("canned") if kind == "chat" else None
        canned, canned_errors = checked_canned(str(canned_source)) if canned_source is not None else ([], [])
        if errors or canned_errors:
            return await self._page(
                request, target, source, enabled, errors + canned_errors, status_code=400, canned=canned_source
            )
        widget = await self.store.put_widget(site.id, kind, config, enabled=enabled, slug=slug, actor_id=found[0].id)
        if canned_source is not None and canned != site.settings.get("canned", []):
            await self.store.update_site(site.id, settings=site.settings | {"canned": canned})
        return RedirectResponse(f"{_url(site, kind, slug)}?saved={widget.version}", status_code=303)

    async def _page(
        self,
        request: Request,
        target: tuple[Site, str, str],
        source: str,
        enabled: bool,
        errors: list[str],
        status_code: int = 200,
        canned: str | None = None,
    ) -> Response:
        site, kind, slug = target
        if kind == "chat" and canned is None:
            canned = json.dumps(site.settings.get("canned", []), indent=2, ensure_ascii=False)
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
            "url_slug": slug or SINGLE_SLUG,
            "source": source,
            "enabled": enabled,
            "errors": errors,
            "located": [located(kind, e) for e in errors],
            "canned": canned,
            # Every text a visitor of this kind may read, for the form's "All texts" section.
            "all_texts": [
                {"key": key, "name": key.rpartition(".")[2], "label": widget_texts.LABELS.get(key, key)}
                for key in widget_texts.editor_keys(kind)
            ],
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
        return RedirectResponse(f"{_url(site, kind, slug)}?saved={saved.version}", status_code=303)

    # -- live preview: the real widget code, in a frame beside the form --------------------

    async def preview(self, request: Request) -> Response:
        """GET: the saved version, or a draft already checked (?draft=token); POST: the draft as typed.

        A POST asking for JSON (the editor's live preview as the owner types) gets the token or the
        located errors instead of a page, and the editor points its frame at ?draft=token."""
        found = await self._editor(request)
        if isinstance(found, Response):
            return found
        target = self._target(request, found[1])
        if target is None:
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        site, kind, slug = target
        errors: list[str] = []
        wants_json = "application/json" in request.headers.get("accept", "")
        known = self._drafts.get(request.query_params.get("draft", ""))
        token = ""
        if request.method == "POST":
            form = await self.dash.checked_form(request)
            if isinstance(form, Response):
                return form
            config, errors = checked(str(form.get("definition") or ""), kind, site)
        elif known and known[0] > time.time() and (known[1].id, known[2].kind, known[2].slug) == (site.id, kind, slug):
            token, config = request.query_params["draft"], known[2].config
        else:
            saved = await self.store.get_widget(site.id, kind, slug)
            config = saved.config if saved else STARTERS[kind]
        if not errors and not token:
            now = time.time()
            # Expired drafts go, and so do the oldest beyond a bound: the editor makes one per pause in typing.
            live = sorted(((t, d) for t, d in self._drafts.items() if d[0] > now), key=lambda item: item[1][0])
            self._drafts = dict(live[-MAX_DRAFTS:])
            token = secrets.token_urlsafe(16)
            draft = Widget(0, site.id, kind, slug, config, enabled=True, version=0, updated_at=now)
            self._drafts[token] = (now + PREVIEW_TTL, site, draft)
        if wants_json and request.method == "POST":
            body = {"token": token, "errors": [located(kind, e) for e in errors]}
            return JSONResponse(body, status_code=400 if errors else 200)
        context = {"site": site, "kind": kind, "slug": slug, "token": token, "errors": errors, "label": LABELS[kind]}
        # A countdown in a bar draws itself; only an inline one needs its place in the page.
        context["inline"] = not errors and config.get("display") == "inline"
        return self.dash.render(request, "widget_preview.html", context, status_code=400 if errors else 200)

    async def preview_config(self, request: Request) -> Response:
        """The loader's config for a preview frame: only the draft widget; the token is the key."""
        draft = self._drafts.get(request.path_params["token"])
        if draft is None or draft[0] < time.time():
            return JSONResponse({"error": {"code": "gone", "message": "This preview has expired."}}, status_code=404)
        _, site, widget = draft
        base = public_base(request, self.visitor.settings)
        # The built-in texts in the language a visitor like the owner would get (issue #10: texts from the server).
        body = await self.visitor.config_body(site, [widget], base, request.headers.get("accept-language", ""))
        return JSONResponse(body)
