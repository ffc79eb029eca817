"""Leads CRM: the filtered table and its paging, the lead card's changes and their timeline lines,
the CSV export, erasure, the audit log, and who may do any of it."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from server.models import Actor, EventRecord, LeadFilter, NewLead, Role
from server.store import Store
from server.store.sqlite import SQLiteStore, _search_query
from tests.conftest import MANAGER, OUTSIDER, SITE, seeded_server
from tests.support import BeckonServer, csrf_from, login

ADMIN = ("ada@example.test", "ada-password-1")
BORIS = ("boris@example.test", "boris-password-1")
ROWS = re.compile(r'<tr data-ref="([^"]+)"')


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BeckonServer]:
    server = seeded_server(tmp_path_factory.mktemp("crm"))
    server.add_user(ADMIN[0], ADMIN[1], sites=[SITE], name="Ada", role=Role.ADMIN)
    server.add_user(BORIS[0], BORIS[1], sites=[SITE], name="Boris")
    yield server
    server.stop()


@contextmanager
def client(server: BeckonServer, who: tuple[str, str] | None = None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base, follow_redirects=False) as c:
        if who:
            assert login(c, *who).status_code == 303
        yield c


def seed(server: BeckonServer, site_key: str, leads: list[dict[str, object]]) -> list[str]:
    """Leads stored as the ingest stores them; returns their refs in order of creation."""

    async def action(store: Store) -> list[str]:
        site = await store.get_site_by_key(site_key)
        assert site is not None
        refs = []
        for i, over in enumerate(leads):
            fields: dict[str, object] = {
                "site_id": site.id,
                "visitor_key": f"v-{time.monotonic_ns()}-{i}",
                "kind": "callback",
                "client_frame_id": f"f-{time.monotonic_ns()}-{i}",
                "phone": "+442079460958",
                "name": "Ann",
                "email": None,
                "answers": {},
                "context": {"url": "http://localhost/demo/", "trail": [{"url": "http://localhost/a", "at": 1}]},
                "user_agent": "test-agent",
                "source": "direct",
            } | over
            lead, _ = await store.create_lead(NewLead(**fields))  # type: ignore[arg-type]
            refs.append(lead.ref)
        return refs

    return server.with_store(action)


def refs_on(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return ROWS.findall(page.text)


def test_filters_and_search_select_the_matching_leads(crm: BeckonServer) -> None:
    tag = f"filt{time.monotonic_ns()}"
    quiz, popup_ref, named, mailed = seed(
        crm,
        SITE,
        [
            {"kind": "quiz", "source": f"{tag}-ads"},
            {"kind": "popup", "source": f"{tag}-ads"},
            {"name": f"Zed {tag}", "phone": "+441632960777"},
            {"email": f"{tag}@mail.test", "name": "Mo"},
        ],
    )
    with client(crm, MANAGER) as c:
        assert refs_on(c.get("/app/leads", params={"source": f"{tag}-ads"})) == [popup_ref, quiz]
        assert refs_on(c.get("/app/leads", params={"source": f"{tag}-ads", "kind": "quiz"})) == [quiz]
        assert refs_on(c.get("/app/leads", params={"q": f"zed {tag}"})) == [named]
        assert refs_on(c.get("/app/leads", params={"q": "01632 960777"})) == [named]
        assert refs_on(c.get("/app/leads", params={"q": f"{tag}@MAIL"})) == [mailed]
        # A LIKE wildcard is a character searched for, not "anything".
        assert refs_on(c.get("/app/leads", params={"q": "%"})) == []
        today = time.strftime("%Y-%m-%d", time.gmtime())
        dated = refs_on(c.get("/app/leads", params={"q": f"zed {tag}", "from": today, "to": today}))
        assert dated == [named]
        assert refs_on(c.get("/app/leads", params={"q": f"zed {tag}", "to": "2000-01-01"})) == []
        page = c.get("/app/leads", params={"source": f"{tag}-ads"})
        # A filtered list is not fed live rows that might not match.
        assert 'data-live="0"' in page.text and "Clear filters" in page.text
        assert 'data-live="1"' in c.get("/app/leads").text


def test_status_temperature_and_assignee_filters_follow_changes(crm: BeckonServer) -> None:
    (ref,) = seed(crm, SITE, [{"name": "Filter Me"}])
    with client(crm, MANAGER) as c:
        token = csrf_from(c.get(f"/app/leads/{ref}").text)
        for change, value in (("status", "won"), ("temperature", "hot")):
            assert c.post(f"/app/leads/{ref}", data={"csrf": token, "change": change, "value": value}).is_redirect
        assert ref in refs_on(c.get("/app/leads", params={"status": "won", "temperature": "hot"}))
        assert ref not in refs_on(c.get("/app/leads", params={"status": "lost"}))
        assert ref in refs_on(c.get("/app/leads", params={"assignee": "none", "q": "Filter Me"}))


def test_paging_walks_every_lead_once_newest_first(crm: BeckonServer) -> None:
    tag = f"page{time.monotonic_ns()}"
    made = seed(crm, SITE, [{"source": tag, "name": f"P{i}"} for i in range(120)])
    seen: list[str] = []
    url: str | None = f"/app/leads?source={tag}"
    with client(crm, MANAGER) as c:
        while url:
            page = c.get(url)
            seen += refs_on(page)
            found = re.search(r'href="([^"]+)" rel="next"', page.text)
            url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == list(reversed(made))


def test_each_change_is_a_timeline_line_with_who(crm: BeckonServer) -> None:
    (ref,) = seed(crm, SITE, [{"name": "Timeline"}])
    with client(crm, MANAGER) as c:
        token = csrf_from(c.get(f"/app/leads/{ref}").text)
        boris = crm.with_store(lambda s: s.get_user_by_email(BORIS[0]))
        assert boris is not None
        for change, value in (
            ("status", "in_progress"),
            ("temperature", "warm"),
            ("assignee", str(boris.id)),
            ("note", "Wants a quote <b>by Friday</b>"),
            ("follow_up", "2030-05-06T10:30"),
        ):
            reply = c.post(f"/app/leads/{ref}", data={"csrf": token, "change": change, "value": value})
            assert reply.status_code == 303 and reply.headers["location"] == f"/app/leads/{ref}"
        page = c.get(f"/app/leads/{ref}").text
    assert "Status: new → in progress (by Anna)" in page
    assert "Temperature: warm (by Anna)" in page
    assert "Assigned to Boris (by Anna)" in page
    assert "Note by Anna: Wants a quote &lt;b&gt;by Friday&lt;/b&gt;" in page
    assert "Follow-up set for Mon 06 May 10:30 UTC (by Anna)" in page
    assert 'value="2030-05-06T10:30"' in page
    lead = crm.with_store(lambda s: s.get_lead(ref))
    assert lead.status.value == "in_progress" and lead.temperature == "warm" and lead.assignee_id == boris.id


def test_changes_are_checked(crm: BeckonServer) -> None:
    (ref,) = seed(crm, SITE, [{}])
    olga = crm.with_store(lambda s: s.get_user_by_email(OUTSIDER[0]))
    with client(crm, MANAGER) as c:
        token = csrf_from(c.get(f"/app/leads/{ref}").text)
        bad = [
            {"change": "status", "value": "bogus"},
            {"change": "temperature", "value": "boiling"},
            {"change": "assignee", "value": str(olga.id)},  # not a member of this lead's site
            {"change": "note", "value": " "},
            {"change": "follow_up", "value": "soon"},
            {"change": "ref", "value": "x"},
        ]
        for data in bad:
            assert c.post(f"/app/leads/{ref}", data={"csrf": token, **data}).status_code == 400, data
        # partial is Beckon's own status (a quiz left halfway): no person moves a lead there.
        refused = c.post(f"/app/leads/{ref}", data={"csrf": token, "change": "status", "value": "partial"})
        assert refused.status_code == 409 and "can&#39;t become partial" in refused.text
        forged = c.post(f"/app/leads/{ref}", data={"csrf": "forged", "change": "status", "value": "won"})
        assert forged.status_code == 403
    lead = crm.with_store(lambda s: s.get_lead(ref))
    assert lead.status.value == "new" and lead.assignee_id is None and lead.temperature is None


def test_other_sites_managers_get_404_everywhere_and_anonymous_are_sent_to_sign_in(crm: BeckonServer) -> None:
    (ref,) = seed(crm, SITE, [{"name": "Not Olga's"}])
    with client(crm, OUTSIDER) as c:
        token = csrf_from(c.get("/app/leads").text)
        assert c.get(f"/app/leads/{ref}").status_code == 404
        for path in (f"/app/leads/{ref}", f"/app/leads/{ref}/anonymise", f"/app/leads/{ref}/delete"):
            reply = c.post(path, data={"csrf": token, "change": "status", "value": "spam"})
            assert reply.status_code == 404, path
        assert ref not in c.get("/app/leads").text
        assert ref not in c.get("/app/leads.csv").text
        anna_site = crm.with_store(lambda s: s.get_site_by_key(SITE))
        # Asking for a site one is not a member of filters nothing in: it is ignored.
        assert ref not in c.get("/app/leads", params={"site": anna_site.id}).text
    with client(crm) as anonymous:
        for path in ("/app/leads", "/app/leads.csv", f"/app/leads/{ref}"):
            assert anonymous.get(path).headers["location"] == "/app/login"
        for path in (f"/app/leads/{ref}", f"/app/leads/{ref}/anonymise", f"/app/leads/{ref}/delete"):
            assert anonymous.post(path, data={"change": "status", "value": "spam"}).headers["location"] == "/app/login"
    assert crm.with_store(lambda s: s.get_lead(ref)).status.value == "new"


def test_csv_export_respects_filters_neutralises_formulas_and_is_audited(crm: BeckonServer) -> None:
    tag = f"csv{time.monotonic_ns()}"
    evil, plain = seed(
        crm,
        SITE,
        [
            {"source": tag, "name": '=HYPERLINK("http://evil.test")', "email": "@x.test"},
            {"source": tag, "name": 'Plain, "quoted"', "phone": "+441632960001"},
        ],
    )
    seed(crm, SITE, [{"source": f"{tag}-other"}])
    with client(crm, MANAGER) as c:
        reply = c.get("/app/leads.csv", params={"source": tag})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [r["ref"] for r in rows] == [plain, evil]
    assert rows[1]["name"] == '\'=HYPERLINK("http://evil.test")' and rows[1]["email"] == "'@x.test"
    assert rows[0]["name"] == 'Plain, "quoted"' and rows[0]["phone"] == "'+441632960001"
    assert rows[0]["site"] == "Test Workshop" and rows[0]["source"] == tag
    anna = crm.with_store(lambda s: s.get_user_by_email(MANAGER[0]))
    entry = crm.with_store(lambda s: s.audit_log())[0]
    assert (entry.action, entry.user_id, entry.rows, entry.detail) == (
        "export",
        anna.id,
        2,
        {"filter": {"source": tag}, "sites": [site.id for site in crm.with_store(lambda s: s.user_sites(anna.id))]},
    )


def test_anonymise_blanks_personal_data_keeps_the_lead_and_is_audited(crm: BeckonServer) -> None:
    tag = f"anon{time.monotonic_ns()}"
    (ref,) = seed(
        crm,
        SITE,
        [{"source": tag, "name": "Erase Me", "email": "erase@me.test", "answers": {"quiz": "kq", "a": "secret"}}],
    )
    lead = crm.with_store(lambda s: s.get_lead(ref))
    crm.with_store(lambda s: s.add_lead_event(lead.id, EventRecord("note", Actor.USER, None, {"text": "call 0777"})))
    with client(crm, MANAGER) as manager:
        token = csrf_from(manager.get(f"/app/leads/{ref}").text)
        assert manager.post(f"/app/leads/{ref}/anonymise", data={"csrf": token}).status_code == 403
        assert manager.post(f"/app/leads/{ref}/delete", data={"csrf": token}).status_code == 403
    with client(crm, ADMIN) as admin:
        page = admin.get(f"/app/leads/{ref}")
        assert admin.post(f"/app/leads/{ref}/anonymise", data={"csrf": "forged"}).status_code == 403
        reply = admin.post(f"/app/leads/{ref}/anonymise", data={"csrf": csrf_from(page.text)})
        assert reply.status_code == 303
        shown = admin.get(f"/app/leads/{ref}").text
    assert "Personal data erased on the visitor&#39;s request (by Ada)" in shown
    assert "Erase Me" not in shown and "call 0777" not in shown and "http://localhost/a" not in shown
    after = crm.with_store(lambda s: s.get_lead(ref))
    assert (after.name, after.phone, after.email) == (None, None, None)
    assert after.answers == {"quiz": "kq", "anonymised": True} and after.context == {}
    assert after.source == tag and after.kind == "callback"
    visitor = crm.with_store(lambda s: s.get_visitor(after.visitor_id))
    assert visitor.page_trail == [] and visitor.user_agent == ""
    entry = crm.with_store(lambda s: s.audit_log())[0]
    assert (entry.action, entry.user_name, entry.detail, entry.rows) == ("anonymise", "Ada", {"lead": ref}, 1)


def test_delete_removes_the_lead_and_is_audited(crm: BeckonServer) -> None:
    (ref,) = seed(crm, SITE, [{"name": "Delete Me"}])
    with client(crm, ADMIN) as admin:
        token = csrf_from(admin.get(f"/app/leads/{ref}").text)
        reply = admin.post(f"/app/leads/{ref}/delete", data={"csrf": token})
        assert reply.status_code == 303 and reply.headers["location"] == "/app/leads"
        assert admin.get(f"/app/leads/{ref}").status_code == 404
    assert crm.with_store(lambda s: s.get_lead(ref)) is None
    entry = crm.with_store(lambda s: s.audit_log())[0]
    assert (entry.action, entry.detail) == ("delete", {"lead": ref})


async def test_keyset_pages_use_an_index_at_100k_leads(tmp_path: Path) -> None:
    """100,000 leads over two sites: a deep page, a filtered page and a search answer from indexes
    (no sort of the whole table) — checked by the query plan, not by timing."""
    store = SQLiteStore(tmp_path / "big.sqlite3")
    await store.open()
    try:
        await store.migrate()
        a = await store.create_site(key="a", name="A", allowed_domains=[])
        b = await store.create_site(key="b", name="B", allowed_domains=[])
        db = store._writer
        assert db is not None
        now = time.time()
        await db.execute("BEGIN")
        await db.executemany(
            "INSERT INTO leads (ref, site_id, kind, status, phone, name, source, client_frame_id, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    f"r{i}",
                    a.id if i % 3 else b.id,
                    ("callback", "quiz", "popup", "chat")[i % 4],
                    ("new", "in_progress", "won", "lost", "spam")[i % 5],
                    f"+4420794{i:05d}",
                    f"Name {i}",
                    ("direct", "ads", "news")[i % 3],
                    f"f{i}",
                    now - 100_000 + i,
                    now,
                )
                for i in range(100_000)
            ),
        )
        await db.execute("COMMIT")
        for where in (LeadFilter(), LeadFilter(site_id=a.id), LeadFilter(status="won", kind="quiz")):
            page = await store.search_leads([a.id, b.id], where, before_id=50_000, limit=51)
            assert len(page) == 51 and all(x.id < 50_000 for x in page)
            assert [x.id for x in page] == sorted((x.id for x in page), reverse=True)
        found = await store.search_leads([a.id, b.id], LeadFilter(search="20794 12345"), limit=51)
        assert [x.name for x in found] == ["Name 12345"]
        # Each site's filtered page walks an index in id order and stops at the page's end; the sites'
        # pages are merged by rowid lookups in order: no sort of the matches, no scan of the table.
        # A date filter made one IN over the sites sort every match (SQLite picked an index not in id order).
        since = LeadFilter(since=now - 200_000)
        for where in (LeadFilter(status="won"), LeadFilter(kind="quiz"), LeadFilter(), since):
            query = _search_query([a.id, b.id], where, before_id=50_000, limit=51, due_by=None)
            assert query is not None
            plan = [r["detail"] for r in await store._all("EXPLAIN QUERY PLAN " + query[0], query[1])]
            assert not [step for step in plan if "TEMP B-TREE" in step or step.startswith("SCAN l")], plan
            assert sum(step.startswith("SEARCH l USING") and "INDEX" in step for step in plan) == 2, plan
        # A search for part of a name or number: no index helps; one backwards walk of the table that stops
        # at the page's end (never a sort of the matches).
        query = _search_query([a.id, b.id], LeadFilter(search="Name 1"), before_id=0, limit=51, due_by=None)
        assert query is not None
        plan = [r["detail"] for r in await store._all("EXPLAIN QUERY PLAN " + query[0], query[1])]
        assert "SCAN l" in plan and not [step for step in plan if "TEMP B-TREE" in step], plan
    finally:
        await store.close()


# -- the status state machine ----------------------------------------------------------------------


def test_status_moves_follow_the_state_machine_on_the_card_and_in_the_api(crm: BeckonServer) -> None:
    (ref,) = seed(crm, SITE, [{"name": "Machine"}])

    def move(c: httpx.Client, value: str) -> httpx.Response:
        token = csrf_from(c.get(f"/app/leads/{ref}").text)
        return c.post(f"/app/leads/{ref}", data={"csrf": token, "change": "status", "value": value})

    with client(crm, MANAGER) as c:
        assert move(c, "won").status_code == 303  # settled on the first call: straight from new
        refused = move(c, "lost")
        assert refused.status_code == 409
        assert "A lead that is won can&#39;t become lost. Reopen it (in progress) first." in refused.text
        assert "From won it can go to: in progress, spam." in refused.text
        assert move(c, "new").status_code == 409
        assert move(c, "in_progress").status_code == 303  # reopened
        assert move(c, "lost").status_code == 303
        assert move(c, "spam").status_code == 303  # spam from anywhere
        assert move(c, "won").status_code == 409
        assert move(c, "new").status_code == 303  # not spam after all: back to the queue
        page = c.get(f"/app/leads/{ref}").text
    assert "Status: won → in progress (by Anna)" in page and "Status: spam → new (by Anna)" in page
    # The card offers only the moves that are possible from here.
    status_form = page.split('aria-label="Status"', 1)[1].split("</form>", 1)[0]
    offered = re.findall(r'name="value" value="([a-z_]+)"', status_form)
    assert offered == ["in_progress", "won", "lost", "spam"]
    assert crm.with_store(lambda s: s.get_lead(ref)).status.value == "new"

    # The REST API keeps the same machine.
    from tests.integration.test_api import make_token

    token = make_token(crm)
    with httpx.Client(base_url=f"{crm.base}/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.patch(f"/leads/{ref}", json={"status": "lost"}).status_code == 200
        refused = api.patch(f"/leads/{ref}", json={"status": "won", "temperature": "hot"})
        assert refused.status_code == 409
        assert refused.json()["error"] == {
            "code": "invalid_transition",
            "message": "A lead that is lost can't become won. Reopen it (in progress) first."
            " From lost it can go to: in progress, spam.",
        }
        assert api.get(f"/leads/{ref}").json()["lead"]["temperature"] is None  # nothing of it was applied
        assert api.patch(f"/leads/{ref}", json={"status": "in_progress"}).json()["lead"]["status"] == "in_progress"


# -- the lead card's one timeline -------------------------------------------------------------------


def test_the_card_timeline_tells_everything_oldest_first_with_who(crm: BeckonServer) -> None:
    visitor = f"tl-{time.monotonic_ns()}"
    now_ms = int(time.time() * 1000)
    trail = [
        {"url": "http://localhost/prices", "title": "Prices page", "at": now_ms - 60_000},
        {"url": "http://localhost/kitchens", "title": "Kitchens page", "at": now_ms - 30_000},
    ]
    quiz_answers = {
        "title": "Kitchen cost",
        "complete": True,
        "steps": [{"id": "size", "question": "How big is the kitchen?", "text": "12 m²"}],
        "shown": [{"label": "Estimate", "value": "£9,000"}],
    }
    anna = crm.with_store(lambda s: s.get_user_by_email(MANAGER[0]))

    async def story(store: Store) -> str:
        site = await store.get_site_by_key(SITE)
        assert site is not None
        await store.record_visitor_event(
            site_id=site.id,
            visitor_key=visitor,
            client_frame_id=f"{visitor}-p1",
            name="popup_shown",
            props={"popup": "spring-sale"},
        )
        lead, _ = await store.create_lead(
            NewLead(
                site_id=site.id,
                visitor_key=visitor,
                kind="quiz",
                client_frame_id=f"{visitor}-lead",
                phone="+442079460958",
                name="Tina Timeline",
                email=None,
                answers=quiz_answers,
                context={"url": "http://localhost/kitchens", "trail": trail},
                user_agent="test-agent",
                source="ads",
            ),
            events=[EventRecord("quiz_completed", Actor.VISITOR, None, {"quiz": "Kitchen cost"})],
        )
        await store.add_lead_event(lead.id, EventRecord("alerted", Actor.SYSTEM, None, {"to": ["Anna"]}))
        await store.add_lead_event(lead.id, EventRecord("claimed", Actor.USER, anna.id, {"after_seconds": 4}))
        await store.add_lead_event(
            lead.id, EventRecord("outcome", Actor.USER, anna.id, {"outcome": "no_answer", "retry_at": 1_900_000_000})
        )
        conversation, _, _ = await store.add_visitor_message(
            site_id=site.id,
            visitor_key=visitor,
            frame_id=f"{visitor}-m1",
            text="Do you fit worktops?",
            contact={},
            offered_to=[anna.id],
            assignee_id=anna.id,
            user_agent="test-agent",
            context={},
        )
        await store.add_manager_message(conversation.id, anna.id, "Yes, within a week.", f"{visitor}-m2")
        await store.record_visitor_event(
            site_id=site.id,
            visitor_key=visitor,
            client_frame_id=f"{visitor}-p2",
            name="popup_closed",
            props={"popup": "spring-sale"},
        )
        return lead.ref

    ref = crm.with_store(story)
    with client(crm, MANAGER) as c:
        page = c.get(f"/app/leads/{ref}").text
    timeline = page.split('id="timeline-h"', 1)[1]
    expected = [
        "Viewed Prices page",
        "Viewed Kitchens page",
        "Saw the popup “spring-sale”",
        "Finished the quiz “Kitchen cost”",
        "Quiz answers",
        'How big is the kitchen?</strong>: <span class="wrap">12 m²',
        'Estimate</strong>: <span class="wrap">£9,000',
        "Alerted Anna",
        "Claimed by Anna after 4 s",
        "Outcome: no answer, call again",
        "Chat (2 messages)",
        "Do you fit worktops?",
        '<strong>Anna</strong>: <span class="wrap">Yes, within a week.',
        "Closed the popup “spring-sale”",
    ]
    where = [timeline.find(text) for text in expected]
    assert all(i >= 0 for i in where), [t for t, i in zip(expected, where, strict=True) if i < 0]
    assert where == sorted(where), "the timeline is oldest first"
    assert '<span class="tl-who">Anna</span> <span class="wrap">Claimed by Anna' in timeline
    assert '<span class="tl-who">visitor</span> <span class="wrap">Viewed Prices page' in timeline


# -- follow-up reminders ------------------------------------------------------------------------------


async def _dashboard(server: BeckonServer, who: tuple[str, str]):  # type: ignore[no-untyped-def]
    """A signed-in manager's live dashboard socket, after its welcome."""
    import json

    from websockets.asyncio.client import connect

    with httpx.Client(base_url=server.base) as c:
        assert login(c, *who).status_code == 303
        cookie = f"beckon_session={c.cookies.get('beckon_session')}"
    ws = await connect(f"{server.ws_base}/ws/manager", origin=server.base, additional_headers={"Cookie": cookie})
    await ws.send(json.dumps({"type": "hello", "since": 10**9}))
    heard: list[dict] = []
    while not any(f["type"] == "welcome" for f in heard):
        heard.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    return ws, heard


