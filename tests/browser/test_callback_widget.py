"""The callback widget keeps its promise honestly, across reloads, pages and opening hours."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.pages import request_callback
from tests.browser.test_loader import serve_page, snippet
from tests.browser.test_popup import counts
from tests.integration.test_callback_routing import opening_soon
from tests.support import BeckonServer

SHOP = "http://shop.test"


def shop_site(server: BeckonServer, key: str, hours: dict | None = None, **settings: object) -> str:
    site = server.add_site(key, ["shop.test"], name=f"Shop {key}", settings={"phone_region": "GB", **settings})
    if hours is not None:

        async def set_hours(store):  # type: ignore[no-untyped-def]
            await store.update_site(site.id, working_hours=hours, timezone="Europe/London")

        server.with_store(set_hours)
    return key


def shop_pages(ctx: BrowserContext, server: BeckonServer, key: str) -> None:
    for path, title in (("/", "Home"), ("/other", "Other page")):
        serve_page(ctx, f"{SHOP}{path}", f"<!doctype html><title>{title}</title>{snippet(server, key)}<h1>{title}</h1>")


def open_shop(ctx: BrowserContext, server: BeckonServer, key: str) -> Page:
    shop_pages(ctx, server, key)
    page = ctx.new_page()
    page.goto(f"{SHOP}/")
    return page


def test_a_missed_promise_is_admitted_with_a_new_time(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = shop_site(beckon, "promise-shop", promise_seconds=2, busy_seconds=2, missed_grace_seconds=300)
    page = open_shop(new_context(), beckon, key)
    request_callback(page, "020 7946 0601", "Hopeful Hana")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Finding a manager…")
    expect(dialog).to_contain_text(
        re.compile(r"Sorry — we didn't manage to call you within 2 s\. A manager will call you by \d{1,2}:\d{2}")
    )


def test_the_status_survives_a_reload_and_another_page(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = shop_site(beckon, "status-shop", promise_seconds=600, busy_seconds=600)
    ctx = new_context()
    page = open_shop(ctx, beckon, key)
    request_callback(page, "020 7946 0602", "Steady Sam")
    expect(page.get_by_role("dialog")).to_contain_text("Finding a manager…")
    page.keyboard.press("Escape")
    chip = page.get_by_role("status").filter(has_text="Calling you")
    expect(chip).to_be_visible()
    page.reload()
    expect(page.get_by_role("status").filter(has_text="Calling you")).to_be_visible()
    page.goto(f"{SHOP}/other")
    expect(page.get_by_role("status").filter(has_text="Calling you")).to_be_visible()
    # Opening the widget shows the request in progress, not a new form.
    page.get_by_role("button", name="Request a callback").click()
    expect(page.get_by_role("dialog")).to_contain_text("Finding a manager…")
    expect(page.get_by_role("dialog").get_by_label("Phone")).to_be_hidden()
    assert [lead.name for lead in beckon.leads(key)] == ["Steady Sam"]
    # Each time the visitor opened the panel is an "open" of the analytics funnel.
    page.wait_for_function(f"!JSON.parse(localStorage.getItem('beckon:{key}:outbox') || '[]').length")
    assert counts(beckon, key) == {"callback_opened": 2}


def test_off_hours_the_visitor_books_a_slot_and_is_called_at_its_time(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    hours, _ = opening_soon(4)
    key = shop_site(beckon, "night-shop", hours=hours, promise_seconds=30)
    page = open_shop(new_context(), beckon, key)
    page.get_by_role("button", name="Request a callback").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("We're closed right now. We're back")
    expect(dialog).not_to_contain_text("within 30 s")
    dialog.get_by_label("Phone").fill("020 7946 0603")
    dialog.get_by_role("button", name="Book the call").click()
    expect(dialog).to_contain_text("Please choose a time for the call.")
    slot = dialog.get_by_label("When should we call?")
    slot.select_option(index=1)
    dialog.get_by_role("button", name="Book the call").click()
    expect(dialog).to_contain_text(re.compile(r"We'll call you (on|today)"))
    # At the booked time the team is alerted and the visitor sees the search begin.
    expect(dialog).to_contain_text("Finding a manager…", timeout=15_000)
    lead = beckon.leads(key)[0]
    assert lead.phone == "+442079460603"


def test_consent_is_required_when_the_site_asks_for_it(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = shop_site(beckon, "consent-shop", require_consent=True)
    page = open_shop(new_context(), beckon, key)
    request_callback(page, "020 7946 0604")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Please agree to be contacted")
    assert beckon.leads(key) == []
    dialog.get_by_label("I agree to be contacted about my request").check()
    dialog.get_by_role("button", name="Call me back").click()
    expect(dialog).to_contain_text("Finding a manager…")
    assert len(beckon.leads(key)) == 1


def test_a_flood_gets_a_friendly_visible_message(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_LEAD_LIMIT_PER_VISITOR="1")
    key = shop_site(server, "flood-shop")
    ctx = new_context()
    page = open_shop(ctx, server, key)
    request_callback(page, "020 7946 0605", "First")
    expect(page.get_by_role("dialog")).to_contain_text("Finding a manager…")
    page.keyboard.press("Escape")
    # The same visitor again, after the first request settles in another tab's view. (A reload
    # would not do: opening the panel connects, and the server tells the page the first is ringing.)
    serve_page(ctx, f"{SHOP}/blank", "<!doctype html><title>Blank</title>")
    other = ctx.new_page()
    other.goto(f"{SHOP}/blank")
    other.evaluate(f"localStorage.removeItem('beckon:{key}:callback')")
    expect(page.get_by_role("status").filter(has_text="Calling you")).to_be_hidden()
    request_callback(page, "020 7946 0606", "Second")
    expect(page.get_by_role("dialog").get_by_role("alert")).to_contain_text("too quickly")
    assert [lead.name for lead in server.leads(key)] == ["First"]


def test_a_russian_site_gets_the_callback_and_the_chat_in_russian(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = "russian-shop"
    site = beckon.add_site(
        key,
        ["shop.test"],
        widgets={"callback": {}, "chat": {}},
        settings={"phone_region": "GB", "require_consent": True},
    )

    async def russian(store):  # type: ignore[no-untyped-def]
        await store.update_site(site.id, locale="ru")

    beckon.with_store(russian)
    page = open_shop(new_context(), beckon, key)
    expect(page.get_by_role("button", name="Открыть чат")).to_be_visible()
    page.get_by_role("button", name="Заказать обратный звонок").click()
    dialog = page.get_by_role("dialog", name="Мы вам перезвоним")
    expect(dialog.get_by_label("Телефон")).to_be_focused()  # a text shared by the widgets
    expect(dialog.get_by_label("Имя (необязательно)")).to_be_visible()
    expect(dialog.get_by_label("Я согласен(на), чтобы со мной связались по моей заявке")).not_to_be_checked()
    dialog.get_by_role("button", name="Перезвоните мне").click()
    expect(dialog.get_by_text("Введите номер телефона — не меньше 6 цифр.")).to_be_visible()
    expect(dialog.get_by_label("Телефон")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_role("button", name="Закрыть").click()
    expect(dialog).to_be_hidden()
