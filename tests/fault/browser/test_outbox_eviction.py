"""The outbox is bounded (50 frames; analytics 'track' frames are dropped first, oldest first). While
the server can't be reached, the host page's own analytics calls — Beckon('track', …), part of the
public JS API — keep adding frames. A callback request waiting in the outbox must not be pushed out
by them: a lost lead is the one thing Beckon promises never to do."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.pages import request_callback
from tests.browser.test_chat import chat_shop, visit
from tests.fault.browser.test_offline_callback_and_chat import KEY, kept, landed

HOST_PAGE_EVENTS = 60


def test_host_page_analytics_never_push_a_waiting_lead_out_of_the_outbox(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    chat_shop(server, KEY)
    ctx = new_context()
    visitor = visit(ctx, server, KEY)
    expect(visitor.get_by_role("button", name="Request a callback")).to_be_visible()
    ctx.set_offline(True)
    request_callback(visitor, "020 7946 0888", "Evicted Eve")
    expect(visitor.get_by_text("You're offline")).to_be_visible()
    # The owner's page reports its own events through the public API while the visitor reads on.
    visitor.evaluate(f"for (let i = 0; i < {HOST_PAGE_EVENTS}; i++) Beckon('track', 'scrolled', {{depth: i}})")
    visitor.wait_for_function(
        f"JSON.parse(localStorage.getItem('beckon:{KEY}:outbox') || '[]').filter(f => f.type == 'track').length >= 49"
    )
    assert "lead" in kept(visitor)
    ctx.set_offline(False)
    visitor.wait_for_function(f"!localStorage.getItem('beckon:{KEY}:outbox')", timeout=30_000)
    assert landed(server, "Evicted Eve", "")[0] == 1
