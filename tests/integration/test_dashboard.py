"""Dashboard sign-in, CSRF, throttling, and who may see what."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import re

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import MANAGER, OUTSIDER
from tests.integration.test_visitor_socket import lead, send, visitor
from tests.support import BeckonServer, csrf_from, login


def client(server: BeckonServer) -> httpx.Client:
    return httpx.Client(base_url=server.base, follow_redirects=False)


def test_sign_in_sets_a_hardened_session_cookie(beckon: BeckonServer) -> None:
    with client(beckon) as c:
        reply = login(c, *MANAGER)
        assert reply.status_code == 303 and reply.headers["location"] == "/app/leads"
        cookie = next(h for h in reply.headers.get_list("set-cookie") if h.startswith("beckon_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert c.get("/app/leads").status_code == 200


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(beckon: BeckonServer) -> None:
    with client(beckon) as c:
        wrong = login(c, MANAGER[0], "not-the-password")
        nobody = login(c, "nobody@example.test", "whatever-123")
    assert wrong.status_code == nobody.status_code == 401
    assert "don&#39;t match" in wrong.text and "don&#39;t match" in nobody.text
    assert "beckon_session" not in wrong.headers.get("set-cookie", "")


def test_forms_without_a_valid_csrf_token_are_refused(beckon: BeckonServer) -> None:
    with client(beckon) as c:
        c.get("/app/login")
        forged = c.post("/app/login", data={"email": MANAGER[0], "password": MANAGER[1], "csrf": "forged"})
        missing = c.post("/app/login", data={"email": MANAGER[0], "password": MANAGER[1]})
        assert forged.status_code == missing.status_code == 403
        assert login(c, *MANAGER).status_code == 303
        logout_forged = c.post("/app/logout", data={"csrf": "forged"})
        assert logout_forged.status_code == 403
        assert c.get("/app/leads").status_code == 200


def test_cross_site_post_with_a_stolen_token_is_refused(beckon: BeckonServer) -> None:
    with client(beckon) as c:
        page = c.get("/app/login")
        reply = c.post(
            "/app/login",
            data={"email": MANAGER[0], "password": MANAGER[1], "csrf": csrf_from(page.text)},
            headers={"Origin": "https://evil.test"},
        )
    assert reply.status_code == 403


def test_a_planted_session_cookie_never_becomes_a_session(beckon: BeckonServer) -> None:
    with client(beckon) as c:
        c.cookies.set("beckon_session", "attacker-chosen-value", domain="127.0.0.1", path="/")
        assert c.get("/app/leads").status_code == 303
        login(c, *MANAGER)
        assert c.cookies.get("beckon_session") != "attacker-chosen-value"


def test_sign_out_ends_the_session_on_the_server(beckon: BeckonServer) -> None:
    with client(beckon) as c:
        login(c, *MANAGER)
        stolen = c.cookies.get("beckon_session")
        page = c.get("/app/leads")
        assert c.post("/app/logout", data={"csrf": csrf_from(page.text)}).status_code == 303
    with client(beckon) as thief:
        thief.cookies.set("beckon_session", stolen or "", path="/")
        assert thief.get("/app/leads").headers["location"] == "/app/login"


def test_repeated_failures_are_throttled_with_a_clear_message(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_LOGIN_MAX_FAILURES="3")
    with client(server) as c:
        codes = [login(c, MANAGER[0], f"wrong-{i}").status_code for i in range(3)]
        blocked = login(c, *MANAGER)
    assert codes == [401, 401, 401]
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text


def test_anonymous_visitors_are_sent_to_sign_in(beckon: BeckonServer) -> None:
    with client(beckon) as c:
        for path in ("/app/", "/app/leads", "/app/leads/anything"):
            assert c.get(path).headers["location"] == "/app/login"


def test_dashboard_pages_carry_a_strict_csp(beckon: BeckonServer) -> None:
    with client(beckon) as c:
        headers = c.get("/app/login").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


async def test_a_manager_of_another_site_cannot_see_the_lead(beckon: BeckonServer) -> None:
    payload = "<script>alert('x')</script>"
    async with await visitor(beckon) as ws:
        ack = await send(ws, lead(name=payload))
    with client(beckon) as mine, client(beckon) as theirs:
        login(mine, *MANAGER)
        login(theirs, *OUTSIDER)
        page = mine.get(f"/app/leads/{ack['lead']}")
        assert page.status_code == 200
        # Shown inert: escaped, never as markup.
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
        assert payload not in page.text
        assert "+44 20 7946 0958" in page.text
        assert theirs.get(f"/app/leads/{ack['lead']}").status_code == 404
        assert ack["lead"] not in theirs.get("/app/leads").text
        assert ack["lead"] in mine.get("/app/leads").text


async def next_of(ws, kind: str, timeout: float = 5) -> dict:  # type: ignore[no-untyped-def]
    """The next frame of a kind, passing over others (queue cards, notices)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] == kind:
            return frame


