"""The team: invitations with an expiry, roles and site membership, deactivation that ends the
person's sessions and live sockets at once, and each person's own name, photo and password."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.dashboard.views import Dashboard
from server.hub import Hub
from server.models import Role, User
from server.passwords import hash_password, verify_password
from server.routing import user_channel

INVITE_TTL = 7 * 86400
MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TeamPages:
    def __init__(self, dashboard: Dashboard, hub: Hub) -> None:
        self.dash = dashboard
        self.store = dashboard.store
        self.hub = hub

    async def _lead(self, request: Request) -> tuple[User, list[Any]] | Response:
        user = await self.dash.require_user(request)
        if isinstance(user, Response):
            return user
        if user.role not in (Role.OWNER, Role.ADMIN):
            return self.dash.render(request, "forbidden.html", {"what": "manage the team"}, status_code=403)
        return user, await self.store.user_sites(user.id)

    async def index(self, request: Request, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
        found = await self._lead(request)
        if isinstance(found, Response):
            return found
        user, sites = found
        ids = [s.id for s in sites]
        members = await self.store.team(ids)
        invites = await self.store.open_invitations(ids, time.time())
        names = {s.id: s.name for s in sites}
        page = {"sites": sites, "members": members, "invites": invites, "names": names, "me": user}
        page |= {"errors": [], "link": None, "form": {}} | (context or {})
        return self.dash.render(request, "team.html", page, status_code=status_code)

    async def invite(self, request: Request) -> Response:
        found = await self._lead(request)
        if isinstance(found, Response):
            return found
        user, sites = found
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        email = str(form.get("email") or "").strip()
        role = str(form.get("role") or "manager")
        chosen = [s.id for s in sites if str(s.id) in form.getlist("sites")]
        errors = []
        if not _EMAIL.match(email):
            errors.append("Email: that doesn't look like an email address")
        elif await self.store.get_user_by_email(email):
            errors.append("Email: this person already has an account; add them to a site below instead")
        if role not in {r.value for r in Role} or (role == Role.OWNER and user.role is not Role.OWNER):
            errors.append("Role: manager or admin (only an owner can invite another owner)")
        if not chosen:
            errors.append("Sites: choose at least one site the person will work on")
        if errors:
            return await self.index(request, {"errors": errors, "form": dict(form)}, 400)
        token = secrets.token_urlsafe(24)
        await self.store.create_invitation(
            token_hash=_digest(token),
            email=email,
            role=Role(role),
            site_ids=chosen,
            invited_by=user.id,
            expires_at=time.time() + INVITE_TTL,
        )
        base = f"{request.url.scheme}://{request.url.netloc}"
        return await self.index(request, {"link": f"{base}/app/invite/{token}", "invited": email})

    async def _member(self, request: Request, user: User, sites: list[Any]) -> tuple[User, list[int]] | None:
        target_id = request.path_params["user_id"]
        for member, member_sites in await self.store.team([s.id for s in sites]):
            if member.id == target_id:
                return member, member_sites
        return None

    async def change(self, request: Request) -> Response:
        """Role, sites and active/deactivated for one person, from one form."""
        found = await self._lead(request)
        if isinstance(found, Response):
            return found
        user, sites = found
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        target = await self._member(request, user, sites)
        if target is None:
            return self.dash.render(request, "not_found.html", {}, status_code=404)
        member, _ = target
        if member.id == user.id:
            return await self.index(
                request, {"errors": ["You can't change your own role or switch yourself off."]}, 400
            )
        if member.role is Role.OWNER and user.role is not Role.OWNER:
            return await self.index(request, {"errors": ["Only an owner can change another owner."]}, 403)
        role = str(form.get("role") or member.role.value)
        if role not in {r.value for r in Role} or (role == Role.OWNER and user.role is not Role.OWNER):
            return await self.index(request, {"errors": ["Role: manager or admin."]}, 400)
        active = form.get("active") == "on"
        keep = [s.id for s in sites if str(s.id) in form.getlist("sites")]
        await self.store.update_user(member.id, role=Role(role), active=int(active))
        await self.store.set_memberships(member.id, [s.id for s in sites], keep)
        # Open dashboards of that person follow at once: signed out, or re-subscribed to their sites.
        self.hub.publish(user_channel(member.id), {"type": "signed_out" if not active else "resync"})
        return RedirectResponse("/app/team?saved=1", status_code=303)

    # -- accepting an invitation ------------------------------------------------------

    async def invitation_page(self, request: Request) -> Response:
        invite = await self.store.invitation(_digest(request.path_params["token"]))
        return self._invitation(request, invite, [])

    def _invitation(self, request: Request, invite: dict[str, Any] | None, errors: list[str], status: int = 200):  # type: ignore[no-untyped-def]
        usable = invite is not None and invite["accepted_at"] is None and invite["expires_at"] > time.time()
        context = {"invite": invite if usable else None, "errors": errors, "token": request.path_params["token"]}
        return self.dash.render(request, "invite.html", context, status_code=status if usable else 410)

    async def accept(self, request: Request) -> Response:
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        token_hash = _digest(request.path_params["token"])
        invite = await self.store.invitation(token_hash)
        name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
        errors = []
        if not name:
            errors.append("Name: tell your team who you are")
        if len(password) < MIN_PASSWORD:
            errors.append(f"Password: at least {MIN_PASSWORD} characters")
        if errors:
            return self._invitation(request, invite, errors, 400)
        user = await self.store.accept_invitation(
            token_hash, time.time(), name=name, password_hash=hash_password(password)
        )
        if user is None:
            return self._invitation(request, None, [])
        response = RedirectResponse("/app/leads", status_code=303)
        await self.dash.sessions.sign_in(request, response, user)
        return response

    # -- my own account ----------------------------------------------------------------

    async def me(self, request: Request, errors: list[str] | None = None, status_code: int = 200) -> Response:
        user = await self.dash.require_user(request)
        if isinstance(user, Response):
            return user
        saved = request.query_params.get("saved") and not errors
        return self.dash.render(request, "me.html", {"errors": errors or [], "saved": saved}, status_code=status_code)

    async def save_me(self, request: Request) -> Response:
        user = await self.dash.require_user(request)
        if isinstance(user, Response):
            return user
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        name = str(form.get("name") or "").strip()
        photo = str(form.get("photo") or "").strip()
        new = str(form.get("new_password") or "")
        errors = []
        if not name:
            errors.append("Name: your team and visitors see it")
        if photo and not re.match(r"^https://[^\s\"'<>]{3,500}$", photo):
            errors.append("Photo: the https:// address of a picture")
        if new:
            if not verify_password(user.password_hash, str(form.get("password") or "")):
                errors.append("Current password: that isn't it")
            if len(new) < MIN_PASSWORD:
                errors.append(f"New password: at least {MIN_PASSWORD} characters")
        if errors:
            return await self.me(request, errors, 400)
        await self.store.update_user(user.id, name=name, photo=photo or None)
        if new:
            await self.store.set_password_hash(user.id, hash_password(new))
        return RedirectResponse("/app/me?saved=1", status_code=303)
