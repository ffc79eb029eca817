"""Graceful shutdown of visitor and manager sockets (one Drain for both): between SIGTERM and exit,
a socket that is storing a frame finishes it and sends its answer; every socket is then closed with
1012 (service restart), which the widgets and the dashboard answer by reconnecting and re-sending
what is still unanswered. A frame that arrives after its socket was told to close is not read: it
stays with its sender (the visitor's outbox, the dashboard's kept frames), unanswered and unstored."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Iterator

from starlette.websockets import WebSocket

log = logging.getLogger("beckon.drain")

CLOSE_RESTART = 1012


class Phase(enum.Enum):
    IDLE = "idle"  # waiting for the next frame
    BUSY = "busy"  # handling a frame: it will be answered before the socket closes
    CLOSED = "closed"  # told to close: frames still arriving are left to the client's outbox


class Drain:
    def __init__(self) -> None:
        self.closing = False
        self._sockets: dict[WebSocket, Phase] = {}
        self._empty = asyncio.Event()
        self._empty.set()

    @contextlib.contextmanager
    def track(self, ws: WebSocket) -> Iterator[None]:
        self._sockets[ws] = Phase.IDLE
        self._empty.clear()
        try:
            yield
        finally:
            self._sockets.pop(ws, None)
            if not self._sockets:
                self._empty.set()

    def begin(self, ws: WebSocket) -> bool:
        """A frame arrived: handle it (True) or leave it to the outbox because the socket is closing."""
        if self._sockets.get(ws) is Phase.CLOSED:
            return False
        self._sockets[ws] = Phase.BUSY
        return True

    async def end(self, ws: WebSocket) -> bool:
        """The frame is answered. True when the socket must now close (a drain began meanwhile)."""
        if not self.closing:
            self._sockets[ws] = Phase.IDLE
            return False
        await self._close(ws)
        return True

    async def _close(self, ws: WebSocket) -> None:
        self._sockets[ws] = Phase.CLOSED
        with contextlib.suppress(RuntimeError, OSError):  # the peer may be gone already
            await ws.close(code=CLOSE_RESTART, reason="server restarting")

    async def run(self, timeout: float) -> None:
        """Close idle sockets now and busy ones as soon as their frame is answered; wait for all."""
        self.closing = True
        idle = [ws for ws, phase in self._sockets.items() if phase is Phase.IDLE]
        log.info("draining %d sockets (%d busy)", len(self._sockets), len(self._sockets) - len(idle))
        await asyncio.gather(*(self._close(ws) for ws in idle))
        try:
            await asyncio.wait_for(self._empty.wait(), timeout)
        except TimeoutError:
            log.warning("%d sockets still open after %.0f s of draining", len(self._sockets), timeout)
