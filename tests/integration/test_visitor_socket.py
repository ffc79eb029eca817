"""The visitor WebSocket protocol against a real server on loopback."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import ORIGIN, OTHER_SITE, SITE
from tests.support import BeckonServer


def frame_id() -> str:
    return uuid.uuid4().hex


def lead(**over: Any) -> dict[str, Any]:
    return {
        "type": "lead",
        "id": frame_id(),
        "kind": "callback",
        "phone": "020 7946 0958",
        "name": "Ann",
        "context": {
            "url": "http://localhost/demo/",
            "landing": "http://localhost/demo/",
            "utm": {"utm_source": "news"},
        },
    } | over


async def send(ws: ClientConnection, frame: dict[str, Any] | str) -> dict[str, Any]:
    """Send a frame and return the server's answer to it, passing over pushed status frames."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if reply["type"] != "callback_status":
            return reply


def core(ack: dict[str, Any]) -> dict[str, Any]:
    """The ack without the live callback status it carries (whose clock moves)."""
    return {k: v for k, v in ack.items() if k != "callback"}


async def visitor(server: BeckonServer, site: str = SITE, origin: str = ORIGIN, visitor_id: str | None = None):
    ws = await connect(f"{server.ws_base}/ws/visitor?site={site}", origin=origin)  # type: ignore[arg-type]
    welcome = await send(ws, {"type": "hello", "visitor": visitor_id or frame_id()})
    assert welcome["type"] == "welcome"
    return ws


async def test_lead_is_acked_and_the_ack_means_it_is_stored(beckon: BeckonServer) -> None:
    before = len(beckon.leads(SITE))
    async with await visitor(beckon) as ws:
        frame = lead(name="Stored Before Ack")
        ack = await send(ws, frame)
    assert ack["type"] == "ack" and ack["id"] == frame["id"] and ack["lead"]
    stored = [x for x in beckon.leads(SITE) if x.ref == ack["lead"]]
    assert len(beckon.leads(SITE)) == before + 1
    assert stored[0].phone == "+442079460958"
    assert stored[0].name == "Stored Before Ack"
    assert stored[0].source == "news"
    assert stored[0].context["url"] == "http://localhost/demo/"


async def test_resending_a_frame_returns_the_same_ack_and_no_duplicate(beckon: BeckonServer) -> None:
    frame, who = lead(), frame_id()
    async with await visitor(beckon, visitor_id=who) as ws:
        first = await send(ws, frame)
        again = await send(ws, frame)
    # A later page view of the same visitor re-sends from the outbox on a new socket.
    async with await visitor(beckon, visitor_id=who) as ws:
        third = await send(ws, frame)
    assert core(first) == core(again) == core(third)
    assert [x.client_frame_id for x in beckon.leads(SITE)].count(frame["id"]) == 1
    # Another visitor with the same id learns nothing of this lead and stores nothing.
    async with await visitor(beckon) as ws:
        foreign = await send(ws, frame)
    assert foreign["type"] == "error" and foreign["code"] == "duplicate_id" and first["lead"] not in str(foreign)
    assert [x.client_frame_id for x in beckon.leads(SITE)].count(frame["id"]) == 1


async def test_a_new_callbacks_status_rides_on_the_ack_and_reaches_the_visitors_other_tabs(
    beckon: BeckonServer,
) -> None:
    """bench #10: the tab that asked gets the new callback's status once, on its ack (no pushed copy);
    the visitor's other tabs are pushed it."""
    who = frame_id()
    async with await visitor(beckon, visitor_id=who) as tab, await visitor(beckon, visitor_id=who) as other:
        for ws in (tab, other):  # answered after the socket's live feed is open
            assert (await send(ws, {"type": "ping"}))["type"] == "pong"
        await tab.send(json.dumps(lead(name="Two Tabs")))
        ack = json.loads(await asyncio.wait_for(tab.recv(), 5))
        assert ack["type"] == "ack" and ack["callback"]["lead"] == ack["lead"]
        pushed = json.loads(await asyncio.wait_for(other.recv(), 5))
        assert pushed == ack["callback"]
        # Nothing about it follows on the asking tab: the next frame is the answer to its ping.
        await tab.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(tab.recv(), 5)) == {"type": "pong"}


async def test_an_acked_lead_survives_a_hard_kill(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    frame, who = lead(name="Survivor"), frame_id()
    async with await visitor(server, visitor_id=who) as ws:
        ack = await send(ws, frame)
        server.kill()
    server.start()
    async with await visitor(server, visitor_id=who) as ws:
        assert core(await send(ws, frame)) == core(ack)
    assert [x.name for x in server.leads(SITE)] == ["Survivor"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        (json.dumps({"type": "launch", "id": "frame-00000001"}), "unknown_type"),
        (json.dumps([1, 2, 3]), "bad_frame"),
        (json.dumps(lead(phone="12345")), "invalid_phone"),
        (json.dumps(lead(phone="+1 900 555 0123")), "invalid_phone"),
        (json.dumps(lead(phone=None)), "invalid_phone"),
        (json.dumps(lead(name="x" * 17_000)), "too_large"),
        (json.dumps(lead(email="nope")), "invalid_field"),
    ],
)
async def test_bad_frames_get_an_error_and_change_nothing(beckon: BeckonServer, raw: str, code: str) -> None:
    before = len(beckon.leads(SITE))
    async with await visitor(beckon) as ws:
        error = await send(ws, raw)
        # The socket stays usable after an error.
        assert (await send(ws, {"type": "ping"})) == {"type": "pong"}
    assert error["type"] == "error" and error["code"] == code and error["message"]
    assert len(beckon.leads(SITE)) == before


