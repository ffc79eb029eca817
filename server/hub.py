"""The realtime hub: fan-out of live events to manager dashboards.

In-process for the embedded default. A Redis-backed hub only has to offer the
same ``publish`` and ``subscribe``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

Message = dict[str, Any]


def site_channel(site_id: int) -> str:
    return f"site:{site_id}"


class Subscription:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue(maxsize)
        self.overflowed = False

    def deliver(self, message: Message) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A subscriber that can't keep up is told so and re-syncs by replay, rather than stalling everyone.
            self.overflowed = True

    async def get(self) -> Message:
        return await self.queue.get()


class Hub:
    def __init__(self, queue_size: int = 1000) -> None:
        self._channels: dict[str, set[Subscription]] = {}
        self._queue_size = queue_size
        self._taps: list[Callable[[str, Message], None]] = []  # -- integrations --

    def publish(self, channel: str, message: Message) -> int:
        subscribers = self._channels.get(channel, ())
        for sub in subscribers:
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
