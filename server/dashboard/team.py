"""The team: invitations with an expiry, roles and site membership, deactivation that ends the
person's sessions and live sockets at once, and each person's own name, photo and password.

A photo is either an https:// address or a picture uploaded here (PNG, JPEG or WebP, told by its
bytes, at most 1 MB), kept in the store and served publicly from Beckon's own origin under
/media/people/<user>-<digest>.<ext>, so the chat widget can show it on any site."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

from starlette.datastructures import UploadFile
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
PHOTO_LIMIT = 1024 * 1024
PHOTO_FORM_SLACK = 64 * 1024  # the multipart envelope and the CSRF field around the picture
PHOTO_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
PHOTO_PATH = re.compile(r"^(\d+)-([0-9a-f]{16})\.(png|jpg|webp)$")


def image_type(data: bytes) -> str | None:
    """The picture's type by its first bytes (its name and the browser's claim are not trusted)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


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
        photo = user.photo or ""
        uploaded = photo[photo.index("/media/people/") :] if "/media/people/" in photo else ""
        context = {"errors": errors or [], "saved": saved, "uploaded": uploaded, "photo_limit_mb": PHOTO_LIMIT >> 20}
        return self.dash.render(request, "me.html", context, status_code=status_code)

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
        # The address of an uploaded photo comes back unchanged (it may be http:// on a local install).
        if photo and photo != user.photo and not re.match(r"^https://[^\s\"'<>]{3,500}$", photo):
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

    # -- my photo, uploaded ------------------------------------------------------------

    async def upload_photo(self, request: Request) -> Response:
        user = await self.dash.require_user(request)
        if isinstance(user, Response):
            return user
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > PHOTO_LIMIT + PHOTO_FORM_SLACK:
            return await self.me(request, ["Photo: at most 1 MB"], 413)
        form = await self.dash.checked_form(request)
        if isinstance(form, Response):
            return form
        if form.get("remove"):
            await self.store.delete_photo(user.id)
            return RedirectResponse("/app/me?saved=1", status_code=303)
        upload = form.get("photo_file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await self.me(request, ["Photo: choose a picture file first"], 400)
        data = await upload.read(PHOTO_LIMIT + 1)
        if len(data) > PHOTO_LIMIT:
            return await self.me(request, ["Photo: at most 1 MB"], 413)
        mime = image_type(data)
        if mime is None:
            return await self.me(request, ["Photo: a PNG, JPEG or WebP picture (this file is not one)"], 400)
        digest = hashlib.sha256(data).hexdigest()[:16]
        base = self.dash.sessions.settings.public_url.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"
        url = f"{base}/media/people/{user.id}-{digest}.{PHOTO_EXTENSIONS[mime]}"
        await self.store.save_photo(user.id, mime, digest, data, url)
        return RedirectResponse("/app/me?saved=1", status_code=303)

    async def photo(self, request: Request) -> Response:
        """Public: the picture a person uploaded, under a name that changes with its bytes."""
        match = PHOTO_PATH.match(request.path_params["name"])
        found = await self.store.get_photo(int(match.group(1))) if match else None
        if match is None or found is None or found[1] != match.group(2):
            return Response("No such photo.", status_code=404, media_type="text/plain")
        mime, _, body = found
        return Response(
            body,
            media_type=mime,
            headers={
                "Cache-Control": "public, max-age=31536000, immutable",
                # Shown by the chat widget on the owners' sites, which are other origins.
                "Cross-Origin-Resource-Policy": "cross-origin",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )
