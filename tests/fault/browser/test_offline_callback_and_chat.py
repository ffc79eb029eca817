"""A visitor loses the network while asking for a callback and writing in the chat: both are kept
in the outbox and land exactly once when the network is back — also after reloading the page
while still offline."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.pages import request_callback
from tests.browser.test_chat import chat_shop, inbox, log, say, visit
from tests.support import BeckonServer

KEY = "fault-offline"


def kept(page: Page) -> list[str]:
    """The visitor's frames waiting in the outbox (widget analytics 'track' frames wait there too)."""
    frames = page.evaluate(f"JSON.parse(localStorage.getItem('beckon:{KEY}:outbox') || '[]')")
    return sorted(f["type"] for f in frames if f["type"] != "track")


def empty_outbox(page: Page) -> None:
    page.wait_for_function(f"!localStorage.getItem('beckon:{KEY}:outbox')", timeout=45_000)


def offline_requests(ctx: BrowserContext, visitor: Page, phone: str, name: str, text: str) -> None:
    """What the visitor does with no network: asks for a call, closes the dialog, writes in the chat."""
    expect(visitor.get_by_role("button", name="Request a callback")).to_be_visible()
    expect(visitor.get_by_role("button", name="Open chat")).to_be_visible()
    ctx.set_offline(True)
    request_callback(visitor, phone, name)
    expect(visitor.get_by_text("You're offline")).to_be_visible()
    visitor.keyboard.press("Escape")
    say(visitor, text)
    expect(log(visitor)).to_contain_text(text)
    expect(log(visitor)).to_contain_text("Not sent yet")
    assert kept(visitor) == ["chat_message", "lead"]


def landed(server: BeckonServer, name: str, text: str) -> tuple[int, int]:
    """How many leads carry this name, and how many chat messages this text."""

    async def action(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(KEY)
        leads = [lead for lead in await store.list_leads([site.id], limit=10_000) if lead.name == name]
        said = 0
        for conversation in await store.conversations([site.id], open_only=False):
            said += sum(m.body == text for m in await store.messages_since(conversation.id, 0))
        return len(leads), said

    return server.with_store(action)


def test_offline_callback_and_chat_land_once_when_back_online(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    chat_shop(server, KEY)
    inbox(new_context(), server)  # a manager is on: the chat is live, not the leave-a-message form
    ctx = new_context()
    visitor = visit(ctx, server, KEY)
    offline_requests(ctx, visitor, "020 7946 0444", "Offline Otto", "Hello from the tunnel")

    ctx.set_offline(False)
    empty_outbox(visitor)
    # The promise is running for the call, and the message is marked sent.
    expect(visitor.get_by_role("button", name=re.compile(r"^Calling you (in|by)"))).to_be_visible()
    expect(log(visitor)).to_contain_text("Sent")
    expect(log(visitor)).not_to_contain_text("Not sent yet")
    visitor.goto(visitor.url)  # another page view: nothing left to send again
    empty_outbox(visitor)
    assert landed(server, "Offline Otto", "Hello from the tunnel") == (1, 1)


def test_offline_callback_and_chat_survive_a_reload_while_offline(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    chat_shop(server, KEY)
    inbox(new_context(), server)
    ctx = new_context()
    visitor = visit(ctx, server, KEY)
    offline_requests(ctx, visitor, "020 7946 0555", "Reloading Rita", "Still there?")

    visitor.reload()  # still offline: the page comes back, the outbox is still in localStorage
    # (Chromium's emulated offline mode may let the unload beacon through; its answer is unreadable,
    # so the frames stay in the outbox either way and a second delivery must be a no-op.)
    assert kept(visitor) == ["chat_message", "lead"]

    ctx.set_offline(False)
    visitor.reload()
    empty_outbox(visitor)
    visitor.goto(visitor.url)
    empty_outbox(visitor)
    assert landed(server, "Reloading Rita", "Still there?") == (1, 1)
