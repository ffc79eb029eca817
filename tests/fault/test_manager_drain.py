"""SIGTERM while managers' claims and outcomes are in flight: each manager socket finishes the frame
the server has started to handle, answers it, and is closed with a code that means "come back".
At exit, what is stored is exactly what was answered (never stored-but-unanswered); the rest is
sent again by the dashboards after the restart and stored once."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

from tests.conftest import MANAGER, SITE
from tests.fault import peers
from tests.fault.conftest import BURST_ENV
from tests.fault.peers import lead_frame, new_id
from tests.support import BeckonServer

TEAM = [MANAGER, ("ben@example.test", "ben-password-1"), ("cleo@example.test", "cleo-password-1")]
CALLBACKS_EACH = 30  # per manager: a claim and an outcome for each (and a chat reply, for the first)
TERM_AFTER_ACKS = 20
GOING_AWAY = {1001, 1012}


def steps(server: BeckonServer, refs: list[str]) -> dict[str, list[tuple[str, int | None]]]:
    """Each lead's claims and outcomes from its timeline: (event type, manager id)."""

    async def action(store: Any) -> dict[str, list[tuple[str, int | None]]]:
        found = {}
        for ref in refs:
            lead = await store.get_lead(ref)
            events = await store.lead_events(lead.id)
            found[ref] = [(e.type, e.actor_id) for e in events if e.type in ("claimed", "outcome")]
        return found

    return server.with_store(action)


def replies(server: BeckonServer, conversation: str) -> list[str]:
    """The frame ids of the managers' messages stored in the conversation, one per message."""

    async def action(store: Any) -> list[str]:
        found = await store.get_conversation(conversation)
        return [m.client_frame_id for m in await store.messages_since(found.id, 0) if m.author == "manager"]

    return server.with_store(action)


def user_id(server: BeckonServer, email: str) -> int:
    async def action(store: Any) -> int:
        return (await store.get_user_by_email(email)).id

    return server.with_store(action)


async def test_sigterm_answers_managers_in_flight_frames_before_closing(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(**BURST_ENV)
    for email, password in TEAM[1:]:
        server.add_user(email, password, sites=[SITE], name=email.split("@")[0].title())
    changed = asyncio.Condition()
    visitors = peers.crowd(server.ws_base, SITE, CALLBACKS_EACH * len(TEAM), changed)
    for n, visitor in enumerate(visitors):
        await visitor.send(lead_frame(n, f"Caller {n}"))
    async with changed:
        await asyncio.wait_for(changed.wait_for(lambda: all(not v.outbox for v in visitors)), 60)
    refs = [ack["lead"] for v in visitors for ack in v.acks.values()]
    chatty = visitors[0]
    hello = await chatty.send({"type": "chat_message", "id": new_id(), "text": "Are you there?", "name": "Caller 0"})
    await chatty.drained()
    conversation = chatty.acks[hello]["conversation"]
    for visitor in visitors:
        await visitor.stop()

    managers = [peers.manager(server, email, password, changed).start() for email, password in TEAM]
    async with changed:
        await asyncio.wait_for(changed.wait_for(lambda: all(m.connects == 1 for m in managers)), 30)
    ids = [user_id(server, email) for email, _ in TEAM]
    # frame id -> (manager index, lead ref, kind): each manager claims its share and records
    # "connected"; the first also answers the chat between its calls.
    frames: dict[str, tuple[int, str, str]] = {}
    for i, manager in enumerate(managers):
        for n, ref in enumerate(refs[i :: len(managers)]):
            claim = await manager.send({"type": "claim", "id": new_id(), "lead": ref})
            outcome = await manager.send({"type": "outcome", "id": new_id(), "lead": ref, "outcome": "connected"})
            frames[claim] = (i, ref, "claimed")
            frames[outcome] = (i, ref, "outcome")
            if i == 0:
                text = f"Calling you back now ({n})"
                reply = await manager.send(
                    {"type": "chat_reply", "id": new_id(), "conversation": conversation, "text": text}
                )
                frames[reply] = (i, conversation, "reply")

    def acked() -> int:
        return sum(len(m.acks) for m in managers)

    async with changed:
        await asyncio.wait_for(changed.wait_for(lambda: acked() >= TERM_AFTER_ACKS), 60)
    proc = server.proc
    assert proc is not None
    termed = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    async with changed:
        await asyncio.wait_for(changed.wait_for(lambda: all(m.close_codes for m in managers)), 20)
    exit_code = await asyncio.to_thread(proc.wait, 20)
    shutdown_seconds = time.monotonic() - termed
    server.proc = None
    shutdown_log = server.log_path.read_text(errors="replace")
    codes = [m.close_codes[0] for m in managers]
    answered_at_exit = {frame_id for m in managers for frame_id in m.acks}
    stored_at_exit = await asyncio.to_thread(steps, server, refs)
    replied_at_exit = await asyncio.to_thread(replies, server, conversation)

    await peers.resent_after_restart(server, managers, changed)
    stored = await asyncio.to_thread(steps, server, refs)
    replied = await asyncio.to_thread(replies, server, conversation)

    print(
        f"\nmanager frames sent {len(frames)} · answered before exit {len(answered_at_exit)}"
        f" · close codes {sorted(set(codes))} · exit code {exit_code} · SIGTERM to exit {shutdown_seconds:.2f} s"
        f" · answered in the end {sum(len(m.acks) for m in managers)} · reconnects {sum(m.connects for m in managers)}"
    )
    assert exit_code in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in shutdown_log and "Traceback" not in shutdown_log
    assert set(codes) <= GOING_AWAY, codes
    assert TERM_AFTER_ACKS <= len(answered_at_exit) < len(frames), "SIGTERM must fall mid-stream"
    # At exit: stored exactly what was answered, by the manager who sent it.
    stored_frames = {
        frame_id
        for frame_id, (i, ref, kind) in frames.items()
        if (kind, ids[i]) in stored_at_exit.get(ref, []) or (kind == "reply" and frame_id in replied_at_exit)
    }
    assert stored_frames == answered_at_exit
    # In the end: every frame answered and stored once; nothing refused, nothing done twice.
    assert all(not m.refusals for m in managers), [m.refusals[:3] for m in managers]
    assert {frame_id for m in managers for frame_id in m.acks} == set(frames)
    for i in range(len(managers)):
        for ref in refs[i :: len(managers)]:
            assert stored[ref] == [("claimed", ids[i]), ("outcome", ids[i])], ref
    assert sorted(replied) == sorted(frame_id for frame_id, (*_, kind) in frames.items() if kind == "reply")
