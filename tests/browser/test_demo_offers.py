"""The demo's offers as a person finds them: the month's sale bar whose button brings a callback
tagged with the offer, and the exit offer whose promo code comes with a lead in the dashboard."""

from __future__ import annotations

from playwright.sync_api import expect

from server.demo import seed_demo
from server.settings import Settings
from tests.browser.pages import signed_in_manager
from tests.browser.test_popup import leave_through_the_top, pause


def test_the_demo_sale_and_exit_offer_bring_tagged_leads_to_the_manager(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_DEMO_SITE_KEY="demo")
    _, logins = server.with_store(lambda store: seed_demo(store, Settings.from_env(demo_site_key="demo")))
    anna = next(x for x in logins if x.email.startswith("anna"))
    manager = signed_in_manager(new_context(), server, anna.email, anna.password)

    # The sale bar's button opens the callback; the manager's card names the offer.
    visitor = new_context().new_page()
    visitor.goto(f"{server.base}/demo/")
    sale = visitor.get_by_role("region", name="This month: 10% off every oak kitchen")
    expect(sale.get_by_role("timer")).to_be_visible()
    sale.get_by_role("button", name="Call me about the offer").click()
    dialog = visitor.get_by_role("dialog")
    dialog.get_by_label("Phone").fill("(503) 555-0101")
    dialog.get_by_role("button", name="Call me back").click()
    card = manager.get_by_role("article", name="Callback from +1 503-555-0101")
    expect(card).to_contain_text("Offer")
    expect(card).to_contain_text("autumn-sale")

    # Leaving the home page through the top shows the exit offer with the sale's deadline in it.
    leaver = new_context().new_page()
    leaver.clock.install()
    leaver.goto(f"{server.base}/demo/")
    expect(leaver.get_by_role("button", name="Request a callback")).to_be_visible()
    pause(leaver, 5_000)
    leave_through_the_top(leaver)
    offer = leaver.get_by_role("dialog", name="Before you go: 10% off your kitchen")
    expect(offer.get_by_role("timer")).to_be_visible()
    offer.get_by_label("Phone").fill("(503) 555-0102")
    offer.get_by_label("Name").fill("Elsa Exit")
    offer.get_by_role("button", name="Get my code").click()
    expect(offer).to_contain_text("OAK10")
    row = manager.get_by_role("row").filter(has_text="Elsa Exit")
    expect(row).to_contain_text("popup")
    row.get_by_role("link", name="Elsa Exit").click()
    expect(manager.get_by_text("Before you go: 10% off your kitchen · code shown: OAK10")).to_be_visible()
