"""The countdown widget as visitors see it: the server's deadline, counted by the server's clock, in a
bar that covers nothing or inline; daily rollover; each expiry action; evergreen deadlines per person;
the offer carried to the lead its call-to-action brings in."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, expect

from server.countdown import daily_deadlines, fixed_deadline
from tests.browser.test_loader import collect_errors, serve_page, snippet
from tests.browser.test_popup import counts
from tests.support import BeckonServer

SHOP = "http://shop.test"
MINUTE, HOUR = 60, 3600
BAR = "body > [data-beckon-widget='countdown']"


def local(at: float) -> str:
    """A deadline as the owner types it (the test sites run on UTC), to the minute."""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M")


def iso(seconds: float) -> str:
    """What the page's Date#toISOString says for a deadline the server worked out."""
    ms = int(seconds * 1000)
    return dt.datetime.fromtimestamp(ms // 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def sale(ends: float, **over: Any) -> dict[str, Any]:
    return {
        "mode": "fixed",
        "deadline": local(ends),
        "display": "bar-top",
        "title": "Oak kitchens 15% off",
        "text": "Ends in",
        "cta": {"label": "Call me about the offer", "open": "callback"},
        "expiry": {"action": "hide"},
    } | over


def countdown_site(server: BeckonServer, key: str, countdowns: dict[str, dict[str, Any]]) -> str:
    widgets = {f"countdown:{slug}": config for slug, config in countdowns.items()} | {"callback": {}}
    site = server.add_site(key, ["shop.test"], name=f"Shop {key}", widgets=widgets)

    async def utc(store):  # type: ignore[no-untyped-def]
        await store.update_site(site.id, timezone="UTC")

    server.with_store(utc)
    return key


def page_html(server: BeckonServer, key: str, title: str, inline: tuple[str, ...]) -> str:
    spots = "".join(f'<section data-beckon-countdown="{slug}"></section>' for slug in inline)
    return (
        '<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>{snippet(server, key)}<h1>{title}</h1>{spots}"
        '<p>Solid oak, made in our own workshop. <a href="#prices">Prices</a></p><div style="height:1500px"></div>'
        '<h2 id="prices">Prices</h2><div style="height:1500px"></div>'
        '<footer><a href="/other">Last link on the page</a></footer>'
    )


def visit(
    ctx: BrowserContext, server: BeckonServer, key: str, *, inline: tuple[str, ...] = (), at: float | None = None
) -> Page:
    """A visitor opens the shop, with the page's clock under the test's control (``at``: its time)."""
    for path, title in (("/", "Home"), ("/other", "Other page"), ("/ended", "The sale has ended")):
        serve_page(ctx, f"{SHOP}{path}", page_html(server, key, title, inline))
    page = ctx.new_page()
    page.clock.install(time=time.time() if at is None else at)
    page.goto(f"{SHOP}/")
    return page


def bar(page: Page) -> Locator:
    return page.locator(BAR)


def inline(page: Page, slug: str) -> Locator:
    return page.locator(f"[data-beckon-countdown='{slug}'] [data-beckon-widget='countdown']")


def shown(scope: Locator) -> int:
    """The seconds left, as the digits show them."""
    d, h, m, s = (int(x) for x in scope.get_by_role("timer").locator("b").all_text_contents())
    return ((d * 24 + h) * 60 + m) * 60 + s


def page_now(page: Page) -> float:
    return page.evaluate("Date.now()") / 1000


def sent(page: Page, key: str) -> None:
    """Everything the page queued has been answered by the server."""
    page.wait_for_function(f"!JSON.parse(localStorage.getItem('beckon:{key}:outbox') || '[]').length")


# Counts the server's countdown answers as they reach the page, before the widget takes each in.
ANSWER_SPY = """
window.__answers = 0;
window.WebSocket = class extends WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', e => { if (String(e.data).includes('"countdown"')) window.__answers += 1; });
  }
};
"""


def answered(page: Page, go: Callable[[], object]) -> None:
    """Does ``go`` (a navigation) and waits until the page has taken in the server's answer to its countdown."""
    page.add_init_script(ANSWER_SPY)
    go()
    page.wait_for_function("window.__answers > 0")


def test_the_bar_counts_down_to_the_servers_deadline_and_covers_nothing(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 2 * HOUR), "UTC")
    key = countdown_site(beckon, "cd-bar", {"sale": sale(ends)})
    page = visit(new_context(), beckon, key)
    errors = collect_errors(page)
    timer = bar(page).get_by_role("timer")
    expect(timer).to_have_attribute("datetime", iso(ends))
    expect(bar(page).get_by_role("region", name="Oak kitchens 15% off")).to_contain_text("Ends in")
    assert abs(shown(bar(page)) - (ends - time.time())) <= 3
    # Screen readers get the time to the minute, not a new announcement every second.
    expect(timer).to_have_attribute("aria-label", re.compile(r"^1 hour( \d{1,2} minutes?)? left$"))
    before = shown(bar(page))
    page.clock.fast_forward("10:00")
    assert 598 <= before - shown(bar(page)) <= 603
    # The bar sits above the page's content, not on it.
    region = bar(page).get_by_role("region").bounding_box()
    heading = page.get_by_role("heading", name="Home").bounding_box()
    assert region and heading and region["y"] == 0 and heading["y"] >= region["y"] + region["height"]
    expect(bar(page).get_by_role("button", name="Call me about the offer")).to_be_visible()
    # A link to a part of the page lands it below the bar.
    page.get_by_role("link", name="Prices").click()
    expect(page).to_have_url(f"{SHOP}/#prices")
    prices = page.get_by_role("heading", name="Prices").bounding_box()
    assert prices and region["height"] - 1 <= prices["y"] < region["height"] + 20
    assert errors == []


