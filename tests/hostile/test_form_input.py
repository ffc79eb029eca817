"""Garbage in every dashboard form and the REST API, from someone allowed to use them: a clear 4xx, never a 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.hostile import corpus
from tests.hostile.conftest import OWNER, World, seed_world
from tests.hostile.routes import app_routes, fill, rule_for
from tests.support import csrf_from

# Signing out or in mid-run would end the session the rest of the run needs.
SKIP = {"/app/logout", "/app/login", "/app/setup"}
POSTS = [p for m, p in app_routes() if m == "POST" and p.startswith("/app/") and p not in SKIP]
FIELDS = (
    "status",
    "temperature",
    "assignee",
    "note",
    "follow_up",
    "name",
    "email",
    "password",
    "role",
    "active",
    "sites",
    "site",
    "domains",
    "timezone",
    "locale",
    "promise_seconds",
    "config",
    "kind",
    "slug",
    "url",
    "events",
    "phone",
)
GARBAGE = (
    "",
    "<script>window.__xss=1</script>",
    "' OR 1=1 --",
    "9" * 20_000,
    "-1",
    "1e309",
    "NaN",
    "\x00\x01",
    "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
    "{" * 5_000,
    "9999-99-99",
    "\u00b2",  # a superscript two: str.isdigit() says yes, int() says no
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = seed_world(tmp_path_factory.mktemp("forms"))
    yield w
    w.server.stop()


@pytest.mark.parametrize("path", POSTS)
def test_garbage_in_a_form_is_a_clear_refusal_not_a_crash(world: World, path: str) -> None:
    client = world.client(OWNER)  # owner of site B: allowed to use every form on B's things
    token = csrf_from(client.get("/app/me").text)
    url = fill(world, path, rule_for("POST", path).params)
    for value in GARBAGE:
        form = dict.fromkeys(FIELDS, value) | {"csrf": token}
        response = client.post(url, data=form)
        assert response.status_code < 500, (value[:30], response.status_code, response.text[:300])
        assert "Traceback" not in response.text
    client.close()


def test_garbage_to_the_rest_api_is_a_clear_refusal(world: World) -> None:
    auth = {"authorization": f"Bearer {world.b_token}"}
    url = f"{world.base}/api/v1/leads/{world.b_lead_ref}"
    bodies: list[bytes] = [p.encode("utf-8", "surrogatepass") for p in corpus.MALFORMED_JSON]
    bodies += [corpus.deep(100_000).encode(), b"\xff\xfe", b'{"status": "' + b"x" * 100_000 + b'"}']
    for value in corpus.WRONG_TYPE_VALUES:
        bodies += [httpx.Request("PATCH", url, json={"status": value, "temperature": value}).content]
    for body in bodies:
        response = httpx.patch(url, content=body, headers=auth | {"content-type": "application/json"}, timeout=15)
        assert 400 <= response.status_code < 500, (body[:40], response.status_code, response.text[:200])
        assert response.json()["error"]["message"]
    for query in ({"limit": "-1"}, {"limit": "1e9"}, {"cursor": "' OR 1=1"}, {"since": "x"}, {"status": "<b>"}):
        response = httpx.get(f"{world.base}/api/v1/leads", params=query, headers=auth)
        assert response.status_code < 500, (query, response.text[:200])


async def _manager_survives(world: World, frames: list[str | bytes]) -> None:
    client = world.client(OWNER)
    headers = {"cookie": f"beckon_session={client.cookies.get('beckon_session')}"}
    url = f"{world.server.ws_base}/ws/manager"
    async with connect(url, origin=world.base, additional_headers=headers, max_size=None) as ws:  # type: ignore[arg-type]
        for frame in frames:
            await ws.send(frame)
            await ws.send(json.dumps({"type": "ping"}))
            while True:  # everything up to the pong that follows this frame
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if reply.get("type") == "pong":
                    break
                if reply.get("type") in ("ack",):
                    raise AssertionError(f"garbage was accepted: {str(frame)[:80]} -> {reply}")
    client.close()


async def test_a_binary_frame_on_the_manager_socket_gets_an_error_not_a_dead_socket(world: World) -> None:
    await _manager_survives(world, [b"\xff\xfe binary"])


async def test_a_deeply_nested_frame_on_the_manager_socket_gets_an_error(world: World) -> None:
    await _manager_survives(world, [corpus.deep(5_000)])


async def test_garbage_on_the_manager_socket_is_answered_with_errors_and_the_socket_lives(world: World) -> None:
    frames: list[str | bytes] = list(corpus.MALFORMED_JSON) + ["x" * 20_000]
    for value in corpus.WRONG_TYPE_VALUES:
        for kind, field in (
            ("claim", "lead"),
            ("chat_reply", "text"),
            ("chat_reply", "conversation"),
            ("dialed", "lead"),
        ):
            frames.append(json.dumps({"type": kind, "id": f"garbage-{len(frames)}", field: value}))
    await _manager_survives(world, frames)
