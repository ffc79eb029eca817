"""Chat latency: visitor -> manager socket, and the round trip visitor -> manager -> visitor.

A real server on loopback, one signed-in manager socket that answers every
visitor message at once, and one visitor; prints p50/p99 of each leg.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from bench.alert_latency import EMAIL, ORIGIN, PASSWORD, SITE, pct
from tests.support import BeckonServer, login


async def measure(server: BeckonServer, samples: int) -> tuple[list[float], list[float]]:
    with httpx.Client(base_url=server.base) as c:
        login(c, EMAIL, PASSWORD)
        cookie = f"beckon_session={c.cookies.get('beckon_session')}"
    manager = await connect(f"{server.ws_base}/ws/manager", origin=server.base, additional_headers={"Cookie": cookie})
    await manager.send(json.dumps({"type": "hello", "since": 10**9}))

    async def new_visitor():  # type: ignore[no-untyped-def]
        ws = await connect(f"{server.ws_base}/ws/visitor?site={SITE}", origin=ORIGIN)
        await ws.send(json.dumps({"type": "hello", "visitor": uuid.uuid4().hex}))
        await ws.recv()
        return ws

    to_manager: list[float] = []
    round_trip: list[float] = []
    sent_at: dict[str, float] = {}

    async def answer() -> None:
        async for raw in manager:
            frame = json.loads(raw)
            if frame.get("type") == "chat_message" and frame["author"] == "visitor":
                to_manager.append((time.perf_counter() - sent_at[frame["text"]]) * 1000)
                await manager.send(
                    json.dumps(
                        {
                            "type": "chat_reply",
                            "id": uuid.uuid4().hex,
                            "conversation": frame["conversation"],
                            "text": "re " + frame["text"],
                        }
                    )
                )

    responder = asyncio.create_task(answer())
    visitor = await new_visitor()
    for i in range(samples):
        if i and i % 25 == 0:
            # A person types far fewer than 60 frames per 10 s, the per-socket limit: take a new visitor.
            await visitor.close()
            visitor = await new_visitor()
        text = f"question {i}"
        sent_at[text] = time.perf_counter()
        await visitor.send(json.dumps({"type": "chat_message", "id": uuid.uuid4().hex, "text": text}))
        while True:
            frame = json.loads(await asyncio.wait_for(visitor.recv(), 10))
            if frame.get("type") == "chat_message" and frame["text"] == "re " + text:
                round_trip.append((time.perf_counter() - sent_at[text]) * 1000)
                break
    responder.cancel()
    await visitor.close()
    await manager.close()
    return to_manager, round_trip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    server = BeckonServer(
        Path(tempfile.mkdtemp()),
        # One visitor sends every sample: lift the per-visitor chat limit for the measurement.
        env={"BECKON_CHAT_PER_MINUTE": "1000000"},
    )
    server.add_site(SITE, ["bench.test"], widgets={"callback": {}, "chat": {}}, settings={"phone_region": "GB"})
    server.add_user(EMAIL, PASSWORD, sites=[SITE])
    server.start()
    try:
        one_way, both = asyncio.run(measure(server, args.samples))
        for label, values in (("visitor -> manager", one_way), ("visitor -> manager -> visitor", both)):
            print(
                f"chat latency {label}: p50 {statistics.median(values):.1f} ms, p99 {pct(values, 99):.1f} ms "
                f"({len(values)} samples)"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