def test_bars_on_a_phone_are_full_width_and_leave_every_link_reachable(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = time.time() + 3 * HOUR
    key = countdown_site(
        beckon,
        "cd-phone",
        {"sale": sale(ends), "dispatch": sale(ends, display="bar-bottom", title="Free delivery this week")},
    )
    page = visit(new_context(viewport={"width": 390, "height": 700}, is_mobile=True, has_touch=True), beckon, key)
    top = bar(page).get_by_role("region", name="Oak kitchens 15% off")
    bottom = bar(page).get_by_role("region", name="Free delivery this week")
    expect(top.get_by_role("timer")).to_be_visible()
    expect(bottom.get_by_role("timer")).to_be_visible()
    for region in (top, bottom):
        box = region.bounding_box()
        assert box and box["x"] == 0 and box["width"] == 390
    heading = page.get_by_role("heading", name="Home").bounding_box()
    top_box = top.bounding_box()
    assert heading and top_box and heading["y"] >= top_box["height"]
    # The page's last link scrolls clear of the bottom bar: a tap reaches it.
    page.get_by_role("link", name="Last link on the page").tap()
    expect(page).to_have_url(f"{SHOP}/other")
    expect(bar(page).get_by_role("region", name="Free delivery this week").get_by_role("timer")).to_be_visible()


def test_a_visitors_clock_an_hour_fast_still_shows_the_real_time_left(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 2 * HOUR), "UTC")
    key = countdown_site(beckon, "cd-skew", {"sale": sale(ends)})
    page = visit(new_context(), beckon, key, at=time.time() + HOUR)
    expect(bar(page).get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    assert page_now(page) - time.time() > HOUR - 60  # the page really believes it is an hour later
    # Counted by the server's clock: about two hours, not the one the visitor's clock suggests.
    assert abs(shown(bar(page)) - (ends - time.time())) <= 3
    expect(bar(page).get_by_role("timer")).to_have_attribute(
        "aria-label", re.compile(r"^1 hour \d{1,2} minutes? left$")
    )


def test_russian_labels_and_the_owners_colour(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 2 * 24 * HOUR + 5 * HOUR), "UTC")
    key = countdown_site(beckon, "cd-ru", {"sale": sale(ends, display="inline", color="#fde047", title="Скидка")})
    page = visit(new_context(locale="ru-RU"), beckon, key, inline=("sale",))
    timer = inline(page, "sale").get_by_role("timer")
    expect(timer).to_have_attribute("aria-label", re.compile(r"^Осталось: 2 дня (4|5) час(а|ов)( \d{1,2} минут\w?)?$"))
    expect(timer.locator("i").first).to_have_text("дня")
    # A light colour gets dark digits: still readable.
    box = inline(page, "sale").locator(".g").first
    expect(box).to_have_css("background-color", "rgb(253, 224, 71)")
    expect(box).to_have_css("color", "rgb(17, 24, 39)")


