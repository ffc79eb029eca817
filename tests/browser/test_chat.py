"""Live chat between a visitor on a site and a manager in the inbox, as people use it."""

from __future__ import annotations

import struct
import zlib

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.pages import signed_in_manager
from tests.browser.test_callback_widget import shop_site
from tests.browser.test_loader import serve_page, snippet
from tests.browser.test_manager_alerts import join
from tests.conftest import MANAGER
from tests.support import BeckonServer

SHOP = "http://chat.test"


def chat_shop(server: BeckonServer, key: str) -> str:
    site = server.add_site(
        key, ["chat.test"], name=f"Chat {key}", widgets={"callback": {}, "chat": {}}, settings={"phone_region": "GB"}
    )
    join(server, site.key, MANAGER[0])
    return key


def visit(ctx: BrowserContext, server: BeckonServer, key: str, path: str = "/") -> Page:
    for p in ("/", "/other"):
        serve_page(
            ctx,
            f"{SHOP}{p}",
            '<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Page {p}</title>{snippet(server, key)}<h1>Page {p}</h1>",
        )
    page = ctx.new_page()
    page.goto(f"{SHOP}{path}")
    return page


def inbox(ctx: BrowserContext, server: BeckonServer) -> Page:
    page = signed_in_manager(ctx, server, *MANAGER)
    page.get_by_role("link", name="Inbox").first.click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.locator("#live-state")).to_have_text("Live")
    return page


def say(page: Page, text: str) -> None:
    panel = page.get_by_role("dialog", name="Chat with us")
    if not panel.is_visible():
        page.get_by_role("button", name="Open chat").click()
    panel.get_by_label("Message").fill(text)
    panel.get_by_role("button", name="Send", exact=True).click()


