"""Real peers for integration tests: an SMTP server and an HTTP receiver, both on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support import free_port


class Inbox:
    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[dict[str, Any]] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        parsed = message_from_bytes(envelope.content)
        with self.arrived:
            self.messages.append(
                {
                    "to": envelope.rcpt_tos,
                    "subject": parsed["Subject"],
                    "body": parsed.get_payload(decode=True).decode(),
                }
            )
            self.arrived.notify_all()
        return "250 OK"

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        def find() -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            with self.arrived:
                while True:
                    for message in self.messages:
                        if match(message):
                            return message
                    left = deadline - time.monotonic()
                    if left <= 0 or not self.arrived.wait(left):
                        raise TimeoutError(f"no such mail; got {self.messages}")

        return await asyncio.to_thread(find)


@pytest.fixture
def smtp_inbox() -> Iterator[Inbox]:
    inbox = Inbox(free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


class Receiver:
    """An HTTP endpoint standing in for a telephony provider: records what it is sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.failures = 0  # -- integrations: answer the next N requests with HTTP 500 --
        self.arrivals: list[float] = []  # -- integrations: monotonic time of every request --
        self.got = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.got:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    receiver.arrivals.append(time.monotonic())
                    failing = receiver.failures > 0
                    receiver.failures -= failing
                    receiver.got.notify_all()
                self.send_response(500 if failing else 202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet: tests read the recorded requests, not the log."""

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/call"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    async def next_request(self, timeout: float = 10) -> tuple[dict[str, str], dict[str, Any]]:
        def wait() -> tuple[dict[str, str], dict[str, Any]]:
            with self.got:
                if not self.got.wait_for(lambda: self.requests, timeout):
                    raise TimeoutError("the provider was never called")
                headers, body = self.requests.pop(0)
                return headers, {"raw": body, **json.loads(body)}

        return await asyncio.to_thread(wait)


@pytest.fixture
def provider() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
