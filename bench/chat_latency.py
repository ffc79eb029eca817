"""Chat latency: visitor -> manager socket, and the round trip visitor -> manager -> visitor.

A real server on loopback, one signed-in manager socket that answers every visitor message at
once, and one visitor at a time. Run alone: ``python -m bench.chat_latency``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from websockets.asyncio.client import connect

from bench.alert_latency import visitor
from bench.server import manager_cookie, start
from bench.stats import Figure, pct
from tests.support import BeckonServer

SAMPLES = 200
# A person types far fewer than 60 frames per 10 s, the per-socket limit: a new visitor every 25 messages.
PER_VISITOR = 25


async def probe(server: BeckonServer, samples: int) -> tuple[list[float], list[float]]:
    cookie = manager_cookie(server)
    manager = await connect(
        f"{server.ws_base}/ws/manager", origin=server.base, additional_headers={"Cookie": cookie}, max_queue=None
    )
    await manager.send(json.dumps({"type": "hello", "since": 10**9}))
    # Signed in and online once the welcome comes: only then do probes start.
    while json.loads(await manager.recv()).get("type") != "welcome":
        pass
    to_manager: list[float] = []
    round_trip: list[float] = []
    sent_at: dict[str, float] = {}

    async def answer() -> None:
        async for raw in manager:
            frame = json.loads(raw)
            if frame.get("type") == "chat_message" and frame.get("author") == "visitor" and frame["text"] in sent_at:
                to_manager.append((time.perf_counter() - sent_at[frame["text"]]) * 1000)
                reply = {"type": "chat_reply", "id": uuid.uuid4().hex, "conversation": frame["conversation"]}
                await manager.send(json.dumps(reply | {"text": "re " + frame["text"]}))

    responder = asyncio.create_task(answer())
    ws = await visitor(server.ws_base)
    try:
        for i in range(samples):
            if i and i % PER_VISITOR == 0:
                await ws.close()
                ws = await visitor(server.ws_base)
            text = f"question {uuid.uuid4().hex[:8]} {i}"
            sent_at[text] = time.perf_counter()
            await ws.send(json.dumps({"type": "chat_message", "id": uuid.uuid4().hex, "text": text}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame.get("type") == "chat_message" and frame.get("text") == "re " + text:
                    round_trip.append((time.perf_counter() - sent_at[text]) * 1000)
                    break
    finally:
        responder.cancel()
        await ws.close()
        await manager.close()
    return to_manager, round_trip


def measure(server: BeckonServer, runs: int, samples: int = SAMPLES) -> list[Figure]:
    section = "Chat latency (one visitor at a time, the manager answers at once)"
    rows = {
        (leg, p): Figure(section, f"{leg}: p{p}", "ms", note=f"{samples} messages a run")
        for leg in ("visitor → manager", "visitor → manager → visitor")
        for p in (50, 99)
    }
    for _ in range(runs):
        one_way, both = asyncio.run(probe(server, samples))
        for leg, values in (("visitor → manager", one_way), ("visitor → manager → visitor", both)):
            for p in (50, 99):
                rows[(leg, p)].runs.append(pct(values, p))
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    server = start()
    try:
        for row in measure(server, args.runs, args.samples):
            print(f"{row.what}: {row.median:.1f} ms  (runs {', '.join(f'{v:.1f}' for v in row.runs)})")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
