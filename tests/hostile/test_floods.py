"""Floods: per visitor, per address and per socket, each held back with a message a person can read."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import SITE
from tests.hostile.conftest import World, new_id
from tests.hostile.visitor import answer, collect, hello, lead, send
from tests.support import BeckonServer

TOO_FAST = "You're sending requests too quickly. Please wait a little and try again."


class Bare(World):
    """A World over a plain seeded server (only what the flood checks need)."""


def bare(server: BeckonServer) -> World:
    return Bare(server=server)


def leads(server: BeckonServer) -> int:
    return len(server.leads(SITE))


async def test_one_visitor_flooding_leads_is_held_back(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server: BeckonServer = fresh_beckon(BECKON_LEAD_LIMIT_PER_VISITOR="2")
    world = bare(server)
    async with await hello(world, "flooder-visitor-1") as ws:
        assert (await send(ws, lead()))["type"] == "ack"
        assert (await send(ws, lead()))["type"] == "ack"
        refused = await send(ws, lead())
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert refused["message"] == TOO_FAST and refused["retry_after"] > 0
    # The same visitor over HTTP is the same visitor.
    over_http = collect(world, {"visitor": "flooder-visitor-1", "frames": [lead()]}).json()["results"][0]
    assert over_http["code"] == "rate_limited"
    assert leads(server) == 2
    # Someone else on the same address is not punished for it.
    async with await hello(world) as ws:
        assert (await send(ws, lead()))["type"] == "ack"


async def test_one_address_flooding_with_fresh_visitor_ids_is_held_back(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server: BeckonServer = fresh_beckon(BECKON_LEAD_LIMIT_PER_IP="3")
    world = bare(server)
    replies = []
    for _ in range(5):
        async with await hello(world) as ws:  # a new visitor id each time, same address
            replies.append(await send(ws, lead()))
    assert [r["type"] for r in replies] == ["ack"] * 3 + ["error"] * 2
    assert all(r["message"] == TOO_FAST for r in replies[3:])
    assert leads(server) == 3


async def test_a_socket_spraying_frames_is_warned_then_closed(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server: BeckonServer = fresh_beckon()
    world = bare(server)
    async with await hello(world) as ws:
        answers = []
        for _ in range(70):  # past 60 frames in 10 s
            answers.append(await send(ws, {"type": "ping"}))
        kinds = [a["type"] for a in answers]
        assert "error" in kinds
        warned = answers[kinds.index("error")]
        assert warned["code"] == "rate_limited" and warned["message"] == TOO_FAST
        # Keep going regardless and the server stops listening.
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(400):
                await ws.send(json.dumps({"type": "ping", "id": new_id()}))
                await answer(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
    assert leads(server) == 0
