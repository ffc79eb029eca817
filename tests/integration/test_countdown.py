"""Countdown deadlines on the wire: by the server's clock, evergreen ones final per visitor."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest

from server.countdown import fixed_deadline
from server.models import Role
from tests.integration.test_callback_routing import ANNA, ORIGIN, callback_site, manager
from tests.integration.test_visitor_socket import lead, send, visitor
from tests.support import BeckonServer, csrf_from, login

COUNTDOWNS: dict[str, dict[str, Any]] = {
    "autumn-sale": {"mode": "fixed", "deadline": "2030-11-30T23:59", "title": "Autumn sale"},
    "welcome-offer": {"mode": "evergreen", "minutes": 30, "title": "Welcome offer"},
    "dispatch": {"mode": "daily", "time": "14:00", "title": "Same-day dispatch"},
    "gone": {"mode": "evergreen", "minutes": 0.0005, "title": "Blink"},
}


@pytest.fixture(scope="module")
def shop(beckon: BeckonServer) -> str:
    key = callback_site(beckon, "countdown-shop")

    async def add(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(key)
        await store.update_site(site.id, timezone="Europe/London")
        for slug, config in COUNTDOWNS.items():
            await store.put_widget(site.id, "countdown", config, slug=slug)
        await store.put_widget(site.id, "countdown", COUNTDOWNS["autumn-sale"], slug="retired", enabled=False)

    beckon.with_store(add)
    return key


def ask(slug: str) -> dict[str, Any]:
    return {"type": "countdown", "id": uuid.uuid4().hex, "countdown": slug}


async def test_a_fixed_deadline_comes_with_the_servers_clock(beckon: BeckonServer, shop: str) -> None:
    async with await visitor(beckon, shop, ORIGIN) as ws:
        before = time.time() * 1000
        reply = (await send(ws, ask("autumn-sale")))["countdown"]
    assert reply["deadline"] == int(fixed_deadline("2030-11-30T23:59", "Europe/London") * 1000)
    assert before - 1000 <= reply["server_time"] <= time.time() * 1000 + 1000
    assert reply["expired"] is False and reply["mode"] == "fixed"


async def test_an_evergreen_deadline_is_set_once_per_visitor_and_never_resets(beckon: BeckonServer, shop: str) -> None:
    me, someone_else = uuid.uuid4().hex, uuid.uuid4().hex
    async with await visitor(beckon, shop, ORIGIN, visitor_id=me) as tab1:
        first = (await send(tab1, ask("welcome-offer")))["countdown"]
        async with await visitor(beckon, shop, ORIGIN, visitor_id=me) as tab2:  # a second tab
            second = (await send(tab2, ask("welcome-offer")))["countdown"]
    beckon.restart()  # and a server restart
    async with await visitor(beckon, shop, ORIGIN, visitor_id=me) as later:
        third = (await send(later, ask("welcome-offer")))["countdown"]
    async with await visitor(beckon, shop, ORIGIN, visitor_id=someone_else) as other:
        theirs = (await send(other, ask("welcome-offer")))["countdown"]
    assert first["deadline"] == second["deadline"] == third["deadline"]
    assert abs(first["deadline"] - (first["server_time"] + 30 * 60_000)) <= 1
    assert theirs["deadline"] > first["deadline"]


async def test_an_expired_evergreen_offer_stays_expired(beckon: BeckonServer, shop: str) -> None:
    me = uuid.uuid4().hex
    async with await visitor(beckon, shop, ORIGIN, visitor_id=me) as ws:
        first = (await send(ws, ask("gone")))["countdown"]
        while time.time() * 1000 <= first["deadline"]:
            time.sleep(0.01)  # the offer lasts 30 ms; wait for the server's deadline to pass
        again = (await send(ws, ask("gone")))["countdown"]
    assert again["expired"] is True and again["deadline"] == first["deadline"]


async def test_a_daily_deadline_comes_with_the_next_one(beckon: BeckonServer, shop: str) -> None:
    async with await visitor(beckon, shop, ORIGIN) as ws:
        reply = (await send(ws, ask("dispatch")))["countdown"]
    assert reply["server_time"] < reply["deadline"] <= reply["server_time"] + 86_400_000
    assert reply["next_deadline"] - reply["deadline"] in (82_800_000, 86_400_000, 90_000_000)  # a day, ±1 h on DST days


@pytest.mark.parametrize("slug", ["retired", "nothing-here"])
async def test_unknown_or_disabled_countdowns_are_refused(beckon: BeckonServer, shop: str, slug: str) -> None:
    async with await visitor(beckon, shop, ORIGIN) as ws:
        reply = await send(ws, ask(slug))
    assert (reply["type"], reply["code"], reply["field"]) == ("error", "invalid_field", "countdown")


async def test_a_lead_from_an_offer_is_tagged_with_it_for_managers(beckon: BeckonServer, shop: str) -> None:
    anna = await manager(beckon, ANNA)
    async with anna.ws, await visitor(beckon, shop, ORIGIN) as ws:
        frame = lead(context={"url": "http://shop.test/", "offer": "autumn-sale"})
        ack = await send(ws, frame)
        card = await anna.card(ack["lead"], "ringing")
    assert card["offer"] == "autumn-sale"
    client = httpx.Client(base_url=beckon.base)
    login(client, *ANNA)
    assert 'class="offer-tag">autumn-sale<' in client.get(f"/app/leads/{ack['lead']}").text


def test_moving_a_fixed_deadline_is_recorded_with_who_and_when(beckon: BeckonServer, shop: str) -> None:
    beckon.add_user("cd.owner@example.test", "owner-password-1", sites=[shop], name="Oscar", role=Role.OWNER)
    client = httpx.Client(base_url=beckon.base, follow_redirects=False)
    login(client, "cd.owner@example.test", "owner-password-1")
    path = f"/app/widgets/{shop}/countdown/autumn-sale"
    moved = COUNTDOWNS["autumn-sale"] | {"deadline": "2030-12-07T23:59"}
    page = client.get(path)
    reply = client.post(path, data={"csrf": csrf_from(page.text), "definition": json.dumps(moved), "enabled": "on"})
    assert reply.status_code == 303
    history = client.get(path).text
    assert "by Oscar" in history and "deadline: &#34;2030-11-30T23:59&#34; → &#34;2030-12-07T23:59&#34;" in history
    bad = COUNTDOWNS["autumn-sale"] | {"deadline": "soon"}
    refused = client.post(path, data={"csrf": csrf_from(history), "definition": json.dumps(bad), "enabled": "on"})
    assert refused.status_code == 400 and "deadline: &#39;soon&#39; is not a date and time" in refused.text


def test_an_earlier_version_can_be_restored_and_the_history_says_so(beckon: BeckonServer, shop: str) -> None:
    beckon.add_user("cd.restorer@example.test", "owner-password-1", sites=[shop], name="Rita", role=Role.OWNER)
    client = httpx.Client(base_url=beckon.base, follow_redirects=False)
    login(client, "cd.restorer@example.test", "owner-password-1")
    path = f"/app/widgets/{shop}/countdown/dispatch"
    page = client.get(path)
    later = COUNTDOWNS["dispatch"] | {"time": "16:00"}
    client.post(path, data={"csrf": csrf_from(page.text), "definition": json.dumps(later), "enabled": "on"})
    page = client.get(path)
    versions = [int(v) for v in re.findall(r"Restore version (\d+)", page.text)]
    first = min(versions)
    restored = client.post(f"{path}/restore/{first}", data={"csrf": csrf_from(page.text)})
    assert restored.status_code == 303

    async def current(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(shop)
        return await store.get_widget(site.id, "countdown", "dispatch")

    widget = beckon.with_store(current)
    assert widget.config["time"] == "14:00" and widget.version == max(versions) + 2
    assert "by Rita" in client.get(path).text
