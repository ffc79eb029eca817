from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import BeckonServer

ORIGIN = "http://localhost"
SITE = "t-site"
OTHER_SITE = "other-site"
MANAGER = ("anna@example.test", "anna-password-1")
OUTSIDER = ("olga@example.test", "olga-password-1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit, then integration, then browser tests: fast feedback first, and Playwright's sync API
    (which keeps an event loop on this thread) only after every asyncio test has run."""
    order = {"unit": 0, "integration": 1, "browser": 2}
    items.sort(key=lambda item: order.get(item.path.parent.name, 1))


def seeded_server(workdir: Path, **env: str) -> BeckonServer:
    server = BeckonServer(workdir, env={"BECKON_DEMO_SITE_KEY": SITE, **env})
    server.add_site(SITE, ["localhost", "127.0.0.1"], name="Test Workshop")
    server.add_site(OTHER_SITE, ["other.test"], name="Other Shop")
    server.add_user(MANAGER[0], MANAGER[1], sites=[SITE], name="Anna")
    server.add_user(OUTSIDER[0], OUTSIDER[1], sites=[OTHER_SITE], name="Olga")
    return server.start()


@pytest.fixture(scope="module")
def beckon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BeckonServer]:
    """A real server on loopback with two sites: one for Anna, one for Olga."""
    server = seeded_server(tmp_path_factory.mktemp("beckon"))
    yield server
    server.stop()


@pytest.fixture
def fresh_beckon(tmp_path: Path) -> Iterator[BeckonServer]:
    """A server of the test's own, for tests that restart it or exhaust its limits."""
    servers: list[BeckonServer] = []

    def make(**env: str) -> BeckonServer:
        server = seeded_server(tmp_path / f"s{len(servers)}", **env)
        servers.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in servers:
        server.stop()