async def test_invalid_phone_error_names_the_field_and_frame(beckon: BeckonServer) -> None:
    frame = lead(phone="not a phone at all")
    async with await visitor(beckon) as ws:
        error = await send(ws, frame)
    assert error["id"] == frame["id"] and error["field"] == "phone"


async def test_lead_before_hello_is_refused(beckon: BeckonServer) -> None:
    async with connect(f"{beckon.ws_base}/ws/visitor?site={SITE}", origin=ORIGIN) as ws:  # type: ignore[arg-type]
        error = await send(ws, lead())
    assert error["code"] == "hello_required"


async def test_script_in_name_is_stored_as_plain_text(beckon: BeckonServer) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with await visitor(beckon) as ws:
        ack = await send(ws, lead(name=payload))
    assert [x.name for x in beckon.leads(SITE) if x.ref == ack["lead"]] == [payload]


@pytest.mark.parametrize(
    ("site", "origin", "code", "close"),
    [
        (SITE, "http://evil.test", "origin_not_allowed", 4403),
        (SITE, "null", "origin_not_allowed", 4403),
        (OTHER_SITE, ORIGIN, "origin_not_allowed", 4403),
        ("no-such-site", ORIGIN, "unknown_site", 4404),
    ],
)
async def test_wrong_origin_or_site_is_told_and_closed(
    beckon: BeckonServer, site: str, origin: str, code: str, close: int
) -> None:
    async with connect(f"{beckon.ws_base}/ws/visitor?site={site}", origin=origin) as ws:  # type: ignore[arg-type]
        error = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert error["code"] == code
    assert info.value.rcvd is not None and info.value.rcvd.code == close


async def test_socket_without_origin_is_refused(beckon: BeckonServer) -> None:
    async with connect(f"{beckon.ws_base}/ws/visitor?site={SITE}") as ws:
        error = json.loads(await ws.recv())
    assert error["code"] == "origin_not_allowed"


async def test_track_events_are_acked_once(beckon: BeckonServer) -> None:
    frame = {"type": "track", "id": frame_id(), "name": "pricing_viewed", "props": {"plan": "oak"}}
    async with await visitor(beckon) as ws:
        assert await send(ws, frame) == {"type": "ack", "id": frame["id"]}
        assert await send(ws, frame) == {"type": "ack", "id": frame["id"]}


async def test_floods_of_leads_from_one_address_are_rate_limited_with_a_friendly_message(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_LEAD_LIMIT_PER_IP="3")
    replies, visitors = [], [frame_id() for _ in range(4)]
    for who in visitors:
        # Different visitors, one address: the per-address limit applies.
        async with await visitor(server, visitor_id=who) as ws:
            replies.append(await send(ws, lead()))
    assert [r["type"] for r in replies] == ["ack", "ack", "ack", "error"]
    assert replies[-1]["code"] == "rate_limited"
    assert "too quickly" in replies[-1]["message"] and replies[-1]["retry_after"] > 0
    assert len(server.leads(SITE)) == 3
    # A re-sent frame that was stored still gets its ack: the outbox must be able to finish.
    first = server.leads(SITE)[0]
    owner = visitors[[r.get("lead") for r in replies].index(first.ref)]
    async with await visitor(server, visitor_id=owner) as ws:
        again = await send(ws, lead(id=first.client_frame_id))
    assert core(again) == {"type": "ack", "id": first.client_frame_id, "lead": first.ref}


async def test_one_visitor_leaving_many_numbers_is_limited(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    async with await visitor(server, visitor_id="same-visitor-1") as ws:
        replies = [await send(ws, lead(phone=f"020 7946 09{n:02d}")) for n in range(6)]
    assert [r["type"] for r in replies].count("ack") == 5
    assert replies[-1]["code"] == "rate_limited"


async def test_a_frame_flood_on_one_socket_is_slowed_then_cut(beckon: BeckonServer) -> None:
    async with await visitor(beckon) as ws:
        replies = [await send(ws, {"type": "ping"}) for _ in range(70)]
        codes = {r.get("code") for r in replies if r["type"] == "error"}
        assert codes == {"rate_limited"}
        assert replies[0] == {"type": "pong"}
        with pytest.raises(ConnectionClosed) as info:
            for _ in range(400):
                await ws.send(json.dumps({"type": "ping"}))
                await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4429
