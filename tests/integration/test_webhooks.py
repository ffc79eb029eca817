"""Outgoing webhooks against a real HTTP receiver on loopback: signed bodies, retries with backoff,
the delivery log in the dashboard, deliveries that survive a restart, and who may add webhooks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from server.store import Store
from tests.conftest import OTHER_SITE, SITE
from tests.integration.conftest import Receiver
from tests.integration.test_api import ADMIN, OTHER_ADMIN, api, ensure_admins, make_token, signed_in
from tests.integration.test_callback_routing import ANNA, callback_site, manager, visitor_socket
from tests.integration.test_chat import chat_visitor
from tests.integration.test_collect import post
from tests.integration.test_visitor_socket import lead, send
from tests.support import BeckonServer, csrf_from


def add_webhook(server: BeckonServer, url: str, events: list[str] | None = None, site: str = SITE) -> str:
    ensure_admins(server)
    with signed_in(server, ADMIN) as c:
        page = c.get("/app/integrations")
        data: dict[str, Any] = {"csrf": csrf_from(page.text), "site": site, "url": url}
        if events:
            data["events"] = events
        reply = c.post("/app/integrations/webhooks", data=data)
        assert reply.status_code == 200, reply.text
        return reply.text.split('class="secret-value" readonly value="', 1)[1].split('"', 1)[0]


def new_lead(server: BeckonServer, **over: Any) -> str:
    reply = post(server, {"visitor": uuid.uuid4().hex, "frames": [lead(**over)]})
    return reply.json()["results"][0]["lead"]


def verified(secret: str, headers: dict[str, str], raw: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-beckon-signature"], expected)


async def until(what: str, check: Callable[[], Any], timeout: float = 10) -> Any:
    """Wait for a condition the server reaches on its own (a stored attempt), polling its store."""
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(check)
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"never happened: {what}")
        await asyncio.sleep(0.05)  # polling the store for the condition, not standing in for it


def delivery_log(server: BeckonServer) -> list[tuple[Any, list[Any]]]:
    async def action(store: Store) -> list[tuple[Any, list[Any]]]:
        site = await store.get_site_by_key(SITE)
        assert site is not None
        rows = []
        for hook in await store.webhooks([site.id]):
            rows += await store.deliveries(hook.id)
        return rows

    return server.with_store(action)


async def test_new_and_updated_leads_are_posted_signed(fresh_beckon: Any, provider: Receiver) -> None:
    server: BeckonServer = fresh_beckon()
    secret = add_webhook(server, provider.url)
    ref = new_lead(server, name="Hooked")
    headers, body = await provider.next_request()
    assert verified(secret, headers, body["raw"])
    assert not verified("whsec_wrong", headers, body["raw"])
    assert headers["content-type"] == "application/json" and headers["x-beckon-event"] == "lead.created"
    assert abs(int(headers["x-beckon-timestamp"]) - time.time()) < 60
    assert headers["x-beckon-delivery"] == body["id"] and body["id"].startswith("evt_")
    assert body["type"] == "lead.created" and body["site"] == {"key": SITE, "name": "Test Workshop"}
    assert body["data"]["lead"]["ref"] == ref and body["data"]["lead"]["name"] == "Hooked"
    assert body["data"]["lead"]["phone"] == "+442079460958"

    with api(server, make_token(server)) as c:
        assert c.patch(f"/leads/{ref}", json={"status": "won"}).status_code == 200
    headers, body = await provider.next_request()
    assert verified(secret, headers, body["raw"])
    assert (body["type"], body["data"]["lead"]["ref"], body["data"]["lead"]["status"]) == ("lead.updated", ref, "won")


async def test_failures_are_retried_with_backoff_and_logged(fresh_beckon: Any, provider: Receiver) -> None:
    server: BeckonServer = fresh_beckon(BECKON_WEBHOOK_RETRY_BASE="0.3")
    secret = add_webhook(server, provider.url)
    provider.failures = 2
    ref = new_lead(server)
    sent = [await provider.next_request() for _ in range(3)]
    assert len({b["id"] for _, b in sent}) == 1  # one event, three attempts
    assert all(verified(secret, h, b["raw"]) for h, b in sent)
    first, second, third = provider.arrivals[:3]
    assert second - first >= 0.3 and third - second >= 1.2  # base, then 4 × base

    def delivered() -> Any:
        rows = [r for r in delivery_log(server) if r[0].subject == ref]
        return rows if rows and rows[0][0].state == "delivered" else None

    [(delivery, attempts)] = await until("the delivery is logged as delivered", delivered)
    assert delivery.attempts == 3 and [a.status_code for a in attempts] == [500, 500, 202]
    assert [a.error for a in attempts] == ["HTTP 500", "HTTP 500", ""]
    with signed_in(server, ADMIN) as c:
        page = c.get("/app/integrations").text
    assert delivery.event_id in page and page.count("HTTP 500") >= 2 and "delivered" in page


async def test_a_delivery_that_keeps_failing_stops_after_five_attempts(fresh_beckon: Any, provider: Receiver) -> None:
    server: BeckonServer = fresh_beckon(BECKON_WEBHOOK_RETRY_BASE="0.01")
    add_webhook(server, provider.url)
    provider.failures = 100
    ref = new_lead(server)

    def failed() -> Any:
        rows = [r for r in delivery_log(server) if r[0].subject == ref]
        return rows if rows and rows[0][0].state == "failed" else None

    [(delivery, attempts)] = await until("the delivery gives up", failed)
    assert delivery.attempts == 5 and len(attempts) == 5
    assert len(provider.requests) == 5


async def test_a_pending_delivery_survives_a_restart(fresh_beckon: Any, provider: Receiver) -> None:
    server: BeckonServer = fresh_beckon(BECKON_WEBHOOK_RETRY_BASE="3")
    add_webhook(server, provider.url)
    provider.failures = 1
    new_lead(server)
    first_headers, _ = await provider.next_request()
    await until("the failed attempt is stored", lambda: any(d.attempts == 1 for d, _ in delivery_log(server)))
    await asyncio.to_thread(server.restart)
    restarted = time.monotonic()
    headers, _ = await provider.next_request()
    assert provider.arrivals[1] > restarted  # sent by the new process, from what the old one stored
    assert headers["x-beckon-delivery"] == first_headers["x-beckon-delivery"]
    await until("delivered after the restart", lambda: [d.state for d, _ in delivery_log(server)] == ["delivered"])


async def test_a_webhook_gets_only_the_events_it_asked_for(fresh_beckon: Any, provider: Receiver) -> None:
    server: BeckonServer = fresh_beckon()
    add_webhook(server, provider.url, events=["lead.updated"])
    ref = new_lead(server)
    with api(server, make_token(server)) as c:
        c.patch(f"/leads/{ref}", json={"temperature": "hot"})
    _, body = await provider.next_request()
    assert body["type"] == "lead.updated" and body["data"]["lead"]["temperature"] == "hot"
    assert [d.event for d, _ in delivery_log(server)] == ["lead.updated"]


def test_webhooks_of_one_site_are_not_shown_to_another(fresh_beckon: Any, provider: Receiver) -> None:
    server: BeckonServer = fresh_beckon()
    add_webhook(server, provider.url + "?secret-site-a")
    with signed_in(server, OTHER_ADMIN) as c:
        page = c.get("/app/integrations")
        assert page.status_code == 200 and "secret-site-a" not in page.text
        csrf = csrf_from(page.text)
        assert c.post("/app/integrations/webhooks/1/toggle", data={"csrf": csrf}).status_code == 404
        made = c.post("/app/integrations/webhooks", data={"csrf": csrf, "site": OTHER_SITE, "url": "ftp://x"})
        assert made.status_code == 400
    with signed_in(server, ADMIN) as c:
        assert "secret-site-a" in c.get("/app/integrations").text


def store_webhook(server: BeckonServer, site_key: str, url: str, secret: str = "whsec_test") -> None:
    async def action(store: Store) -> None:
        site = await store.get_site_by_key(site_key)
        assert site is not None
        await store.create_webhook(site.id, url, secret, ["callback.missed", "chat.closed"], None)

    server.with_store(action)


async def test_a_missed_callback_is_posted(fresh_beckon: Any, provider: Receiver) -> None:
    server: BeckonServer = fresh_beckon()
    site = callback_site(server, "slowhook", promise_seconds=2, ring_seconds=1, missed_grace_seconds=300)
    store_webhook(server, site, provider.url)
    anna = await manager(server, ANNA)
    v = await visitor_socket(server, site)
    ref = (await send(v, lead(name="Waiting Walter")))["lead"]
    headers, body = await provider.next_request()
    assert verified("whsec_test", headers, body["raw"])
    assert body["type"] == "callback.missed" and body["data"]["lead"]["ref"] == ref
    assert body["data"]["callback"]["state"] == "missed" and body["data"]["callback"]["promise_seconds"] == 2
    await anna.card(ref, "missed")
    await v.close()
    await anna.ws.close()


async def test_a_closed_chat_is_posted_once(fresh_beckon: Any, provider: Receiver) -> None:
    server: BeckonServer = fresh_beckon()
    site = callback_site(server, "chathook")
    store_webhook(server, site, provider.url)
    anna = await manager(server, ANNA)
    v = await chat_visitor(server, site)
    ref = (await v.say("Thanks for the help", name="Petra", phone="020 7946 0555"))["conversation"]
    assert (await anna.command("chat_close", conversation=ref))["type"] == "ack"
    headers, body = await provider.next_request()
    assert verified("whsec_test", headers, body["raw"]) and body["type"] == "chat.closed"
    assert body["data"]["conversation"]["ref"] == ref and body["data"]["lead"]["name"] == "Petra"
    rating_id = uuid.uuid4().hex
    await v.ws.send(json.dumps({"type": "chat_rating", "id": rating_id, "conversation": ref, "score": 5}))
    await anna.next(lambda f: f["type"] == "conversation" and f["rating"] == 5)
    await until("the close is logged", lambda: delivery_log_for(server, site))
    assert [d.event for d, _ in delivery_log_for(server, site)] == ["chat.closed"]  # the rating sends nothing more
    await v.ws.close()
    await anna.ws.close()


def delivery_log_for(server: BeckonServer, site_key: str) -> list[Any]:
    async def action(store: Store) -> list[Any]:
        site = await store.get_site_by_key(site_key)
        assert site is not None
        return [r for hook in await store.webhooks([site.id]) for r in await store.deliveries(hook.id)]

    return server.with_store(action)


async def test_a_change_on_the_lead_card_is_posted_as_lead_updated(fresh_beckon: Any, provider: Receiver) -> None:
    server: BeckonServer = fresh_beckon()
    add_webhook(server, provider.url, events=["lead.updated"])
    ref = new_lead(server)
    with signed_in(server, ADMIN) as c:
        page = c.get(f"/app/leads/{ref}")
        reply = c.post(f"/app/leads/{ref}", data={"csrf": csrf_from(page.text), "change": "status", "value": "won"})
        assert reply.status_code == 303
    _, body = await provider.next_request()
    assert (body["type"], body["data"]["lead"]["ref"], body["data"]["lead"]["status"]) == ("lead.updated", ref, "won")


def toggle_webhook(server: BeckonServer) -> None:
    """Turn the site's webhook off or on again, as an admin does on the Integrations page."""
    [hook] = server.with_store(_site_hooks)
    with signed_in(server, ADMIN) as c:
        csrf = csrf_from(c.get("/app/integrations").text)
        reply = c.post(f"/app/integrations/webhooks/{hook.id}/toggle", data={"csrf": csrf})
        assert reply.status_code == 303 and reply.headers["location"] == "/app/integrations"


async def _site_hooks(store: Store) -> list[Any]:
    site = await store.get_site_by_key(SITE)
    assert site is not None
    return await store.webhooks([site.id])


async def test_webhooks_added_or_turned_off_while_leads_flow_take_effect_at_once(
    fresh_beckon: Any, provider: Receiver
) -> None:
    """The server keeps each site's webhooks in memory (bench #10); a change in the dashboard must reach it."""
    server: BeckonServer = fresh_beckon()
    new_lead(server)  # the server now knows this site has no webhooks
    add_webhook(server, provider.url, events=["lead.created"])
    added = new_lead(server)
    _, body = await provider.next_request()
    assert body["data"]["lead"]["ref"] == added

    toggle_webhook(server)  # off
    new_lead(server)  # while it is off
    toggle_webhook(server)  # on again
    on = new_lead(server)
    _, body = await provider.next_request()
    assert body["data"]["lead"]["ref"] == on
    # Events are queued in order, so the lead made while it was off had its turn before this one.
    assert {d.subject for d, _ in delivery_log(server)} == {added, on}  # none for `before` or `off`
