"""Ingest: callback leads per second acked over WebSockets, end to end into SQLite, from N
concurrent visitors; and the same client against a bare ``websockets`` echo server, same run.

Each visitor sends a lead, waits for its answer, sends the next. The clients run in several
processes so that the client is not what is measured. Every socket stays under Beckon's
per-socket frame limit (60 frames per 10 s: hello + 25 leads), as real visitors do.

Both servers' windows start once every visitor has said hello (each client process says so) and
are long enough to outlast a hiccup of a shared machine: with 10 leads each, the echo server's
window was ~0.2 s, and one stall of another process swung the ratio between 0.2x and 1.0x.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
import uuid
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from bench.machine import raise_open_files
from bench.server import ORIGIN, SITE, manager_cookie
from bench.stats import Figure
from tests.support import BeckonServer, free_port

VISITORS = 200
LEADS_EACH = 25  # 26 frames per socket with the hello; 5,000 leads a run (the echo window ~0.5 s)
PROCESSES = 2


def lead_frame(n: int) -> dict[str, Any]:
    return {
        "type": "lead",
        "id": uuid.uuid4().hex,
        "kind": "callback",
        "phone": f"020 7946 {n % 10000:04d}",
        "name": f"Bench {n}",
        "context": {"url": f"{ORIGIN}/", "landing": f"{ORIGIN}/"},
    }


async def _visitor(url: str, go: Any, leads: int) -> tuple[int, int, float, float]:
    """One visitor: hello, then ``leads`` leads one after another. Returns (acked, refused, start, end)."""
    async with connect(url, origin=ORIGIN, max_queue=None) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "visitor": uuid.uuid4().hex}))
        await ws.recv()
        await go()
        acked = refused = 0
        start = time.time()
        for n in range(leads):
            frame = lead_frame(n)
            await ws.send(json.dumps(frame))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("id") == frame["id"]:
                    if reply.get("type") == "error":
                        refused += 1
                    else:
                        acked += 1
                    break
        return acked, refused, start, time.time()


def _client(url: str, visitors: int, leads: int, ready: Any, go: Any, results: Any, connected: Any) -> None:
    raise_open_files(visitors + 100)

    async def main() -> None:
        opened = asyncio.Event()
        count = 0

        async def wait_go() -> None:
            nonlocal count
            count += 1
            if count == visitors:
                opened.set()
                connected.put(True)  # all of this process's visitors are welcomed: the window may start
            await opened.wait()
            await asyncio.get_running_loop().run_in_executor(None, go.wait)

        done = await asyncio.gather(*(_visitor(url, wait_go, leads) for _ in range(visitors)))
        results.put(done)

    ready.put(True)
    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(
    url: str, server_pid: int, visitors: int = VISITORS, leads: int = LEADS_EACH, processes: int = PROCESSES
) -> dict[str, float]:
    """Run the clients; returns acked per second over the whole window, refusals, and the
    server's CPU time per answered frame (which a busy shared machine disturbs much less)."""
    ctx = multiprocessing.get_context("spawn")
    ready, results, go, connected = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Queue()
    share = [visitors // processes + (1 if i < visitors % processes else 0) for i in range(processes)]
    procs = [ctx.Process(target=_client, args=(url, n, leads, ready, go, results, connected)) for n in share]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    # Each client connects its visitors and says so; the handshakes stay out of the window and its CPU.
    for _ in procs:
        connected.get(timeout=120)
    cpu_before = cpu_seconds(server_pid)
    go.set()
    done = [row for _ in procs for row in results.get(timeout=300)]
    cpu = cpu_seconds(server_pid) - cpu_before
    for p in procs:
        p.join(10)
    acked = sum(r[0] for r in done)
    refused = sum(r[1] for r in done)
    window = max(r[3] for r in done) - min(r[2] for r in done)
    return {"rate": acked / window, "refused": refused, "acked": acked, "cpu_ms": cpu * 1000 / max(1, acked)}


async def _echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


def _echo_server(port: int, ready: Any) -> None:
    raise_open_files(4096)

    async def main() -> None:
        async with serve(_echo, "127.0.0.1", port, max_queue=None):
            ready.put(True)
            await asyncio.Future()

    asyncio.run(main())


def _manager(ws_base: str, origin: str, cookie: str, ready: Any) -> None:
    """One signed-in manager on the dashboard socket reading every alert, so that each lead is routed to
    someone and its card sent, as on a site with a manager on shift (with nobody online, routing was a
    shortcut and no alert was sent, though the figure says "alerted")."""

    async def main() -> None:
        async with connect(
            f"{ws_base}/ws/manager",
            origin=origin,
            additional_headers={"Cookie": cookie},
            max_queue=None,
            ping_interval=None,
        ) as ws:
            await ws.send(json.dumps({"type": "hello", "since": 10**9}))
            while json.loads(await ws.recv()).get("type") != "welcome":
                pass
            ready.put(True)  # online: leads from now on ring this manager
            async for _ in ws:
                pass

    asyncio.run(main())


def measure(server: BeckonServer, runs: int) -> list[Figure]:
    section = f"Ingest ({VISITORS} visitors, {LEADS_EACH} leads each, clients in {PROCESSES} processes)"
    beckon = Figure(section, "Beckon: callback leads acked per second (stored, routed, alerted)", "/s")
    echo = Figure(section, "bare `websockets` echo server: frames answered per second, same client", "/s")
    ratio = Figure(section, "Beckon ÷ echo", "x", budget="≥ 0.50×", check=lambda v: v >= 0.5)
    # In µs: the steadier figure, and changes of a few per cent are what a step of work moves it by.
    beckon_cpu = Figure(section, "Beckon: server CPU time per lead", "µs")
    echo_cpu = Figure(section, "echo server: CPU time per frame", "µs")
    refused = 0
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    ready = ctx.Queue()
    echo_proc = ctx.Process(target=_echo_server, args=(port, ready), daemon=True)
    echo_proc.start()
    ready.get(timeout=30)
    manager = ctx.Process(
        target=_manager, args=(server.ws_base, server.base, manager_cookie(server), ready), daemon=True
    )
    manager.start()
    ready.get(timeout=30)
    try:
        for _ in range(runs):
            assert server.proc is not None and echo_proc.pid is not None
            b = drive(f"{server.ws_base}/ws/visitor?site={SITE}", server.proc.pid)
            e = drive(f"ws://127.0.0.1:{port}/", echo_proc.pid)
            beckon.runs.append(b["rate"])
            echo.runs.append(e["rate"])
            ratio.runs.append(b["rate"] / e["rate"])
            beckon_cpu.runs.append(round(b["cpu_ms"] * 1000))
            echo_cpu.runs.append(round(e["cpu_ms"] * 1000))
            refused += int(b["refused"])
    finally:
        for proc in (echo_proc, manager):
            proc.terminate()
            proc.join(5)
    beckon.note = "ack only after the COMMIT; one manager online gets every alert" + (
        f"; {refused} leads refused (see the server log)" if refused else ""
    )
    ratio.note = "ratio of each run's two rates; median of the runs"
    beckon_cpu.note = "user + system time of the server process ÷ leads: steadier than rates on a busy machine"
    return [beckon, echo, ratio, beckon_cpu, echo_cpu]
