"""Hostile input on the visitor side (/ws/visitor, /api/v1/collect, site config): refused clearly, nothing changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import MANAGER, ORIGIN, OTHER_SITE, SITE
from tests.hostile import corpus
from tests.hostile.conftest import B_ORIGIN, World, new_id, seed_world
from tests.hostile.visitor import answer, collect, hello, lead, open_socket, send, still_alive

REFUSALS = {"bad_json", "bad_frame", "unknown_type", "too_large", "invalid_field", "invalid_phone", "hello_required"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Limits raised far out of reach: this module sends hundreds of frames and must see each one judged."""
    w = seed_world(
        tmp_path_factory.mktemp("visitor"),
        BECKON_LEAD_LIMIT_PER_IP="100000",
        BECKON_LEAD_LIMIT_PER_VISITOR="100000",
    )
    yield w
    w.server.stop()


def lead_count(world: World, site: str = SITE) -> int:
    return len(world.server.leads(site))


def stored(world: World, frame_id: str, site: str = SITE) -> Any:
    return next(x for x in world.server.leads(site) if x.client_frame_id == frame_id)


# -- malformed, nested, oversized, binary ----------------------------------------------------


async def test_malformed_json_gets_a_clear_error_and_the_socket_stays_open(world: World) -> None:
    before = lead_count(world)
    async with await hello(world) as ws:
        for payload in corpus.MALFORMED_JSON:
            reply = await send(ws, payload)
            assert reply["type"] == "error" and reply["code"] in REFUSALS, (payload[:60], reply)
            assert reply["message"]
        await still_alive(ws)
    assert lead_count(world) == before


async def test_malformed_json_over_http_is_a_400_not_a_500(world: World) -> None:
    for payload in corpus.MALFORMED_JSON:
        response = collect(world, payload.encode("utf-8", "surrogatepass"))
        assert response.status_code == 400, (payload[:60], response.status_code, response.text)
        assert response.json()["error"]["code"] in REFUSALS
    # A well-formed envelope whose frames are junk: each frame answered with its own error.
    junk = [None, 1, "x", [], {"type": None}, {"type": "lead"}]
    response = collect(world, {"visitor": new_id(), "frames": junk})
    assert response.status_code == 200
    assert [r["type"] for r in response.json()["results"]] == ["error"] * len(junk)


