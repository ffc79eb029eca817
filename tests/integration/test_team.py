"""The team without the CLI: invitations, roles and sites, deactivation that ends sessions and sockets."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.models import Role
from tests.support import BeckonServer, csrf_from, login

BOSS = ("boss.team@example.test", "boss-password-1")


@pytest.fixture(scope="module")
def shop(beckon: BeckonServer) -> dict[str, Any]:
    a = beckon.add_site("team-a", ["a.test"], name="Shop A")
    b = beckon.add_site("team-b", ["b.test"], name="Shop B")
    beckon.add_user(*BOSS, sites=["team-a", "team-b"], name="Bea Boss", role=Role.OWNER)
    return {"a": a.id, "b": b.id}


def signed_in(server: BeckonServer, creds: tuple[str, str]) -> httpx.Client:
    client = httpx.Client(base_url=server.base, follow_redirects=False)
    assert login(client, *creds).status_code == 303
    return client


def invite(boss: httpx.Client, email: str, sites: list[int], role: str = "manager") -> httpx.Response:
    page = boss.get("/app/team")
    return boss.post(
        "/app/team/invite",
        data={"csrf": csrf_from(page.text), "email": email, "role": role, "sites": [str(s) for s in sites]},
    )


def link_of(reply: httpx.Response) -> str:
    found = re.search(r'value="(https?://[^"]+/app/invite/[^"]+)"', reply.text)
    assert found, reply.text[:500]
    return found[1]


def accept(server: BeckonServer, link: str, name: str, password: str) -> httpx.Response:
    visitor = httpx.Client(base_url=server.base, follow_redirects=False)
    path = link.split(server.base, 1)[1]
    page = visitor.get(path)
    return visitor.post(path, data={"csrf": csrf_from(page.text), "name": name, "password": password})


def test_an_invitation_link_makes_a_member_of_the_chosen_sites_once(beckon: BeckonServer, shop: dict) -> None:
    boss = signed_in(beckon, BOSS)
    link = link_of(invite(boss, "nina.new@example.test", [shop["a"]]))
    joined = accept(beckon, link, "Nina New", "nina-password-1")
    assert joined.status_code == 303 and joined.headers["location"] == "/app/leads"
    nina = signed_in(beckon, ("nina.new@example.test", "nina-password-1"))
    assert "Shop A" in nina.get("/app/leads").text and "Shop B" not in nina.get("/app/leads").text
    again = httpx.get(link)
    assert again.status_code == 410 and "already been used" in again.text
    assert "Nina New" in boss.get("/app/team").text


def test_bad_invitations_are_refused_with_a_reason(beckon: BeckonServer, shop: dict) -> None:
    boss = signed_in(beckon, BOSS)
    reply = invite(boss, "not-an-email", [])
    assert reply.status_code == 400
    assert "Email: that doesn" in reply.text and "Sites: choose at least one site" in reply.text
    assert httpx.get(f"{beckon.base}/app/invite/made-up-token").status_code == 410


async def test_switching_someone_off_ends_their_session_and_live_dashboard_at_once(
    beckon: BeckonServer, shop: dict
) -> None:
    boss = signed_in(beckon, BOSS)
    accept(beckon, link_of(invite(boss, "olaf.off@example.test", [shop["a"]])), "Olaf Off", "olaf-password-1")
    olaf = signed_in(beckon, ("olaf.off@example.test", "olaf-password-1"))
    cookie = f"beckon_session={olaf.cookies.get('beckon_session')}"
    async with connect(f"{beckon.ws_base}/ws/manager", origin=beckon.base, additional_headers={"Cookie": cookie}) as ws:
        await ws.send('{"type": "hello", "since": 1000000000}')
        heard = ""
        while '"welcome"' not in heard:  # the dashboard is live
            heard = str(await asyncio.wait_for(ws.recv(), 5))
        member = next(u for u in beckon.with_store(lambda s: s.team([shop["a"]])) if u[0].email.startswith("olaf"))
        page = boss.get("/app/team")
        off = boss.post(f"/app/team/{member[0].id}", data={"csrf": csrf_from(page.text), "role": "manager"})
        assert off.status_code == 303
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert olaf.get("/app/leads").status_code == 303  # the session is gone too
    assert login(httpx.Client(base_url=beckon.base), "olaf.off@example.test", "olaf-password-1").status_code == 401


def test_managers_cannot_manage_the_team_and_nobody_changes_themselves(beckon: BeckonServer, shop: dict) -> None:
    boss = signed_in(beckon, BOSS)
    accept(beckon, link_of(invite(boss, "mo.manager@example.test", [shop["a"]])), "Mo Manager", "mo-password-12")
    mo = signed_in(beckon, ("mo.manager@example.test", "mo-password-12"))
    assert mo.get("/app/team").status_code == 403
    me = next(u for u, _ in beckon.with_store(lambda s: s.team([shop["a"]])) if u.email == BOSS[0])
    page = boss.get("/app/team")
    reply = boss.post(f"/app/team/{me.id}", data={"csrf": csrf_from(page.text), "role": "manager"})
    assert reply.status_code == 400 and "switch yourself off" in reply.text


def test_everyone_changes_their_own_name_and_password(beckon: BeckonServer, shop: dict) -> None:
    boss = signed_in(beckon, BOSS)
    accept(beckon, link_of(invite(boss, "pat.profile@example.test", [shop["b"]])), "Pat", "pat-password-12")
    pat = signed_in(beckon, ("pat.profile@example.test", "pat-password-12"))
    page = pat.get("/app/me")
    wrong = pat.post(
        "/app/me",
        data={"csrf": csrf_from(page.text), "name": "Pat P", "password": "nope", "new_password": "pat-password-34"},
    )
    assert wrong.status_code == 400 and "Current password: that isn" in wrong.text
    ok = pat.post(
        "/app/me",
        data={
            "csrf": csrf_from(page.text),
            "name": "Pat Profile",
            "password": "pat-password-12",
            "new_password": "pat-password-34",
            "photo": "https://example.test/pat.png",
        },
    )
    assert ok.status_code == 303
    assert signed_in(beckon, ("pat.profile@example.test", "pat-password-34")).get("/app/me").text.count("Pat Profile")


# -- a photo uploaded on /app/me ------------------------------------------------------------------

# A real 1x1 PNG; the server tells pictures by their bytes, so the others are made of their magic.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5d5c1e30000000049454e44ae426082"
)
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L" + b"\x00" * 14


def upload(client: httpx.Client, name: str, body: bytes, mime: str = "image/png", csrf: str | None = None):  # type: ignore[no-untyped-def]
    token = csrf if csrf is not None else csrf_from(client.get("/app/me").text)
    return client.post("/app/me/photo", data={"csrf": token}, files={"photo_file": (name, body, mime)})


def test_an_uploaded_photo_is_served_publicly_for_the_chat_widget(beckon: BeckonServer, shop: dict) -> None:
    boss = signed_in(beckon, BOSS)
    accept(beckon, link_of(invite(boss, "phil.photo@example.test", [shop["a"]])), "Phil", "phil-password-12")
    phil = signed_in(beckon, ("phil.photo@example.test", "phil-password-12"))
    assert upload(phil, "me.png", PNG).status_code == 303
    me = beckon.with_store(lambda s: s.get_user_by_email("phil.photo@example.test"))
    assert me.photo is not None and re.fullmatch(rf"{beckon.base}/media/people/{me.id}-[0-9a-f]{{16}}\.png", me.photo)
    page = phil.get("/app/me").text
    assert f'src="{me.photo.removeprefix(beckon.base)}"' in page  # shown from the same origin (dashboard CSP)
    served = httpx.get(me.photo)  # no session: visitors' browsers fetch it
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "immutable" in served.headers["cache-control"]
    # Saving the rest of the form keeps the uploaded photo's address (it is http:// here).
    saved = phil.post("/app/me", data={"csrf": csrf_from(page), "name": "Phil Photo", "photo": me.photo})
    assert saved.status_code == 303
    # A new picture gets a new address; the old one is gone.
    assert upload(phil, "again.webp", WEBP, "image/webp").status_code == 303
    after = beckon.with_store(lambda s: s.get_user_by_email("phil.photo@example.test"))
    assert after.photo.endswith(".webp") and after.photo != me.photo
    assert httpx.get(after.photo).headers["content-type"] == "image/webp"
    assert httpx.get(me.photo).status_code == 404
    removed = phil.post("/app/me/photo", data={"csrf": csrf_from(phil.get("/app/me").text), "remove": "1"})
    assert removed.status_code == 303
    assert beckon.with_store(lambda s: s.get_user_by_email("phil.photo@example.test")).photo is None
    assert httpx.get(after.photo).status_code == 404


def test_photo_uploads_are_checked_by_their_bytes_size_and_csrf(beckon: BeckonServer, shop: dict) -> None:
    boss = signed_in(beckon, BOSS)
    accept(beckon, link_of(invite(boss, "fay.fake@example.test", [shop["a"]])), "Fay", "fay-password-12")
    fay = signed_in(beckon, ("fay.fake@example.test", "fay-password-12"))
    disguised = upload(fay, "cat.png", b"<svg onload=alert(1)></svg>")  # named and typed as a PNG
    assert disguised.status_code == 400 and "a PNG, JPEG or WebP picture (this file is not one)" in disguised.text
    too_big = upload(fay, "big.png", PNG + b"\0" * (1024 * 1024))
    assert too_big.status_code == 413 and "Photo: at most 1 MB" in too_big.text
    assert upload(fay, "none.png", b"", csrf=None).status_code == 400
    assert upload(fay, "me.png", PNG, csrf="forged").status_code == 403
    assert beckon.with_store(lambda s: s.get_user_by_email("fay.fake@example.test")).photo is None
    anonymous = httpx.post(f"{beckon.base}/app/me/photo", files={"photo_file": ("me.png", PNG, "image/png")})
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/app/login"
    assert httpx.get(f"{beckon.base}/media/people/1-0000000000000000.png").status_code == 404
    assert httpx.get(f"{beckon.base}/media/people/../../etc/passwd").status_code == 404
