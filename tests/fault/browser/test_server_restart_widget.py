"""The server is restarted (SIGTERM, then started again on the same port) while a visitor has the
page open: the real widget sees its socket closed, keeps the request made while the server was
down in its outbox, reconnects by itself with backoff and delivers it exactly once."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.pages import request_callback
from tests.browser.test_chat import chat_shop, visit
from tests.fault.browser.test_offline_callback_and_chat import KEY, kept, landed


def test_widget_reconnects_after_a_server_restart_and_delivers_once(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    chat_shop(server, KEY)
    visitor = visit(new_context(), server, KEY)
    expect(visitor.get_by_role("button", name="Request a callback")).to_be_visible()

    server.stop()  # SIGTERM: open sockets are closed with 1012 and the process exits
    request_callback(visitor, "020 7946 0777", "Restart Rosa")
    expect(visitor.get_by_text("we saved your request and will send it")).to_be_visible()
    assert "lead" in kept(visitor)

    server.start()  # same port, same database; nobody touches the page
    visitor.wait_for_function(f"!localStorage.getItem('beckon:{KEY}:outbox')", timeout=45_000)
    # The promise comes from the server's ack, and replaces the "saved, will send" note.
    expect(visitor.get_by_role("dialog").get_by_role("status")).to_contain_text(
        re.compile(r"We'll call you (by|within)")
    )
    expect(visitor.get_by_text("we saved your request and will send it")).to_be_hidden()
    visitor.goto(visitor.url)
    visitor.wait_for_function(f"!localStorage.getItem('beckon:{KEY}:outbox')")
    assert landed(server, "Restart Rosa", "")[0] == 1