def _cookie_header(server: BeckonServer, creds: tuple[str, str]) -> str:
    with client(server) as c:
        login(c, *creds)
        return f"beckon_session={c.cookies.get('beckon_session')}"


async def test_manager_feed_streams_only_own_sites_and_replays_after_reconnect(beckon: BeckonServer) -> None:
    url = f"{beckon.ws_base}/ws/manager"
    mine = await connect(url, origin=beckon.base, additional_headers={"Cookie": _cookie_header(beckon, MANAGER)})  # type: ignore[arg-type]
    theirs = await connect(url, origin=beckon.base, additional_headers={"Cookie": _cookie_header(beckon, OUTSIDER)})  # type: ignore[arg-type]
    async with mine, theirs:
        since = 0
        for ws in (mine, theirs):
            await ws.send(json.dumps({"type": "hello", "since": 10**9}))
            await next_of(ws, "welcome")
        async with await visitor(beckon) as v:
            ack = await send(v, lead(name="Live One"))
        live = await next_of(mine, "lead")
        assert (live["type"], live["ref"], live["name"]) == ("lead", ack["lead"], "Live One")
        assert live["phone"] == "+442079460958" and live["site"] == "Test Workshop"
        since = live["seq"] - 1
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(theirs.recv(), 0.5)
    # After a reconnect, hello with the last seq seen replays what was missed.
    async with await connect(
        url, origin=beckon.base, additional_headers={"Cookie": _cookie_header(beckon, MANAGER)}
    ) as again:  # type: ignore[arg-type]
        await again.send(json.dumps({"type": "hello", "since": since}))
        replayed = await next_of(again, "lead")
    assert replayed["ref"] == ack["lead"] and replayed["replay"] is True


@pytest.mark.parametrize("case", ["anonymous", "foreign-origin"])
async def test_manager_feed_refuses_strangers(beckon: BeckonServer, case: str) -> None:
    headers = {} if case == "anonymous" else {"Cookie": _cookie_header(beckon, MANAGER)}
    origin = beckon.base if case == "anonymous" else "https://evil.test"
    with pytest.raises(InvalidStatus) as info:
        await connect(f"{beckon.ws_base}/ws/manager", origin=origin, additional_headers=headers)  # type: ignore[arg-type]
    assert info.value.response.status_code == 403


# -- reliability (session 4): content coding, asked over raw HTTP -----------------------------------


def raw_get(server: BeckonServer, path: str, accept_encoding: str) -> tuple[int, dict[str, list[str]], bytes]:
    """A GET with exactly this Accept-Encoding and nothing decoded on the way (http.client adds none)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": accept_encoding})
        reply = conn.getresponse()
        headers: dict[str, list[str]] = {}
        for name, value in reply.getheaders():
            headers.setdefault(name.lower(), []).append(value)
        return reply.status, headers, reply.read()
    finally:
        conn.close()


def fixed(body: bytes) -> bytes:
    """The sign-in form's CSRF token is new on every request; the rest of the page is the same."""
    return re.sub(rb'name="csrf" value="[0-9a-f]+"', b'name="csrf"', body)


def vary_names(headers: dict[str, list[str]]) -> list[str]:
    return [name.strip().lower() for line in headers.get("vary", []) for name in line.split(",") if name.strip()]


@pytest.mark.parametrize("path", ["/embed.js", "/widgets/callback.js", "/app/login"])
def test_gzip_only_when_accepted_and_vary_named_once(beckon: BeckonServer, path: str) -> None:
    status, plain_headers, plain = raw_get(beckon, path, "identity")
    assert status == 200 and "content-encoding" not in plain_headers and len(plain) > 600
    status, headers, zipped = raw_get(beckon, path, "gzip, deflate")
    assert status == 200 and headers["content-encoding"] == ["gzip"]
    assert fixed(gzip.decompress(zipped)) == fixed(plain)
    assert vary_names(headers) == vary_names(plain_headers) == ["accept-encoding"]
    # q=0 refuses a coding: these clients must get the plain bytes, however the header is spelled.
    for refusing in ("gzip;q=0", "gzip; q=0.0, identity", "br, gzip;q=0", "*;q=0", "GZIP;Q=0"):
        status, headers, body = raw_get(beckon, path, refusing)
        assert status == 200 and "content-encoding" not in headers, refusing
        assert fixed(body) == fixed(plain), refusing
        assert vary_names(headers) == ["accept-encoding"], (refusing, headers.get("vary"))
    # A lower but non-zero preference still takes gzip.
    status, headers, zipped = raw_get(beckon, path, "br;q=1, gzip;q=0.5")
    assert headers["content-encoding"] == ["gzip"] and fixed(gzip.decompress(zipped)) == fixed(plain)
