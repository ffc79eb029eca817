"""Markup a visitor typed is shown as text in every dashboard page a manager opens, live and on reload."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.pages import signed_in_manager
from tests.conftest import MANAGER, SITE
from tests.hostile import corpus
from tests.hostile.browser.support import assert_inert, in_browser, watch
from tests.hostile.conftest import World, new_id, seed_world
from tests.hostile.visitor import hello, lead, send
from tests.support import run_async

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = seed_world(
        tmp_path_factory.mktemp("inert"), BECKON_LEAD_LIMIT_PER_IP="100000", BECKON_LEAD_LIMIT_PER_VISITOR="100000"
    )
    yield w
    w.server.stop()


async def _add_notes_quiz(store: Any) -> None:
    site = await store.get_site_by_key(SITE)
    await store.put_widget(site.id, "quiz", corpus.NOTES_QUIZ, slug="notes")


def hostile_lead(text: str, **over: Any) -> dict[str, Any]:
    return lead(
        name=text[:100],
        email="a'/onfocus='window.__xss=1'/autofocus='@evil.test",
        answers={"q1": text, text[:40]: text},
        context={
            "url": "http://localhost/?q=" + text,
            "title": text,
            "referrer": "http://ref.test/" + text,
            "landing": "http://localhost/" + text,
            "utm": {"utm_source": text, "utm_campaign": text, "utm_term": text},
        },
        **over,
    )


async def _send_all(world: World, frames: list[dict[str, Any]], visitor: str | None = None) -> list[dict[str, Any]]:
    async with await hello(world, visitor) as ws:
        return [await send(ws, frame) for frame in frames]


def visitor_sends(world: World, frames: list[dict[str, Any]], visitor: str | None = None) -> list[dict[str, Any]]:
    replies = run_async(lambda: _send_all(world, frames, visitor))
    assert all(r["type"] == "ack" for r in replies), replies
    return replies


def shown(page: Page, text: str) -> None:
    """The text is on the page as text (whitespace as the browser lays it out)."""
    expect(page.locator("main")).to_contain_text(" ".join(text.split())[:60])


def test_markup_in_every_visitor_field_is_inert_in_the_dashboard(world: World) -> None:
    acks = visitor_sends(world, [hostile_lead(text) for text in corpus.XSS])
    refs = [a["lead"] for a in acks]
    texts = list(corpus.XSS)
    # A quiz whose text answer is markup: its lead page lists the answers.
    world.server.with_store(_add_notes_quiz)
    quiz_acks = visitor_sends(
        world,
        [
            {
                "type": "quiz",
                "id": new_id(),
                "quiz": "notes",
                "run": new_id(),
                "n": 1,
                "answers": {"notes": text},
                "contact": {"phone": "020 7946 0333", "name": text[:100]},
            }
            for text in corpus.XSS[:3]
        ],
    )
    refs += [a["lead"] for a in quiz_acks]
    texts += corpus.XSS[:3]
    visitor_sends(
        world, [{"type": "chat_message", "id": new_id(), "text": text, "name": text[:100]} for text in corpus.XSS[:4]]
    )

    def check(browser: Browser) -> None:
        ctx = browser.new_context()
        ctx.set_default_timeout(10_000)

        class FakeServer:  # signed_in_manager wants something with .base
            base = world.base

        page = signed_in_manager(ctx, FakeServer, *MANAGER)  # type: ignore[arg-type]
        problems = watch(page)
        # The leads table, reloaded with all of them.
        page.reload()
        shown(page, corpus.XSS[2])
        assert_inert(page, problems)

        # Live: a lead arriving while the table is open is drawn by app.js from the socket.
        live = '<img src=x onerror="window.__xss=1">Live ' + new_id()[:6]
        visitor_sends(world, [hostile_lead(live)])
        shown(page, live)
        # ... both as a table row and as a callback card, its name, page and source set as text.
        card = page.locator("main article.cb").filter(has_text=live[-6:])  # inside what assert_inert searches
        expect(card.locator("h3.cb-name")).to_have_text(live)
        expect(card.locator("dl.cb-facts")).to_contain_text("?q=" + live)
        assert_inert(page, problems)

        # Each lead's own page.
        for ref, text in zip(refs, texts, strict=True):
            page.goto(f"{world.base}/app/leads/{ref}")
            shown(page, text)
            assert_inert(page, problems)
        # A search for markup finds it and still shows it as text.
        page.goto(f"{world.base}/app/leads?q=" + corpus.XSS[0][:20])
        assert_inert(page, problems)

        # The inbox, where the chat and its visitor's page title and name are drawn by inbox.js.
        page.goto(f"{world.base}/app/inbox")
        expect(page.locator("main")).to_contain_text("__xss")  # the conversation, drawn with its markup as text
        assert_inert(page, problems)
        page.locator("main").get_by_text("__xss").first.click()  # open it: the whole thread is drawn
        expect(page.locator("main")).to_contain_text(" ".join(corpus.XSS[0].split())[:30])
        assert_inert(page, problems)
        ctx.close()

    in_browser(check)
