"""Chat over the real protocol: messages both ways, replay after reconnects and restarts, no duplicates."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.integration.test_callback_routing import ANNA, ORIGIN, Manager, callback_site, manager
from tests.support import BeckonServer

Frame = dict[str, Any]


class Visitor:
    def __init__(self, ws: ClientConnection, visitor_id: str) -> None:
        self.ws = ws
        self.id = visitor_id
        self.unread: list[Frame] = []

    async def next(self, match, timeout: float = 6) -> Frame:  # type: ignore[no-untyped-def]
        for i, frame in enumerate(self.unread):
            if match(frame):
                return self.unread.pop(i)
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if match(frame):
                return frame
            self.unread.append(frame)

    async def say(self, text: str, frame_id: str | None = None, **fields: Any) -> Frame:
        frame_id = frame_id or uuid.uuid4().hex
        await self.ws.send(json.dumps({"type": "chat_message", "id": frame_id, "text": text, **fields}))
        return await self.next(lambda f: f.get("id") == frame_id and f["type"] in ("ack", "error"))

    async def message(self, seq: int) -> Frame:
        return await self.next(lambda f: f["type"] == "chat_message" and f["seq"] == seq)


async def chat_visitor(server: BeckonServer, site: str, visitor_id: str | None = None) -> Visitor:
    visitor_id = visitor_id or uuid.uuid4().hex
    ws = await connect(f"{server.ws_base}/ws/visitor?site={site}", origin=ORIGIN)
    await ws.send(json.dumps({"type": "hello", "visitor": visitor_id}))
    v = Visitor(ws, visitor_id)
    await v.next(lambda f: f["type"] == "welcome")
    return v


async def reply(m: Manager, conversation: str, text: str) -> Frame:
    return await m.command("chat_reply", conversation=conversation, text=text)


def transcript(server: BeckonServer, ref: str) -> list[tuple[int, str, str]]:
    async def action(store):  # type: ignore[no-untyped-def]
        conversation = await store.get_conversation(ref)
        return [(m.seq, m.author, m.body) for m in await store.messages_since(conversation.id, 0)]

    return server.with_store(action)


async def test_messages_flow_both_ways_with_sequence_numbers(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    site = callback_site(server, "chat1")
    anna = await manager(server, ANNA)
    v = await chat_visitor(server, site)
    payload = "Hello <script>alert(1)</script>"
    ack = await v.say(payload)
    ref = ack["conversation"]
    assert ack["seq"] == 1
    card = await anna.next(lambda f: f["type"] == "conversation" and f["conversation"] == ref)
    assert card["unread"] == 1 and anna.id in card["offered_to"] and card["assignee"] is None
    incoming = await anna.next(lambda f: f["type"] == "chat_message" and f["conversation"] == ref)
    assert (incoming["seq"], incoming["author"], incoming["text"]) == (1, "visitor", payload)

    answer = await reply(anna, ref, "Hi! How can I help?")
    assert answer == {"type": "ack", "id": answer["id"], "seq": 2}
    got = await v.message(2)
    assert (got["author"], got["name"], got["text"]) == ("manager", "Anna", "Hi! How can I help?")
    taken = await anna.next(lambda f: f["type"] == "conversation" and f["assignee"] is not None)
    assert taken["assignee"]["name"] == "Anna"
    assert transcript(server, ref) == [(1, "visitor", payload), (2, "manager", "Hi! How can I help?")]


async def test_a_resent_message_is_stored_once(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    site = callback_site(server, "chat2")
    v = await chat_visitor(server, site)
    frame_id = uuid.uuid4().hex
    first = await v.say("Only once", frame_id)
    again = await v.say("Only once", frame_id)
    assert first == again
    assert transcript(server, first["conversation"]) == [(1, "visitor", "Only once")]


async def test_the_gap_is_replayed_after_a_reconnect_and_a_restart(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    site = callback_site(server, "chat3")
    anna = await manager(server, ANNA)
    v = await chat_visitor(server, site)
    ref = (await v.say("Are you there?"))["conversation"]
    await v.ws.close()
    for text in ("Yes!", "What do you need?"):
        assert (await reply(anna, ref, text))["type"] == "ack"
    await anna.ws.close()
    server.kill()
    server.start()
    back = await chat_visitor(server, site, v.id)
    state = await back.next(lambda f: f["type"] == "chat_state")
    assert (state["conversation"], state["last_seq"], state["manager"]["name"]) == (ref, 3, "Anna")
    await back.ws.send(json.dumps({"type": "chat_sync", "conversation": ref, "since": 1}))
    replayed = [await back.message(2), await back.message(3)]
    assert [m["text"] for m in replayed] == ["Yes!", "What do you need?"]
    # The manager's side catches up the same way.
    anna = await manager(server, ANNA)
    done = await anna.command("chat_sync", conversation=ref, since=0)
    assert done["type"] == "ack"
    seqs = [f["seq"] for f in anna.unread if f["type"] == "chat_message" and f["conversation"] == ref]
    assert seqs == [1, 2, 3]


async def test_two_tabs_of_one_visitor_both_get_the_reply(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    site = callback_site(server, "chat4")
    anna = await manager(server, ANNA)
    visitor_id = uuid.uuid4().hex
    tab1, tab2 = await chat_visitor(server, site, visitor_id), await chat_visitor(server, site, visitor_id)
    ref = (await tab1.say("From tab one"))["conversation"]
    assert (await tab2.message(1))["text"] == "From tab one"
    await reply(anna, ref, "To both tabs")
    assert (await tab1.message(2))["text"] == (await tab2.message(2))["text"] == "To both tabs"


async def test_strangers_cannot_read_or_write_a_conversation(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    site = callback_site(server, "chat5")
    server.add_user("stranger@example.test", "stranger-pass-1", sites=["other-site"])
    stranger = await manager(server, ("stranger@example.test", "stranger-pass-1"))
    v = await chat_visitor(server, site)
    ref = (await v.say("Private"))["conversation"]
    assert (await reply(stranger, ref, "Let me in"))["code"] == "not_found"
    assert (await stranger.command("chat_sync", conversation=ref, since=0))["code"] == "not_found"
    other = await chat_visitor(server, site)
    await other.ws.send(json.dumps({"type": "chat_sync", "conversation": ref, "since": 0}))
    refused = await other.next(lambda f: f["type"] == "error")
    assert refused["field"] == "conversation"
    assert all(f.get("conversation") != ref for f in stranger.unread)


async def test_pre_chat_contact_makes_a_lead_and_bad_contact_is_refused(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    site = callback_site(server, "chat6")
    v = await chat_visitor(server, site)
    bad = await v.say("Hi", phone="12")
    assert (bad["code"], bad["field"]) == ("invalid_phone", "phone")
    ack = await v.say("Hi, I'm Petra", name="Petra", phone="020 7946 0555", email="petra@example.test")
    leads = server.leads(site)
    assert [(x.kind, x.name, x.phone, x.email) for x in leads] == [
        ("chat", "Petra", "+442079460555", "petra@example.test")
    ]
    assert leads[0].answers == {"conversation": ack["conversation"]}


async def test_closing_asks_for_a_rating_and_a_new_message_starts_a_new_conversation(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    site = callback_site(server, "chat7")
    anna = await manager(server, ANNA)
    v = await chat_visitor(server, site)
    ref = (await v.say("Thanks for the help"))["conversation"]
    assert (await anna.command("chat_close", conversation=ref))["type"] == "ack"
    closed = await v.next(lambda f: f["type"] == "chat_state" and f["state"] == "closed")
    assert closed["rating"] is None
    rating_id = uuid.uuid4().hex
    await v.ws.send(
        json.dumps({"type": "chat_rating", "id": rating_id, "conversation": ref, "score": 5, "comment": "Great"})
    )
    assert (await v.next(lambda f: f.get("id") == rating_id))["type"] == "ack"
    rated = await anna.next(lambda f: f["type"] == "conversation" and f["rating"] == 5)
    assert rated["state"] == "closed"
    fresh = await v.say("One more question")
    assert fresh["conversation"] != ref and fresh["seq"] == 1


async def test_a_chat_flood_gets_a_friendly_limit(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    site = callback_site(server, "chat8")
    v = await chat_visitor(server, site)
    replies = [await v.say(f"message {i}") for i in range(31)]
    assert [r["type"] for r in replies].count("ack") == 30
    assert replies[-1]["code"] == "rate_limited" and "too quickly" in replies[-1]["message"]
