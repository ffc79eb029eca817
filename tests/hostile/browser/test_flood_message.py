"""A held-back visitor is told so, in words, by the widget (not a silent failure)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.pages import request_callback
from tests.browser.test_loader import serve_page, snippet
from tests.hostile.browser.support import in_browser
from tests.hostile.visitor import lead
from tests.support import BeckonServer

pytestmark = pytest.mark.browser
SHOP = "http://shop.test"


def test_the_callback_widget_shows_the_rate_limit_message(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server: BeckonServer = fresh_beckon(BECKON_LEAD_LIMIT_PER_IP="1")
    server.add_site("flood-shop", ["shop.test"], name="Flood Shop")
    # Someone on this address already used its one lead for the window.
    first = httpx.post(
        f"{server.base}/api/v1/collect",
        params={"site": "flood-shop"},
        json={"visitor": "earlier-visitor-1", "frames": [lead()]},
        headers={"origin": SHOP},
    )
    assert first.json()["results"][0]["type"] == "ack", first.text

    def check(browser: Browser) -> None:
        ctx = browser.new_context()
        ctx.set_default_timeout(10_000)
        serve_page(ctx, f"{SHOP}/", f"<!doctype html><title>Shop</title>{snippet(server, 'flood-shop')}<h1>Shop</h1>")
        page = ctx.new_page()
        page.goto(f"{SHOP}/")
        request_callback(page, "020 7946 0777", "Patient Pat")
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("You're sending requests too quickly. Please wait a little and try again.")
        # The form stays there with the number, to send again later.
        expect(dialog.get_by_label("Phone")).to_have_value("020 7946 0777")
        ctx.close()

    in_browser(check)
    assert len(server.leads("flood-shop")) == 1