async def _follow_ups(ws, heard: list[dict], ref: str, timeout: float = 10) -> list[dict]:  # type: ignore[no-untyped-def]
    """Frames until the pong that answers a ping sent after ``ref``'s follow-up frame arrived."""
    import json

    deadline = time.monotonic() + timeout
    while not any(f["type"] == "follow_up" and f["lead"] == ref for f in heard):
        heard.append(json.loads(await asyncio.wait_for(ws.recv(), max(deadline - time.monotonic(), 0.01))))
    await ws.send('{"type": "ping"}')
    while heard[-1]["type"] != "pong":
        heard.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    return [f for f in heard if f["type"] == "follow_up" and f["lead"] == ref]


def _events_of(server: BeckonServer, ref: str) -> list[str]:
    async def action(store: Store) -> list[str]:
        lead = await store.get_lead(ref)
        assert lead is not None
        return [e.type for e in await store.lead_events(lead.id)]

    return server.with_store(action)


async def test_a_due_follow_up_alerts_its_assignee_once_and_survives_a_restart(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    server.add_user(*BORIS, sites=[SITE], name="Boris")
    (ref,) = seed(server, SITE, [{"name": "Remind Me"}])
    boris = server.with_store(lambda s: s.get_user_by_email(BORIS[0]))
    anna_ws, anna_heard = await _dashboard(server, MANAGER)
    boris_ws, boris_heard = await _dashboard(server, BORIS)
    with client(server, MANAGER) as c:
        token = csrf_from(c.get(f"/app/leads/{ref}").text)
        c.post(f"/app/leads/{ref}", data={"csrf": token, "change": "assignee", "value": str(boris.id)})
        # A minute ago, in the site's time zone (UTC): due at once.
        due = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 60))
        assert c.post(f"/app/leads/{ref}", data={"csrf": token, "change": "follow_up", "value": due}).is_redirect
    (frame,) = await _follow_ups(boris_ws, boris_heard, ref)
    assert (frame["name"], frame["assignee_id"], frame["site"]) == ("Remind Me", boris.id, "Test Workshop")
    assert "replay" not in frame
    # Anna is not the assignee: her dashboard hears nothing of it.
    await anna_ws.send('{"type": "ping"}')
    while anna_heard[-1]["type"] != "pong":
        anna_heard.append(__import__("json").loads(await asyncio.wait_for(anna_ws.recv(), 10)))
    assert not [f for f in anna_heard if f["type"] == "follow_up"]
    await anna_ws.close()
    await boris_ws.close()
    assert _events_of(server, ref).count("follow_up_due") == 1
    with client(server, BORIS) as c:
        assert ref in refs_on(c.get("/app/leads", params={"due": "1"}))
        assert "Follow-up due: reminded Boris" in c.get(f"/app/leads/{ref}").text

    server.restart()
    # Fired before the restart: not fired again, but told to the dashboard that connects now.
    boris_ws, boris_heard = await _dashboard(server, BORIS)
    (again,) = await _follow_ups(boris_ws, boris_heard, ref)
    assert again["replay"] is True
    await boris_ws.close()
    assert _events_of(server, ref).count("follow_up_due") == 1


