"""A burst of leads from many visitors, the server SIGKILLed in the middle of it and restarted on
the same database: every acked lead is stored exactly once, every un-acked one is re-sent from its
visitor's outbox and lands exactly once."""

from __future__ import annotations

import asyncio

from tests.conftest import SITE
from tests.fault import peers
from tests.fault.conftest import BURST_ENV
from tests.fault.peers import OutboxPeer, lead_frame

VISITORS = 50
LEADS_EACH = 20
KILL_AFTER_ACKS = 300


async def test_sigkill_mid_burst_loses_and_duplicates_nothing(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(**BURST_ENV)
    changed = asyncio.Condition()
    crowd = peers.crowd(server.ws_base, SITE, VISITORS, changed)
    sent: dict[str, OutboxPeer] = {}
    sent_frames: dict[str, dict] = {}  # type: ignore[type-arg]
    for n in range(LEADS_EACH):  # every visitor keeps submitting while the server works through it
        for v, peer in enumerate(crowd):
            frame = lead_frame(n * VISITORS + v, f"Visitor {v}")
            sent_frames[frame["id"]] = frame
            sent[await peer.send(dict(frame))] = peer

    def acked() -> int:
        return sum(len(p.acks) for p in crowd)

    async with changed:
        await asyncio.wait_for(changed.wait_for(lambda: acked() >= KILL_AFTER_ACKS), 60)
        server.kill()  # inside the lock: no ack is counted between the kill and the snapshot
        before_kill = {frame_id: dict(ack) for p in crowd for frame_id, ack in p.acks.items()}
    pending_at_kill = sum(len(p.outbox) for p in crowd)
    stored_at_kill = len(await asyncio.to_thread(server.leads, SITE))
    await asyncio.to_thread(server.start)
    async with changed:
        await asyncio.wait_for(changed.wait_for(lambda: all(not p.outbox for p in crowd)), 60)
    # A page that closed before it saw its acks sends those frames again on the next page view.
    again = {p: list(p.acks)[:2] for p in crowd}
    for peer, frame_ids in again.items():
        for frame_id in frame_ids:
            await peer.push(sent_frames[frame_id])
    async with changed:
        await asyncio.wait_for(changed.wait_for(lambda: all(len(p.reacks) == 2 for p in crowd)), 30)
    for peer in crowd:
        await peer.stop()

    stored = server.leads(SITE)
    by_frame: dict[str, list[str]] = {}
    for lead in stored:
        by_frame.setdefault(lead.client_frame_id, []).append(lead.ref)
    acks = {frame_id: ack for p in crowd for frame_id, ack in p.acks.items()}
    print(
        f"\nleads sent {len(sent)} · acked before kill {len(before_kill)} · un-acked at kill {pending_at_kill}"
        f" · stored at kill {stored_at_kill} · acked in the end {len(acks)} · stored {len(stored)} · re-sent after ack {2 * VISITORS}"
        f" · reconnects {sum(p.connects for p in crowd)}"
    )
    assert len(before_kill) >= KILL_AFTER_ACKS and pending_at_kill > 0, "the kill must fall mid-burst"
    assert stored_at_kill >= len(before_kill)
    assert all(not p.refusals for p in crowd), [p.refusals[:3] for p in crowd if p.refusals]
    assert set(acks) == set(sent)
    assert len(stored) == len(sent)
    assert {frame_id: len(refs) for frame_id, refs in by_frame.items() if len(refs) != 1} == {}
    assert set(by_frame) == set(sent)
    # An ack names the lead that was stored: the same one before the kill and after it.
    assert all(by_frame[frame_id] == [ack["lead"]] for frame_id, ack in acks.items())
    assert all(acks[frame_id]["lead"] == ack["lead"] for frame_id, ack in before_kill.items())
    reacks = [ack for p in crowd for ack in p.reacks]
    assert len(reacks) == 2 * VISITORS and all(acks[ack["id"]]["lead"] == ack["lead"] for ack in reacks)
