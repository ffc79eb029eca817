"""/ws/manager: the live dashboard feed and the manager's commands.

Client -> server:
  hello {since}                 replay leads after seq ``since``, then welcome, then the callback queue,
                                the chat inbox and the follow-ups due for me (``replay: true``)
  claim {id, lead}              take a callback (exactly one of simultaneous claims wins)
  dialed {id, lead}             the manager started the call from the tel: link
  outcome {id, lead, outcome, at?}   connected | no_answer | wrong_number | spam | reschedule (at: unix s)
  available {id, on}            available / away
  chat_reply, chat_sync, chat_typing, chat_read, chat_close, chat_reopen, chat_transfer: docs/chat-protocol.md
  ping
Server -> client: lead, callback, notice, me {available}, welcome {user, user_id, available},
  follow_up {lead, name, phone, phone_display, site, at, assignee_id, replay?} (a lead's follow-up
  time has come: sent once to its assignee, or to every member of its site when nobody is assigned),
  ack {id}, error {id, code, message}, pong.

Re-sends: the dashboard keeps claim and outcome frames until answered and sends them again after a
reconnect. One whose change is stored already, made by the same manager, is acked again and changes
nothing (its first ack was lost to a restart or a drop). On SIGTERM (server/drain.py) a frame being
handled is stored and answered before the socket closes with 1012 (come back); a frame read after
that close is neither stored nor answered, and comes again from the dashboard after the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from server.chat import ChatError, ChatService
from server.dashboard.sessions import Sessions
from server.drain import CLOSE_RESTART, Drain
from server.feed import lead_summary
from server.hub import Hub, Subscription, site_channel
from server.models import Actor, ConversationState, EventRecord, Lead, Outcome, User
from server.phones import format_phone
from server.protocol import encode, is_valid_id
from server.routing import Router, RoutingError, user_channel
from server.store import Store, StoreUnavailable

REPLAY_LIMIT = 500
MAX_FRAME_BYTES = 16 * 1024
CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_RESYNC = 4409
FOLLOW_UP_POLL = 2.0  # seconds between looks for follow-ups that came due

log = logging.getLogger("beckon.followups")


class ManagerFeed:
    def __init__(
        self, store: Store, hub: Hub, router: Router, chat: ChatService, sessions: Sessions, drain: Drain
    ) -> None:
        self.store = store
        self.hub = hub
        self.router = router
        self.chat = chat
        self.sessions = sessions
        self.drain = drain  # SIGTERM: a frame being handled is answered before the socket closes

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
        if self.drain.closing:  # accepted while shutting down: come back after the restart
            await ws.close(code=CLOSE_RESTART, reason="server restarting")
            return
        channels = [site_channel(i) for i in site_ids] + [user_channel(user.id)]
        # Tracked until manager_offline is done too: the drain waits for it before the store closes.
        with self.drain.track(ws):
            async with self.hub.subscribe(channels) as sub:
                sender = asyncio.create_task(self._pump(ws, sub))
                await self.router.manager_online(user)
                try:
                    while True:
                        message = await ws.receive()
                        if message["type"] == "websocket.disconnect":
                            break
                        # A frame read after the drain closed this socket is left unanswered and
                        # unstored: the dashboard keeps it and sends it again after reconnecting.
                        if not self.drain.begin(ws):
                            break
                        text = message.get("text")
                        if text is None:  # a binary frame: answered, not fatal (receive_text() raised KeyError)
                            reply: dict[str, Any] | None = {
                                "type": "error",
                                "id": None,
                                "code": "bad_frame",
                                "message": "Send frames as text, not binary.",
                            }
                        else:
                            reply = await self._answer(user, site_ids, ws, text)
                        if reply is not None:
                            await ws.send_json(reply)
                        if await self.drain.end(ws):  # answered; a shutdown that began meanwhile closes it now
                            break
                except (WebSocketDisconnect, WebSocketDisconnected):
                    pass
                finally:
                    sender.cancel()
                    await self.router.manager_offline(user)

    async def _answer(self, user: User, site_ids: list[int], ws: WebSocket, text: str) -> dict[str, Any] | None:
        if len(text) > MAX_FRAME_BYTES:
            return {"type": "error", "id": None, "code": "too_large", "message": "Frame too large."}
        try:
            frame = json.loads(text)
        except (ValueError, RecursionError):  # a deeply nested frame overflows the parser's stack
            return {"type": "error", "id": None, "code": "bad_json", "message": "Frame is not JSON."}
        if not isinstance(frame, dict):
            return {"type": "error", "id": None, "code": "bad_frame", "message": "Frame must be an object."}
        kind = frame.get("type")
        frame_id = frame.get("id") if is_valid_id(frame.get("id")) else None
        if kind == "ping":
            return {"type": "pong"}
        if kind == "hello":
            since = frame.get("since")
            since = since if isinstance(since, int) and since >= 0 else 0
            for lead in reversed(await self.store.list_leads(site_ids, limit=REPLAY_LIMIT, after_id=since)):
                await ws.send_json(lead_summary(lead) | {"replay": True})
            fresh = await self.store.get_user(user.id)
            await ws.send_json(
                {"type": "welcome", "user": user.name, "user_id": user.id, "available": bool(fresh and fresh.available)}
            )
            for card in await self.router.queue(site_ids):
                await ws.send_json(card)
            for card in await self.chat.inbox(site_ids):
                await ws.send_json(card)
            # Reminders that fired while this dashboard was closed (or the server restarting).
            for lead in await self.store.fired_follow_ups(site_ids, time.time()):
                if lead.assignee_id in (None, user.id):
                    await ws.send_json(follow_up_frame(lead) | {"replay": True})
            return None
        if kind == "chat_typing":
            await self._quietly(self.chat.manager_typing(user, frame.get("conversation"), frame.get("on") is True))
            return None
        if kind == "chat_read":
            await self._quietly(self.chat.manager_read(user, frame.get("conversation"), frame.get("seq")))
            return None
        if frame_id is None:
            return {"type": "error", "id": None, "code": "bad_frame", "message": f"{kind!r} needs an id."}
        try:
            if kind == "chat_reply":
                return await self.chat.reply(user, frame.get("conversation"), frame_id, frame.get("text"))
            if kind == "chat_sync":
                for message in await self.chat.manager_sync(user, frame.get("conversation"), frame.get("since")):
                    await ws.send_json(message)
            elif kind in ("chat_close", "chat_reopen"):
                state = ConversationState.CLOSED if kind == "chat_close" else ConversationState.OPEN
                await self.chat.set_state(user, frame.get("conversation"), state)
            elif kind == "chat_transfer":
                await self.chat.transfer(user, frame.get("conversation"), frame.get("to"), frame.get("note"))
            elif kind == "available":
                await self.router.set_available(user, frame.get("on") is True)
            elif kind in ("claim", "dialed", "outcome"):
                ref = frame.get("lead")
                if not isinstance(ref, str) or not ref:
                    raise RoutingError("bad_frame", "Say which lead.")
                if kind == "claim":
                    await self.router.claim(user, ref)
                elif kind == "dialed":
                    await self.router.dialed(user, ref)
                else:
                    try:
                        outcome = Outcome(frame.get("outcome"))
                    except ValueError as exc:
                        choices = ", ".join(o.value for o in Outcome)
                        raise RoutingError("bad_frame", f"Outcome must be one of {choices}.") from exc
                    at = frame.get("at")
                    if at is not None and (not isinstance(at, int | float) or isinstance(at, bool)):
                        raise RoutingError("bad_time", "The time must be a number of seconds.")
                    await self.router.record_outcome(user, ref, outcome, float(at) if at is not None else None)
            else:
                raise RoutingError("unknown_type", f"Unknown frame type {str(kind)[:40]!r}.")
        except (RoutingError, ChatError) as exc:
            return {"type": "error", "id": frame_id, "code": exc.code, "message": exc.message}
        except StoreUnavailable:
            return unavailable(frame_id)
        return {"type": "ack", "id": frame_id}

    async def _quietly(self, action: Any) -> None:
        """Typing and read marks need no answer; a bad one is simply dropped."""
        try:
            await action
        except ChatError:
            return

    async def _pump(self, ws: WebSocket, sub: Subscription) -> None:
        try:
            while True:
                message = await sub.get()
                # Deactivated: the socket ends now, not at its next reconnect. Sites changed: resubscribe.
                if message.get("type") in ("signed_out", "resync"):
                    await ws.close(code=CLOSE_UNAUTHORISED if message["type"] == "signed_out" else CLOSE_RESYNC)
                    return
                # One encoder made once (send_json builds one per frame: every alert passes here).
                await ws.send_text(encode(message))
                if sub.overflowed:
                    await ws.close(code=CLOSE_RESYNC)
                    return
        except (WebSocketDisconnect, RuntimeError):
            return


def unavailable(frame_id: str) -> dict[str, Any]:
    return {"type": "error", "id": frame_id, "code": "unavailable", "message": "Could not save. Try again."}


# -- follow-up reminders ---------------------------------------------------------------------------


def follow_up_frame(lead: Lead) -> dict[str, Any]:
    return {
        "type": "follow_up",
        "lead": lead.ref,
        "name": lead.name or "",
        "phone": lead.phone or "",
        "phone_display": format_phone(lead.phone) if lead.phone else "",
        "site": lead.site_name,
        "at": lead.follow_up_at,
        "assignee_id": lead.assignee_id,
    }


class FollowUpReminders:
    """Fires each lead's follow-up reminder once its time has come: a line on the lead's timeline and
    a live ``follow_up`` frame to its assignee, or to every member of its site when nobody is assigned.
    The firing is remembered in the store, so a restart neither repeats one nor loses one: reminders
    that fell due while the server was down fire on the first look after it starts."""

    def __init__(self, store: Store, hub: Hub, poll: float = FOLLOW_UP_POLL) -> None:
        self.store = store
        self.hub = hub
        self.poll = poll
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.fire_due(time.time())
            except StoreUnavailable as exc:
                log.warning("follow-up reminders wait for the store: %s", exc)
            except Exception:
                log.exception("follow-up reminders failed; trying again")
            await asyncio.sleep(self.poll)

    async def fire_due(self, now: float) -> int:
        fired = 0
        for lead in await self.store.due_follow_ups(now):
            assert lead.follow_up_at is not None
            members = await self.store.site_members(lead.site_id)
            people = [m for m in members if m.id == lead.assignee_id] or members
            event = EventRecord("follow_up_due", Actor.SYSTEM, data={"to": [p.name for p in people]})
            done = await self.store.fire_follow_up(lead.id, lead.follow_up_at, event)
            if done is None:  # fired already, or its time was changed meanwhile
                continue
            frame = follow_up_frame(done)
            for person in people:
                self.hub.publish(user_channel(person.id), frame)
            fired += 1
        return fired