async def test_follow_ups_that_fell_due_while_down_fire_after_start_to_every_member(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    (ref,) = seed(server, SITE, [{"name": "While Down"}])
    server.stop()

    async def set_due(store: Store) -> None:
        lead = await store.get_lead(ref)
        assert lead is not None
        await store.update_lead(lead.id, {"follow_up_at": time.time() - 5}, [])

    server.with_store(set_due)
    server.start()
    # Nobody is assigned: every member of the site is told (Anna is its only member).
    ws, heard = await _dashboard(server, MANAGER)
    (frame,) = await _follow_ups(ws, heard, ref)
    await ws.close()
    assert frame["name"] == "While Down"
    assert _events_of(server, ref).count("follow_up_due") == 1
    with client(server, OUTSIDER) as c:  # another site's manager sees nothing of it
        assert ref not in c.get("/app/leads", params={"due": "1"}).text


def test_follow_up_due_filter_lists_only_leads_whose_time_has_come(crm: BeckonServer) -> None:
    tag = f"due{time.monotonic_ns()}"
    past, future, none = seed(crm, SITE, [{"source": tag}, {"source": tag}, {"source": tag}])

    async def times(store: Store) -> None:
        for ref, at in ((past, time.time() - 3600), (future, time.time() + 86400)):
            lead = await store.get_lead(ref)
            assert lead is not None
            await store.update_lead(lead.id, {"follow_up_at": at}, [])

    crm.with_store(times)
    with client(crm, MANAGER) as c:
        page = c.get("/app/leads", params={"source": tag, "due": "1"})
        assert refs_on(page) == [past]
        assert 'name="due" value="1" checked' in page.text and 'data-live="0"' in page.text
        rows = list(csv.DictReader(io.StringIO(c.get("/app/leads.csv", params={"source": tag, "due": "1"}).text)))
        assert [r["ref"] for r in rows] == [past]
        everything = c.get("/app/leads", params={"source": tag}).text
    assert refs_on_text(everything) == [none, future, past]
    assert everything.count("follow-up due</span>") == 1


def refs_on_text(html: str) -> list[str]:
    return ROWS.findall(html)


# -- the audit log page -------------------------------------------------------------------------------


def test_audit_page_shows_owners_and_admins_their_sites_entries(crm: BeckonServer) -> None:
    (ref,) = seed(crm, SITE, [{"name": "Audit Me"}])
    with client(crm, ADMIN) as admin:
        admin.get("/app/leads.csv", params={"q": "Audit Me"})
        token = csrf_from(admin.get(f"/app/leads/{ref}").text)
        assert admin.post(f"/app/leads/{ref}/anonymise", data={"csrf": token}).status_code == 303
        page = admin.get("/app/audit")
        assert page.status_code == 200
        body = page.text
        assert f"lead {ref}" in body and "anonymise" in body and "filter: q=Audit Me" in body
        assert 'href="/app/audit">Audit log</a>' in body
        site = crm.with_store(lambda s: s.get_site_by_key(SITE))
        assert f"lead {ref}" in admin.get("/app/audit", params={"site": site.id}).text
    with client(crm, OUTSIDER) as olga:  # a manager of another site
        assert olga.get("/app/audit").status_code == 403
    with client(crm, MANAGER) as anna:
        assert anna.get("/app/audit").status_code == 403
        assert 'href="/app/audit"' not in anna.get("/app/leads").text
    # An admin of the other site sees none of this site's entries.
    crm.add_user("oda@example.test", "oda-password-1", sites=["other-site"], name="Oda", role=Role.ADMIN)
    with client(crm, ("oda@example.test", "oda-password-1")) as oda:
        page = oda.get("/app/audit").text
        assert f"lead {ref}" not in page and "Audit Me" not in page
        assert oda.get("/app/audit", params={"site": site.id}).status_code == 200
        assert f"lead {ref}" not in oda.get("/app/audit", params={"site": site.id}).text
    with client(crm) as anonymous:
        assert anonymous.get("/app/audit").headers["location"] == "/app/login"
