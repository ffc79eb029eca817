"""A hostile visitor: a raw socket and HTTP client that send whatever they like."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import ORIGIN, SITE
from tests.hostile.conftest import World, new_id

# Frames that answer the visitor's own frame; anything else (callback_status, chat_state...) is a push.
ANSWERS = ("ack", "error", "welcome", "pong")


def lead(**over: Any) -> dict[str, Any]:
    return {
        "type": "lead",
        "id": new_id(),
        "kind": "callback",
        "phone": "020 7946 0958",
        "name": "Ann",
        "context": {"url": "http://localhost/", "title": "Home"},
    } | over


async def open_socket(world: World, *, site: str = SITE, origin: str | None = ORIGIN) -> ClientConnection:
    return await connect(f"{world.server.ws_base}/ws/visitor?site={site}", origin=origin)  # type: ignore[arg-type]


async def answer(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    """The next frame that answers something the visitor sent, passing over pushed status frames."""
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if reply.get("type") in ANSWERS:
            return reply


async def send(ws: ClientConnection, frame: dict[str, Any] | str | bytes) -> dict[str, Any]:
    await ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    return await answer(ws)


async def hello(world: World, visitor: str | None = None, **kwargs: Any) -> ClientConnection:
    ws = await open_socket(world, **kwargs)
    welcome = await send(ws, {"type": "hello", "visitor": visitor or new_id()})
    assert welcome["type"] == "welcome", welcome
    return ws


async def still_alive(ws: ClientConnection) -> None:
    """The socket survived what came before: it still answers a ping."""
    assert (await send(ws, {"type": "ping"}))["type"] == "pong"


def collect(
    world: World, body: bytes | dict[str, Any], *, site: str = SITE, origin: str | None = ORIGIN
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "text/plain"} | ({"origin": origin} if origin else {})
    return httpx.post(
        f"{world.base}/api/v1/collect", params={"site": site}, content=content, headers=headers, timeout=15
    )
