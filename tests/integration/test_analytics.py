"""Analytics numbers against leads made through the real protocol."""

from __future__ import annotations

import uuid

import httpx

from server.models import Role
from tests.integration.test_callback_routing import ORIGIN, callback_site
from tests.integration.test_visitor_socket import lead, send, visitor
from tests.support import BeckonServer, login


async def test_the_page_counts_what_visitors_did(beckon: BeckonServer) -> None:
    key = callback_site(beckon, "numbers-shop")
    beckon.add_user("nora.numbers@example.test", "nora-password-1", sites=[key], name="Nora", role=Role.OWNER)
    async with await visitor(beckon, key, ORIGIN) as ws:
        for i in range(3):
            await send(ws, lead(phone=f"020 7946 09{i}0", context={"utm": {"utm_source": "ads"}}))
        for _ in range(4):
            await send(ws, {"type": "track", "id": uuid.uuid4().hex, "name": "popup_shown", "props": {"popup": "x"}})
    client = httpx.Client(base_url=beckon.base)
    login(client, "nora.numbers@example.test", "nora-password-1")
    page = client.get(f"/app/analytics?site={key}&days=7").text
    assert '<th scope="row">Requests</th><td>3</td>' in page
    assert '<th scope="row">Shown</th><td>4</td>' in page
    assert '<th scope="row">ads</th><td>3</td>' in page
    assert "Nora" in page
    outsider = httpx.Client(base_url=beckon.base, follow_redirects=False)
    assert outsider.get("/app/analytics").status_code == 303