def test_at_the_deadline_a_hidden_offer_goes_and_gives_its_room_back(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 5 * MINUTE), "UTC")
    key = countdown_site(beckon, "cd-hide", {"sale": sale(ends)})
    page = visit(new_context(), beckon, key, inline=("sale",))
    errors = collect_errors(page)
    expect(bar(page).get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    expect(inline(page, "sale").get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    page.clock.fast_forward(int((ends - page_now(page)) * 1000) + 1500)
    expect(bar(page)).to_have_count(0)
    expect(inline(page, "sale")).to_have_count(0)
    heading = page.get_by_role("heading", name="Home").bounding_box()
    assert heading and heading["y"] < 40  # no empty placeholder left behind
    assert errors == []


def test_at_the_deadline_the_owners_message_replaces_the_timer(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 5 * MINUTE), "UTC")
    expiry = {"action": "message", "message": "The autumn sale has ended. Ask us about the next one."}
    key = countdown_site(beckon, "cd-message", {"sale": sale(ends, display="inline", expiry=expiry)})
    page = visit(new_context(), beckon, key, inline=("sale",))
    spot = inline(page, "sale")
    expect(spot.get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    expect(bar(page)).to_have_count(0)  # an inline countdown brings no bar
    page.clock.fast_forward(int((ends - page_now(page)) * 1000) + 1500)
    expect(spot.get_by_role("status")).to_have_text("The autumn sale has ended. Ask us about the next one.")
    expect(spot.get_by_role("timer")).to_have_count(0)
    expect(spot.get_by_role("button", name="Call me about the offer")).to_have_count(0)
    expect(spot).to_contain_text("Oak kitchens 15% off")


def test_at_the_deadline_the_follow_up_countdown_takes_its_place(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 5 * MINUTE), "UTC")
    later = fixed_deadline(local(time.time() + 3 * HOUR), "UTC")
    key = countdown_site(
        beckon,
        "cd-switch",
        {
            "sale": sale(ends, expiry={"action": "switch", "next": "last-chance"}),
            # Shown only where its own spot is, or in place of the sale.
            "last-chance": sale(later, display="inline", title="Last chance: 10% off until tonight"),
        },
    )
    page = visit(new_context(), beckon, key)
    expect(bar(page).get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    expect(bar(page)).to_have_count(1)
    page.clock.fast_forward(int((ends - page_now(page)) * 1000) + 1500)
    follow_up = bar(page).get_by_role("region", name="Last chance: 10% off until tonight")
    expect(follow_up.get_by_role("timer")).to_have_attribute("datetime", iso(later))
    expect(bar(page)).to_have_count(1)
    assert abs(shown(bar(page)) - (later - time.time())) <= 3


def test_at_the_deadline_the_visitor_is_sent_on_once_and_never_in_a_loop(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    # Twelve seconds from the visitor's first view: short enough that it really ends, for the server too.
    flash = {"mode": "evergreen", "minutes": 0.2, "expiry": {"action": "redirect", "url": "/ended"}}
    key = countdown_site(beckon, "cd-redirect", {"flash": sale(0, **flash)})
    ctx = new_context()
    page = visit(ctx, beckon, key)
    expect(bar(page).get_by_role("timer")).to_have_attribute("datetime", re.compile("Z$"))
    page.clock.fast_forward(15_000)
    expect(page).to_have_url(f"{SHOP}/ended")
    expect(page.get_by_role("heading", name="The sale has ended")).to_be_visible()
    # Back on the sale's page the offer is over, and nobody is sent anywhere again.
    answered(page, lambda: page.goto(f"{SHOP}/"))
    page.clock.run_for(15_000)  # whatever is left of it by the server's clock
    expect(bar(page)).to_have_count(0)
    expect(page).to_have_url(f"{SHOP}/")


def test_an_evergreen_deadline_is_the_visitors_own_across_reloads_and_tabs(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    welcome = {"mode": "evergreen", "minutes": 30, "title": "Welcome offer: free design visit"}
    key = countdown_site(beckon, "cd-evergreen", {"welcome": sale(0, **welcome)})
    ctx = new_context()
    page = visit(ctx, beckon, key)
    timer = bar(page).get_by_role("timer")
    expect(timer).to_have_attribute("datetime", re.compile("Z$"))
    mine = timer.get_attribute("datetime")
    assert mine is not None
    assert abs(shown(bar(page)) - 30 * MINUTE) <= 3
    page.clock.fast_forward("05:00")
    page.reload()
    expect(bar(page).get_by_role("timer")).to_have_attribute("datetime", mine)
    second_tab = ctx.new_page()
    second_tab.goto(f"{SHOP}/other")
    expect(bar(second_tab).get_by_role("timer")).to_have_attribute("datetime", mine)
    # Someone else, arriving later, gets their own thirty minutes.
    other = visit(new_context(), beckon, key)
    expect(bar(other).get_by_role("timer")).to_have_attribute("datetime", re.compile("Z$"))
    theirs = bar(other).get_by_role("timer").get_attribute("datetime")
    assert theirs is not None and theirs > mine


def test_a_daily_countdown_rolls_over_to_the_next_day_at_its_deadline(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    at = dt.datetime.fromtimestamp(time.time() + 4 * MINUTE, dt.UTC).strftime("%H:%M")
    key = countdown_site(
        beckon,
        "cd-daily",
        {
            "dispatch": sale(
                0, mode="daily", time=at, display="inline", title="Order by " + at + " for same-day dispatch"
            )
        },
    )
    due = daily_deadlines(at, None, "UTC", time.time())
    assert due.following is not None
    page = visit(new_context(), beckon, key, inline=("dispatch",))
    spot = inline(page, "dispatch")
    expect(spot.get_by_role("timer")).to_have_attribute("datetime", iso(due.at))
    page.clock.fast_forward(int((due.at - page_now(page)) * 1000) + 1500)
    expect(spot.get_by_role("timer")).to_have_attribute("datetime", iso(due.following))
    expect(spot.get_by_role("timer")).to_have_attribute(
        "aria-label", re.compile(r"^(23 hours( \d{1,2} minutes?)?|1 day( \d{1,2} minutes?)?) left$")
    )
    expect(spot.get_by_role("button", name="Call me about the offer")).to_be_visible()


def test_closing_the_bar_hides_it_for_the_session_but_never_ends_the_offer(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 2 * HOUR), "UTC")
    key = countdown_site(beckon, "cd-close", {"sale": sale(ends)})
    ctx = new_context()
    page = visit(ctx, beckon, key, inline=("sale",))
    expect(bar(page).get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    bar(page).get_by_role("button", name="Close").click()
    expect(bar(page)).to_have_count(0)
    heading = page.get_by_role("heading", name="Home").bounding_box()
    assert heading and heading["y"] < 40
    page.reload()
    expect(inline(page, "sale").get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    expect(bar(page)).to_have_count(0)
    # The page can bring it back, with the same deadline.
    page.evaluate("Beckon('open', 'countdown', {id: 'sale'})")
    expect(bar(page).get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    # A new session shows the offer again: closing was not "the offer is gone".
    page.evaluate("sessionStorage.clear()")
    fresh = ctx.new_page()
    fresh.goto(f"{SHOP}/other")
    expect(bar(fresh).get_by_role("timer")).to_have_attribute("datetime", iso(ends))


def test_offline_nothing_is_made_up_and_the_deadline_shows_once_back(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 2 * HOUR), "UTC")
    key = countdown_site(beckon, "cd-offline", {"sale": sale(ends)})
    ctx = new_context()
    # Beckon's config and scripts arrive, but no frame gets through.
    ctx.route_web_socket(re.compile(r"/ws/visitor"), lambda ws: ws.close())
    ctx.route(f"{beckon.base}/api/v1/collect*", lambda route: route.abort())
    page = visit(ctx, beckon, key, inline=("sale",))
    expect(page.get_by_role("button", name="Request a callback")).to_be_visible()
    page.clock.run_for(10_000)
    page.wait_for_function(f"(localStorage.getItem('beckon:{key}:outbox') || '').includes('countdown')")
    expect(page.get_by_role("timer")).to_have_count(0)
    expect(page.get_by_text("Oak kitchens 15% off")).to_have_count(0)
    heading = page.get_by_role("heading", name="Home").bounding_box()
    assert heading and heading["y"] < 40
    ctx.unroute_all()
    ctx.route_web_socket(re.compile(r"/ws/visitor"), lambda ws: ws.connect_to_server())
    for path, title in (("/", "Home"), ("/other", "Other page")):
        serve_page(ctx, f"{SHOP}{path}", page_html(beckon, key, title, ("sale",)))
    page.goto(f"{SHOP}/other")
    expect(bar(page).get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    expect(inline(page, "sale").get_by_role("timer")).to_have_attribute("datetime", iso(ends))
    sent(page, key)


def test_the_call_to_action_brings_a_lead_that_carries_the_offer(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 2 * HOUR), "UTC")
    key = countdown_site(beckon, "cd-offer", {"autumn-sale": sale(ends)})
    page = visit(new_context(), beckon, key)
    bar(page).get_by_role("button", name="Call me about the offer").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Phone").fill("020 7946 0777")
    dialog.get_by_role("button", name="Call me back").click()
    expect(dialog).to_contain_text("Finding a manager…")
    leads = beckon.leads(key)
    assert [lead.phone for lead in leads] == ["+442079460777"]
    assert leads[0].context.get("offer") == "autumn-sale"
    # The click on the offer's button and the panel it opened are both counted.
    sent(page, key)
    assert counts(beckon, key) == {"countdown_cta_clicked": 1, "callback_opened": 1}


def test_a_popup_shows_its_offers_deadline_inside(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ends = fixed_deadline(local(time.time() + 3 * HOUR), "UTC")
    key = countdown_site(beckon, "cd-popup", {"sale": sale(ends, display="inline")})
    popup = {
        "title": "Before you go: 15% off",
        "fields": ["phone"],
        "countdown": "sale",
        "triggers": {"any": [{"type": "delay", "seconds": 600}]},
    }
    beckon.with_store(lambda store: _put_popup(store, key, popup))
    page = visit(new_context(), beckon, key)
    page.evaluate("Beckon('open', 'popup', {id: 'offer'})")
    dialog = page.get_by_role("dialog", name="Before you go: 15% off")
    timer = dialog.get_by_role("timer")
    expect(timer).to_have_attribute("datetime", iso(ends))
    assert abs(shown(dialog) - (ends - time.time())) <= 3
    before = shown(dialog)
    page.clock.fast_forward("01:00")
    assert 59 <= before - shown(dialog) <= 62


async def _put_popup(store, key: str, popup: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    site = await store.get_site_by_key(key)
    await store.put_widget(site.id, "popup", popup, slug="offer")
