"""The integrations REST API: per-site bearer tokens made in the dashboard; leads list, get, patch, CSV."""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.models import NewLead, Role
from server.store import Store
from tests.conftest import MANAGER, OTHER_SITE, OUTSIDER, SITE
from tests.support import BeckonServer, csrf_from, login

ADMIN = ("ada@example.test", "ada-password-1")
OTHER_ADMIN = ("oscar@example.test", "oscar-password-1")


def client(server: BeckonServer) -> httpx.Client:
    return httpx.Client(base_url=server.base, follow_redirects=False)


@contextlib.contextmanager
def signed_in(server: BeckonServer, who: tuple[str, str]) -> Iterator[httpx.Client]:
    with client(server) as c:
        assert login(c, *who).status_code == 303
        yield c


def ensure_admins(server: BeckonServer) -> None:
    async def exists(store: Store) -> bool:
        return await store.get_user_by_email(ADMIN[0]) is not None

    if not server.with_store(exists):
        server.add_user(*ADMIN, sites=[SITE], name="Ada", role=Role.ADMIN)
        server.add_user(*OTHER_ADMIN, sites=[OTHER_SITE], name="Oscar", role=Role.ADMIN)


def make_token(server: BeckonServer, site: str = SITE, name: str = "CRM sync", who: tuple[str, str] = ADMIN) -> str:
    ensure_admins(server)
    with signed_in(server, who) as c:
        page = c.get("/app/integrations")
        reply = c.post("/app/integrations/tokens", data={"csrf": csrf_from(page.text), "site": site, "name": name})
        assert reply.status_code == 200, reply.text
        return reply.text.split('class="secret-value" readonly value="', 1)[1].split('"', 1)[0]


def seed_leads(server: BeckonServer, site: str, n: int, **over: Any) -> list[str]:
    async def action(store: Store) -> list[str]:
        found = await store.get_site_by_key(site)
        assert found is not None
        refs = []
        for i in range(n):
            fields: dict[str, Any] = {
                "site_id": found.id,
                "visitor_key": uuid.uuid4().hex,
                "kind": "callback",
                "client_frame_id": uuid.uuid4().hex,
                "phone": "+442079460958",
                "name": f"Seeded {i}",
                "email": None,
                "answers": {},
                "context": {"url": "http://localhost/"},
                "user_agent": "test",
                "source": "direct",
            } | over
            lead, _ = await store.create_lead(NewLead(**fields))
            refs.append(lead.ref)
        return refs

    return server.with_store(action)


