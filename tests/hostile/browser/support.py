"""Chromium for the hostile browser checks, run on a thread of its own.

Playwright's sync API owns an event loop on the thread that starts it; tests/browser keeps one
on the main thread for the whole session. A separate thread gives these checks their own.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.hostile.corpus import INJECTED_SELECTORS

T = TypeVar("T")


def in_browser(check: Callable[[Browser], T]) -> T:
    def run() -> T:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                return check(browser)
            finally:
                browser.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def watch(page: Page) -> list[str]:
    """Script errors and CSP refusals on the page: CSP catching an injection still means escaping failed."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}") if "Content Security Policy" in msg.text else None,
    )
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return problems


def assert_inert(page: Page, problems: list[str]) -> None:
    assert page.evaluate("window.__xss") is None, "an injected script ran"
    injected = page.locator(f"main :is({INJECTED_SELECTORS})")
    assert injected.count() == 0, injected.evaluate_all("els => els.map(e => e.outerHTML)")
    assert not problems, problems
