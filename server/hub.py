"""The realtime hub: fan-out of live events to manager dashboards.

In-process for the embedded default. A Redis-backed hub only has to offer the
same ``publish`` and ``subscribe``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

Message = dict[str, Any]


def site_channel(site_id: int) -> str:
    return f"site:{site_id}"


class Subscription:
    """Messages for one reader, in order. Lighter than an asyncio.Queue (four deques, ~3 KB): every
    idle visitor socket holds one, and 10,000 sockets per process must fit in 40 KB each."""

    __slots__ = ("_maxsize", "_pending", "_waiter", "overflowed")

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._pending: deque[Message] | None = None  # made on the first message: most sockets never get one
        self._waiter: asyncio.Future[None] | None = None
        self.overflowed = False

    def deliver(self, message: Message) -> None:
        if self._pending is None:
            self._pending = deque()
        if len(self._pending) >= self._maxsize:
            # A subscriber that can't keep up is told so and re-syncs by replay, rather than stalling everyone.
            self.overflowed = True
            return
        self._pending.append(message)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Message:
        """The next message, waiting for one (one reader at a time)."""
        while not self._pending:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._pending.popleft()


class Hub:
    def __init__(self, queue_size: int = 1000) -> None:
        self._channels: dict[str, set[Subscription]] = {}
        self._queue_size = queue_size
        self._taps: list[Callable[[str, Message], None]] = []  # -- integrations --

    def publish(self, channel: str, message: Message, *, told: Subscription | None = None) -> int:
        """Deliver to every subscriber of the channel but ``told``, the reader that has this news already
        (bench #10: the socket whose ack carries a new callback's status isn't sent it a second time)."""
        subscribers = self._channels.get(channel, ())
        for sub in subscribers:
            if sub is not told:
                sub.deliver(message)
        self._tapped(channel, message)  # -- integrations --
        return len(subscribers)

    @asynccontextmanager
    async def subscribe(self, channels: Iterable[str]) -> AsyncIterator[Subscription]:
        sub = Subscription(self._queue_size)
        names = list(channels)
        for name in names:
            self._channels.setdefault(name, set()).add(sub)
        try:
            yield sub
        finally:
            for name in names:
                subs = self._channels.get(name)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._channels[name]

    # -- integrations: observers of every publish (webhooks), outside the subscribers' queues --

    def tap(self, observer: Callable[[str, Message], None]) -> None:
        """Call ``observer(channel, message)`` for every publish, subscribed or not. It must not block."""
        self._taps.append(observer)

    def _tapped(self, channel: str, message: Message) -> None:
        for observer in self._taps:
            observer(channel, message)