async def test_deep_nesting_is_refused_without_hurting_the_server(world: World) -> None:
    before = lead_count(world)
    async with await hello(world) as ws:
        # Over the 16 KB frame limit, then within it but far past any sane depth.
        for levels, opener, closer in (
            (16_000, "[", "]"),
            (3_000, '{"a":', "}"),
            (8_000, "[", "]"),
            (2_000, '{"a":', "}"),
        ):
            reply = await send(ws, corpus.deep(levels, opener, closer))
            assert reply["code"] in ("too_large", "bad_json"), (levels, reply)
        nested_answers = lead(answers={"q": json.loads(corpus.deep(200))})
        reply = await send(ws, nested_answers)
        assert reply["type"] in ("ack", "error"), reply
        if reply["type"] == "ack":  # stored: the dashboard and the API still show it
            anna = world.client(MANAGER)
            assert anna.get(f"/app/leads/{reply['lead']}").status_code == 200
            assert anna.get("/app/leads").status_code == 200
            api = httpx.get(
                f"{world.base}/api/v1/leads/{reply['lead']}", headers={"authorization": f"Bearer {world.a_token}"}
            )
            assert api.status_code == 200
        await still_alive(ws)
    async with await hello(world) as ws:
        await ws.send(corpus.deep(100_000))  # 200 KB: past the socket's own limit, so the socket ends
        with pytest.raises(ConnectionClosed) as closed:
            await answer(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    response = collect(world, corpus.deep(100_000).encode())
    assert response.status_code in (400, 413), response.text
    response = collect(world, ('{"visitor": "' + new_id() + '", "frames": [' + corpus.deep(5_000) + "]}").encode())
    assert response.status_code == 400, response.text
    assert httpx.get(f"{world.base}/healthz").status_code == 200
    assert lead_count(world) <= before + 1


async def test_frames_over_the_size_limit_are_refused_and_huge_ones_end_the_socket(world: World) -> None:
    before = lead_count(world)
    async with await hello(world) as ws:
        reply = await send(ws, lead(name="x" * 17_000))
        assert reply["code"] == "too_large", reply
        await still_alive(ws)
    async with await hello(world) as ws:
        await ws.send("x" * 200_000)  # past the socket's own frame limit: abuse, not a mistake
        with pytest.raises(ConnectionClosed) as closed:
            await answer(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    response = collect(world, b"{" + b" " * 400_000 + b"}")
    assert response.status_code == 413
    assert lead_count(world) == before


async def test_binary_frames_and_invalid_utf8_are_refused(world: World) -> None:
    before = lead_count(world)
    async with await hello(world) as ws:
        reply = await send(ws, json.dumps(lead()).encode())
        assert reply["code"] == "bad_frame" and "text" in reply["message"]
        reply = await send(ws, b"\xff\xfe\x00garbage")
        assert reply["code"] == "bad_frame"
        await still_alive(ws)
    async with await hello(world) as ws:
        # A text frame that isn't UTF-8 breaks the WebSocket protocol itself: closed with 1007.
        await ws.send(b'{"type":"ping","x":"\xff\xfe"}', text=True)
        with pytest.raises(ConnectionClosed) as closed:
            await answer(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    body = b'{"visitor": "' + new_id().encode() + b'", "frames": [{"type": "lead", "name": "\xff\xfe"}]}'
    response = collect(world, body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_json"
    assert lead_count(world) == before


# -- wrong types -----------------------------------------------------------------------------


def _with(frame: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(frame))
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


async def test_every_lead_field_with_every_wrong_type_is_refused_or_stored_sanely(world: World) -> None:
    frames = [_with(lead(), (name,), value) for name in corpus.LEAD_FIELDS for value in corpus.WRONG_TYPE_VALUES] + [
        _with(lead(), ("context", name), value) for name in corpus.CONTEXT_FIELDS for value in corpus.WRONG_TYPE_VALUES
    ]
    before = lead_count(world)
    acked = 0
    for start in range(0, len(frames), 20):
        batch = frames[start : start + 20]
        response = collect(world, {"visitor": new_id(), "frames": batch})
        assert response.status_code == 200, response.text
        for frame, result in zip(batch, response.json()["results"], strict=True):
            assert result["type"] in ("ack", "error"), (frame, result)
            if result["type"] == "error":
                assert result["code"] in REFUSALS and result["message"], (frame, result)
            else:
                acked += 1
    assert lead_count(world) == before + acked
    for row in world.server.leads(SITE):
        assert row.name is None or isinstance(row.name, str)
        assert row.phone is None or row.phone.startswith("+")
        assert isinstance(row.context, dict) and isinstance(row.answers, dict)
        for key in ("url", "title", "referrer", "landing"):
            assert isinstance(row.context.get(key, ""), str)


# -- XSS and SQL: stored verbatim (as text), never interpreted ---------------------------------


async def test_markup_and_sql_are_stored_verbatim(world: World) -> None:
    async with await hello(world) as ws:
        for text in corpus.XSS + corpus.SQL:
            frame = lead(
                name=text[:100],
                context={
                    "url": "http://localhost/?q=" + text,
                    "title": text,
                    "referrer": "http://ref.test/" + text,
                    "landing": "http://localhost/" + text,
                    "utm": {"utm_source": text, "utm_campaign": text},
                },
            )
            reply = await send(ws, frame)
            assert reply["type"] == "ack", (text, reply)
            row = stored(world, frame["id"])
            assert row.name == text[:100].strip()
            assert row.context["title"] == text
            assert row.context["utm"]["utm_source"] == text
            assert row.context["referrer"] == "http://ref.test/" + text
    # The tables a DROP TABLE would have dropped are all still there and answering.
    assert lead_count(world) > 0
    assert httpx.get(f"{world.base}/healthz").json()["status"] == "ok"


# -- phones ----------------------------------------------------------------------------------


async def test_absurd_phone_numbers_are_refused_and_nothing_is_stored(world: World) -> None:
    before = lead_count(world)
    async with await hello(world) as ws:
        for phone in corpus.BAD_PHONES:
            reply = await send(ws, lead(phone=phone))
            assert reply["type"] == "error", (phone, reply)
            assert reply["code"] in ("invalid_phone", "invalid_field") and reply.get("field") == "phone", reply
    assert lead_count(world) == before


async def test_unicode_digits_become_the_same_number_or_are_refused(world: World) -> None:
    async with await hello(world) as ws:
        for phone in corpus.UNICODE_DIGIT_PHONES:
            frame = lead(phone=phone)
            reply = await send(ws, frame)
            if reply["type"] == "ack":
                assert stored(world, frame["id"]).phone == "+442079460958", phone
            else:
                assert reply["code"] == "invalid_phone", reply


# -- replayed and forged ids -------------------------------------------------------------------


async def test_a_replayed_frame_gets_the_same_ack_and_no_duplicate(world: World) -> None:
    visitor = new_id()
    frame = lead()
    async with await hello(world, visitor) as ws:
        first = await send(ws, frame)
        assert first["type"] == "ack"
        again = await send(ws, frame)
        changed = await send(ws, frame | {"name": "Someone Else", "phone": "020 7946 0000"})
    over_http = collect(world, {"visitor": visitor, "frames": [frame]}).json()["results"][0]
    for reply in (again, changed, over_http):
        assert reply["type"] == "ack" and reply["lead"] == first["lead"]
    rows = [x for x in world.server.leads(SITE) if x.client_frame_id == frame["id"]]
    assert len(rows) == 1 and rows[0].name == "Ann"


async def test_another_visitors_frame_id_is_refused_and_reveals_nothing(world: World) -> None:
    before = lead_count(world, OTHER_SITE)
    async with await hello(world, origin=B_ORIGIN, site=OTHER_SITE) as ws:
        reply = await send(ws, lead(id=world.b_lead_frame, phone="020 7946 0999", name="Mallory"))
    assert world.b_lead_ref not in json.dumps(reply), reply
    assert reply["type"] == "error" and reply["code"] == "duplicate_id", reply
    assert "callback" not in reply and reply["message"]
    assert lead_count(world, OTHER_SITE) == before


async def test_another_visitors_conversation_id_is_refused_and_changes_nothing(world: World) -> None:
    before = world.b_snapshot()
    mallory = new_id()
    async with await hello(world, mallory, origin=B_ORIGIN, site=OTHER_SITE) as ws:
        frames = [
            {"type": "chat_sync", "conversation": world.b_conversation, "since": 0},
            {"type": "chat_read", "conversation": world.b_conversation, "seq": 999},
            {"type": "chat_rating", "id": new_id(), "conversation": world.b_conversation, "score": 1},
            {"type": "chat_typing", "conversation": world.b_conversation, "on": True},
        ]
        seen: list[str] = []
        for frame in frames:
            await ws.send(json.dumps(frame))
        await ws.send(json.dumps({"type": "ping"}))
        while True:  # everything the server says until it answers the ping
            raw = await ws.recv()
            seen.append(str(raw))
            if json.loads(raw)["type"] == "pong":
                break
    assert not any("B chat secret words" in s for s in seen), seen
    assert world.b_snapshot() == before

    async def conversation(store: Any) -> Any:
        return await store.get_conversation(world.b_conversation)

    conv = world.server.with_store(conversation)
    assert conv.rating is None


# -- sites and origins -------------------------------------------------------------------------


async def test_unknown_site_is_refused_everywhere(world: World) -> None:
    async with await open_socket(world, site="no-such-site") as ws:
        reply = json.loads(await ws.recv())
        assert reply["code"] == "unknown_site"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    assert collect(world, {"visitor": new_id(), "frames": [lead()]}, site="no-such-site").status_code == 404
    config = httpx.get(f"{world.base}/api/v1/sites/no-such-site/config", headers={"origin": ORIGIN})
    assert config.status_code == 404


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.test",
        "null",
        "http://localhost.evil.test",
        "http://localhost@evil.test",
        "http://evil.test#localhost",
        "http://127.0.0.1.evil.test",
        "http://evil-localhost",
        "javascript:localhost",
        "file://",
        None,
    ],
)
async def test_a_foreign_origin_is_refused_on_socket_and_http(world: World, origin: str | None) -> None:
    before = lead_count(world)
    async with await open_socket(world, origin=origin) as ws:
        reply = json.loads(await ws.recv())
        assert reply["code"] == "origin_not_allowed"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    response = collect(world, {"visitor": new_id(), "frames": [lead()]}, origin=origin)
    assert response.status_code == 403 and response.json()["error"]["code"] == "origin_not_allowed"
    if origin:
        config = httpx.get(f"{world.base}/api/v1/sites/{SITE}/config", headers={"origin": origin})
        assert config.status_code == 403
    assert lead_count(world) == before


async def test_site_a_page_cannot_write_into_site_b(world: World) -> None:
    """Site A's own page (an allowed origin of A) is a foreign origin for B."""
    before = lead_count(world, OTHER_SITE)
    response = collect(world, {"visitor": new_id(), "frames": [lead()]}, site=OTHER_SITE, origin=ORIGIN)
    assert response.status_code == 403
    assert lead_count(world, OTHER_SITE) == before


@pytest.mark.parametrize(
    ("kind", "frame"),
    [
        ("callback", lambda: lead()),
        ("chat", lambda: lead(kind="chat", phone=None, email="ann@example.test")),
        ("chat", lambda: {"type": "chat_message", "id": new_id(), "text": "Anyone there?", "phone": "020 7946 0958"}),
    ],
)
async def test_a_switched_off_widget_takes_no_leads(world: World, kind: str, frame: Any) -> None:
    async def switch(store: Any, enabled: bool) -> None:
        site = await store.get_site_by_key(OTHER_SITE)
        await store.put_widget(site.id, kind, {}, enabled=enabled)

    world.server.with_store(lambda store: switch(store, False))
    before = lead_count(world, OTHER_SITE)
    try:
        async with await hello(world, origin=B_ORIGIN, site=OTHER_SITE) as ws:
            reply = await send(ws, frame())
        assert reply["type"] == "error" and reply["code"] == "widget_off", reply
        assert reply["message"]
        assert lead_count(world, OTHER_SITE) == before
    finally:
        world.server.with_store(lambda store: switch(store, True))


# -- quizzes: text answers and another visitor's run ------------------------------------------


def _with_quiz(world: World) -> None:
    async def add(store: Any) -> None:
        site = await store.get_site_by_key(SITE)
        if await store.get_widget(site.id, "quiz", "notes") is None:
            await store.put_widget(site.id, "quiz", corpus.NOTES_QUIZ, slug="notes")

    world.server.with_store(add)


def quiz_frame(run: str, n: int, notes: str, **over: Any) -> dict[str, Any]:
    return {"type": "quiz", "id": new_id(), "quiz": "notes", "run": run, "n": n, "answers": {"notes": notes}} | over


def _run_lead(world: World, run: str) -> Any:
    return next(x for x in world.server.leads(SITE) if x.client_frame_id == run)


async def test_quiz_text_answers_are_stored_verbatim(world: World) -> None:
    _with_quiz(world)
    async with await hello(world) as ws:
        for text in corpus.XSS + corpus.SQL:
            run = new_id()
            reply = await send(ws, quiz_frame(run, 1, text))
            assert reply["type"] == "ack", (text, reply)
            step = _run_lead(world, run).answers["steps"][0]
            assert step["answer"] == text.strip(), (text, step)


async def test_another_visitors_quiz_run_is_refused_and_unchanged(world: World) -> None:
    _with_quiz(world)
    run = new_id()
    async with await hello(world) as ws:
        assert (await send(ws, quiz_frame(run, 1, "the owner's own words")))["type"] == "ack"
    before = _run_lead(world, run).answers
    async with await hello(world) as mallory:
        reply = await send(mallory, quiz_frame(run, 50, "overwritten by mallory"))
    assert _run_lead(world, run).answers == before
    assert reply["type"] == "error" and reply["code"] == "duplicate_id", reply
    assert _run_lead(world, run).ref not in json.dumps(reply)
