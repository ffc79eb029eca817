"""Connections: N idle visitor sockets (connected, hello answered) held open on one server
process; the server's memory per connection is its RSS growth ÷ N.

The clients are spread over several processes. Run alone: ``python -m bench.connections``.
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

from bench.machine import raise_open_files
from bench.server import ORIGIN, SITE, start
from bench.stats import Figure
from tests.support import BeckonServer

SOCKETS = 10_000
PROCESSES = 4
HANDSHAKES_AT_ONCE = 100  # per client process: stays under the listen backlog
BUDGET_KB = 40


def rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def _hold(url: str, count: int, opened: Any, release: Any) -> None:
    """Open ``count`` visitor sockets, say hello on each, report how many, hold them until released."""
    raise_open_files(count + 200)

    async def main() -> None:
        gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
        sockets: list[ClientConnection] = []

        async def one() -> None:
            async with gate:
                try:
                    ws = await connect(url, origin=ORIGIN, open_timeout=60)  # type: ignore[arg-type]
                    await ws.send(json.dumps({"type": "hello", "visitor": uuid.uuid4().hex}))
                    while json.loads(await ws.recv()).get("type") != "welcome":
                        pass
                    sockets.append(ws)
                except (OSError, TimeoutError, Exception):  # noqa: BLE001 - a refused socket is counted, not fatal
                    return

        await asyncio.gather(*(one() for _ in range(count)))
        opened.put(len(sockets))
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    asyncio.run(main())


def hold(server: BeckonServer, total: int, processes: int = PROCESSES) -> tuple[int, int, int]:
    """Returns (sockets held, server RSS before, server RSS with them open) in KB."""
    assert server.proc is not None
    pid = server.proc.pid
    url = f"{server.ws_base}/ws/visitor?site={SITE}"
    before = settled_rss(pid)
    ctx = multiprocessing.get_context("spawn")
    opened, release = ctx.Queue(), ctx.Event()
    share = [total // processes + (1 if i < total % processes else 0) for i in range(processes)]
    procs = [ctx.Process(target=_hold, args=(url, n, opened, release)) for n in share]
    for p in procs:
        p.start()
    try:
        held = sum(opened.get(timeout=300) for _ in procs)
        during = settled_rss(pid)
    finally:
        release.set()
        for p in procs:
            p.join(60)
    return held, before, during


def settled_rss(pid: int) -> int:
    """RSS once it stops moving (the server finishes its per-socket work after the welcome)."""
    last = rss_kb(pid)
    for _ in range(20):
        time.sleep(0.5)  # sampling a slowly settling number, not waiting for an event
        now = rss_kb(pid)
        if abs(now - last) < 256:
            return now
        last = now
    return last


def measure(runs: int, total: int = SOCKETS) -> list[Figure]:
    section = f"Connections ({total:,} idle visitor sockets on one server process)"
    per = Figure(section, "server memory per idle connection (RSS growth ÷ sockets)", "KB")
    per.budget, per.check = f"≤ {BUDGET_KB} KB", lambda v: v <= BUDGET_KB
    held_row = Figure(section, "sockets held open at once", "", budget=f"{total:,}")
    held_row.check = lambda v: v >= total
    growth = Figure(section, "server RSS growth", "KB")
    for _ in range(runs):
        server = start()  # a fresh process each run: the RSS baseline is its own
        try:
            hold(server, min(500, total))  # warm-up: first-use allocations are not per connection
            held, before, during = hold(server, total)
        finally:
            server.stop()
        held_row.runs.append(held)
        growth.runs.append(during - before)
        per.runs.append((during - before) / max(1, held))
    per.note = "hello answered on each; the server's open-file limit raised to fit"
    return [held_row, per, growth]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=SOCKETS)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    raise_open_files(args.sockets + 1000)
    for row in measure(args.runs, args.sockets):
        print(f"{row.what}: {row.median:.1f} {row.unit}  (runs {', '.join(f'{v:.1f}' for v in row.runs)})")


if __name__ == "__main__":
    main()
