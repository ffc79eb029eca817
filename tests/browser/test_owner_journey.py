"""Issue #8's "done when", in one sitting and without the CLI: from an empty database an owner sets
Beckon up, adds a site, configures its callback widget in the editor, pastes the snippet the dashboard
gave into a page, and reads the visitor's request on the dashboard, on the site's install check and in
analytics."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.pages import CHIME_SPY
from tests.browser.test_loader import serve_page
from tests.support import BeckonServer

SHOP = "http://kitchens.test"


def test_an_owner_goes_from_an_empty_database_to_a_lead_read_in_the_dashboard(tmp_path: Path, new_context) -> None:  # type: ignore[no-untyped-def]
    server = BeckonServer(tmp_path).start()
    try:
        owner = new_context().new_page()
        owner.add_init_script(CHIME_SPY)
        owner.goto(f"{server.base}/app/")
        owner.get_by_label("Your name").fill("Olivia Owner")
        owner.get_by_label("Email").fill("olivia@kitchens.test")
        owner.get_by_label("Password (at least 10 characters)").fill("olivia-password-1")
        owner.get_by_role("button", name="Create the owner account").click()

        owner.get_by_label("Name", exact=True).fill("Olivia's Kitchens")
        owner.get_by_label("Allowed domains").fill("kitchens.test")
        owner.get_by_role("button", name="Add the site").click()
        pasted = owner.get_by_role("textbox", name="Install").input_value()

        # A new site comes with the callback and chat on; the owner words the callback in the editor.
        owner.goto(f"{server.base}/app/widgets")
        owner.get_by_role("link", name="Callback on Olivia's Kitchens").click()
        owner.get_by_label("Title", exact=True).fill("Olivia calls you back")
        owner.get_by_role("button", name="Publish").click()
        expect(owner.get_by_role("status").filter(has_text="Published")).to_be_visible()

        # The snippet exactly as the dashboard showed it, pasted into the owner's own page.
        visitor_ctx = new_context()
        serve_page(visitor_ctx, f"{SHOP}/", f"<!doctype html><title>Kitchens</title>{pasted}<h1>Kitchens</h1>")
        visitor = visitor_ctx.new_page()
        visitor.goto(f"{SHOP}/")

        owner.goto(f"{server.base}/app/leads")
        expect(owner.locator("#live-state")).to_have_text("Live")

        visitor.get_by_role("button", name="Request a callback").click()
        dialog = visitor.get_by_role("dialog")
        expect(dialog.get_by_role("heading", name="Olivia calls you back")).to_be_visible()
        dialog.get_by_label("Phone").fill("+44 20 7946 0958")
        dialog.get_by_label("Name (optional)").fill("Vera Visitor")
        dialog.get_by_role("button", name="Call me back").click()

        # The request reaches the owner's open dashboard live, and opens to its lead card.
        expect(owner.get_by_text("Vera Visitor").first).to_be_visible()
        owner.goto(f"{server.base}/app/leads")
        owner.get_by_role("link", name="Vera Visitor").first.click()
        expect(owner.get_by_text("+44 20 7946 0958").first).to_be_visible()

        # The install check saw the snippet on the site's domain.
        owner.goto(f"{server.base}/app/sites")
        owner.get_by_role("link", name="Olivia's Kitchens").first.click()
        install = owner.get_by_role("table", name="Install check").get_by_role("row").filter(has_text="kitchens.test")
        expect(install).to_contain_text("Working")

        # Analytics: one page view showed the button, the visitor opened it once and asked once.
        owner.goto(f"{server.base}/app/analytics")
        callback = owner.get_by_role("table", name="Callback")
        for step, n in (("Impressions", "1"), ("Opened", "1"), ("Requests", "1")):
            expect(callback.get_by_role("row", name=step).get_by_role("cell")).to_have_text(n)
    finally:
        server.stop()