def api(server: BeckonServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{server.base}/api/v1", headers=headers)


def test_missing_bad_and_revoked_tokens_get_401(beckon: BeckonServer) -> None:
    token = make_token(beckon, name="soon revoked")
    with api(beckon, None) as c:
        missing = c.get("/leads")
    with api(beckon, "bk_not-a-real-token") as c:
        bad = c.get("/leads")
    with api(beckon, token) as c:
        assert c.get("/leads").status_code == 200
    for reply in (missing, bad):
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "unauthorized"
        assert reply.headers["www-authenticate"].startswith("Bearer")
    with signed_in(beckon, ADMIN) as c:
        page = c.get("/app/integrations")
        token_id = page.text.split("soon revoked", 1)[0].rsplit('data-token="', 1)[1].split('"', 1)[0]
        assert (
            c.post(f"/app/integrations/tokens/{token_id}/revoke", data={"csrf": csrf_from(page.text)}).status_code
            == 303
        )
        assert "revoked" in c.get("/app/integrations").text
    with api(beckon, token) as c:
        revoked = c.get("/leads")
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "unauthorized"


def test_only_the_hash_is_stored_and_the_token_is_shown_once(beckon: BeckonServer) -> None:
    token = make_token(beckon, name="shown once")
    with signed_in(beckon, ADMIN) as c:
        assert token not in c.get("/app/integrations").text
    raw = beckon.db_path.read_bytes() + (
        beckon.db_path.with_name("beckon.sqlite3-wal").read_bytes()
        if beckon.db_path.with_name("beckon.sqlite3-wal").exists()
        else b""
    )
    assert token.encode() not in raw


def test_a_token_sees_its_own_site_only(beckon: BeckonServer) -> None:
    mine = seed_leads(beckon, SITE, 1, name="Mine")[0]
    theirs = seed_leads(beckon, OTHER_SITE, 1, name="Theirs")[0]
    token = make_token(beckon)
    with api(beckon, token) as c:
        listed = [x["ref"] for x in c.get("/leads", params={"limit": 200}).json()["leads"]]
        assert mine in listed and theirs not in listed
        assert c.get(f"/leads/{mine}").json()["lead"]["name"] == "Mine"
        for reply in (
            c.get(f"/leads/{theirs}"),
            c.get("/leads/no-such-lead"),
            c.patch(f"/leads/{theirs}", json={"status": "won"}),
        ):
            assert reply.status_code == 404
            assert reply.json() == {"error": {"code": "not_found", "message": "No such lead."}}
        assert theirs not in c.get("/leads.csv").text
    assert [x.status.value for x in beckon.leads(OTHER_SITE) if x.ref == theirs] == ["new"]


def test_list_filters_and_keyset_paging(fresh_beckon: Any) -> None:
    server: BeckonServer = fresh_beckon()
    refs = seed_leads(server, SITE, 7)
    quiz = seed_leads(server, SITE, 2, kind="quiz")
    token = make_token(server)
    with api(server, token) as c:
        seen, cursor = [], None
        while True:
            page = c.get("/leads", params={"limit": 3} | ({"cursor": cursor} if cursor else {})).json()
            assert len(page["leads"]) <= 3
            seen += [x["ref"] for x in page["leads"]]
            cursor = page["next"]
            if cursor is None:
                break
        assert seen == list(reversed(refs + quiz))
        assert [x["ref"] for x in c.get("/leads", params={"kind": "quiz"}).json()["leads"]] == list(reversed(quiz))
        c.patch(f"/leads/{refs[0]}", json={"status": "won"})
        assert [x["ref"] for x in c.get("/leads", params={"status": "won"}).json()["leads"]] == [refs[0]]
        assert c.get("/leads", params={"since": "2999-01-01T00:00:00Z"}).json() == {"leads": [], "next": None}
        assert len(c.get("/leads", params={"since": "0"}).json()["leads"]) == 9
        for bad in ({"status": "nope"}, {"since": "yesterday"}, {"limit": "0"}, {"cursor": "x"}):
            reply = c.get("/leads", params=bad)
            assert reply.status_code == 400 and set(reply.json()["error"]) == {"code", "message"}


def test_patch_changes_status_and_temperature_and_records_who(beckon: BeckonServer) -> None:
    ref = seed_leads(beckon, SITE, 1)[0]
    token = make_token(beckon, name="Pipedrive")
    with api(beckon, token) as c:
        reply = c.patch(f"/leads/{ref}", json={"status": "in_progress", "temperature": "hot"})
        assert reply.status_code == 200
        assert (reply.json()["lead"]["status"], reply.json()["lead"]["temperature"]) == ("in_progress", "hot")
        assert c.get(f"/leads/{ref}").json()["lead"]["status"] == "in_progress"
        for body, code in (
            ({"status": "missed"}, "invalid_status"),
            ({"temperature": "boiling"}, "invalid_temperature"),
            ({"name": "x"}, "invalid_field"),
            ([], "invalid_json"),
        ):
            bad = c.patch(f"/leads/{ref}", json=body)
            assert (bad.status_code, bad.json()["error"]["code"]) == (400, code)
        assert c.patch(f"/leads/{ref}", content=b"{oops").status_code == 400

    async def events(store: Store) -> list[Any]:
        lead = await store.get_lead(ref)
        assert lead is not None
        return await store.lead_events(lead.id)

    changed = [e for e in beckon.with_store(events) if e.type == "api_update"]
    assert len(changed) == 1
    assert changed[0].data["by"] == "API token Pipedrive"
    assert changed[0].data["changes"] == {"status": ["new", "in_progress"], "temperature": [None, "hot"]}
    with signed_in(beckon, MANAGER) as c:
        assert "API token Pipedrive" in c.get(f"/app/leads/{ref}").text


def test_csv_export_respects_filters(beckon: BeckonServer) -> None:
    refs = seed_leads(beckon, SITE, 2, kind="popup", name="=HYPERLINK(1)")
    token = make_token(beckon)
    with api(beckon, token) as c:
        reply = c.get("/leads.csv", params={"kind": "popup"})
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert {r["ref"] for r in rows} >= set(refs)
    assert {r["kind"] for r in rows} == {"popup"}
    assert rows[0]["name"] == "'=HYPERLINK(1)" and rows[0]["phone"] == "+442079460958"


@pytest.mark.parametrize("who", [MANAGER, OUTSIDER])
def test_managers_may_not_open_integrations(beckon: BeckonServer, who: tuple[str, str]) -> None:
    with signed_in(beckon, who) as c:
        page = c.get("/app/integrations")
        assert page.status_code == 403
        csrf = csrf_from(page.text)
        made = c.post("/app/integrations/tokens", data={"csrf": csrf, "site": SITE, "name": "sneaky"})
        assert made.status_code == 403


def test_an_admin_of_another_site_cannot_see_or_touch_its_tokens(beckon: BeckonServer) -> None:
    make_token(beckon, name="Ada's secret integration")
    with signed_in(beckon, OTHER_ADMIN) as c:
        page = c.get("/app/integrations")
        assert page.status_code == 200 and "Ada&#39;s secret integration" not in page.text
        csrf = csrf_from(page.text)
        assert c.post("/app/integrations/tokens", data={"csrf": csrf, "site": SITE, "name": "x"}).status_code == 404
        hook = c.post("/app/integrations/webhooks", data={"csrf": csrf, "site": SITE, "url": "http://127.0.0.1:9/h"})
        assert hook.status_code == 404
    with signed_in(beckon, ADMIN) as c:
        page = c.get("/app/integrations")
        token_id = page.text.split("Ada&#39;s secret integration", 1)[0].rsplit('data-token="', 1)[1].split('"', 1)[0]
    with signed_in(beckon, OTHER_ADMIN) as c:
        csrf = csrf_from(c.get("/app/integrations").text)
        assert c.post(f"/app/integrations/tokens/{token_id}/revoke", data={"csrf": csrf}).status_code == 404
    with signed_in(beckon, ADMIN) as c:
        assert c.post(f"/app/integrations/tokens/{token_id}/revoke", data={"csrf": "forged"}).status_code == 403
