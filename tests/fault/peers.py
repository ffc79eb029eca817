"""Clients that behave like the real ones under faults: an outbox of frames with client ids kept
until acked and re-sent after every reconnect (widgets/runtime.js), reconnecting with backoff."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.conftest import ORIGIN
from tests.support import BeckonServer, login

Frame = dict[str, Any]
# The widget starts at 1 s; a test reconnects faster but the same way (×1.5, capped).
BACKOFF_START = 0.05
BACKOFF_CAP = 0.5


def new_id() -> str:
    return uuid.uuid4().hex


def lead_frame(n: int, who: str) -> Frame:
    return {
        "type": "lead",
        "id": new_id(),
        "kind": "callback",
        "phone": f"020 7946 {n % 10000:04d}",
        "name": f"{who} #{n}",
        "context": {"url": "http://localhost/demo/", "landing": "http://localhost/demo/"},
    }


class OutboxPeer:
    """One visitor (or manager) with an outbox, run as a task: connect, hello, send the outbox,
    take acks off it; on any drop, reconnect with backoff and send what is still unanswered."""

    def __init__(
        self,
        url: str,
        hello: Callable[[], Frame],
        *,
        origin: str = ORIGIN,
        headers: dict[str, str] | None = None,
        on_welcome: Callable[[OutboxPeer], Any] | None = None,
        changed: asyncio.Condition | None = None,
        on_push: Callable[[OutboxPeer, Frame], Any] | None = None,
    ) -> None:
        self.url = url
        self.hello = hello
        self.origin = origin
        self.headers = headers or {}
        self.on_welcome = on_welcome
        self.on_push = on_push  # async, for frames the server pushes (chat messages, states)
        self.outbox: dict[str, Frame] = {}
        self.acks: dict[str, Frame] = {}
        self.refusals: list[Frame] = []  # error frames about an outbox frame
        self.reacks: list[Frame] = []
        self.pushed: list[Frame] = []  # everything else the server sent
        self.close_codes: list[int | None] = []
        self.connects = 0
        self.ws: ClientConnection | None = None
        self.changed = changed or asyncio.Condition()  # shared by a crowd, to wait on all of them
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    # -- what a widget does ---------------------------------------------------------

    async def send(self, frame: Frame) -> str:
        self.outbox[frame["id"]] = frame
        if self.ws is not None:
            try:
                await self.ws.send(json.dumps(frame))
            except ConnectionClosed:
                pass  # stays in the outbox; the reconnect re-sends it
        return frame["id"]

    async def push(self, frame: Frame) -> bool:
        """A frame that is not kept (chat_sync, typing): sent on the open socket or dropped."""
        if self.ws is None:
            return False
        try:
            await self.ws.send(json.dumps(frame))
            return True
        except ConnectionClosed:
            return False

    def start(self) -> OutboxPeer:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        self._stop = True
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            self._task.cancel()
            with _quiet():
                await self._task

    async def drop(self) -> None:
        """An abrupt loss of the connection (no closing handshake): the peer reconnects."""
        if self.ws is not None:
            self.ws.transport.abort()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(condition), timeout)

    async def drained(self, timeout: float = 30) -> None:
        await self.wait_for(lambda: not self.outbox, timeout)

    # -- the connection loop --------------------------------------------------------------

    async def _run(self) -> None:
        delay = BACKOFF_START
        while not self._stop:
            try:
                async with connect(
                    self.url,
                    origin=self.origin,
                    additional_headers=self.headers,
                    open_timeout=5,  # type: ignore[arg-type]
                ) as ws:
                    await ws.send(json.dumps(self.hello()))
                    await self._session(ws)
                    delay = BACKOFF_START
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidStatus, TimeoutError):
                pass
            finally:
                self.ws = None
            if self._stop:
                return
            await asyncio.sleep(delay)  # reconnect backoff, as the widget does: protocol, not synchronisation
            delay = min(delay * 1.5, BACKOFF_CAP)

    async def _session(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "welcome":
                    self.connects += 1
                    self.ws = ws
                    for queued in list(self.outbox.values()):
                        await ws.send(json.dumps(queued))
                    if self.on_welcome is not None:
                        await self.on_welcome(self)
                elif kind == "ack" and frame.get("id") in self.outbox:
                    self.outbox.pop(frame["id"])
                    self.acks[frame["id"]] = frame
                elif kind == "ack" and frame.get("id") in self.acks:
                    self.reacks.append(frame)  # a frame sent again after its first ack (another tab, a lost ack)
                elif kind == "error" and frame.get("id") in self.outbox:
                    self.refusals.append(frame)
                    if frame.get("code") != "unavailable":  # the runtime drops refused frames
                        self.outbox.pop(frame["id"])
                else:
                    self.pushed.append(frame)
                    if self.on_push is not None:
                        await self.on_push(self, frame)
                async with self.changed:
                    self.changed.notify_all()
        finally:
            self.close_codes.append(ws.close_code)
            async with self.changed:
                self.changed.notify_all()

    async def resend_outbox(self) -> None:
        """What the runtime does after an 'unavailable' refusal's retry_after: try the outbox again."""
        for frame in list(self.outbox.values()):
            await self.push(frame)


def crowd(ws_base: str, site: str, visitors: int, changed: asyncio.Condition) -> list[OutboxPeer]:
    """Many visitors, each with its own id and outbox, all connected and sharing one condition."""
    peers = []
    for _ in range(visitors):
        visitor_id = new_id()
        peers.append(
            OutboxPeer(
                f"{ws_base}/ws/visitor?site={site}",
                lambda visitor_id=visitor_id: {"type": "hello", "visitor": visitor_id},
                changed=changed,
            ).start()
        )
    return peers


def manager(server: BeckonServer, email: str, password: str, changed: asyncio.Condition, **hooks: Any) -> OutboxPeer:
    """A manager's dashboard, not yet started: signed in, on /ws/manager, keeping its frames until
    answered and sending them again after a reconnect (server/static/app.js). ``hooks``: on_welcome, on_push."""
    with httpx.Client(base_url=server.base) as client:
        login(client, email, password)
        cookie = f"beckon_session={client.cookies.get('beckon_session')}"
    return OutboxPeer(
        f"{server.ws_base}/ws/manager",
        lambda: {"type": "hello", "since": 10**9},
        origin=server.base,
        headers={"Cookie": cookie},
        changed=changed,
        **hooks,
    )


async def resent_after_restart(server: BeckonServer, peers: list[OutboxPeer], changed: asyncio.Condition) -> None:
    """Start the server again and wait until every peer's outbox is answered; then stop the peers."""
    await asyncio.to_thread(server.start)
    async with changed:
        await asyncio.wait_for(changed.wait_for(lambda: all(not p.outbox for p in peers)), 60)
    for peer in peers:
        await peer.stop()


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], (asyncio.CancelledError, ConnectionClosed))  # type: ignore[arg-type]
