"""The server's disk is full while a visitor asks for a callback and writes in the chat: the widget
keeps both in its outbox and tells the visitor, in the server's words, that they could not be saved
yet and will be sent again; once the disk has room again the runtime's retry delivers both, exactly
once, and the retry waits for the refusal's retry_after (no storm on a struggling server)."""

from __future__ import annotations

import json
import re
import time

from playwright.sync_api import Page, WebSocket, expect

from server.ingest import STORE_DOWN
from tests.browser.pages import request_callback
from tests.browser.test_chat import SHOP, chat_shop, inbox, log, say, visit
from tests.browser.test_loader import serve_page, snippet
from tests.fault.browser.test_offline_callback_and_chat import kept, landed
from tests.fault.disk import ServerOnDisk, TinyDisk

KEY = "fault-offline"  # the helpers above read this site's outbox and leads


def visitor_on_full_disk(server: ServerOnDisk, disk: TinyDisk, new_context) -> Page:  # type: ignore[no-untyped-def]
    chat_shop(server, KEY)
    inbox(new_context(), server)
    visitor = visit(new_context(), server, KEY)
    expect(visitor.get_by_role("button", name="Request a callback")).to_be_visible()
    expect(visitor.get_by_role("button", name="Open chat")).to_be_visible()
    disk.fill()
    return visitor


def test_widget_keeps_requests_while_the_disk_is_full_and_sends_them_once_after(
    server_on_tiny_disk, new_context
) -> None:  # type: ignore[no-untyped-def]
    server, disk = server_on_tiny_disk
    visitor = visitor_on_full_disk(server, disk, new_context)
    request_callback(visitor, "020 7946 0666", "Full Disk Fran")
    # Not acked, so not promised: the visitor is told it is not saved yet and will be sent again.
    expect(visitor.get_by_role("dialog")).to_contain_text(STORE_DOWN)
    visitor.keyboard.press("Escape")
    say(visitor, "Is the disk full?")
    expect(log(visitor)).to_contain_text("Is the disk full?")
    expect(log(visitor)).to_contain_text(STORE_DOWN)  # not a silent "Sending…"
    assert kept(visitor) == ["chat_message", "lead"]
    assert landed(server, "Full Disk Fran", "Is the disk full?") == (0, 0)

    disk.free()  # the runtime retries after the refusal's retry_after (5 s)
    visitor.wait_for_function(f"!localStorage.getItem('beckon:{KEY}:outbox')", timeout=30_000)
    expect(visitor.get_by_role("button", name=re.compile(r"^Calling you (in|by)"))).to_be_visible()
    expect(log(visitor)).to_contain_text("Sent")
    visitor.goto(visitor.url)
    visitor.wait_for_function(f"!localStorage.getItem('beckon:{KEY}:outbox')")
    assert landed(server, "Full Disk Fran", "Is the disk full?") == (1, 1)


def test_widget_says_the_server_could_not_save_rather_than_that_the_visitor_is_offline(  # type: ignore[no-untyped-def]
    server_on_tiny_disk, new_context
) -> None:
    server, disk = server_on_tiny_disk
    visitor = visitor_on_full_disk(server, disk, new_context)
    request_callback(visitor, "020 7946 0667", "Honest Hal")
    expect(visitor.get_by_role("dialog")).to_contain_text(STORE_DOWN, timeout=8_000)
    expect(visitor.get_by_role("dialog")).not_to_contain_text("You're offline")


def test_a_refused_frame_waits_its_retry_after_before_going_again(server_on_tiny_disk, new_context) -> None:  # type: ignore[no-untyped-def]
    server, disk = server_on_tiny_disk
    chat_shop(server, KEY)
    inbox(new_context(), server)
    ctx = new_context()
    serve_page(ctx, f"{SHOP}/", f"<!doctype html><title>Shop</title>{snippet(server, KEY)}<h1>Shop</h1>")
    sockets: list[WebSocket] = []
    lead_sends: list[float] = []
    lead_ids: set[str] = set()

    def sent(payload: str | bytes) -> None:
        frame = json.loads(payload)
        if frame.get("type") == "lead":
            lead_sends.append(time.monotonic())
            lead_ids.add(frame["id"])

    refusals: list[float] = []

    def received(payload: str | bytes) -> None:
        frame = json.loads(payload)
        if frame.get("code") == "unavailable" and frame.get("id") in lead_ids:  # track frames are refused too
            refusals.append(time.monotonic())

    def watch(ws: WebSocket) -> None:
        sockets.append(ws)
        ws.on("framesent", sent)
        ws.on("framereceived", received)

    visitor = ctx.new_page()
    visitor.on("websocket", watch)
    visitor.goto(f"{SHOP}/")
    expect(visitor.get_by_role("button", name="Request a callback")).to_be_visible()
    disk.fill()
    request_callback(visitor, "020 7946 0668", "Patient Pia")
    if not refusals:
        sockets[-1].wait_for_event("framereceived", predicate=lambda _: bool(refusals))
    visitor.keyboard.press("Escape")
    say(visitor, "Anyone?")  # another frame, sent well within the refused lead's retry_after
    if len(lead_sends) < 2:
        sockets[-1].wait_for_event("framesent", predicate=lambda _: len(lead_sends) >= 2, timeout=15_000)
    gap = lead_sends[1] - lead_sends[0]
    assert gap >= 4.5, f"the refused lead went again after {gap:.2f} s, not after its retry_after of 5 s"
