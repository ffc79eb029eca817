"""A chat message whose ack was lost to a dropped socket is re-sent by the outbox. If the visitor has
meanwhile reached the per-minute message limit, the re-sent frame must still get its ack: it
asks to store nothing. A 'rate_limited' refusal here made the widget drop the stored message from
its log and put the text back into the box — and the visitor then sent it a second time."""

from __future__ import annotations

from tests.conftest import SITE
from tests.fault.peers import OutboxPeer, new_id


async def test_a_resent_chat_message_is_acked_even_at_the_rate_limit(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_CHAT_PER_MINUTE="2")
    visitor_id = new_id()
    peer = OutboxPeer(f"{server.ws_base}/ws/visitor?site={SITE}", lambda: {"type": "hello", "visitor": visitor_id})
    peer.start()
    frames = [{"type": "chat_message", "id": new_id(), "text": f"Message {n}"} for n in (1, 2)]
    for frame in frames:
        await peer.send(frame)
        await peer.drained()
    first_acks = {f["id"]: peer.acks.pop(f["id"]) for f in frames}

    await peer.drop()  # the ack of the second message is taken as lost: the outbox sends it again
    await peer.send(dict(frames[1]))
    await peer.wait_for(lambda: frames[1]["id"] in peer.acks or bool(peer.refusals))
    await peer.stop()
    assert peer.refusals == []
    assert peer.acks[frames[1]["id"]] == first_acks[frames[1]["id"]]

    async def bodies(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(SITE)
        conversation = await store.visitor_conversation(site.id, visitor_id)
        return [m.body for m in await store.messages_since(conversation.id, 0)]

    assert server.with_store(bodies) == ["Message 1", "Message 2"]
