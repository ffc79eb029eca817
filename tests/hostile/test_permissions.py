"""The permission matrix: every route of the app, tried by everyone who must not get in.

Routes come from the app itself (tests/hostile/routes.py); site B's real ids fill their parameters.
Roles: anonymous; Anna (manager of A) and Adam (admin of A) on B's things; Anna on owner/admin
pages; a bearer token of A on B's leads. Each is refused and sees none of B's data, and B is unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import MANAGER
from tests.hostile.conftest import ADMIN, B_MARKERS, World
from tests.hostile.routes import MATRIX, Access, Rule, app_routes, fill, rule_for, value_of
from tests.support import csrf_from

ROUTES = app_routes()
HTTP_ROUTES = [r for r in ROUTES if r[0] != "WS"]
GUARDED = (Access.SIGNED_IN, Access.EDITOR)
# What a form would change if the server let it through: each refusal must leave B as it was.
DAMAGE = {
    "status": "won",
    "temperature": "hot",
    "note": "pwned",
    "name": "Pwned",
    "role": "admin",
    "active": "",
    "email": "pwned@evil.test",
    "password": "pwned-password-1",
    "domains": "evil.test",
    "config": "{}",
    "kind": "popup",
    "slug": "pwned",
    "url": "http://evil.test/hook",
    "events": "lead.created",
    "timezone": "UTC",
}


def leaks(body: str, access: Access | None = None) -> list[str]:
    # A site's public widget config names the site: that much is public by design, nothing more.
    public = ("Other Shop",) if access is Access.VISITOR else ()
    return [marker for marker in B_MARKERS if marker in body and marker not in public]


def request(
    client: httpx.Client, world: World, method: str, path: str, rule: Rule, *, params: dict[str, str] | None = None
) -> httpx.Response:
    url = fill(world, path, rule.params if params is None else params)
    query = {k: value_of(world, v) for k, v in rule.query.items()}
    if method == "GET":
        return client.get(url, params=query)
    if method == "PATCH":
        return client.patch(url, json={"status": "won", "temperature": "hot"})
    if method == "OPTIONS":
        return client.options(url, params=query)
    csrf = getattr(client, "csrf", "")
    form = DAMAGE | {"csrf": csrf} | {k: value_of(world, v) for k, v in rule.form.items()}
    return client.post(url, params=query, data=form)


def signed_in(world: World, who: tuple[str, str]) -> httpx.Client:
    client = world.client(who)
    client.csrf = csrf_from(client.get("/app/me").text)  # type: ignore[attr-defined]
    return client


@pytest.fixture(scope="module")
def clients(world: World) -> dict[str, httpx.Client]:
    made = {"anna": signed_in(world, MANAGER), "adam": signed_in(world, ADMIN)}
    yield made  # type: ignore[misc]
    for client in made.values():
        client.close()


def test_every_route_of_the_app_has_an_entry_and_every_parameter_a_value(world: World) -> None:
    assert len(ROUTES) >= 50, ROUTES  # the app's table really was read
    for method, path in ROUTES:
        rule = rule_for(method, path)
        fill(world, path, rule.params)
        if rule.own:
            fill(world, path, rule.own)
    stale = sorted(set(MATRIX) - set(ROUTES))
    assert not stale, f"entries for routes the app no longer has: {stale}"


@pytest.mark.parametrize(("method", "path"), HTTP_ROUTES, ids=[f"{m} {p}" for m, p in HTTP_ROUTES])
def test_anonymous_gets_a_login_redirect_or_a_refusal_never_data(world: World, method: str, path: str) -> None:
    rule = rule_for(method, path)
    before = world.b_snapshot()
    with httpx.Client(base_url=world.base, timeout=15) as anonymous:
        if rule.access is Access.SECRET_LINK:
            response = request(anonymous, world, method, path, rule, params=dict.fromkeys(rule.params, "=guess-123"))
            assert response.status_code in (403, 404, 410), response.status_code
        else:
            response = request(anonymous, world, method, path, rule)
        if rule.access in GUARDED:
            if response.status_code == 303:
                assert response.headers["location"] == "/app/login"
            else:
                assert response.status_code in (401, 403), (response.status_code, response.text[:200])
        elif rule.access is Access.TOKEN:
            assert response.status_code == 401, response.text[:200]
        assert response.status_code < 500, response.text[:300]
        assert not leaks(response.text, rule.access), (leaks(response.text), response.text[:300])
    assert world.b_snapshot() == before


GUARDED_ROUTES = [r for r in HTTP_ROUTES if rule_for(*r).access in GUARDED]


@pytest.mark.parametrize("who", ["anna", "adam"])
@pytest.mark.parametrize(("method", "path"), GUARDED_ROUTES, ids=[f"{m} {p}" for m, p in GUARDED_ROUTES])
def test_a_member_of_site_a_gets_nothing_of_site_b(
    world: World, clients: dict[str, httpx.Client], who: str, method: str, path: str
) -> None:
    if (method, path) == ("POST", "/app/logout"):
        pytest.skip("signs the client out; logout is checked in test_sessions")
    rule = rule_for(method, path)
    before = world.b_snapshot()
    response = request(clients[who], world, method, path, rule)
    assert response.status_code < 500, response.text[:300]
    assert not leaks(response.text), (leaks(response.text), response.text[:500])
    if rule.params and any(not v.startswith("=") or "other" in v for v in rule.params.values()):
        # B's own id in the path: refused outright, as if it didn't exist.
        assert response.status_code in (403, 404), (response.status_code, response.text[:300])
    elif method == "POST":
        # Site B named in the form: nothing made; an error page or a redirect back is fine.
        assert response.status_code in (303, 400, 403, 404), response.status_code
    assert world.b_snapshot() == before


EDITOR_ROUTES = [r for r in HTTP_ROUTES if rule_for(*r).access is Access.EDITOR]


@pytest.mark.parametrize(("method", "path"), EDITOR_ROUTES, ids=[f"{m} {p}" for m, p in EDITOR_ROUTES])
def test_a_manager_is_refused_on_owner_and_admin_pages(
    world: World, clients: dict[str, httpx.Client], method: str, path: str
) -> None:
    rule = rule_for(method, path)
    own = rule.own or {k: v for k, v in rule.params.items() if v.startswith("=")}
    response = request(clients["anna"], world, method, path, rule, params=own)
    assert response.status_code == 403, (response.status_code, response.text[:300])


API_ROUTES = [r for r in HTTP_ROUTES if rule_for(*r).access is Access.TOKEN]


@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=[f"{m} {p}" for m, p in API_ROUTES])
def test_a_token_of_site_a_gets_nothing_of_site_b(world: World, method: str, path: str) -> None:
    rule = rule_for(method, path)
    before = world.b_snapshot()
    headers = {"authorization": f"Bearer {world.a_token}"}
    with httpx.Client(base_url=world.base, timeout=15, headers=headers) as token_a:
        response = request(token_a, world, method, path, rule)
        if rule.params:
            assert response.status_code in (403, 404), response.text[:300]
        else:
            assert response.status_code == 200, response.text[:300]  # its own site's list, without B
        assert not leaks(response.text), response.text[:300]
    for bad in ("Bearer", "Bearer bk_forged", f"Basic {world.a_token}", f"Bearer {world.a_token}x"):
        denied = httpx.request(method, world.base + fill(world, path, rule.params), headers={"authorization": bad})
        assert denied.status_code == 401, (bad, denied.status_code)
    assert world.b_snapshot() == before


async def test_the_manager_socket_refuses_anonymous_and_foreign_pages(world: World) -> None:
    url = f"{world.server.ws_base}/ws/manager"
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        async with connect(url, origin=world.base) as ws:  # type: ignore[arg-type]
            await asyncio.wait_for(ws.recv(), 5)
    cookie = world.client(ADMIN).cookies.get("beckon_session")
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        headers = {"cookie": f"beckon_session={cookie}"}
        async with connect(url, origin="http://evil.test", additional_headers=headers) as ws:  # type: ignore[arg-type]
            await asyncio.wait_for(ws.recv(), 5)


async def test_a_manager_socket_of_site_a_cannot_act_on_site_b(world: World) -> None:
    import json

    before = world.b_snapshot()
    client = world.client(ADMIN)
    headers = {"cookie": f"beckon_session={client.cookies.get('beckon_session')}"}
    url = f"{world.server.ws_base}/ws/manager"
    seen: list[str] = []
    async with connect(url, origin=world.base, additional_headers=headers) as ws:  # type: ignore[arg-type]
        frames: list[dict[str, Any]] = [
            {"type": "claim", "id": "claim-b-lead-1", "lead": world.b_lead_ref},
            {"type": "chat_reply", "id": "reply-b-conv-1", "conversation": world.b_conversation, "text": "hi"},
            {"type": "chat_sync", "id": "sync-b-conv-1", "conversation": world.b_conversation, "since": 0},
            {"type": "chat_close", "id": "close-b-conv-1", "conversation": world.b_conversation},
            {"type": "chat_transfer", "id": "move-b-conv-1", "conversation": world.b_conversation, "to": 1},
            {"type": "dialed", "id": "dialed-b-lead-1", "lead": world.b_lead_ref},
        ]
        for frame in frames:
            await ws.send(json.dumps(frame))
        await ws.send(json.dumps({"type": "ping"}))
        while True:
            raw = str(await asyncio.wait_for(ws.recv(), 5))
            seen.append(raw)
            if json.loads(raw).get("type") == "pong":
                break
    replies = [json.loads(s) for s in seen]
    answers = {r.get("id"): r for r in replies if r.get("id")}
    for frame in frames:
        assert answers.get(frame["id"], {}).get("type") == "error", (frame, answers.get(frame["id"]))
    assert not any(leaks(s) for s in seen), seen
    assert world.b_snapshot() == before
