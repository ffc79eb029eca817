"""The foundation's promise, end to end: a visitor leaves a number, a manager sees it live."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.pages import request_callback, signed_in_manager
from tests.conftest import MANAGER, OUTSIDER, SITE
from tests.support import BeckonServer

FINDING = "Finding a manager…"


def test_visitor_callback_appears_live_on_the_managers_dashboard(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    manager = signed_in_manager(new_context(), beckon, *MANAGER)
    outsider = signed_in_manager(new_context(), beckon, *OUTSIDER)
    visitor = new_context().new_page()
    visitor.goto(f"{beckon.base}/demo/?utm_source=newsletter&utm_campaign=autumn")

    request_callback(visitor, "020 7946 0958", "Margaret Live")

    expect(visitor.get_by_text(FINDING)).to_be_visible()
    # A manager is on shift, so the promise is in seconds (the site's 30).
    expect(visitor.get_by_role("dialog")).to_contain_text(re.compile(r"We'll call you within (30|29|28) s"))
    row = manager.get_by_role("row").filter(has_text="Margaret Live")
    expect(row).to_be_visible()
    expect(row).to_contain_text("+44 20 7946 0958")
    expect(row).to_contain_text("newsletter")
    expect(manager).to_have_title(re.compile(r"^\(1\) New lead"))
    manager.wait_for_function("() => window.__chimes > 0")
    # Olga manages another site: she hears nothing of it.
    expect(outsider.get_by_role("row").filter(has_text="Margaret Live")).to_have_count(0)
    assert outsider.evaluate("window.__chimes") == 0

    row.get_by_role("link", name="Margaret Live").click()
    expect(manager.get_by_role("link", name="+44 20 7946 0958")).to_have_attribute("href", "tel:+442079460958")
    expect(manager.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(manager.locator(".timeline")).to_contain_text("Request left by the visitor")
    expect(manager.locator(".timeline")).to_contain_text("Routed to")
    expect(manager.get_by_role("main")).to_contain_text("utm_campaign")
    expect(manager.get_by_role("main")).to_contain_text("autumn")
    assert [lead.name for lead in beckon.leads(SITE)].count("Margaret Live") == 1


def test_markup_typed_by_a_visitor_stays_text_everywhere(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>Eve'
    manager = signed_in_manager(new_context(), beckon, *MANAGER)
    visitor = new_context().new_page()
    dialogs: list[str] = []
    for page in (manager, visitor):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    visitor.goto(f"{beckon.base}/demo/")
    request_callback(visitor, "020 7946 0111", payload)
    expect(visitor.get_by_text(FINDING)).to_be_visible()

    row = manager.get_by_role("row").filter(has_text="Eve")
    expect(row).to_contain_text(payload)
    expect(row.locator("img")).to_have_count(0)
    row.get_by_role("link").first.click()
    expect(manager.get_by_role("heading", level=1)).to_have_text(payload)
    assert manager.locator("main img").count() == 0
    assert manager.evaluate("window.__xss") is None and visitor.evaluate("window.__xss") is None
    assert dialogs == []


def test_an_invalid_number_is_explained_beside_the_field(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    visitor = new_context().new_page()
    visitor.goto(f"{beckon.base}/demo/")
    before = len(beckon.leads(SITE))
    request_callback(visitor, "0000 000000", "Wrong Number")
    phone = visitor.get_by_role("dialog").get_by_label("Phone")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(visitor.get_by_role("dialog")).to_contain_text("valid phone number")
    assert len(beckon.leads(SITE)) == before


def test_the_call_button_is_a_keyboard_friendly_dialog(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    visitor = new_context().new_page()
    visitor.goto(f"{beckon.base}/demo/")
    opener = visitor.get_by_role("button", name="Request a callback")
    opener.focus()
    visitor.keyboard.press("Enter")
    dialog = visitor.get_by_role("dialog", name="We'll call you back")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Phone")).to_be_focused()
    # Focus stays inside while tabbing around.
    for _ in range(8):
        visitor.keyboard.press("Tab")
        assert visitor.evaluate("document.activeElement.closest('[data-beckon-widget]') !== null")
    visitor.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()


def test_page_buttons_marked_for_beckon_open_the_widget(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    visitor = new_context().new_page()
    visitor.goto(f"{beckon.base}/demo/")
    visitor.locator('[data-beckon-open="callback"]').first.click()
    expect(visitor.get_by_role("dialog", name="We'll call you back")).to_be_visible()
    visitor.get_by_role("dialog").get_by_role("button", name="Close").click()
    expect(visitor.get_by_role("dialog")).to_be_hidden()
