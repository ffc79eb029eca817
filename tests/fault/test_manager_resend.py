"""A manager's claim or outcome stored just before the server was SIGKILLed, its ack never read:
the dashboard sends the same frame again after the restart. It is answered as a success (not "Anna
took this callback", not "finished already") and nothing is done twice: one line on the timeline.
What was not this manager's own change stays refused."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tests.conftest import MANAGER, SITE
from tests.integration.test_callback_routing import Manager, manager
from tests.integration.test_visitor_socket import lead, send, visitor
from tests.support import BeckonServer

BEN = ("ben.resend@example.test", "ben-password-1")


def timeline(server: BeckonServer, ref: str) -> list[tuple[str, str, dict[str, Any]]]:
    async def action(store: Any) -> list[tuple[str, str, dict[str, Any]]]:
        found = await store.get_lead(ref)
        return [
            (e.type, e.actor_name, e.data)
            for e in await store.lead_events(found.id)
            if e.type in ("claimed", "outcome")
        ]

    return server.with_store(action)


async def callback_from(server: BeckonServer, phone: str) -> str:
    ws = await visitor(server)
    async with ws:
        ack = await send(ws, lead(phone=phone))
    assert ack["type"] == "ack", ack
    return ack["lead"]


async def stored_then_killed(server: BeckonServer, anna: Manager, frame: dict[str, Any], state: str) -> None:
    """Send the frame, wait until its change is stored and broadcast, and SIGKILL the server with the
    ack unread: to the dashboard, a frame that got no answer."""
    await anna.ws.send(json.dumps(frame))
    await anna.card(frame["lead"], state)
    server.kill()


async def again(server: BeckonServer, frame: dict[str, Any], creds: tuple[str, str] = MANAGER) -> dict[str, Any]:
    """After the restart: a new socket, and the same frame, same id."""
    m = await manager(server, creds)
    async with m.ws:
        await m.ws.send(json.dumps(frame))
        return await m.next(lambda f: f.get("id") == frame["id"] and f["type"] in ("ack", "error"))


async def test_a_claim_and_an_outcome_resent_after_a_kill_are_acked_and_stored_once(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    server.add_user(*BEN, sites=[SITE], name="Ben")
    ref = await callback_from(server, "020 7946 0811")

    anna = await manager(server, MANAGER)
    claim = {"type": "claim", "id": "claim-0811", "lead": ref}
    async with anna.ws:
        await stored_then_killed(server, anna, claim, "claimed")
    await asyncio.to_thread(server.start)
    assert await again(server, claim) == {"type": "ack", "id": claim["id"]}
    # Another manager's claim is still refused, naming who has it.
    refused = await again(server, {"type": "claim", "id": "ben-claim-0811", "lead": ref}, BEN)
    assert refused["type"] == "error" and refused["code"] == "taken" and "Anna took" in refused["message"]
    assert [step[:2] for step in timeline(server, ref)] == [("claimed", "Anna")]

    anna = await manager(server, MANAGER)
    outcome = {"type": "outcome", "id": "outcome-0811", "lead": ref, "outcome": "connected"}
    async with anna.ws:
        await stored_then_killed(server, anna, outcome, "done")
    await asyncio.to_thread(server.start)
    assert await again(server, outcome) == {"type": "ack", "id": outcome["id"]}
    # A different outcome is not a re-send: the callback is finished.
    other = {"type": "outcome", "id": "outcome-0811-b", "lead": ref, "outcome": "no_answer"}
    assert (await again(server, other))["code"] == "already_recorded"
    steps = timeline(server, ref)
    assert [step[:2] for step in steps] == [("claimed", "Anna"), ("outcome", "Anna")]
    assert steps[1][2] == {"outcome": "connected"}


async def test_a_reschedule_resent_after_a_kill_is_acked_and_stored_once(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    ref = await callback_from(server, "020 7946 0812")
    anna = await manager(server, MANAGER)
    at = int(time.time()) + 86400
    reschedule = {"type": "outcome", "id": "later-0812", "lead": ref, "outcome": "reschedule", "at": at}
    async with anna.ws:
        assert (await anna.command("claim", lead=ref))["type"] == "ack"
        await stored_then_killed(server, anna, reschedule, "scheduled")
    await asyncio.to_thread(server.start)
    assert await again(server, reschedule) == {"type": "ack", "id": reschedule["id"]}
    # The callback now waits unclaimed for its time: an outcome for another time is refused.
    moved = reschedule | {"id": "later-0812-b", "at": at + 3600}
    assert (await again(server, moved))["code"] == "forbidden"
    steps = timeline(server, ref)
    assert [step[:2] for step in steps] == [("claimed", "Anna"), ("outcome", "Anna")]
    assert steps[1][2] == {"outcome": "reschedule", "retry_at": at}
