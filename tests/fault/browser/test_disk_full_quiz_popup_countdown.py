"""The server's disk is full while a visitor leaves their contacts in a quiz or a popup, or a countdown
asks for its deadline: each widget says, in the server's own words, that it could not be saved yet
(not "Sending…", not "you're offline"), and once the disk has room again the runtime's retry brings
the real answer: the quiz's result, the popup's code, the countdown's timer."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from server.ingest import STORE_DOWN
from tests.browser import test_countdown as countdown
from tests.browser import test_popup as popup
from tests.browser import test_quiz as quiz

SOFA = {
    "title": "Which sofa suits you?",
    "steps": [
        {
            "id": "seats",
            "type": "single",
            "question": "How many seats?",
            "options": [{"id": "two", "label": "Two", "add": {"price": 900}}, {"id": "three", "label": "Three"}],
        },
        {
            "id": "contact",
            "type": "contact",
            "question": "Where should we send your offer?",
            "fields": ["phone", "name"],
        },
    ],
    "results": {"price": "price"},
    "show": [{"result": "price", "label": "Your sofa", "prefix": "£"}],
}
RETRY = 30_000  # the refusal's retry_after is 5 s; the page waits that out before the probe


def settled(page: Page, key: str) -> None:
    """What the page sent so far has been answered (nothing left in its outbox)."""
    page.wait_for_function(f"!JSON.parse(localStorage.getItem('beckon:{key}:outbox') || '[]').length")


def test_the_quiz_contact_step_says_the_server_could_not_save_it_then_shows_the_result(
    server_on_tiny_disk, new_context
) -> None:  # type: ignore[no-untyped-def]
    server, disk = server_on_tiny_disk
    key = quiz.quiz_site(server, "full-quiz", SOFA, slug=quiz.SLUG)
    page = quiz.open_page(new_context(), server, key)
    box = quiz.inline_quiz(page)
    quiz.choose(box, "Two")
    expect(quiz.question(box, "Where should we send your offer?")).to_be_visible()
    settled(page, key)
    disk.fill()
    box.get_by_label("Name").fill("Full Disk Flo")
    box.get_by_label("Phone").fill("020 7946 0771")
    box.get_by_role("button", name="Show my result").click()
    expect(box.get_by_role("status")).to_have_text(STORE_DOWN)
    expect(box).not_to_contain_text("once the connection is back")  # the visitor is not offline

    disk.free()
    expect(box.get_by_role("heading", name="Your result")).to_be_visible(timeout=RETRY)
    expect(box).to_contain_text("£900")
    expect(box).not_to_contain_text(STORE_DOWN)


def test_the_popup_form_says_the_server_could_not_save_it_then_shows_the_code(server_on_tiny_disk, new_context) -> None:  # type: ignore[no-untyped-def]
    server, disk = server_on_tiny_disk
    key = popup.popup_site(server, "full-popup", {"exit-offer": popup.offer()})
    page = popup.visit(new_context(), server, key, clock=False)
    page.get_by_role("button", name="See the offer").click()
    dialog = page.get_by_role("dialog", name=popup.TITLE)
    expect(dialog).to_be_visible()
    settled(page, key)
    disk.fill()
    dialog.get_by_label("Phone").fill("020 7946 0772")
    dialog.get_by_role("button", name="Get my code").click()
    expect(dialog.get_by_role("alert")).to_have_text(STORE_DOWN)
    expect(dialog).not_to_contain_text("You're offline")

    disk.free()
    expect(dialog).to_contain_text("OAK10", timeout=RETRY)
    expect(dialog).not_to_contain_text(STORE_DOWN)


def test_an_evergreen_countdown_says_why_it_has_no_deadline_yet_then_counts(server_on_tiny_disk, new_context) -> None:  # type: ignore[no-untyped-def]
    server, disk = server_on_tiny_disk
    offer = {"mode": "evergreen", "minutes": 90, "display": "inline", "title": "First order 10% off"}
    key = countdown.countdown_site(server, "full-countdown", {"first-order": offer})
    disk.fill()  # the visitor's first view must be stored to fix their deadline: it cannot be now
    page = countdown.visit(new_context(), server, key, inline=("first-order",))
    spot = page.locator('[data-beckon-countdown="first-order"]')
    page.clock.run_for(3_000)  # the ask goes once the page is idle
    expect(spot.get_by_role("status")).to_have_text(STORE_DOWN)
    expect(spot.get_by_role("timer")).to_have_count(0)  # never a made-up deadline

    disk.free()
    page.clock.run_for(6_000)  # the refusal's retry_after
    left = re.compile(r"^1 hour (29|30) minutes left$")
    expect(spot.get_by_role("timer")).to_have_attribute("aria-label", left, timeout=RETRY)
    expect(spot).not_to_contain_text(STORE_DOWN)
