"""What one request may take: its headers and body must come in time, and the body within a size.

Uvicorn closes idle keep-alive connections, but waits forever for a request's headers (a socket
that connects and says nothing, or drips one header line every few seconds: slowloris), lets the
app wait forever for a body, and sets no size on it (a form is read whole into memory). These close
those gaps; endpoints keep their own smaller limits (collect, photos) with their own messages.
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
MAX_BODY_BYTES = 4 * 1024 * 1024  # far above any form, photo (1 MB) or batch of frames Beckon takes


class HeaderDeadline(HttpToolsProtocol):
    """Uvicorn's HTTP protocol with one addition: a request's headers must be in within ``header_seconds``
    of the connection opening (or of the first byte of a later request on it). Use as ``uvicorn.run(http=...)``."""

    header_seconds = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()


class BodyLimits:
    """The whole request body must arrive within ``seconds`` (else 408) and hold at most ``max_bytes``
    (else 413); either way the connection closes.

    Only the body is watched: once it is complete, ``receive`` is passed through untouched (a streamed
    response listens on it for the client going away).
    """

    def __init__(self, app: ASGIApp, *, seconds: float, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.seconds = seconds
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        body_done = False
        refused: tuple[int, bytes] | None = None
        started = False
        size = 0
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, 413, b"The request body is too large.")
            return

        async def timed_receive() -> Message:
            nonlocal body_done, refused, size
            if body_done:
                return await receive()
            if refused:
                return {"type": "http.disconnect"}
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                refused = (408, b"The request body came too slowly.")
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_bytes:  # no Content-Length, or it lied
                    refused = (413, b"The request body is too large.")
                    return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the refusal below is the answer
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except ClientDisconnect:
            if not refused:
                raise
        if refused and not started:
            await _refuse(send, *refused)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, status: int, text: bytes) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})
