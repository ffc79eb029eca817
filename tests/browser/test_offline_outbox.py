"""A lead typed while offline is kept and delivered exactly once."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.pages import request_callback, signed_in_manager
from tests.conftest import MANAGER, SITE
from tests.support import BeckonServer

OUTBOX = f"beckon:{SITE}:outbox"
EMPTY_OUTBOX = f"!localStorage.getItem('{OUTBOX}') || JSON.parse(localStorage.getItem('{OUTBOX}')).length === 0"


def test_offline_request_is_delivered_once_on_the_next_page_view(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    manager = signed_in_manager(new_context(), beckon, *MANAGER)
    ctx = new_context()
    visitor = ctx.new_page()
    visitor.goto(f"{beckon.base}/demo/")
    expect(visitor.get_by_role("button", name="Request a callback")).to_be_visible()
    ctx.set_offline(True)
    request_callback(visitor, "020 7946 0222", "Offline Olive")
    expect(visitor.get_by_text("You're offline")).to_be_visible()
    # The lead waits in the outbox (beside the panel's "opened" count, also sent when back).
    assert visitor.evaluate(f"JSON.parse(localStorage.getItem('{OUTBOX}')).filter(f => f.type == 'lead').length") == 1

    ctx.set_offline(False)
    visitor.reload()
    expect(manager.get_by_role("row").filter(has_text="Offline Olive")).to_be_visible()
    visitor.wait_for_function(EMPTY_OUTBOX)
    # Another page view has nothing left to send.
    visitor.goto(f"{beckon.base}/demo/contact.html")
    visitor.wait_for_function(EMPTY_OUTBOX)
    assert [lead.name for lead in beckon.leads(SITE)].count("Offline Olive") == 1
    expect(manager.get_by_role("row").filter(has_text="Offline Olive")).to_have_count(1)


def test_offline_request_is_sent_when_the_connection_returns(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context()
    visitor = ctx.new_page()
    visitor.goto(f"{beckon.base}/demo/")
    expect(visitor.get_by_role("button", name="Request a callback")).to_be_visible()
    ctx.set_offline(True)
    request_callback(visitor, "020 7946 0333", "Patient Pat")
    expect(visitor.get_by_text("You're offline")).to_be_visible()
    ctx.set_offline(False)
    expect(visitor.get_by_text("Finding a manager…")).to_be_visible(timeout=45_000)
    visitor.wait_for_function(EMPTY_OUTBOX)
    assert [lead.name for lead in beckon.leads(SITE)].count("Patient Pat") == 1
