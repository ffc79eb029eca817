"""A visitor and a manager mid-conversation through abrupt socket drops and a SIGKILL of the server:
both keep writing (into their outboxes while cut off), reconnect, ask for the gap after their last
seq, and end with the same transcript as the database — no gaps, no duplicates."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tests.conftest import MANAGER, SITE
from tests.fault import peers
from tests.fault.conftest import BURST_ENV
from tests.fault.peers import Frame, OutboxPeer, new_id
from tests.support import BeckonServer

ROUNDS = 12
DROP_AT = 4
KILL_AT = 8

Line = tuple[int, str, str]  # seq, author, text


@dataclass
class Transcript:
    """One side's view of the conversation, built only from what the server sent it."""

    ref: str | None = None
    lines: dict[int, tuple[str, str]] = field(default_factory=dict)
    conflicts: list[tuple[int, tuple[str, str], tuple[str, str]]] = field(default_factory=list)
    syncs: int = 0

    def take(self, frame: Frame) -> None:
        line = (frame["author"], frame["text"])
        seen = self.lines.setdefault(frame["seq"], line)
        if seen != line:
            self.conflicts.append((frame["seq"], seen, line))

    @property
    def upto(self) -> int:
        """The last seq this side has with nothing missing before it."""
        n = 0
        while n + 1 in self.lines:
            n += 1
        return n

    def as_list(self) -> list[Line]:
        return [(seq, *self.lines[seq]) for seq in sorted(self.lines)]


def visitor_side(server: BeckonServer, changed: asyncio.Condition) -> tuple[OutboxPeer, Transcript]:
    seen, visitor_id = Transcript(), new_id()

    async def sync(peer: OutboxPeer) -> None:
        if seen.ref is not None and await peer.push(
            {"type": "chat_sync", "conversation": seen.ref, "since": seen.upto}
        ):
            seen.syncs += 1

    async def pushed(peer: OutboxPeer, frame: Frame) -> None:
        if frame["type"] == "chat_message" and frame["conversation"] == seen.ref:
            seen.take(frame)
        # The widget's rule: the state after welcome tells how far the conversation got; fetch the rest.
        if frame["type"] == "chat_state" and frame["conversation"] == seen.ref and frame["last_seq"] > seen.upto:
            await sync(peer)

    peer = OutboxPeer(
        f"{server.ws_base}/ws/visitor?site={SITE}",
        lambda: {"type": "hello", "visitor": visitor_id},
        changed=changed,
        on_welcome=sync,
        on_push=pushed,
    )
    return peer, seen


def manager_side(server: BeckonServer, changed: asyncio.Condition, seen: Transcript) -> OutboxPeer:
    async def sync(peer: OutboxPeer) -> None:
        if seen.ref is not None:
            frame = {"type": "chat_sync", "id": new_id(), "conversation": seen.ref, "since": seen.upto}
            if await peer.push(frame):
                seen.syncs += 1

    async def pushed(peer: OutboxPeer, frame: Frame) -> None:
        if frame["type"] == "chat_message" and frame["conversation"] == seen.ref:
            seen.take(frame)

    return peers.manager(server, *MANAGER, changed, on_welcome=sync, on_push=pushed)


def stored_transcript(server: BeckonServer, ref: str) -> list[Line]:
    async def action(store):  # type: ignore[no-untyped-def]
        conversation = await store.get_conversation(ref)
        return [(m.seq, m.author, m.body) for m in await store.messages_since(conversation.id, 0)]

    return server.with_store(action)


async def test_chat_survives_dropped_sockets_and_a_killed_server(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(**BURST_ENV)
    changed = asyncio.Condition()
    visitor, on_visitor = visitor_side(server, changed)
    visitor.start()
    first = await visitor.send({"type": "chat_message", "id": new_id(), "text": "v0", "name": "Vera"})
    await visitor.drained()
    ref = visitor.acks[first]["conversation"]
    on_visitor.ref = ref
    on_manager = Transcript(ref=ref)
    manager = manager_side(server, changed, on_manager).start()
    await manager.wait_for(lambda: manager.connects == 1)
    await manager.push({"type": "chat_sync", "id": new_id(), "conversation": ref, "since": 0})

    sent = ["v0"]
    for n in range(1, ROUNDS + 1):
        await visitor.send({"type": "chat_message", "id": new_id(), "text": f"v{n}"})
        await manager.send({"type": "chat_reply", "id": new_id(), "conversation": ref, "text": f"m{n}"})
        sent += [f"v{n}", f"m{n}"]
        connects = (visitor.connects, manager.connects)
        if n == DROP_AT:  # both sockets cut with frames in flight, no closing handshake
            await visitor.drop()
            await manager.drop()
        elif n == KILL_AT:  # the server dies with frames in flight; both sides keep writing meanwhile
            server.kill()
            for extra in ("while down", "still down"):
                await visitor.send({"type": "chat_message", "id": new_id(), "text": f"v {extra}"})
                await manager.send({"type": "chat_reply", "id": new_id(), "conversation": ref, "text": f"m {extra}"})
                sent += [f"v {extra}", f"m {extra}"]
            await asyncio.to_thread(server.start)
        else:  # a conversation at a person's pace: each round answered before the next
            await visitor.drained()
            await manager.drained()
            continue
        async with changed:  # both are back before the conversation goes on
            await asyncio.wait_for(
                changed.wait_for(lambda c=connects: visitor.connects > c[0] and manager.connects > c[1]), 30
            )

    def complete() -> bool:
        return (
            not visitor.outbox
            and not manager.outbox
            and on_visitor.upto == on_manager.upto == len(sent)
            and len(on_visitor.lines) == len(on_manager.lines) == len(sent)
        )

    async with changed:
        await asyncio.wait_for(changed.wait_for(complete), 45)
    await visitor.stop()
    await manager.stop()

    stored = stored_transcript(server, ref)
    print(
        f"\nchat messages sent {len(sent)} · stored {len(stored)} · visitor sees {len(on_visitor.lines)}"
        f" · manager sees {len(on_manager.lines)} · visitor connects {visitor.connects}"
        f" · manager connects {manager.connects} · syncs asked {on_visitor.syncs + on_manager.syncs}"
    )
    assert visitor.connects >= 3 and manager.connects >= 3, "a drop and a kill mean two reconnects each"
    assert not on_visitor.conflicts and not on_manager.conflicts
    assert [seq for seq, *_ in stored] == list(range(1, len(sent) + 1))
    assert sorted(text for *_, text in stored) == sorted(sent)
    assert on_visitor.as_list() == on_manager.as_list() == stored
    # Each side's own messages come out in the order that side wrote them.
    for author, prefix in (("visitor", "v"), ("manager", "m")):
        mine = [text for _, who, text in stored if who == author]
        assert mine == [text for text in sent if text.startswith(prefix)], author
