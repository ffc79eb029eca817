"""Analytics numbers against leads made through the real protocol."""

from __future__ import annotations

import uuid

import httpx

from server.models import Role
from tests.integration.test_callback_routing import ORIGIN, callback_site
from tests.integration.test_visitor_socket import lead, send, visitor
from tests.support import BeckonServer, login


def row(label: str, n: int) -> str:
    return f'<th scope="row">{label}</th><td>{n}</td>'


def track(name: str, **props: str) -> dict[str, object]:
    return {"type": "track", "id": uuid.uuid4().hex, "name": name, "props": props}


async def test_the_page_counts_what_visitors_did(beckon: BeckonServer) -> None:
    key = callback_site(beckon, "numbers-shop")
    beckon.add_user("nora.numbers@example.test", "nora-password-1", sites=[key], name="Nora", role=Role.OWNER)
    async with await visitor(beckon, key, ORIGIN) as ws:
        for i in range(3):
            await send(ws, lead(phone=f"020 7946 09{i}0", context={"utm": {"utm_source": "ads"}}))
        for _ in range(4):
            await send(ws, track("popup_shown", popup="x"))
    client = httpx.Client(base_url=beckon.base)
    login(client, "nora.numbers@example.test", "nora-password-1")
    page = client.get(f"/app/analytics?site={key}&days=7").text
    assert row("Requests", 3) in page
    assert row("Shown", 4) in page
    assert row("ads", 3) in page
    assert "Nora" in page
    outsider = httpx.Client(base_url=beckon.base, follow_redirects=False)
    assert outsider.get("/app/analytics").status_code == 303


async def test_impressions_are_config_loads_and_opens_are_the_widgets_track_frames(beckon: BeckonServer) -> None:
    key = beckon.add_site(
        "funnel-shop", ["shop.test"], widgets={"callback": {}, "chat": {}}, settings={"phone_region": "GB"}
    ).key
    quiet = beckon.add_site("quiet-shop", ["quiet.test"], widgets={}).key
    beckon.add_user("fay.funnel@example.test", "fay-password-1", sites=[key, quiet], name="Fay", role=Role.OWNER)
    page_views = httpx.Client(base_url=beckon.base, headers={"Origin": ORIGIN})
    for _ in range(5):  # five page views, one a revalidation of the cached config: each is counted
        first = page_views.get(f"/api/v1/sites/{key}/config")
        assert first.status_code == 200
    again = page_views.get(f"/api/v1/sites/{key}/config", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    # No always-on widget on this site: its config loads are no one's impressions.
    assert httpx.get(f"{beckon.base}/api/v1/sites/{quiet}/config", headers={"Origin": "http://quiet.test"}).is_success
    async with await visitor(beckon, key, ORIGIN) as ws:
        for name in ("callback_opened", "callback_opened", "chat_opened", "quiz_opened", "countdown_cta_clicked"):
            await send(ws, track(name))
        await send(ws, lead(phone="020 7946 0990"))

    client = httpx.Client(base_url=beckon.base)
    login(client, "fay.funnel@example.test", "fay-password-1")
    page = client.get(f"/app/analytics?site={key}&days=7").text
    callback = page[page.index(">Callback</h2>") : page.index(">Quiz</h2>")]
    assert row("Impressions", 6) in callback and row("Opened", 2) in callback and row("Requests", 1) in callback
    chat = page[page.index(">Chat</h2>") : page.index(">Countdown</h2>")]
    assert row("Impressions", 6) in chat and row("Opened", 1) in chat
    assert row("Offer button clicked", 1) in page
    quiz = page[page.index(">Quiz</h2>") : page.index(">Popup</h2>")]
    assert row("Opened", 1) in quiz

    other = client.get(f"/app/analytics?site={quiet}&days=7").text
    assert other.count(row("Impressions", 0)) == 2
