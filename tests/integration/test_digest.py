"""Owners get the new-lead digest by email (a real SMTP server on loopback), once per period."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from server.models import Role
from tests.conftest import SITE
from tests.integration.test_visitor_socket import lead, send, visitor
from tests.support import BeckonServer


def digest_started(server: BeckonServer) -> bool:
    async def action(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(SITE)
        return site.settings.get("digest_after_id") is not None

    return server.with_store(action)


async def until(check: Callable[[], bool]) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.05)  # polling the store for the digest's first run
    raise AssertionError("the digest never ran")


async def test_owners_get_one_digest_of_the_leads_since_the_last(fresh_beckon, smtp_inbox) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_SMTP_URL=f"smtp://127.0.0.1:{smtp_inbox.port}", BECKON_DIGEST_SECONDS="1")
    server.add_user("owen.owner@example.test", "owen-password-1", sites=[SITE], name="Owen", role=Role.OWNER)
    await until(lambda: digest_started(server))  # its first run marks where the digests start
    async with await visitor(server) as ws:
        await send(ws, lead(name="Dora Digest", phone="020 7946 0111"))
        await send(ws, lead(name="Dan Digest", phone="020 7946 0222"))
    mail = await smtp_inbox.wait_for(lambda m: "new leads on" in m["subject"])
    assert mail["subject"] == "2 new leads on Test Workshop"
    assert mail["to"] == ["owen.owner@example.test"]  # owners and admins, not the managers
    assert "Dora Digest" in mail["body"] and "+44 20 7946 0222" in mail["body"]
