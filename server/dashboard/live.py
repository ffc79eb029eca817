"""/ws/manager: live leads for a signed-in manager, with replay after a reconnect."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect

from server.dashboard.sessions import Sessions
from server.feed import lead_summary
from server.hub import Hub, site_channel
from server.store import Store

REPLAY_LIMIT = 500
CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_RESYNC = 4409


class ManagerFeed:
    def __init__(self, store: Store, hub: Hub, sessions: Sessions) -> None:
        self.store = store
        self.hub = hub
        self.sessions = sessions

    async def socket(self, ws: WebSocket) -> None:
        origin = ws.headers.get("origin")
        # A cookie-authenticated socket must refuse other sites' pages (cross-site WebSocket hijacking).
        if origin is None or urlsplit(origin).netloc != ws.url.netloc:
            await ws.close(code=CLOSE_FORBIDDEN_ORIGIN)
            return
        user = await self.sessions.user(ws)
        if user is None:
            await ws.close(code=CLOSE_UNAUTHORISED)
            return
        site_ids = [s.id for s in await self.store.user_sites(user.id)]
        await ws.accept()
        async with self.hub.subscribe(site_channel(i) for i in site_ids) as sub:
            sender = asyncio.create_task(self._pump(ws, sub))
            try:
                while True:
                    message = await ws.receive_text()
                    try:
                        frame = json.loads(message)
                    except ValueError:
                        await ws.send_json({"type": "error", "code": "bad_json", "message": "Frame is not JSON."})
                        continue
                    if not isinstance(frame, dict):
                        continue
                    if frame.get("type") == "hello":
                        since = frame.get("since")
                        since = since if isinstance(since, int) and since >= 0 else 0
                        for lead in reversed(await self.store.list_leads(site_ids, limit=REPLAY_LIMIT, after_id=since)):
                            await ws.send_json(lead_summary(lead) | {"replay": True})
                        await ws.send_json({"type": "welcome", "user": user.name})
                    elif frame.get("type") == "ping":
                        await ws.send_json({"type": "pong"})
            except WebSocketDisconnect:
                pass
            finally:
                sender.cancel()

    async def _pump(self, ws: WebSocket, sub) -> None:  # type: ignore[no-untyped-def]
        try:
            while True:
                message = await sub.get()
                await ws.send_json(message)
                if sub.overflowed:
                    await ws.close(code=CLOSE_RESYNC)
                    return
        except (WebSocketDisconnect, RuntimeError):
            return