def log(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("dialog", name="Chat with us").get_by_role("log")


def open_conversation(manager: Page, text: str) -> None:
    manager.get_by_role("list", name="Conversations").get_by_role("link").filter(has_text=text).first.click()


def test_visitor_and_manager_chat_with_typing_and_history_after_reload(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = chat_shop(beckon, "chat-a")
    manager = inbox(new_context(), beckon)
    visitor = visit(new_context(), beckon, key)
    say(visitor, "Do you make oak tables?")
    expect(log(visitor)).to_contain_text("Do you make oak tables?")

    open_conversation(manager, "Do you make oak tables?")
    messages = manager.get_by_role("log", name="Messages")
    expect(messages).to_contain_text("Do you make oak tables?")
    reply = manager.get_by_label("Reply")
    reply.press_sequentially("Yes, in any size", delay=20)
    expect(visitor.get_by_text("Anna is typing…")).to_be_visible()
    manager.get_by_role("button", name="Send", exact=True).click()
    expect(log(visitor)).to_contain_text("Yes, in any size")
    expect(log(visitor)).to_contain_text("Anna")

    visitor.get_by_role("dialog", name="Chat with us").get_by_label("Message").press_sequentially("Great", delay=20)
    expect(manager.get_by_text("Visitor is typing…")).to_be_visible()

    visitor.reload()
    visitor.get_by_role("button", name="Open chat").click()
    expect(log(visitor)).to_contain_text("Do you make oak tables?")
    expect(log(visitor)).to_contain_text("Yes, in any size")
    visitor.goto(f"{SHOP}/other")
    visitor.get_by_role("button", name="Open chat").click()
    expect(log(visitor)).to_contain_text("Yes, in any size")
    # The manager sees where the visitor is now.
    expect(manager.get_by_role("complementary", name="Visitor")).to_contain_text(f"{SHOP}/other")


def test_two_tabs_stay_in_step_and_markup_stays_text(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = chat_shop(beckon, "chat-b")
    manager = inbox(new_context(), beckon)
    ctx = new_context()
    tab1 = visit(ctx, beckon, key)
    payload = '<img src=x onerror="window.__xss=1">Tab one'
    say(tab1, payload)
    expect(log(tab1)).to_contain_text(payload)
    tab2 = ctx.new_page()
    tab2.goto(f"{SHOP}/other")
    tab2.get_by_role("button", name="Open chat").click()
    expect(log(tab2)).to_contain_text(payload)

    open_conversation(manager, "Tab one")
    manager.get_by_label("Reply").fill("<script>window.__xss=2</script>See https://example.test/oak")
    manager.get_by_role("button", name="Send", exact=True).click()
    for tab in (tab1, tab2):
        expect(log(tab)).to_contain_text("<script>window.__xss=2</script>See")
        expect(log(tab).get_by_role("link", name="https://example.test/oak")).to_have_attribute(
            "rel", "noopener noreferrer nofollow"
        )
    expect(manager.get_by_role("log", name="Messages")).to_contain_text(payload)
    for page in (tab1, tab2, manager):
        assert page.evaluate("window.__xss") is None
        assert page.locator("img[src=x]").count() == 0


def test_when_nobody_is_there_the_chat_takes_a_message_as_a_lead(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = shop_site(beckon, "chat-off")

    async def enable_chat(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(key)
        await store.put_widget(site.id, "chat", {})

    beckon.with_store(enable_chat)
    ctx = new_context()
    serve_page(ctx, "http://shop.test/", f"<!doctype html><title>Shop</title>{snippet(beckon, key)}")
    page = ctx.new_page()
    page.goto("http://shop.test/")
    page.get_by_role("button", name="Open chat").click()
    panel = page.get_by_role("dialog", name="Chat with us")
    expect(panel).to_contain_text("We're offline right now. Leave a message and we'll get back to you.")
    panel.get_by_label("Name").fill("Late Lucy")
    panel.get_by_label("Message").fill("Please send me your price list")
    panel.get_by_role("button", name="Send message").click()
    expect(panel).to_contain_text("Please leave an email or a phone number")
    panel.get_by_label("Email").fill("lucy@example.test")
    panel.get_by_role("button", name="Send message").click()
    expect(panel).to_contain_text("Thanks — we'll get back to you.")
    leads = beckon.leads(key)
    assert [(x.kind, x.name, x.email, x.answers) for x in leads] == [
        ("chat", "Late Lucy", "lucy@example.test", {"message": "Please send me your price list"})
    ]
    expect(panel.get_by_role("button", name="Book a callback instead")).to_be_visible()


def test_a_server_restart_mid_conversation_loses_nothing(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    key = chat_shop(server, "chat-r")
    manager = inbox(new_context(), server)
    visitor = visit(new_context(), server, key)
    say(visitor, "Before the restart")
    open_conversation(manager, "Before the restart")
    expect(manager.get_by_role("log", name="Messages")).to_contain_text("Before the restart")
    server.kill()
    server.start()
    say(visitor, "After the restart")
    manager.get_by_label("Reply").fill("Still here")
    manager.get_by_role("button", name="Send", exact=True).click()
    expect(log(visitor)).to_contain_text("Still here", timeout=40_000)
    expect(manager.get_by_role("log", name="Messages")).to_contain_text("After the restart", timeout=40_000)

    async def transcript(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(key)
        (conversation,) = await store.conversations([site.id])
        return [m.body for m in await store.messages_since(conversation.id, 0)]

    # Each message exactly once; the two sent after the restart may land in either order.
    stored = server.with_store(transcript)
    assert stored[0] == "Before the restart"
    assert sorted(stored[1:]) == ["After the restart", "Still here"]
    expect(log(visitor).get_by_text("Still here")).to_have_count(1)


def greeting_site(server: BeckonServer, key: str, with_manager: bool, texts: dict[str, str] | None = None) -> str:
    server.add_site(
        key,
        ["chat.test"],
        name=f"Greet {key}",
        widgets={
            "chat": {
                "greetings": [
                    {"id": "hello", "url": "/", "seconds": 5, "scroll": 0, "text": "Hi, I'm {name} — can I help?"}
                ],
                "texts": texts or {},
            }
        },
        settings={"phone_region": "GB"},
    )
    if with_manager:
        join(server, key, MANAGER[0])
    return key


def clocked_shop(ctx: BrowserContext, server: BeckonServer, key: str) -> Page:
    """A tab for the shop's home page with the snippet, on a fake clock: greetings wait for time on the page."""
    page = ctx.new_page()
    page.clock.install()
    serve_page(ctx, f"{SHOP}/", f"<!doctype html><title>Shop</title>{snippet(server, key)}<h1>Shop</h1>")
    return page


def counts(server: BeckonServer, key: str) -> dict[str, int]:
    async def action(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(key)
        return await store.visitor_event_counts(site.id)

    return server.with_store(action)


def test_a_proactive_greeting_comes_once_per_session_from_an_available_manager(
    beckon: BeckonServer, new_context
) -> None:  # type: ignore[no-untyped-def]
    key = greeting_site(beckon, "greet-a", with_manager=True)
    inbox(new_context(), beckon)
    page = clocked_shop(new_context(), beckon, key)
    page.goto(f"{SHOP}/")
    expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    greeting = page.get_by_role("dialog", name="Message from Anna")
    page.clock.run_for(2_000)
    expect(greeting).to_have_count(0)  # not before its time on page
    page.clock.run_for(5_000)
    expect(greeting).to_contain_text("Hi, I'm Anna — can I help?")
    greeting.get_by_role("button", name="Reply").click()
    expect(page.get_by_role("dialog", name="Chat with us")).to_be_visible()
    page.wait_for_function(f"!JSON.parse(localStorage.getItem('beckon:{key}:outbox') || '[]').length")
    # Replying opens the chat: that open is counted too (the analytics funnel's "Opened").
    assert counts(beckon, key) == {"chat_greeting_shown": 1, "chat_greeting_replied": 1, "chat_opened": 1}

    page.reload()  # the fake clock stays installed across the reload
    expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    page.clock.run_for(20_000)
    expect(page.get_by_role("dialog", name="Message from Anna")).to_have_count(0)


def test_the_greeting_card_says_the_chats_own_words(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    # Reworded in the chat's editor ("All texts"): the card speaks for the chat.
    texts = {"reply": "Write back", "label": "A note from {name}"}
    key = greeting_site(beckon, "greet-c", with_manager=True, texts=texts)
    inbox(new_context(), beckon)
    page = clocked_shop(new_context(), beckon, key)
    page.goto(f"{SHOP}/")
    expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    page.clock.run_for(6_000)
    greeting = page.get_by_role("dialog", name="A note from Anna")
    expect(greeting).to_contain_text("Hi, I'm Anna — can I help?")
    greeting.get_by_role("button", name="Write back").click()
    expect(page.get_by_role("dialog", name="Chat with us")).to_be_visible()


def test_no_greeting_when_nobody_can_answer(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = greeting_site(beckon, "greet-b", with_manager=False)
    page = clocked_shop(new_context(), beckon, key)
    with page.expect_response(lambda r: "/config" in r.url) as config:
        page.goto(f"{SHOP}/")
    assert "greeter" not in config.value.json()["widgets"]
    expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    page.clock.run_for(20_000)
    expect(page.get_by_role("dialog", name="Message from Anna")).to_have_count(0)


def png(width: int = 8) -> bytes:
    """A real PNG picture (one grey square), as a person's camera would give a bigger one."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(width))
    header = struct.pack(">IIBBBBB", width, width, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_the_greeting_shows_the_photo_the_manager_uploaded(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    # An uploaded photo is served by Beckon itself, here (as on a local install) over plain http.
    server = fresh_beckon()
    key = greeting_site(server, "greet-photo", with_manager=True)
    me = signed_in_manager(new_context(), server, *MANAGER)
    me.goto(f"{server.base}/app/me")
    me.get_by_label("Picture (PNG, JPEG or WebP").set_input_files(
        files=[{"name": "anna.png", "mimeType": "image/png", "buffer": png()}]
    )
    me.get_by_role("button", name="Upload photo").click()
    expect(me.get_by_role("img", name="Your photo as visitors see it")).to_be_visible()
    photo = me.get_by_role("img", name="Your photo as visitors see it").get_attribute("src")
    assert photo and photo.startswith("/media/people/")
    inbox(new_context(), server)
    page = clocked_shop(new_context(), server, key)
    page.goto(f"{SHOP}/")
    expect(page.get_by_role("button", name="Open chat")).to_be_visible()
    page.clock.run_for(7_000)
    greeting = page.get_by_role("dialog", name="Message from Anna")
    expect(greeting).to_contain_text("Hi, I'm Anna — can I help?")
    picture = greeting.locator("img")
    expect(picture).to_have_attribute("src", f"{server.base}{photo}")
    assert picture.evaluate("img => img.decode().then(() => img.naturalWidth)") == 8  # it really loaded


def test_on_a_phone_the_chat_fills_the_screen(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = chat_shop(beckon, "chat-m")
    inbox(new_context(), beckon)
    ctx = new_context(viewport={"width": 390, "height": 780}, is_mobile=True, has_touch=True)
    page = visit(ctx, beckon, key)
    page.get_by_role("button", name="Open chat").click()
    panel = page.get_by_role("dialog", name="Chat with us")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and box["width"] >= 389 and box["height"] >= 700
    message = panel.get_by_label("Message")
    message_box = message.bounding_box()
    assert message_box is not None and message_box["y"] + message_box["height"] <= 780
