"""CSRF on every dashboard form, session fixation, brute-force sign-in, logout that really ends the session."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import MANAGER
from tests.hostile.conftest import ADMIN, OWNER, World
from tests.hostile.routes import Access, app_routes, fill, rule_for, value_of
from tests.support import BeckonServer, csrf_from, login

# POST routes that are not dashboard forms, and what guards them instead.
NOT_FORMS = {
    "/api/v1/collect": "visitor endpoint: site key + allowed Origin, no cookies",
    "/api/v1/telephony/status": "provider callback: HMAC-signed body",
}
POSTS = [path for method, path in app_routes() if method == "POST" and path not in NOT_FORMS]
DAMAGE = {
    "status": "won",
    "temperature": "hot",
    "name": "Pwned",
    "role": "admin",
    "active": "",
    "email": "pwned@evil.test",
    "password": "pwned-password-1",
    "domains": "evil.test",
    "config": "{}",
    "url": "http://evil.test/hook",
    "events": "lead.created",
}


@pytest.fixture(scope="module")
def victim(world: World) -> httpx.Client:
    """Otto, owner of site B: every form of his would change something if it went through."""
    client = world.client(OWNER)
    client.csrf = csrf_from(client.get("/app/me").text)  # type: ignore[attr-defined]
    yield client  # type: ignore[misc]
    client.close()


def test_every_form_of_the_app_is_checked() -> None:
    assert len(POSTS) >= 20, POSTS
    assert all(path.startswith("/app/") for path in POSTS), "a new non-dashboard POST needs a NOT_FORMS reason"


@pytest.mark.parametrize("path", POSTS)
def test_a_form_without_a_valid_token_or_from_another_site_is_refused(
    world: World, victim: httpx.Client, path: str
) -> None:
    rule = rule_for("POST", path)
    url = fill(world, path, rule.params)
    form = DAMAGE | {k: value_of(world, v) for k, v in rule.form.items()}
    before = world.b_snapshot()
    token = victim.csrf  # type: ignore[attr-defined]
    attempts = {
        "no token": ({}, form),
        "empty token": ({}, form | {"csrf": ""}),
        "forged token": ({}, form | {"csrf": "0" * 64}),
        "another person's token": ({}, form | {"csrf": world.extra.setdefault("anna_csrf", _anna_token(world))}),
        "foreign Origin": ({"origin": "http://evil.test"}, form | {"csrf": token}),
        "foreign scheme": ({"origin": world.base.replace("http://", "https://")}, form | {"csrf": token}),
    }
    for what, (headers, data) in attempts.items():
        response = victim.post(url, data=data, headers=headers)
        if rule.access is Access.SETUP:  # closed once anyone exists; a fresh install is checked below
            assert response.status_code == 303 and response.headers["location"] == "/app/login"
            continue
        assert response.status_code == 403, (what, response.status_code, response.text[:200])
        if rule.access is not Access.SECRET_LINK:
            assert "another site" in response.text or "expired" in response.text, (what, response.text[:200])
    assert world.b_snapshot() == before
    # The refusal was the token's doing: the same session is still signed in.
    assert victim.get("/app/me").status_code == 200


def test_first_run_setup_is_refused_without_a_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = BeckonServer(tmp_path).start()  # a fresh install: nobody yet, the setup form is open
    try:
        with httpx.Client(base_url=server.base) as stranger:
            assert stranger.get("/app/setup").status_code == 200
            form = {"email": "evil@evil.test", "name": "Evil", "password": "evil-password-1"}
            assert stranger.post("/app/setup", data=form).status_code == 403
            assert stranger.post("/app/setup", data=form | {"csrf": "f" * 64}).status_code == 403
            assert stranger.get("/app/setup").status_code == 200  # still nobody: still open
    finally:
        server.stop()


def _anna_token(world: World) -> str:
    anna = world.client(MANAGER)
    try:
        return csrf_from(anna.get("/app/me").text)
    finally:
        anna.close()


def test_a_form_from_a_cookie_less_browser_is_refused(world: World) -> None:
    with httpx.Client(base_url=world.base) as fresh:
        token = csrf_from(fresh.get("/app/login").text)
        fresh.cookies.clear()  # the token alone, without the cookie it is bound to
        response = fresh.post("/app/login", data={"email": ADMIN[0], "password": ADMIN[1], "csrf": token})
        assert response.status_code == 403


# -- session fixation --------------------------------------------------------------------


def test_signing_in_replaces_a_planted_session(world: World) -> None:
    attacker = world.client(MANAGER)
    planted = attacker.cookies.get("beckon_session")
    assert planted
    with httpx.Client(base_url=world.base) as victim:
        victim.cookies.set("beckon_session", planted, domain="127.0.0.1")
        for name in ("beckon_csrf",):
            victim.cookies.set(name, attacker.cookies.get(name), domain="127.0.0.1", path="/app")
        # Signed in as the attacker without knowing it, the victim signs in to their own account.
        token = csrf_from(victim.get("/app/me").text)
        signed = victim.post("/app/login", data={"email": ADMIN[0], "password": ADMIN[1], "csrf": token})
        assert signed.status_code == 303
        fresh = victim.cookies.get("beckon_session")
        assert fresh and fresh != planted
        assert "Adam" in victim.get("/app/me").text
    # The planted cookie is dead: the attacker holds nothing that reaches Adam's account (or Anna's).
    assert attacker.get("/app/me").status_code == 303


def test_a_made_up_session_cookie_is_ignored_and_replaced(world: World) -> None:
    with httpx.Client(base_url=world.base) as browser:
        browser.cookies.set("beckon_session", "made-up-value", domain="127.0.0.1")
        assert browser.get("/app/me").status_code == 303
        assert login(browser, *ADMIN).status_code == 303
        assert browser.cookies.get("beckon_session") != "made-up-value"
        assert browser.get("/app/me").status_code == 200


# -- logout --------------------------------------------------------------------------------


async def test_logout_ends_the_session_on_the_server(world: World) -> None:
    client = world.client(ADMIN)
    stolen = client.cookies.get("beckon_session")
    token = csrf_from(client.get("/app/me").text)
    assert client.post("/app/logout", data={"csrf": token}).status_code == 303
    with httpx.Client(base_url=world.base) as thief:
        thief.cookies.set("beckon_session", stolen, domain="127.0.0.1")
        assert thief.get("/app/me").status_code == 303
        assert thief.get("/app/leads").headers["location"] == "/app/login"
    headers = {"cookie": f"beckon_session={stolen}"}
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        url = f"{world.server.ws_base}/ws/manager"
        async with connect(url, origin=world.base, additional_headers=headers) as ws:  # type: ignore[arg-type]
            await asyncio.wait_for(ws.recv(), 5)


# -- brute force ---------------------------------------------------------------------------


def test_guessing_passwords_is_throttled_with_a_clear_message(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server: BeckonServer = fresh_beckon(BECKON_LOGIN_MAX_FAILURES="3")
    email, password = MANAGER
    with httpx.Client(base_url=server.base) as guesser:
        for attempt in range(3):
            response = login(guesser, email, f"wrong-guess-{attempt}")
            assert response.status_code == 401
            assert "match an active account" in response.text
        throttled = login(guesser, email, "wrong-guess-again")
        assert throttled.status_code == 429
        assert "Too many failed sign-ins. Try again in" in throttled.text
        # Even the right password waits now: a guesser can't tell they finally hit it.
        assert login(guesser, email, password).status_code == 429
    with httpx.Client(base_url=server.base) as other:
        # The same address trying other accounts is held back too (per-IP limit: 4x the account's).
        for attempt in range(12):
            code = login(other, f"nobody{attempt}@example.test", "whatever-1").status_code
            if code == 429:
                break
        assert code == 429
