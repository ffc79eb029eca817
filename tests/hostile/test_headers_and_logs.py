"""Security headers and cookie flags, TLS-only HSTS, errors without traces, JSON access lines, /healthz."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx

from tests.conftest import MANAGER, ORIGIN, SITE
from tests.hostile.conftest import ADMIN, World
from tests.support import BeckonServer, login


def access_lines(server: BeckonServer) -> list[dict[str, Any]]:
    lines = []
    for raw in server.log_path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            line = json.loads(raw)
            if line.get("logger") == "beckon.access":
                lines.append(line)
    return lines


def line_for(server: BeckonServer, request_id: str) -> dict[str, Any]:
    """The access line of one request. It is written as the response ends, so it is there by now;
    the log file is flushed per line (PYTHONUNBUFFERED), but give the write a moment to land."""
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [x for x in access_lines(server) if x["request_id"] == request_id]
        if found:
            return found[0]
        time.sleep(0.05)  # polling a file another process appends to
    raise AssertionError(f"no access line for {request_id}:\n{server.log_tail()}")


def test_dashboard_pages_carry_csp_and_the_other_headers(world: World) -> None:
    anna = world.client(MANAGER)
    for response in (httpx.get(f"{world.base}/app/login"), anna.get("/app/leads"), anna.get("/app/me")):
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "object-src" in csp or "default-src 'self'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in headers  # plain http here
        assert len(headers["x-request-id"]) >= 8
    # Every other answer gets the basics too (a JSON API, a widget chunk).
    for response in (httpx.get(f"{world.base}/healthz"), httpx.get(f"{world.base}/embed.js")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"]


def test_the_widget_preview_may_be_framed_by_the_dashboard_only(world: World) -> None:
    adam = world.client(ADMIN)
    response = adam.get(f"/app/preview/{SITE}/callback/main")
    assert response.status_code == 200
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "SAMEORIGIN"


def test_cookies_are_httponly_and_samesite_always(world: World) -> None:
    with httpx.Client(base_url=world.base) as browser:
        login(browser, *MANAGER)
        page = browser.get("/app/login")  # a fresh CSRF cookie for a browser that has none
        del page
    response = httpx.get(f"{world.base}/app/login")
    cookies = response.headers.get_list("set-cookie")
    with httpx.Client(base_url=world.base) as browser:
        cookies += login(browser, *MANAGER).headers.get_list("set-cookie")
    assert any(c.startswith("beckon_session=") for c in cookies)
    for cookie in cookies:
        flags = cookie.lower()
        assert "httponly" in flags and "samesite=" in flags, cookie
        assert "secure" not in flags, cookie  # plain http, no trusted proxy


def test_hsts_and_secure_cookies_only_when_tls_is_vouched_for(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    untrusting: BeckonServer = fresh_beckon()
    forged = {"x-forwarded-proto": "https"}
    response = httpx.get(f"{untrusting.base}/app/login", headers=forged)
    assert "strict-transport-security" not in response.headers  # anyone can send that header
    assert "secure" not in response.headers["set-cookie"].lower()

    proxied: BeckonServer = fresh_beckon(BECKON_TRUST_PROXY="1")
    response = httpx.get(f"{proxied.base}/app/login", headers=forged)
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "; secure" in response.headers["set-cookie"].lower()
    # Secure cookies don't travel back over this test's plain http: hand the CSRF cookie back as a browser on https would.
    page = httpx.get(f"{proxied.base}/app/login", headers=forged)
    csrf_cookie = page.headers["set-cookie"].split(";", 1)[0]
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    signed = httpx.post(
        f"{proxied.base}/app/login",
        data={"email": MANAGER[0], "password": MANAGER[1], "csrf": token},
        headers=forged | {"cookie": csrf_cookie},
    )
    assert signed.status_code == 303, signed.text[:200]
    session = [c for c in signed.headers.get_list("set-cookie") if c.startswith("beckon_session=")]
    assert session and "; secure" in session[0].lower() and "httponly" in session[0].lower()
    plain = httpx.get(f"{proxied.base}/app/login", headers={"x-forwarded-proto": "http"})
    assert "strict-transport-security" not in plain.headers

    # The request id: taken from the trusted proxy if it is sane, never from anyone else.
    assert httpx.get(f"{proxied.base}/healthz", headers={"x-request-id": "lb-42"}).headers["x-request-id"] == "lb-42"
    assert httpx.get(f"{untrusting.base}/healthz", headers={"x-request-id": "lb-42"}).headers["x-request-id"] != "lb-42"
    evil = httpx.get(f"{proxied.base}/healthz", headers={"x-request-id": 'x" injected="1'})
    assert evil.headers["x-request-id"] != 'x" injected="1'


def test_one_json_access_line_per_request_with_its_id(world: World) -> None:
    config = httpx.get(f"{world.base}/api/v1/sites/{SITE}/config", headers={"origin": ORIGIN})
    line = line_for(world.server, config.headers["x-request-id"])
    assert line["method"] == "GET" and line["path"] == f"/api/v1/sites/{SITE}/config"
    assert line["status"] == 200 and line["site"] == SITE
    assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
    missing = httpx.get(f"{world.base}/app/no-such-page")
    assert line_for(world.server, missing.headers["x-request-id"])["status"] == 404
    # A path or site key carrying a newline can't forge a second log line: still one JSON line.
    forged = httpx.get(f"{world.base}/app/x%0a%7B%22status%22:200%7D", params={"site": 'a"\n{"x":1}'})
    assert line_for(world.server, forged.headers["x-request-id"])["path"] == '/app/x\n{"status":200}'
    ids = [x["request_id"] for x in access_lines(world.server)]
    assert len(ids) == len(set(ids)), "every request has its own id"


def test_a_server_error_shows_no_trace_and_names_its_request(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server: BeckonServer = fresh_beckon()
    server.add_site("broken", ["localhost"], name="Broken")
    server.add_user("bea@example.test", "bea-password-1", sites=["broken"])
    with sqlite3.connect(server.db_path) as db:  # data no code path can read: a forced 500
        db.execute("UPDATE sites SET settings = '{not json' WHERE key = 'broken'")
    api = httpx.get(f"{server.base}/api/v1/sites/broken/config", headers={"origin": ORIGIN})
    assert api.status_code == 500
    rid = api.headers["x-request-id"]
    assert api.json() == {
        "error": {
            "code": "internal",
            "message": "Something went wrong on our side. It has been logged.",
            "request_id": rid,
        }
    }
    assert api.headers["x-content-type-options"] == "nosniff"
    with httpx.Client(base_url=server.base) as bea:
        login(bea, "bea@example.test", "bea-password-1")
        page = bea.get("/app/leads")
    assert page.status_code == 500
    assert page.headers["x-request-id"] in page.text
    assert "content-security-policy" in page.headers
    for body in (api.text, page.text):
        assert "Traceback" not in body and 'File "' not in body and "JSONDecodeError" not in body
    assert line_for(server, rid)["status"] == 500
    assert f"request_id={rid}" in server.log_path.read_text() and "Traceback" in server.log_path.read_text()


def test_healthz_checks_the_database_and_says_503_when_it_cannot_write(world: World) -> None:
    ok = httpx.get(f"{world.base}/healthz")
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "database": "ok"}
    blocker = sqlite3.connect(world.server.db_path, isolation_level=None, timeout=10)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database: nothing can be stored
        down = httpx.get(f"{world.base}/healthz", timeout=30)
        assert down.status_code == 503
        assert down.json() == {"status": "down", "database": "unavailable"}
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert httpx.get(f"{world.base}/healthz").status_code == 200
    # The probe left nothing behind.
    with sqlite3.connect(world.server.db_path) as db:
        assert db.execute("SELECT count(*) FROM sessions WHERE token_hash = ''").fetchone()[0] == 0


def _login_via(server: BeckonServer, origin: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """Sign in as a browser on ``origin`` would: Origin header set, its cookies handed back even if Secure."""
    headers = headers or {}
    page = httpx.get(f"{server.base}/app/login", headers=headers)
    csrf_cookie = page.headers["set-cookie"].split(";", 1)[0]
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return httpx.post(
        f"{server.base}/app/login",
        data={"email": MANAGER[0], "password": MANAGER[1], "csrf": token},
        headers=headers | {"cookie": csrf_cookie, "origin": origin},
    )


def test_forms_work_behind_a_tls_proxy_and_still_refuse_other_origins(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    proxied: BeckonServer = fresh_beckon(BECKON_TRUST_PROXY="1")
    netloc = proxied.base.removeprefix("http://")
    tls = {"x-forwarded-proto": "https"}
    assert _login_via(proxied, f"https://{netloc}", tls).status_code == 303  # the browser's page is https
    assert _login_via(proxied, "https://evil.test", tls).status_code == 403
    assert _login_via(proxied, f"https://{netloc}").status_code == 403  # no proxy said https: a foreign scheme

    public: BeckonServer = fresh_beckon(BECKON_PUBLIC_URL="https://beckon.test")
    assert _login_via(public, "https://beckon.test").status_code == 303
    assert _login_via(public, "https://evil.test").status_code == 403


def test_the_client_address_comes_from_a_trusted_proxy_only(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    """Behind a proxy every peer is the proxy: one guesser must not lock everyone out (and logs name the client)."""
    for trusted in (True, False):
        server: BeckonServer = fresh_beckon(
            BECKON_LOGIN_MAX_FAILURES="1", **({"BECKON_TRUST_PROXY": "1"} if trusted else {})
        )
        guesser = {"x-forwarded-for": "198.51.100.1, 203.0.113.5"}
        with httpx.Client(base_url=server.base, headers=guesser) as client:
            codes = [login(client, f"guess{n}@example.test", "wrong-password").status_code for n in range(5)]
        assert codes == [401, 401, 401, 401, 429]  # four accounts' worth per address, then held back
        with httpx.Client(base_url=server.base, headers={"x-forwarded-for": "203.0.113.6"}) as someone_else:
            code = login(someone_else, "other@example.test", "wrong-password").status_code
        assert code == (401 if trusted else 429), trusted
        rid = httpx.get(f"{server.base}/healthz", headers=guesser).headers["x-request-id"]
        assert line_for(server, rid)["client"] == ("203.0.113.5" if trusted else "127.0.0.1")
