"""Endpoints the widgets talk to: site config, the visitor socket and its HTTP fallback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from server.assets import Assets
from server.drain import CLOSE_RESTART, Drain  # -- fault suite: graceful shutdown --
from server.ingest import TOO_FAST, Ingest, VisitorSession
from server.models import Site, Widget
from server.origins import origin_allowed
from server.protocol import ErrorCode, FrameError, Hello, decode, encode, is_valid_id, parse
from server.quiz.definition import for_visitor
from server.ratelimit import SlidingWindow
from server.routing import Policy, Router, schedule_of, visitor_channel
from server.settings import Settings
from server.store import Store, StoreUnavailable
from server.widget_texts import language, texts_for

log = logging.getLogger("beckon.visitor")

IDLE_TIMEOUT = 90.0  # widgets ping every 25 s; a silent socket is dead or abusive
HELLO_TIMEOUT = 10.0  # widgets say hello as soon as the socket opens; one that doesn't only holds a slot
CLOSE_NO_HELLO = 1008  # policy violation
PREVIEW_PREFIX = "preview-"  # the dashboard's widget preview: site=preview-<draft token>
FRAMES_PER_WINDOW = 60
FRAME_WINDOW = 10.0
ABUSE_FACTOR = 3
MAX_COLLECT_FRAMES = 20
CLOSE_ORIGIN = 4403
CLOSE_UNKNOWN_SITE = 4404
CLOSE_IDLE = 4408
CLOSE_ABUSE = 4429
INSTALL_EVERY = 60.0
ALWAYS_ON = ("callback", "chat")  # widgets on screen from page load: their impressions are config loads


def client_ip(scope_client: Any) -> str:
    return scope_client.host if scope_client else "unknown"


def public_base(request: Request | WebSocket, settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = {"ws": "http", "wss": "https"}.get(request.url.scheme, request.url.scheme)
    return f"{scheme}://{request.url.netloc}"


def _error(status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code.value, "message": message}}, status_code=status, headers=headers)


class VisitorAPI:
    def __init__(self, store: Store, ingest: Ingest, router: Router, assets: Assets, settings: Settings) -> None:
        self.store = store
        self.ingest = ingest
        self.router = router
        self.assets = assets
        self.settings = settings
        self._installs: dict[tuple[int, str], float] = {}
        self.drain = Drain()  # -- fault suite: SIGTERM lets in-flight frames finish (server/cli.py) --
        # The widget editor's drafts by token (set by server/dashboard/widgets.py): countdown and quiz previews ask here.
        self.drafts: Callable[[str], tuple[Site, Widget] | None] = lambda token: None

    def _preview(self, ws: WebSocket) -> tuple[Site, Widget] | None:
        """The countdown or quiz draft a preview socket (site=preview-<token>, from the dashboard's own origin) shows."""
        key, origin = ws.query_params.get("site") or "", ws.headers.get("origin") or ""
        if not key.startswith(PREVIEW_PREFIX) or urlsplit(origin).netloc != ws.url.netloc:
            return None
        found = self.drafts(key.removeprefix(PREVIEW_PREFIX))
        return found if found is not None and found[1].kind in ("countdown", "quiz") else None

    async def _site_for(self, key: str | None, origin: str | None, *, origin_required: bool) -> Site | FrameError:
        site = await self.store.get_site_by_key(key) if key else None
        if site is None:
            return FrameError(ErrorCode.UNKNOWN_SITE, "No site has this key. Check the snippet on your page.")
        if (origin or origin_required) and not origin_allowed(origin, site.allowed_domains):
            return FrameError(
                ErrorCode.ORIGIN_NOT_ALLOWED,
                f"This page's origin {origin!r} is not among the site's allowed domains.",
            )
        return site

    # -- GET /api/v1/sites/{key}/config ---------------------------------

    async def site_config(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        cors = {"Access-Control-Allow-Origin": origin or "*", "Vary": "Origin"}
        found = await self._site_for(request.path_params["key"], origin, origin_required=False)
        if isinstance(found, FrameError):
            # Readable by the page, so the loader can tell a refusal from a network failure.
            status = 404 if found.code is ErrorCode.UNKNOWN_SITE else 403
            return _error(status, found.code, found.message, cors)
        site = found
        if origin:
            await self._seen(site, origin)
        base = public_base(request, self.settings)
        rows = await self.store.enabled_widgets(site.id)
        body = await self.config_body(site, rows, base, request.headers.get("accept-language", ""))
        await self._count_view(site, body["widgets"])
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        etag = f'"{hashlib.sha256(raw).hexdigest()[:20]}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache", **cors}
        if not site.locale:  # the texts are in the visitor's language: a cache must keep one copy per language
            headers["Vary"] = "Origin, Accept-Language"
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(raw, media_type="application/json", headers=headers)

    async def config_body(self, site: Site, rows: list[Widget], base: str, accept_language: str = "") -> dict[str, Any]:
        """What the loader is told: the site, its texts in one language (the site's, else the visitor's
        by Accept-Language), its widgets' configs with live facts, the chunks to load."""
        widgets: dict[str, dict[str, Any]] = {w.kind: w.config for w in rows if not w.slug}
        # Kinds with several widgets per site (quizzes, popups, countdowns) list them by slug.
        for w in rows:
            if w.slug:
                widgets.setdefault(w.kind, {}).setdefault("items", {})[w.slug] = self._item_for_visitor(site, w, base)
        # A widget kind whose chunk isn't built yet is left out rather than loaded broken.
        widgets = {kind: cfg for kind, cfg in widgets.items() if kind in self.assets.chunks}
        if "callback" in widgets:
            widgets["callback"] = widgets["callback"] | self._callback_facts(site)
        if "chat" in widgets:
            widgets["chat"] = widgets["chat"] | await self._chat_facts(site)
            greet = widgets["chat"]
            # The greeting has its own small chunk, loaded only when someone is there to answer.
            if greet.get("greetings") and greet["greeter"] and "greeter" in self.assets.chunks:
                widgets["greeter"] = {k: greet.get(k) for k in ("greetings", "greeter", "color", "position", "texts")}
        chunks = {name: self.assets.chunk_url(base, name) for name in ("runtime", *widgets)}
        # Widgets that only live in a page's own markup load on pages that have it, or when opened.
        lazy = {"quiz": "[data-beckon-quiz]"} if "quiz" in widgets else {}
        countdowns = widgets.get("countdown", {}).get("items", {}).values()
        if countdowns and all(c.get("display") == "inline" for c in countdowns):
            lazy["countdown"] = "[data-beckon-countdown]"
        lang = language(site.locale, accept_language)
        return {
            "site": {
                "key": site.key,
                "name": site.name,
                "locale": site.locale,
                "lang": lang.value,
                "texts": texts_for(lang, set(widgets), site.settings.get("texts") or {}),
            },
            "widgets": widgets,
            "chunks": chunks,
            "lazy": lazy,
        }

    async def _seen(self, site: Site, origin: str) -> None:
        """The install check: the snippet ran on this domain. Written at most once a minute per domain."""
        domain, now = urlsplit(origin).netloc, time.time()
        if now - self._installs.get((site.id, domain), 0.0) < INSTALL_EVERY:
            return
        self._installs[(site.id, domain)] = now
        try:
            await self.store.record_install(site.id, domain, now)
        except StoreUnavailable:
            log.warning("could not record that site %s runs on %s", site.key, domain)

    async def _count_view(self, site: Site, widgets: dict[str, Any]) -> None:
        """Impressions of the always-on widgets (issue #8): a page view that loaded their config.
        Counted here, on the server, so nothing is stored on the visitor's device before they act."""
        shown = [kind for kind in ALWAYS_ON if kind in widgets]
        try:
            await self.store.count_widget_views(site.id, shown, time.time())
        except StoreUnavailable:
            log.warning("could not count a page view of site %s", site.key)

    @staticmethod
    def _item_for_visitor(site: Site, widget: Widget, base: str) -> dict[str, Any]:
        consent = {
            "consent": bool(site.settings.get("require_consent")),
            "consent_text": site.settings.get("consent_text"),
        }
        if widget.kind == "quiz":
            return for_visitor(widget.config, base) | consent
        if widget.kind == "countdown":
            return widget.config | {"timezone": site.timezone}
        if widget.kind == "popup":
            public = {k: v for k, v in widget.config.items() if k != "bonus"}
            if str(public.get("image", "")).startswith("/"):
                public["image"] = base + public["image"]
            return public | consent | {"timezone": site.timezone, "has_bonus": bool(widget.config.get("bonus"))}
        return widget.config

    async def _chat_facts(self, site: Site) -> dict[str, Any]:
        """Whether anyone can answer now, and who a proactive greeting may honestly come from."""
        people = await self.router.candidates(site, time.time())
        greeter = min(people, key=lambda u: u.id) if people else None
        return {
            "available": bool(people),
            "greeter": {"name": greeter.name.split()[0], "photo": greeter.photo} if greeter else None,
        }

    def _callback_facts(self, site: Site) -> dict[str, Any]:
        """What the callback widget must know to promise only what is true right now."""
        now = time.time()
        hours = schedule_of(site)
        is_open = hours.is_open(now)
        back = None if is_open else hours.next_open(now)
        return {
            "promise_seconds": Policy.for_site(site).promise_seconds,
            "require_consent": bool(site.settings.get("require_consent")),
            "consent_text": site.settings.get("consent_text"),
            "hours": {
                "open": is_open,
                "timezone": site.timezone,
                "next_open": int(back * 1000) if back else None,
                "slots": []
                if is_open
                else [{"start": int(w.start * 1000), "end": int(w.end * 1000)} for w in hours.slots(now)],
            },
        }

    # -- WS /ws/visitor ---------------------------------------------------

    async def socket(self, ws: WebSocket) -> None:
        preview = self._preview(ws)
        found: Site | FrameError = (
            preview[0]
            if preview
            else await self._site_for(ws.query_params.get("site"), ws.headers.get("origin"), origin_required=True)
        )
        await ws.accept()
        if isinstance(found, FrameError):
            await ws.send_json(found.to_frame())
            code = CLOSE_UNKNOWN_SITE if found.code is ErrorCode.UNKNOWN_SITE else CLOSE_ORIGIN
            await ws.close(code=code, reason=found.code.value)
            return
        if self.drain.closing:  # accepted while shutting down: come back later
            await ws.close(code=CLOSE_RESTART, reason="server restarting")
            return
        session = VisitorSession(site=found, ip=client_ip(ws.client), user_agent=ws.headers.get("user-agent", ""))
        session.draft = preview[1] if preview else None
        hello_by = time.monotonic() + HELLO_TIMEOUT
        flood = SlidingWindow(FRAMES_PER_WINDOW, FRAME_WINDOW)
        refused = 0
        pump: asyncio.Task[None] | None = None
        try:
            with self.drain.track(ws):
                while True:
                    waiting = session.visitor is None  # until hello, the deadline counts from the socket's opening
                    timeout = max(0.0, hello_by - time.monotonic()) if waiting else IDLE_TIMEOUT
                    try:
                        async with asyncio.timeout(timeout):  # -- bench (#10): wait_for made a task per frame --
                            message = await ws.receive()
                    except TimeoutError:
                        if waiting:
                            await ws.close(code=CLOSE_NO_HELLO, reason="hello expected")
                        else:
                            await ws.close(code=CLOSE_IDLE, reason="idle")
                        return
                    if message["type"] == "websocket.disconnect":
                        return
                    # -- fault suite: a frame read after the drain closed this socket stays in the outbox --
                    if not self.drain.begin(ws):
                        return
                    if flood.hit("frames"):
                        refused += 1
                        if refused > FRAMES_PER_WINDOW * ABUSE_FACTOR:
                            await ws.close(code=CLOSE_ABUSE, reason="too many frames")
                            return
                        await ws.send_json(
                            FrameError(ErrorCode.RATE_LIMITED, TOO_FAST, retry_after=FRAME_WINDOW).to_frame()
                        )
                    else:
                        reply = await self._answer(session, message.get("text"), message.get("bytes"))
                        for frame in reply if isinstance(reply, list) else [reply] if reply else []:
                            await ws.send_text(encode(frame))
                        welcome = isinstance(reply, dict) and reply.get("type") == "welcome"
                        if welcome and pump is None and session.visitor and session.draft is None:
                            pump = asyncio.create_task(self._push_status(ws, session))
                    if await self.drain.end(ws):  # answered; a shutdown that began meanwhile closes it now
                        return
        except (WebSocketDisconnect, WebSocketDisconnected):
            return
        finally:
            if pump is not None:
                pump.cancel()

    async def _push_status(self, ws: WebSocket, session: VisitorSession) -> None:
        """Live callback status and chat for this visitor: what is open now, then every change (but the
        status of a callback this socket just asked for: its ack carries that)."""
        assert session.visitor is not None
        site_id, visitor_key = session.site.id, session.visitor
        try:
            async with self.router.hub.subscribe([visitor_channel(site_id, visitor_key)]) as sub:
                session.feed = sub
                for status in await self.router.statuses_for_visitor(site_id, visitor_key):
                    await ws.send_text(encode(status))
                site = await self.store.get_site(site_id)
                chat_state = await self.ingest.chat.visitor_state(site, visitor_key) if site else None
                if chat_state:
                    await ws.send_text(encode(chat_state))
                while True:
                    await ws.send_text(encode(await sub.get()))
        except (WebSocketDisconnect, RuntimeError):
            return

    async def _answer(
        self, session: VisitorSession, text: str | None, data: bytes | None
    ) -> dict[str, Any] | list[dict[str, Any]] | None:
        frame_id = None
        try:
            if text is None:
                raise FrameError(ErrorCode.BAD_FRAME, "Send frames as text, not binary.")
            raw = decode(text, max_bytes=self.settings.max_frame_bytes)
            frame_id = raw.get("id") if is_valid_id(raw.get("id")) else None
            frame = parse(raw)
            reply = await self.ingest.handle(session, frame)
            if isinstance(frame, Hello):
                return {"type": "welcome", "visitor": frame.visitor, "server_time": int(time.time() * 1000)}
            return reply
        except FrameError as exc:
            if exc.frame_id is None:
                exc.frame_id = frame_id
            return exc.to_frame()

    # -- POST /api/v1/collect ---------------------------------------------

    async def collect(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        cors = {"Access-Control-Allow-Origin": origin or "*", "Vary": "Origin"}
        if request.method == "OPTIONS":
            return Response(
                status_code=204,
                headers={
                    **cors,
                    "Access-Control-Allow-Methods": "POST",
                    "Access-Control-Allow-Headers": "Content-Type",
                },
            )
        found = await self._site_for(request.query_params.get("site"), origin, origin_required=True)
        if isinstance(found, FrameError):
            status = 404 if found.code is ErrorCode.UNKNOWN_SITE else 403
            return _error(status, found.code, found.message, cors)
        limit = self.settings.max_frame_bytes * MAX_COLLECT_FRAMES
        if int(request.headers.get("content-length") or 0) > limit:
            return _error(413, ErrorCode.TOO_LARGE, f"Body over {limit} bytes.", cors)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _error(413, ErrorCode.TOO_LARGE, f"Body over {limit} bytes.", cors)
        try:
            envelope = decode(body, max_bytes=limit)
        except FrameError as exc:
            return _error(400, exc.code, exc.message, cors)
        visitor, frames = envelope.get("visitor"), envelope.get("frames")
        if not is_valid_id(visitor) or not isinstance(frames, list) or len(frames) > MAX_COLLECT_FRAMES:
            return _error(
                400,
                ErrorCode.BAD_FRAME,
                f'Send {{"visitor": id, "frames": [at most {MAX_COLLECT_FRAMES} frames]}}.',
                cors,
            )
        session = VisitorSession(
            site=found, ip=client_ip(request.client), user_agent=request.headers.get("user-agent", ""), visitor=visitor
        )
        results = []
        for frame in frames:
            text = json.dumps(frame, ensure_ascii=False) if isinstance(frame, dict) else "null"
            results.append(await self._answer(session, text, None))
        return JSONResponse({"results": results}, headers=cors)
