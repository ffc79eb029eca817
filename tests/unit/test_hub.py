"""The in-process hub: a subscriber gets its channels' messages in order, a waiting reader is woken,
a reader that falls behind is told so, and leaving a channel leaves nothing behind."""

from __future__ import annotations

import asyncio

from server.hub import Hub


async def test_messages_arrive_in_order_and_wake_a_waiting_reader() -> None:
    hub = Hub()
    async with hub.subscribe(["site:1", "user:7"]) as sub:
        waiting = asyncio.create_task(sub.get())
        await asyncio.sleep(0)  # let the reader start waiting before anything is published
        assert not waiting.done()
        assert hub.publish("site:1", {"n": 1}) == 1
        hub.publish("user:7", {"n": 2})
        hub.publish("site:2", {"n": "not mine"})
        assert await asyncio.wait_for(waiting, 1) == {"n": 1}
        assert await asyncio.wait_for(sub.get(), 1) == {"n": 2}
        assert not sub.overflowed


async def test_a_reader_that_falls_behind_is_told_and_keeps_what_fitted() -> None:
    hub = Hub(queue_size=3)
    async with hub.subscribe(["site:1"]) as sub:
        for n in range(5):
            hub.publish("site:1", {"n": n})
        assert sub.overflowed
        assert [await sub.get() for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_a_cancelled_reader_leaves_the_subscription_usable() -> None:
    hub = Hub()
    async with hub.subscribe(["site:1"]) as sub:
        reader = asyncio.create_task(sub.get())
        await asyncio.sleep(0)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        hub.publish("site:1", {"n": 1})
        assert await asyncio.wait_for(sub.get(), 1) == {"n": 1}


async def test_leaving_removes_the_channel() -> None:
    hub = Hub()
    async with hub.subscribe(["visitor:1:abc"]):
        assert hub.publish("visitor:1:abc", {}) == 1
    assert hub.publish("visitor:1:abc", {}) == 0
    assert hub._channels == {}
