"""The loader on an owner's page: both ways of embedding, the queue, events, isolation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.support import BeckonServer

SHOP = "http://shop.test"
SHOP_SITE = "shop-site"


@pytest.fixture(scope="module")
def shop(beckon: BeckonServer) -> Iterator[str]:
    beckon.add_site(SHOP_SITE, ["shop.test"], name="Shop Test")
    yield SHOP_SITE


def serve_page(ctx: BrowserContext, url: str, body: str, csp: str | None = None) -> None:
    """The owner's site is a page Playwright answers for; Beckon itself is the real server."""
    headers = {"Content-Security-Policy": csp} if csp else {}

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", headers=headers, body=body)

    ctx.route(url, fulfil)


def snippet(server: BeckonServer, key: str) -> str:
    return (
        "<script>(function(w,d,u,k){w.Beckon=w.Beckon||function(){(w.Beckon.q=w.Beckon.q||[]).push(arguments)};"
        "var s=d.createElement('script');s.async=1;s.src=u;s.dataset.site=k;d.head.appendChild(s)})"
        f"(window,document,'{server.base}/embed.js','{key}');</script>"
    )


def collect_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_bare_script_tag_works_under_a_strict_csp(beckon: BeckonServer, shop: str, new_context) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context()
    csp = (
        f"default-src 'none'; script-src {beckon.base}; connect-src {beckon.base} {beckon.ws_base}; "
        "style-src 'self'; img-src data:"
    )
    body = f'<!doctype html><title>Shop</title><h1>Shop</h1><script async src="{beckon.base}/embed.js" data-site="{shop}"></script>'
    serve_page(ctx, f"{SHOP}/", body, csp)
    page = ctx.new_page()
    errors = collect_errors(page)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{SHOP}/")
    page.get_by_role("button", name="Request a callback").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Phone").fill("020 7946 0444")
    dialog.get_by_role("button", name="Call me back").click()
    expect(page.get_by_text("Finding a manager…")).to_be_visible()
    assert [lead.phone for lead in beckon.leads(shop)] == ["+442079460444"]
    assert errors == [] and violations == []


def test_queued_calls_are_replayed_and_events_reach_the_page(beckon: BeckonServer, shop: str, new_context) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context()
    body = (
        "<!doctype html><title>Shop</title><script>window.__before = Object.keys(window);"
        "window.__events = [];</script>" + snippet(beckon, shop) + "<script>"
        "Beckon('on', 'ready', function () { __events.push('ready'); });"
        "Beckon('on', 'lead', function (d) { __events.push('lead:' + d.kind); });"
        "window.addEventListener('beckon:open', function (e) { __events.push('open:' + e.detail.kind); });"
        "Beckon('identify', {name: 'Queued Quinn', phone: '020 7946 0555'});"
        "Beckon('open', 'callback');"
        "</script><h1>Shop</h1>"
    )
    serve_page(ctx, f"{SHOP}/queued", body)
    page = ctx.new_page()
    errors = collect_errors(page)
    page.goto(f"{SHOP}/queued")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Name (optional)")).to_have_value("Queued Quinn")
    expect(dialog.get_by_label("Phone")).to_have_value("020 7946 0555")
    dialog.get_by_role("button", name="Call me back").click()
    page.wait_for_function("window.__events.includes('lead:callback')")
    events = page.evaluate("window.__events")
    assert events.index("ready") < events.index("lead:callback") and "open:callback" in events
    added = page.evaluate("Object.keys(window).filter(k => !window.__before.includes(k) && !k.startsWith('__'))")
    assert added == ["Beckon"]
    assert "Queued Quinn" in [lead.name for lead in beckon.leads(shop)]
    assert errors == []


def test_host_page_css_does_not_reach_the_widget(beckon: BeckonServer, shop: str, new_context) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context()
    hostile_css = "<style>* { color: rgb(255, 0, 0) !important; font-size: 40px !important; } button { display: none !important; }</style>"
    serve_page(ctx, f"{SHOP}/styled", "<!doctype html><title>Shop</title>" + hostile_css + snippet(beckon, shop))
    page = ctx.new_page()
    page.goto(f"{SHOP}/styled")
    button = page.get_by_role("button", name="Request a callback")
    expect(button).to_be_visible()
    button.click()
    label = page.get_by_role("dialog").get_by_text("Phone", exact=True)
    assert label.evaluate("el => getComputedStyle(el).color") != "rgb(255, 0, 0)"
    host = page.locator("[data-beckon-widget='callback']")
    assert host.evaluate("el => el.shadowRoot !== null && el.shadowRoot.mode === 'open'")


def test_a_page_on_a_domain_the_site_does_not_allow_gets_nothing_and_no_errors(
    beckon: BeckonServer, shop: str, new_context
) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context()
    evil = "http://evil.test"
    serve_page(
        ctx,
        f"{evil}/",
        "<!doctype html><title>Evil</title><script>window.__before = 1;</script>" + snippet(beckon, shop),
    )
    page = ctx.new_page()
    errors = collect_errors(page)
    with page.expect_response(lambda r: "/config" in r.url) as response:
        page.goto(f"{evil}/")
    assert response.value.status == 403
    page.evaluate("Beckon('open', 'callback')")
    assert page.locator("[data-beckon-widget]").count() == 0
    assert errors == []


def test_nothing_is_stored_or_connected_before_the_visitor_interacts(
    beckon: BeckonServer, shop: str, new_context
) -> None:  # type: ignore[no-untyped-def]
    ctx = new_context()
    serve_page(ctx, f"{SHOP}/quiet", "<!doctype html><title>Shop</title>" + snippet(beckon, shop))
    page = ctx.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{SHOP}/quiet")
    expect(page.get_by_role("button", name="Request a callback")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("localStorage.length") == 0
    assert ctx.cookies() == []
    assert sockets == []
