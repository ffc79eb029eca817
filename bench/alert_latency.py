"""Callback alert latency: a visitor's submit -> the manager's socket holds the ringing alert.

A real server on loopback, one signed-in manager socket, probe visitors that each leave a
callback request and time its alert; idle, then with other visitors leaving leads at a steady
rate from a separate process (so the load generator doesn't share the probe's event loop).
Run alone: ``python -m bench.alert_latency``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.ingest import lead_frame
from bench.machine import raise_open_files
from bench.server import ORIGIN, SITE, manager_cookie, start
from bench.stats import Figure, pct
from tests.support import BeckonServer

SAMPLES = 300
LOAD = 200.0  # background leads per second
BUDGET_P99 = 25.0
LOST_AFTER = 10.0  # seconds


async def visitor(ws_base: str) -> ClientConnection:
    # No client keepalive: an overloaded server should show up as latency, not as dropped sockets.
    ws = await connect(f"{ws_base}/ws/visitor?site={SITE}", origin=ORIGIN, ping_interval=None)  # type: ignore[arg-type]
    await ws.send(json.dumps({"type": "hello", "visitor": uuid.uuid4().hex}))
    await ws.recv()
    return ws


def _background(ws_base: str, rate: float, ready: Any, stop: Any, sent: Any) -> None:
    """Other visitors leaving leads at ``rate`` per second, until told to stop."""
    raise_open_files(int(rate) + 200)

    async def main() -> None:
        # Each socket sends one lead a second, each from a new visitor (hello + lead: 20 frames per 10 s,
        # under the per-socket limit of 60), as on a site where many people each leave one request.
        sockets = [await visitor(ws_base) for _ in range(max(20, int(rate)))]
        drains = [asyncio.create_task(_drain(ws)) for ws in sockets]
        ready.set()
        n, begin = 0, time.perf_counter()
        while not stop.is_set():
            ws = sockets[n % len(sockets)]
            await ws.send(json.dumps({"type": "hello", "visitor": uuid.uuid4().hex}))
            await ws.send(json.dumps(lead_frame(n)))
            n += 1
            delay = begin + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing the load, not waiting for a result
        sent.value = n / (time.perf_counter() - begin)
        for task in drains:
            task.cancel()
        for ws in sockets:
            await ws.close()

    asyncio.run(main())


async def _drain(ws: ClientConnection) -> None:
    async for _ in ws:
        pass


async def probe(server: BeckonServer, samples: int) -> list[float]:
    cookie = manager_cookie(server)
    manager = await connect(
        f"{server.ws_base}/ws/manager",
        origin=server.base,
        additional_headers={"Cookie": cookie},
        max_queue=None,
        ping_interval=None,
    )
    await manager.send(json.dumps({"type": "hello", "since": 10**9}))
    # Signed in and online once the welcome comes: only then do probes start.
    while json.loads(await manager.recv()).get("type") != "welcome":
        pass
    waiting: dict[str, asyncio.Future[float]] = {}

    async def read() -> None:
        async for raw in manager:
            frame = json.loads(raw)
            if frame.get("type") == "callback" and frame.get("state") == "ringing":
                future = waiting.get(frame.get("name"))
                if future is not None and not future.done():
                    future.set_result(time.perf_counter())

    reader = asyncio.create_task(read())
    # hello + lead per sample: 20 samples per socket stay under the per-socket limit.
    probes = [await visitor(server.ws_base) for _ in range(max(1, samples // 20))]
    drains = [asyncio.create_task(_drain(ws)) for ws in probes]
    latencies = []
    try:
        for i in range(samples):
            frame = lead_frame(100000 + i)
            frame["name"] = f"Probe {uuid.uuid4().hex[:12]}"
            waiting[frame["name"]] = asyncio.get_running_loop().create_future()
            ws = probes[i % len(probes)]
            await ws.send(json.dumps({"type": "hello", "visitor": uuid.uuid4().hex}))  # a new visitor each time
            sent = time.perf_counter()
            await ws.send(json.dumps(frame))
            try:
                arrived = await asyncio.wait_for(waiting[frame["name"]], LOST_AFTER)
            except TimeoutError:
                arrived = sent + LOST_AFTER  # counted at the wait's end: a lost alert is not a fast one
            latencies.append((arrived - sent) * 1000)
    finally:
        reader.cancel()
        for task in drains:
            task.cancel()
        for ws in probes:
            await ws.close()
        await manager.close()
    return latencies


def under_load(server: BeckonServer, samples: int, rate: float) -> tuple[list[float], float]:
    ctx = multiprocessing.get_context("spawn")
    ready, stop, sent = ctx.Event(), ctx.Event(), ctx.Value("d", 0.0)
    noise = ctx.Process(target=_background, args=(server.ws_base, rate, ready, stop, sent))
    noise.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the background visitors did not connect")
        values = asyncio.run(probe(server, samples))
    finally:
        stop.set()
        noise.join(30)
    return values, sent.value


def measure(server: BeckonServer, runs: int, samples: int = SAMPLES, rate: float = LOAD) -> list[Figure]:
    section = "Callback alert latency (visitor submit → manager socket)"
    rows = {}
    for label in ("idle", f"under {rate:g} leads/s"):
        for p in (50, 95, 99):
            row = Figure(section, f"{label}: p{p}", "ms")
            if p == 99:
                row.budget, row.check = f"≤ {BUDGET_P99:g} ms", lambda v: v <= BUDGET_P99
            rows[(label, p)] = row
    achieved = []
    for _ in range(runs):
        idle = asyncio.run(probe(server, samples))
        loaded, load_rate = under_load(server, samples, rate)
        achieved.append(load_rate)
        for label, values in (("idle", idle), (f"under {rate:g} leads/s", loaded)):
            for p in (50, 95, 99):
                rows[(label, p)].runs.append(pct(values, p))
    for row in rows.values():
        row.note = f"{samples} samples a run"
    rows[(f"under {rate:g} leads/s", 99)].note += f"; load achieved {min(achieved):.0f}–{max(achieved):.0f} leads/s"
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--load", type=float, default=LOAD, help="background leads per second")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    raise_open_files(4096)
    server = start()
    try:
        for row in measure(server, args.runs, args.samples, args.load):
            print(f"{row.what}: {row.median:.1f} ms  (runs {', '.join(f'{v:.1f}' for v in row.runs)}) {row.note}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
