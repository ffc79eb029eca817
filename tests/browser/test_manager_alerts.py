"""Managers in the dashboard: the alert that can't be missed, one winner, escalation, outcomes."""

from __future__ import annotations

import datetime as dt
import json
import re

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.browser.pages import request_callback, signed_in_manager
from tests.browser.test_callback_widget import open_shop, shop_site
from tests.conftest import MANAGER, SITE
from tests.support import BeckonServer

BEN = ("ben@example.test", "ben-password-1")


def join(server: BeckonServer, key: str, email: str) -> None:
    async def action(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(key)
        user = await store.get_user_by_email(email)
        await store.add_member(site.id, user.id)

    server.with_store(action)


def ensure_ben(server: BeckonServer) -> None:
    async def exists(store):  # type: ignore[no-untyped-def]
        return await store.get_user_by_email(BEN[0])

    if server.with_store(exists) is None:
        server.add_user(BEN[0], BEN[1], sites=[SITE], name="Ben")


def card(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("article", name=f"Callback from {name}")


def test_both_managers_are_alerted_one_claims_and_the_visitor_hears_who_calls(
    beckon: BeckonServer, new_context
) -> None:  # type: ignore[no-untyped-def]
    ensure_ben(beckon)
    anna = signed_in_manager(new_context(), beckon, *MANAGER)
    ben = signed_in_manager(new_context(), beckon, *BEN)
    visitor = new_context().new_page()
    visitor.goto(f"{beckon.base}/demo/")
    request_callback(visitor, "020 7946 0701", "Claire Race")

    for page in (anna, ben):
        alert = card(page, "Claire Race")
        expect(alert).to_contain_text("Ringing for you")
        expect(alert.get_by_role("link", name="+44 20 7946 0701")).to_have_attribute("href", "tel:+442079460701")
        expect(alert.get_by_role("timer")).to_contain_text(re.compile(r"Promise: \d+ s left"))
        expect(page).to_have_title(re.compile(r"Call back!|New lead"))
    # The chime repeats while the call waits, in every manager's tab.
    anna.wait_for_function("() => window.__chimes >= 4")
    ben.wait_for_function("() => window.__chimes >= 4")

    card(anna, "Claire Race").get_by_role("button", name="Claim").click()
    expect(card(anna, "Claire Race")).to_contain_text("Claimed by you")
    expect(card(ben, "Claire Race")).to_contain_text("Taken by Anna")
    expect(card(ben, "Claire Race").get_by_role("button", name="Claim")).to_have_count(0)
    expect(visitor.get_by_role("dialog")).to_contain_text("Anna is calling you now")

    card(anna, "Claire Race").get_by_role("button", name="Connected").click()
    expect(card(anna, "Claire Race")).to_have_count(0)
    expect(visitor.get_by_role("dialog")).to_contain_text("Thanks for talking to us!")
    anna.get_by_role("row").filter(has_text="Claire Race").get_by_role("link", name="Claire Race").click()
    timeline = anna.locator(".timeline")
    expect(timeline).to_contain_text("Claimed by Anna after")
    expect(timeline).to_contain_text("Outcome: connected (by Anna)")
    expect(anna.get_by_role("main")).to_contain_text("Promise kept")


def test_round_robin_rings_one_manager_then_the_next(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    ensure_ben(beckon)
    key = shop_site(beckon, "rr-shop", routing="round_robin", ring_seconds=2, promise_seconds=60)
    join(beckon, key, MANAGER[0])
    join(beckon, key, BEN[0])
    anna = signed_in_manager(new_context(), beckon, *MANAGER)
    ben = signed_in_manager(new_context(), beckon, *BEN)
    visitor = open_shop(new_context(), beckon, key)
    request_callback(visitor, "020 7946 0702", "Rolling Rob")
    first, second = (anna, ben), (ben, anna)
    expect(card(anna, "Rolling Rob")).to_be_visible()
    expect(card(ben, "Rolling Rob")).to_be_visible()
    ringing_first = first if "Ringing for you" in card(anna, "Rolling Rob").inner_text() else second
    expect(card(ringing_first[1], "Rolling Rob")).not_to_contain_text("Ringing for you")
    # After the ring time, the other manager is rung.
    expect(card(ringing_first[1], "Rolling Rob")).to_contain_text("Ringing for you", timeout=8_000)


def test_a_manager_can_reschedule_and_go_away(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = shop_site(beckon, "later-shop", promise_seconds=60)
    join(beckon, key, MANAGER[0])
    anna = signed_in_manager(new_context(), beckon, *MANAGER)
    visitor = open_shop(new_context(), beckon, key)
    request_callback(visitor, "020 7946 0703", "Busy Bea")
    alert = card(anna, "Busy Bea")
    alert.get_by_role("button", name="Claim").click()
    alert.get_by_role("button", name="Reschedule").click()
    later = (dt.datetime.now() + dt.timedelta(days=1)).replace(hour=10, minute=30, second=0, microsecond=0)
    alert.get_by_label("Call back at").fill(later.strftime("%Y-%m-%dT%H:%M"))
    alert.get_by_role("button", name="Save").click()
    expect(alert).to_contain_text("Scheduled for")
    expect(visitor.get_by_role("dialog")).to_contain_text("We'll call you on")

    toggle = anna.get_by_role("button", name="Available")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(anna.get_by_role("button", name="Away")).to_have_attribute("aria-pressed", "false")
    second = open_shop(new_context(), beckon, key)
    request_callback(second, "020 7946 0704", "Nobody Home")
    expect(card(anna, "Nobody Home")).to_contain_text("No manager is being alerted")
    anna.get_by_role("button", name="Away").click()
    expect(card(anna, "Nobody Home")).to_contain_text("Ringing for you")


# -- reliability (session 4): claims through a server restart ------------------------------------


def steps_of(server: BeckonServer, name: str) -> list[tuple[str, str]]:
    """The claims and outcomes on the timeline of this visitor's callback: (event, who)."""

    async def action(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(SITE)
        lead = next(x for x in await store.list_leads([site.id], limit=100) if x.name == name)
        events = await store.lead_events(lead.id)
        return [(e.type, e.actor_name) for e in events if e.type in ("claimed", "outcome")]

    return server.with_store(action)


def test_clicks_around_a_server_restart_end_claimed_once(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    ctx = new_context()
    sockets: list[WebSocketRoute] = []

    # Between the dashboard and the server: on the first socket, answers to claims never reach the
    # page, as when the server dies after storing a claim and before its ack is out.
    def relay(route: WebSocketRoute) -> None:
        sockets.append(route)
        first = len(sockets) == 1
        upstream = route.connect_to_server()
        claims: set[str] = set()

        def to_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "claim":
                claims.add(frame["id"])
            upstream.send(message)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if first and frame.get("type") == "ack" and frame.get("id") in claims:
                return
            route.send(message)

        route.on_message(to_server)
        upstream.on_message(to_page)

    ctx.route_web_socket(re.compile(r"/ws/manager$"), relay)
    anna = signed_in_manager(ctx, server, *MANAGER)
    for phone, name in (("020 7946 0705", "Stored Stan"), ("020 7946 0706", "Offline Olive")):
        visitor = new_context().new_page()
        visitor.goto(f"{server.base}/demo/")
        request_callback(visitor, phone, name)
        expect(card(anna, name)).to_contain_text("Ringing for you")

    stan = card(anna, "Stored Stan")
    stan.get_by_role("button", name="Claim").click()
    expect(stan).to_contain_text("Claimed by you")  # stored: the server's broadcast says so
    expect(stan.get_by_role("button", name="Connected")).to_be_disabled()  # no answer yet
    server.kill()
    expect(anna.locator("#live-state")).to_have_text("Reconnecting…")
    expect(stan).to_contain_text("Not connected: your click is sent when the dashboard is live again")
    olive = card(anna, "Offline Olive")
    olive.get_by_role("button", name="Claim").click()
    expect(olive).to_contain_text("Not connected: your click is sent when the dashboard is live again")
    expect(olive.get_by_role("button", name="Claim")).to_be_disabled()

    server.start()
    expect(anna.locator("#live-state")).to_have_text("Live", timeout=20_000)
    for alert in (stan, olive):
        expect(alert).to_contain_text("Claimed by you")
        expect(alert.get_by_role("button", name="Connected")).to_be_enabled()
        expect(alert).not_to_contain_text("Not connected")
        expect(alert.get_by_role("alert")).to_have_count(0)  # no "taken" error
    assert len(sockets) >= 2
    assert steps_of(server, "Stored Stan") == [("claimed", "Anna")]
    assert steps_of(server, "Offline Olive") == [("claimed", "Anna")]
    stan.get_by_role("button", name="Connected").click()
    expect(stan).to_have_count(0)

    # An outcome clicked while the server is down is kept too, and recorded once it is back.
    server.kill()
    expect(anna.locator("#live-state")).to_have_text("Reconnecting…")
    olive.get_by_role("button", name="Connected").click()
    expect(olive).to_contain_text("Not connected: your click is sent when the dashboard is live again")
    server.start()
    expect(olive).to_have_count(0, timeout=20_000)  # done, then gone from the queue
    assert steps_of(server, "Offline Olive") == [("claimed", "Anna"), ("outcome", "Anna")]
    assert steps_of(server, "Stored Stan") == [("claimed", "Anna"), ("outcome", "Anna")]
