"""POST /api/v1/collect: the HTTP fallback takes the same frames with the same guarantees."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.conftest import ORIGIN, SITE
from tests.integration.test_visitor_socket import core, lead, send, visitor
from tests.support import BeckonServer


def post(server: BeckonServer, body: object, origin: str | None = ORIGIN, site: str = SITE) -> httpx.Response:
    headers = {"Content-Type": "text/plain"}
    if origin:
        headers["Origin"] = origin
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{beckon_base(server)}/api/v1/collect?site={site}", content=raw, headers=headers)


def beckon_base(server: BeckonServer) -> str:
    return server.base


def test_frames_are_acked_in_order_with_cors_for_the_page(beckon: BeckonServer) -> None:
    good, bad = lead(name="By Beacon"), lead(phone="1")
    reply = post(beckon, {"visitor": uuid.uuid4().hex, "frames": [good, bad]})
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    acked, refused = reply.json()["results"]
    assert core(acked) == {"type": "ack", "id": good["id"], "lead": acked["lead"]}
    assert refused["code"] == "invalid_phone" and refused["id"] == bad["id"]
    assert [x.name for x in beckon.leads(SITE) if x.ref == acked["lead"]] == ["By Beacon"]


async def test_a_frame_sent_by_beacon_and_again_by_socket_is_stored_once(beckon: BeckonServer) -> None:
    frame, me = lead(), uuid.uuid4().hex
    via_http = post(beckon, {"visitor": me, "frames": [frame]}).json()["results"][0]
    async with await visitor(beckon, visitor_id=me) as ws:
        via_socket = await send(ws, frame)
    assert core(via_http) == core(via_socket)
    assert [x.client_frame_id for x in beckon.leads(SITE)].count(frame["id"]) == 1


def test_wrong_or_missing_origin_is_refused(beckon: BeckonServer) -> None:
    before = len(beckon.leads(SITE))
    body = {"visitor": uuid.uuid4().hex, "frames": [lead()]}
    evil, none = post(beckon, body, origin="https://evil.test"), post(beckon, body, origin=None)
    assert (evil.status_code, evil.json()["error"]["code"]) == (403, "origin_not_allowed")
    assert none.status_code == 403
    assert post(beckon, body, site="nope").status_code == 404
    assert len(beckon.leads(SITE)) == before


def test_malformed_bodies_get_400_and_change_nothing(beckon: BeckonServer) -> None:
    before = len(beckon.leads(SITE))
    assert post(beckon, b"{oops").status_code == 400
    assert post(beckon, b"\xff\xfe\x00").status_code == 400
    assert post(beckon, {"frames": [lead()]}).status_code == 400
    assert post(beckon, {"visitor": uuid.uuid4().hex, "frames": [lead()] * 21}).status_code == 400
    assert post(beckon, b"x" * 400_000).status_code == 413
    assert len(beckon.leads(SITE)) == before


def test_preflight_is_answered(beckon: BeckonServer) -> None:
    reply = httpx.options(f"{beckon.base}/api/v1/collect?site={SITE}", headers={"Origin": ORIGIN})
    assert reply.status_code == 204
    assert "POST" in reply.headers["access-control-allow-methods"]
