"""A pre-chat message with a phone number is a lead. The message and the lead are two writes: a
server killed between them leaves the message stored and no lead. The widget re-sends the
un-acked frame after the restart — and that must make the lead, once."""

from __future__ import annotations

from tests.conftest import SITE
from tests.fault.conftest import BURST_ENV
from tests.fault.peers import OutboxPeer, new_id


async def test_a_resent_prechat_message_makes_the_lead_a_kill_prevented(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(**BURST_ENV)
    visitor_id, frame_id = new_id(), new_id()
    server.kill()

    async def killed_after_the_message(store):  # type: ignore[no-untyped-def]
        # Exactly what the first write commits before the lead is made (server/chat.py visitor_message).
        site = await store.get_site_by_key(SITE)
        await store.add_visitor_message(
            site_id=site.id,
            visitor_key=visitor_id,
            frame_id=frame_id,
            text="Please call me about a quote",
            contact={"name": "Kim", "email": None, "phone": "+442079460777"},
            offered_to=[],
            assignee_id=None,
            user_agent="test",
            context={},
        )

    server.with_store(killed_after_the_message)
    server.start()
    assert [lead for lead in server.leads(SITE) if lead.kind == "chat"] == []

    peer = OutboxPeer(f"{server.ws_base}/ws/visitor?site={SITE}", lambda: {"type": "hello", "visitor": visitor_id})
    peer.start()
    frame = {
        "type": "chat_message",
        "id": frame_id,
        "text": "Please call me about a quote",
        "name": "Kim",
        "phone": "020 7946 0777",
    }
    for _ in range(2):  # the outbox's re-send, and one more from another tab
        await peer.send(dict(frame))
        await peer.drained()
    await peer.stop()
    chats = [(lead.name, lead.phone) for lead in server.leads(SITE) if lead.kind == "chat"]
    assert chats == [("Kim", "+442079460777")]
