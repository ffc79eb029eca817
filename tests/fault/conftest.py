"""Fault-injection tests: real servers on loopback that are killed, stopped, starved of disk."""

from __future__ import annotations

import pytest

# Limits meant for one visitor's browser would throttle a burst of simulated visitors from 127.0.0.1.
BURST_ENV = {
    "BECKON_LEAD_LIMIT_PER_IP": "1000000",
    "BECKON_LEAD_LIMIT_PER_VISITOR": "1000",
    "BECKON_CHAT_PER_MINUTE": "1000",
}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser fault test runs after every asyncio test and before tests/browser, so that its
    Playwright (one per module) never overlaps the session-wide one there: two sync Playwrights
    cannot share a thread."""
    mine = [item for item in items if "tests/fault/browser/" in str(item.path)]
    if not mine:
        return
    rest = [item for item in items if item not in mine]
    at = next((i for i, item in enumerate(rest) if "tests/browser/" in str(item.path)), len(rest))
    items[:] = rest[:at] + mine + rest[at:]
