"""Playwright for the browser fault tests: one Chromium per module, so it never overlaps the
session-wide one of tests/browser (see tests/fault/conftest.py for the order)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, contexts_of
from tests.fault.disk import ServerOnDisk, TinyDisk, seeded_server_on, tiny_disk


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/fault/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator:
    yield from contexts_of(browser)


@pytest.fixture
def server_on_tiny_disk(tmp_path: Path) -> Iterator[tuple[ServerOnDisk, TinyDisk]]:
    """A seeded server whose database lives on a tiny disk that a test can fill."""
    with tiny_disk(tmp_path / "disk") as disk:
        server = seeded_server_on(disk, tmp_path / "server")
        try:
            yield server, disk
        finally:
            server.kill()
