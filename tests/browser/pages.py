"""The people in the browser tests: a visitor on a site and a manager in the dashboard."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, expect

from tests.support import BeckonServer

# Counts the dashboard's alert chimes without changing the dashboard.
CHIME_SPY = """
window.__chimes = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.__chimes += 1; return start.apply(this, args); };
"""


def signed_in_manager(ctx: BrowserContext, server: BeckonServer, email: str, password: str) -> Page:
    page = ctx.new_page()
    page.add_init_script(CHIME_SPY)
    page.goto(f"{server.base}/app/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Leads")).to_be_visible()
    expect(page.locator("#live-state")).to_have_text("Live")
    return page


def request_callback(page: Page, phone: str, name: str = "") -> None:
    """What a visitor does: press the call button, type the number, send."""
    page.get_by_role("button", name="Request a callback").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Phone").fill(phone)
    if name:
        dialog.get_by_label("Name (optional)").fill(name)
    dialog.get_by_role("button", name="Call me back").click()
