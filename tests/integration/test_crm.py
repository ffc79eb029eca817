"""Leads CRM: the filtered table and its paging, the lead card's changes and their timeline lines,
the CSV export, erasure, the audit log, and who may do any of it."""

from __future__ import annotations

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
from server.store.sqlite import SQLiteStore
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
        # One site's filtered page walks an index in id order: nothing to sort, however deep the page.
        # (Across several sites SQLite merges the sites' matches with a sort: left for the benchmarks issue.)
        plan = await store._all(
            "EXPLAIN QUERY PLAN SELECT l.* FROM leads l JOIN sites s ON s.id = l.site_id"
            " WHERE l.site_id IN (?) AND l.status = ? AND l.id < ? ORDER BY l.id DESC LIMIT 51",
            (a.id, "won", 50_000),
        )
        assert "TEMP B-TREE" not in " ".join(r["detail"] for r in plan)
    finally:
        await store.close()
