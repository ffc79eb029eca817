"""Group commit seen from outside: many visitors at once, the server SIGKILLed mid-batch,
and still every lead that was acked is in the database after the restart."""

from __future__ import annotations

import asyncio
import json

from websockets.exceptions import ConnectionClosed

from tests.conftest import SITE
from tests.integration.test_visitor_socket import lead, visitor

VISITORS = 20
KILL_AFTER_ACKS = 80


async def test_no_ack_for_a_lead_lost_in_a_killed_batch(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_LEAD_LIMIT_PER_IP="1000000", BECKON_LEAD_LIMIT_PER_VISITOR="1000000")
    acked: set[str] = set()
    sent: set[str] = set()
    enough = asyncio.Event()

    async def keep_sending(n: int) -> None:
        ws = await visitor(server)
        try:
            for i in range(50):  # under the per-socket frame limit
                frame = lead(name=f"Visitor {n} lead {i}")
                sent.add(frame["id"])
                await ws.send(json.dumps(frame))
                while True:
                    reply = json.loads(await ws.recv())
                    if reply.get("type") == "ack" and reply.get("id") == frame["id"]:
                        acked.add(frame["id"])
                        break
                if len(acked) >= KILL_AFTER_ACKS:
                    enough.set()
        except ConnectionClosed:
            return

    senders = [asyncio.create_task(keep_sending(n)) for n in range(VISITORS)]
    await asyncio.wait_for(enough.wait(), 60)
    server.kill()  # SIGKILL: no shutdown, no last commit
    await asyncio.wait_for(asyncio.gather(*senders), 10)
    in_flight = sent - acked
    assert in_flight, "nothing was in flight at the kill: the test proves nothing"

    server.start()
    stored = {x.client_frame_id for x in server.leads(SITE)}
    assert acked <= stored, f"acked but lost: {sorted(acked - stored)}"
