"""The HTTP fallback (POST /api/v1/collect, used where WebSockets are blocked and for beacons) under a
SIGKILL: a batch whose answer never came is posted again whole; frames the dead server had
already stored are answered with their first ack, and every lead is stored exactly once."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.conftest import ORIGIN, SITE
from tests.fault.conftest import BURST_ENV
from tests.fault.peers import Frame, lead_frame, new_id

VISITORS = 10
BATCHES = 6
BATCH = 20  # the runtime's batch(): at most 20 frames per request
KILL_AFTER_ACKS = 300


async def test_sigkill_during_http_batches_loses_and_duplicates_nothing(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(**BURST_ENV)
    acks: dict[str, Frame] = {}
    failed_posts = 0
    enough = asyncio.Event()

    async def visitor(v: int, client: httpx.AsyncClient) -> None:
        nonlocal failed_posts
        visitor_id = new_id()
        outbox = [lead_frame(b * BATCH + i, f"Poster {v}") for b in range(BATCHES) for i in range(BATCH)]
        while outbox:
            batch = outbox[:BATCH]
            try:
                r = await client.post(
                    f"{server.base}/api/v1/collect?site={SITE}",
                    content=json.dumps({"visitor": visitor_id, "frames": batch}),
                    headers={"Origin": ORIGIN, "Content-Type": "text/plain"},
                )
                results = r.json()["results"]
            except (httpx.TransportError, ValueError, KeyError):
                failed_posts += 1
                await asyncio.sleep(0.05)  # the runtime's backoff before the next try, not synchronisation
                continue
            for frame, result in zip(batch, results, strict=True):
                assert result["type"] == "ack", result
                assert result["id"] == frame["id"]
                acks[frame["id"]] = result
            outbox = [f for f in outbox if f["id"] not in acks]
            if len(acks) >= KILL_AFTER_ACKS:
                enough.set()

    async with httpx.AsyncClient(timeout=10) as client:
        posting = [asyncio.create_task(visitor(v, client)) for v in range(VISITORS)]
        await asyncio.wait_for(enough.wait(), 60)
        server.kill()
        acked_at_kill = dict(acks)
        stored_at_kill = len(await asyncio.to_thread(server.leads, SITE))
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(asyncio.gather(*posting), 60)

    stored = server.leads(SITE)
    refs = {lead.client_frame_id: lead.ref for lead in stored}
    print(
        f"\nleads posted {VISITORS * BATCHES * BATCH} · acked before kill {len(acked_at_kill)}"
        f" · stored at kill {stored_at_kill} · failed posts {failed_posts} · acked {len(acks)} · stored {len(stored)}"
    )
    assert failed_posts > 0, "the kill must cut some requests"
    assert len(stored) == len(refs) == len(acks) == VISITORS * BATCHES * BATCH
    assert all(refs[frame_id] == ack["lead"] for frame_id, ack in acks.items())
    assert all(acks[frame_id]["lead"] == ack["lead"] for frame_id, ack in acked_at_kill.items())
