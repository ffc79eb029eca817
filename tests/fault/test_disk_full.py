"""The database's disk fills up (a real tmpfs, really full): the server refuses writes with a clear
'unavailable' error, acks nothing it did not store, keeps the socket open, and takes everything
once the space is back — each frame exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.ingest import STORE_DOWN
from tests.conftest import SITE
from tests.fault.conftest import BURST_ENV
from tests.fault.disk import ServerOnDisk, TinyDisk, seeded_server_on, tiny_disk
from tests.fault.peers import OutboxPeer, lead_frame, new_id

LEADS = 20  # twice through one socket stays under its flood limit (60 frames per 10 s)
CHATS = 5


@pytest.fixture
def full_disk_server(tmp_path: Path) -> Iterator[tuple[ServerOnDisk, TinyDisk]]:
    with tiny_disk(tmp_path / "disk") as disk:
        server = seeded_server_on(disk, tmp_path / "server", **BURST_ENV)
        try:
            yield server, disk
        finally:
            server.kill()


def answered(peer: OutboxPeer, ids: list[str]) -> bool:
    refused = {r["id"] for r in peer.refusals}
    return all(i in peer.acks or i in refused for i in ids)


async def test_a_full_disk_refuses_clearly_acks_nothing_unstored_and_recovers(full_disk_server) -> None:  # type: ignore[no-untyped-def]
    server, disk = full_disk_server
    visitor_id = new_id()
    peer = OutboxPeer(f"{server.ws_base}/ws/visitor?site={SITE}", lambda: {"type": "hello", "visitor": visitor_id})
    peer.start()
    first = await peer.send(lead_frame(1, "Before"))
    await peer.drained()
    assert first in peer.acks

    taken = disk.fill()
    assert disk.free_bytes() == 0
    ids = [await peer.send(lead_frame(n, "Full")) for n in range(LEADS)]
    ids += [await peer.send({"type": "chat_message", "id": new_id(), "text": f"Full {n}"}) for n in range(CHATS)]
    await peer.wait_for(lambda: answered(peer, ids))
    acked_while_full = [i for i in ids if i in peer.acks]
    refusals = list(peer.refusals)
    stored_while_full = {lead.client_frame_id for lead in await asyncio.to_thread(server.leads, SITE)}

    # The socket stays open and usable; the server is up.
    connects = peer.connects
    assert await peer.push({"type": "ping"})
    await peer.wait_for(lambda: any(f.get("type") == "pong" for f in peer.pushed))

    disk.free()
    await peer.resend_outbox()  # what the runtime does after the refusal's retry_after
    await peer.drained()
    await peer.stop()

    stored = server.leads(SITE)
    counts: dict[str, int] = {}
    for lead in stored:
        counts[lead.client_frame_id] = counts.get(lead.client_frame_id, 0) + 1
    chats = server.with_store(lambda store: _visitor_messages(store, visitor_id))
    print(
        f"\ndisk filled with {taken} bytes · frames sent while full {len(ids)} ({LEADS} leads, {CHATS} chat"
        f" messages) · acked while full {len(acked_while_full)} · refused {len(refusals)}"
        f" · leads stored {len(stored)} · chat messages stored {len(chats)}"
    )
    assert refusals, "a full disk must refuse something"
    assert {(r["code"], r["message"]) for r in refusals} == {("unavailable", STORE_DOWN)}
    assert all(r.get("retry_after") for r in refusals)
    # Acked means stored, even while the disk was full; refused means not stored.
    lead_ids = set(ids[:LEADS])
    assert {i for i in acked_while_full if i in lead_ids} <= stored_while_full
    assert not {r["id"] for r in refusals} & stored_while_full
    assert peer.connects == connects == 1, "refusals must not cost the visitor the socket"
    # Everything lands once when the space is back.
    assert set(peer.acks) == {first, *ids}
    assert {i: counts.get(i, 0) for i in (first, *ids[:LEADS])} == dict.fromkeys((first, *ids[:LEADS]), 1)
    assert sorted(m for m in chats) == sorted(f"Full {n}" for n in range(CHATS))


async def _visitor_messages(store, visitor_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    site = await store.get_site_by_key(SITE)
    conversation = await store.visitor_conversation(site.id, visitor_id)
    return [m.body for m in await store.messages_since(conversation.id, 0)] if conversation else []
