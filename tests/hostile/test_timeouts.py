"""Slow, silent and huge requests: a connection may not hold a slot by saying nothing, trickling, or flooding."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets.exceptions import ConnectionClosed

from server.request_limits import HeaderDeadline
from tests.conftest import ORIGIN, SITE
from tests.hostile.conftest import World
from tests.hostile.visitor import open_socket
from tests.support import BeckonServer, free_port


class QuickHeaders(HeaderDeadline):
    header_seconds = 1.0


async def hello_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@contextlib.asynccontextmanager
async def uvicorn_with(protocol: type) -> AsyncIterator[int]:
    """A real uvicorn on loopback in this process, speaking through ``protocol``."""
    port = free_port()
    config = uvicorn.Config(hello_app, host="127.0.0.1", port=port, http=protocol, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)  # polling uvicorn's own started flag
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def closed_after(port: int, *, drip: bytes | None = None, first: bytes = b"", limit: float = 8) -> float | None:
    """Seconds until the server closes a connection that sends ``first`` then ``drip`` every 0.3 s; None if it never does."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(first)
    try:
        while time.monotonic() - started < limit:
            try:
                data = await asyncio.wait_for(reader.read(1024), 0.3)
            except TimeoutError:
                if drip:
                    writer.write(drip)
                continue
            if not data or b"408" in data:
                return time.monotonic() - started
        return None
    finally:
        writer.close()


async def test_header_deadline_closes_silent_and_dripping_connections() -> None:
    async with uvicorn_with(QuickHeaders) as port:
        silent = await closed_after(port)
        dripping = await closed_after(port, first=b"GET / HTTP/1.1\r\nHost: x\r\n", drip=b"X-Slow: 1\r\n")
        assert silent is not None and silent < 4
        assert dripping is not None and dripping < 4
        # A person's request is untouched, and a kept-alive connection serves a second one.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await asyncio.wait_for(reader.readuntil(b"ok"), 5)).startswith(b"HTTP/1.1 200")
        writer.close()


async def test_plain_uvicorn_waits_forever_for_headers() -> None:
    """Why HeaderDeadline exists: without it, the same silent connection is still open."""
    async with uvicorn_with(HttpToolsProtocol) as port:
        assert await closed_after(port, limit=3) is None


def test_a_request_body_that_trickles_is_cut_off_with_408(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server: BeckonServer = fresh_beckon(BECKON_BODY_TIMEOUT="2")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        head = (
            f"POST /api/v1/collect?site={SITE} HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: {ORIGIN}\r\n"
            "Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
        )
        conn.sendall(head.encode() + b'{"visitor": ')
        started = time.monotonic()
        answer = b""
        while chunk := conn.recv(4096):  # read until the server closes the connection
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert time.monotonic() - started < 8
    assert len(server.leads(SITE)) == 0


def test_a_huge_body_is_refused_with_413_whether_declared_or_not(world: World) -> None:
    # The telephony webhook reads its whole body before judging its size: the cap stops it first.
    url = f"{world.base}/api/v1/telephony/status"
    declared = httpx.post(url, content=b"a" * (5 * 1024 * 1024))
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked, counted as it comes
        for _ in range(6):
            yield b"a" * (1024 * 1024)

    streamed = httpx.post(url, content=chunks())
    assert streamed.status_code == 413
    assert httpx.get(f"{world.base}/healthz").status_code == 200


async def test_the_real_server_drops_a_connection_that_never_sends_headers(world: World) -> None:
    assert await closed_after(world.server.port, limit=15) is not None


async def test_a_visitor_socket_that_never_says_hello_is_closed_soon(world: World) -> None:
    async with await open_socket(world) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 15)  # the visitor never sends a thing
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008, closed.value


async def test_an_idle_kept_alive_connection_is_closed_by_uvicorn(world: World) -> None:
    """What uvicorn already gives (timeout_keep_alive, 5 s): after an answer, silence ends the connection."""
    first = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", world.server.port)
    writer.write(first)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    rest = await asyncio.wait_for(reader.read(), 15)  # the body, then EOF when uvicorn closes
    assert b"ok" in rest
    assert time.monotonic() - started < 10
    writer.close()
