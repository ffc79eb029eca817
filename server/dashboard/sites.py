"""First-run setup and the owner's site settings: everything `beckon create-site` does, in forms,
with the snippet to paste and a check that the snippet is really running on each domain."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.dashboard.views import Dashboard
from server.hours import DAYS, InvalidHours, Schedule
from server.models import Role, Site, User
from server.passwords import hash_password
from server.routing import Strategy
from server.settings import Settings
from server.store import new_ref

EDITORS = (Role.OWNER, Role.ADMIN)
_DOMAIN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$")
_SPAN = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")
STALE_AFTER = 3 * 86400  # a domain that has not loaded the snippet for three days gets a warning
MIN_PASSWORD = 10


def parse_domains(text: str) -> tuple[list[str], list[str]]:
    domains, errors = [], []
    for raw in re.split(r"[\s,]+", text.strip().lower()):
        if not raw:
            continue
        host = re.sub(r"^https?://", "", raw).rstrip("/")
        if _DOMAIN.match(host):
            domains.append(host)
        else:
            errors.append(f"Allowed domains: {raw!r} is not a domain like shop.example.com")
    if not domains and not errors:
        errors.append("Allowed domains: give at least one domain where the snippet will run")
    return domains, errors


def parse_hours(form: Mapping[str, Any]) -> tuple[dict[str, list[list[str]]], list[str]]:
    """One field per weekday: '09:00-13:00, 14:00-18:00' (a break between), empty when closed."""
    hours: dict[str, list[list[str]]] = {}
    errors = []
    for day in DAYS:
        spans = []
        for part in filter(None, (p.strip() for p in str(form.get(f"hours_{day}") or "").split(","))):
            match = _SPAN.match(part)
            if match is None:
                errors.append(f"Hours on {day}: {part!r} is not a span like 09:00-13:00")
                continue
            spans.append([match[1].zfill(5), match[2].zfill(5)])
        if spans:
            hours[day] = spans
    return hours, errors


def hours_text(hours: dict[str, list[list[str]]]) -> dict[str, str]:
    return {day: ", ".join(f"{a}-{b}" for a, b in hours.get(day, [])) for day in DAYS}


class SitePages:
    def __init__(self, dashboard: Dashboard, settings: Settings) -> None:
        self.dash = dashboard
        self.store = dashboard.store
        self.settings = settings

    # -- first run ----------------------------------------------------------------

    async def setup_page(self, request: Request) -> Response:
        if await self.store.count_users():
            return RedirectResponse("/app/login", status_code=303)
        return self.dash.render(request, "setup.html", {"errors": [], "form": {}})

    async def setup(self, request: Request) -> Response:
        if await self.store.count_users():
            return RedirectResponse("/app/login", status_code=303)
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        email, name = str(form.get("email") or "").strip(), str(form.get("name") or "").strip()
        password = str(form.get("password") or "")
        errors = []
        if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            errors.append("Email: that doesn't look like an email address")
        if not name:
            errors.append("Name: tell your team who you are")
        if len(password) < MIN_PASSWORD:
            errors.append(f"Password: at least {MIN_PASSWORD} characters")
        if errors:
            return self.dash.render(request, "setup.html", {"errors": errors, "form": form}, status_code=400)
        user = await self.store.create_first_owner(email=email, name=name, password_hash=hash_password(password))
        if user is None:  # another setup form got there first: there is an owner now
            return RedirectResponse("/app/login", status_code=303)
        response = RedirectResponse("/app/sites", status_code=303)
        await self.dash.sessions.sign_in(request, response, user)
        return response

    # -- sites ------------------------------------------------------------------

    async def _editor(self, request: Request) -> User | Response:
        user = await self.dash.require_user(request)
        if isinstance(user, Response):
            return user
        if user.role not in EDITORS:
            return self.dash.render(request, "forbidden.html", {"what": "change sites"}, status_code=403)
        return user

    async def index(self, request: Request) -> Response:
        user = await self._editor(request)
        if isinstance(user, Response):
            return user
        sites = await self.store.user_sites(user.id)
        return self.dash.render(request, "sites.html", {"sites": sites, "errors": [], "form": {}})

    async def create(self, request: Request) -> Response:
        user = await self._editor(request)
        if isinstance(user, Response):
            return user
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        name = str(form.get("name") or "").strip()
        domains, errors = parse_domains(str(form.get("domains") or ""))
        if not name:
            errors.insert(0, "Name: what is the site called?")
        if errors:
            sites = await self.store.user_sites(user.id)
            context = {"sites": sites, "errors": errors, "form": form}
            return self.dash.render(request, "sites.html", context, status_code=400)
        site = await self.store.create_site(
            key=new_ref(), name=name, allowed_domains=domains, settings={"phone_region": "US"}
        )
        await self.store.add_member(site.id, user.id)
        for kind in ("callback", "chat"):
            await self.store.put_widget(site.id, kind, {"position": "right"}, actor_id=user.id)
        return RedirectResponse(f"/app/sites/{site.key}", status_code=303)

    async def _site(self, request: Request, user: User) -> Site | None:
        return next((s for s in await self.store.user_sites(user.id) if s.key == request.path_params["key"]), None)

    async def edit(self, request: Request) -> Response:
        user = await self._editor(request)
        if isinstance(user, Response):
            return user
        site = await self._site(request, user)
        if site is None:
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        return await self._page(request, site, {}, [])

    async def save(self, request: Request) -> Response:
        user = await self._editor(request)
        if isinstance(user, Response):
            return user
        site = await self._site(request, user)
        if site is None:
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        changes, settings, errors = self._read(form, site)
        if errors:
            return await self._page(request, site, form, errors, status_code=400)
        await self.store.update_site(site.id, **changes, settings=site.settings | settings)
        return RedirectResponse(f"/app/sites/{site.key}?saved=1", status_code=303)

    @staticmethod
    def _read(form: Mapping[str, Any], site: Site) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        errors: list[str] = []
        name = str(form.get("name") or "").strip()
        if not name:
            errors.append("Name: what is the site called?")
        domains, domain_errors = parse_domains(str(form.get("domains") or ""))
        errors += domain_errors
        timezone = str(form.get("timezone") or "").strip()
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"Timezone: {timezone!r} is not a timezone like Europe/London")
        always = form.get("always_open") == "on"
        hours, hour_errors = ({}, []) if always else parse_hours(form)
        errors += hour_errors
        holidays = [d for d in re.split(r"[\s,]+", str(form.get("holidays") or "").strip()) if d]
        if not errors:
            try:
                Schedule(hours, timezone, holidays)
            except InvalidHours as exc:
                errors.append(f"Hours: {exc}")
        if not always and not hours and not hour_errors:
            errors.append("Hours: give opening hours for at least one day, or tick 'Open around the clock'")
        numbers: dict[str, int] = {}
        for field, label, low, high in (
            ("promise_seconds", "Callback promise", 10, 3600),
            ("ring_seconds", "Ring each manager for", 5, 600),
        ):
            raw = str(form.get(field) or "").strip()
            # ASCII digits only, and few of them: isdigit() takes '²' (int() refuses it) and int() refuses
            # over 4,300 digits; both were a 500.
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not low <= int(raw) <= high:
                errors.append(f"{label}: a number of seconds from {low} to {high}")
            else:
                numbers[field] = int(raw)
        routing = str(form.get("routing") or "")
        if routing not in set(Strategy):
            errors.append(f"Routing: one of {', '.join(Strategy)}")
        locale = str(form.get("locale") or "")
        if locale not in ("", "en", "ru"):
            errors.append("Language: automatic, English or Russian")
        region = str(form.get("phone_region") or "").strip().upper()
        if not re.match(r"^[A-Z]{2}$", region):
            errors.append("Phone region: a two-letter country code such as US or GB")
        changes = {
            "name": name,
            "allowed_domains": domains,
            "timezone": timezone,
            "working_hours": hours,
            "locale": locale,
        }
        settings = {
            **numbers,
            "routing": routing,
            "holidays": holidays,
            "phone_region": region,
            "require_consent": form.get("require_consent") == "on",
        }
        return changes, settings, errors

    async def _page(
        self, request: Request, site: Site, form: Mapping[str, Any], errors: list[str], status_code: int = 200
    ) -> Response:
        base = self.settings.public_url.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"
        snippet = (self.settings.root / "embed" / "snippet.html").read_text(encoding="utf-8")
        snippet = snippet.replace("https://HOST/embed.js", f"{base}/embed.js").replace("SITE_KEY", site.key)
        seen = await self.store.site_installs(site.id)
        now = time.time()
        installs = [
            {
                "domain": domain,
                "last_seen": seen.get(domain),
                "stale": seen.get(domain) is None or now - seen[domain] > STALE_AFTER,
            }
            for domain in site.allowed_domains
        ]
        installs += [
            {"domain": d, "last_seen": at, "stale": now - at > STALE_AFTER}
            for d, at in seen.items()
            if d not in site.allowed_domains and any(d.endswith(a.lstrip("*")) for a in site.allowed_domains)
        ]
        values = {
            "name": site.name,
            "domains": "\n".join(site.allowed_domains),
            "timezone": site.timezone,
            "locale": site.locale,
            "promise_seconds": site.settings.get("promise_seconds", 30),
            "ring_seconds": site.settings.get("ring_seconds", 20),
            "routing": site.settings.get("routing", "ring_all"),
            "phone_region": site.settings.get("phone_region", "US"),
            "require_consent": site.settings.get("require_consent", False),
            "always_open": not site.working_hours,
            "holidays": "\n".join(site.settings.get("holidays") or []),
            **{f"hours_{d}": t for d, t in hours_text(site.working_hours).items()},
        } | {k: v for k, v in form.items() if k != "csrf"}
        if form:
            values["always_open"] = form.get("always_open") == "on"
            values["require_consent"] = form.get("require_consent") == "on"
        context = {
            "site": site,
            "values": values,
            "errors": errors,
            "snippet": snippet,
            "installs": installs,
            "days": DAYS,
            "strategies": list(Strategy),
            "timezones": sorted(available_timezones()),
            "saved": request.query_params.get("saved") and not errors,
        }
        return self.dash.render(request, "site_edit.html", context, status_code=status_code)
