"""Callback alert latency: visitor submit -> the manager's socket holds the alert.

Runs a real server on loopback, one signed-in manager socket, and visitors that
each leave one callback request; prints p50/p95/p99 idle and under background load.
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

from tests.support import BeckonServer, login

ORIGIN = "http://bench.test"
SITE = "bench"
EMAIL, PASSWORD = "bench@example.test", "bench-password-1"


def lead_frame(n: int) -> dict:
    return {
        "type": "lead",
        "id": uuid.uuid4().hex,
        "kind": "callback",
        "phone": f"020 7946 {n % 10000:04d}",
        "name": f"Bench {n}",
        "context": {"url": f"{ORIGIN}/"},
    }


async def visitor(server: BeckonServer):  # type: ignore[no-untyped-def]
    ws = await connect(f"{server.ws_base}/ws/visitor?site={SITE}", origin=ORIGIN)
    await ws.send(json.dumps({"type": "hello", "visitor": uuid.uuid4().hex}))
    await ws.recv()
    return ws


async def background(server: BeckonServer, rate: float, stop: asyncio.Event) -> int:
    """Other visitors leaving leads at ``rate`` per second."""
    sent = 0
    # Each socket stays under the per-socket frame limit (60 per 10 s), as real visitors do.
    sockets = [await visitor(server) for _ in range(max(20, int(rate)))]
    start = time.perf_counter()
    while not stop.is_set():
        ws = sockets[sent % len(sockets)]
        await ws.send(json.dumps(lead_frame(sent)))
        sent += 1
        delay = start + sent / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    for ws in sockets:
        await ws.close()
    return sent


async def measure(server: BeckonServer, samples: int, load: float) -> list[float]:
    with httpx.Client(base_url=server.base) as c:
        login(c, EMAIL, PASSWORD)
        cookie = f"beckon_session={c.cookies.get('beckon_session')}"
    manager = await connect(f"{server.ws_base}/ws/manager", origin=server.base, additional_headers={"Cookie": cookie})
    await manager.send(json.dumps({"type": "hello", "since": 10**9}))
    arrived: dict[str, float] = {}
    waiting: dict[str, asyncio.Future[float]] = {}

    async def read() -> None:
        async for raw in manager:
            frame = json.loads(raw)
            if frame.get("type") == "callback" and frame.get("state") == "ringing":
                name = frame["name"]
                arrived.setdefault(name, time.perf_counter())
                if name in waiting and not waiting[name].done():
                    waiting[name].set_result(arrived[name])

    reader = asyncio.create_task(read())
    reader.add_done_callback(lambda t: t.cancelled() or print("manager socket ended:", t.exception()))
    stop = asyncio.Event()
    noise = asyncio.create_task(background(server, load, stop)) if load else None
    probes = [await visitor(server) for _ in range(max(1, samples // 40))]
    latencies = []
    for i in range(samples):
        frame = lead_frame(100000 + i)
        frame["name"] = f"Probe {load:g} {i}"
        waiting[frame["name"]] = asyncio.get_running_loop().create_future()
        sent = time.perf_counter()
        await probes[i % len(probes)].send(json.dumps(frame))
        got = await asyncio.wait_for(waiting[frame["name"]], 10)
        latencies.append((got - sent) * 1000)
    stop.set()
    if noise:
        await noise
    reader.cancel()
    for probe in probes:
        await probe.close()
    await manager.close()
    return latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--load", type=float, default=200.0, help="background leads per second")
    args = parser.parse_args()
    server = BeckonServer(
        Path(tempfile.mkdtemp()),
        env={"BECKON_LEAD_LIMIT_PER_IP": "100000000", "BECKON_LEAD_LIMIT_PER_VISITOR": "100000000"},
    )
    server.add_site(
        SITE, ["bench.test"], settings={"phone_region": "GB", "promise_seconds": 3600, "ring_seconds": 3600}
    )
    server.add_user(EMAIL, PASSWORD, sites=[SITE])
    server.start()
    try:
        for label, load in (("idle", 0.0), (f"under {args.load:g} leads/s", args.load)):
            values = asyncio.run(measure(server, args.samples, load))
            print(
                f"alert latency {label}: p50 {statistics.median(values):.1f} ms, p95 {pct(values, 95):.1f} ms, "
                f"p99 {pct(values, 99):.1f} ms, max {max(values):.1f} ms ({len(values)} samples)"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
