"""Popup submissions on the wire: a lead of kind popup, its promo code from the server only."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from server.demo import DEMO_POPUPS
from tests.integration.test_callback_routing import ANNA, ORIGIN, callback_site, manager
from tests.integration.test_visitor_socket import lead, send, visitor
from tests.support import BeckonServer


@pytest.fixture(scope="module")
def shop(beckon: BeckonServer) -> str:
    key = callback_site(beckon, "popup-shop")

    async def add(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(key)
        for slug, config in DEMO_POPUPS.items():
            await store.put_widget(site.id, "popup", config, slug=slug)
        await store.put_widget(site.id, "popup", DEMO_POPUPS["exit-offer"], slug="old-offer", enabled=False)

    beckon.with_store(add)
    return key


def popup_lead(**over: Any) -> dict[str, Any]:
    return lead(**({"kind": "popup", "widget": "exit-offer"} | over))


async def test_the_widget_gets_its_popups_without_the_promo_code(beckon: BeckonServer, shop: str) -> None:
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"{beckon.base}/api/v1/sites/{shop}/config", headers={"Origin": ORIGIN})
    items = reply.json()["widgets"]["popup"]["items"]
    assert set(items) == {"exit-offer", "kitchen-scroll"}
    assert items["exit-offer"]["has_bonus"] is True and items["kitchen-scroll"]["has_bonus"] is False
    assert items["exit-offer"]["timezone"] == "UTC"
    assert "OAK10" not in json.dumps(reply.json())


async def test_a_submit_becomes_a_popup_lead_and_its_ack_reveals_the_code(beckon: BeckonServer, shop: str) -> None:
    anna = await manager(beckon, ANNA)
    async with anna.ws, await visitor(beckon, shop, ORIGIN) as ws:
        ack = await send(ws, popup_lead(name="Pia"))
        again = await send(ws, popup_lead(id=ack["id"], name="Pia"))
        news = await anna.next(lambda f: f["type"] == "lead" and f["ref"] == ack["lead"])
    assert ack["type"] == "ack" and ack["bonus"] == {
        "code": "OAK10",
        "text": "10% off any kitchen ordered this month",
    }
    assert again["lead"] == ack["lead"] and again["bonus"] == ack["bonus"]
    assert news["kind"] == "popup" and news["status"] == "new"
    stored = next(x for x in beckon.leads(shop) if x.ref == ack["lead"])
    assert stored.answers["popup"] == "exit-offer" and stored.answers["title"].startswith("Before you go")


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        (popup_lead(widget="old-offer"), "invalid_field", "widget"),
        (popup_lead(widget="nope"), "invalid_field", "widget"),
        (popup_lead(widget="<script>"), "bad_frame", "widget"),
        (popup_lead(phone=None), "invalid_field", None),
        (popup_lead(phone="12"), "invalid_phone", "phone"),
        (lead(kind="quiz"), "bad_frame", "kind"),
    ],
)
async def test_bad_submits_are_refused_and_store_nothing(
    beckon: BeckonServer, shop: str, frame: dict[str, Any], code: str, field: str | None
) -> None:
    before = len(beckon.leads(shop))
    async with await visitor(beckon, shop, ORIGIN) as ws:
        reply = await send(ws, frame)
    assert reply["type"] == "error" and reply["code"] == code and reply.get("field") == field, reply
    assert reply["message"]
    assert len(beckon.leads(shop)) == before
