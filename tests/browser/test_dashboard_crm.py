"""The leads CRM in the browser, as a manager uses it: filter and search the table, read a lead's
whole story on its card, export the filtered rows, and get told when a follow-up comes due."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from server.models import Actor, EventRecord, LeadStatus, NewLead
from server.store import Store
from tests.browser.pages import signed_in_manager
from tests.conftest import MANAGER, SITE, seeded_server
from tests.support import BeckonServer

# Desktop notifications the dashboard raises, recorded (Chromium headless shows none), and the frames
# its socket received. Waits below pass functions, not expressions: the dashboard CSP forbids eval.
NOTIFICATION_SPY = """
window.__notes = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__notes.push(title); this.options = options; }
  addEventListener() {}
  close() {}
};
window.__frames = [];
document.addEventListener("beckon-frame", (event) => window.__frames.push(event.detail.type));
"""


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BeckonServer]:
    server = seeded_server(tmp_path_factory.mktemp("crm-browser"))
    yield server
    server.stop()


def seed(
    server: BeckonServer, leads: list[dict[str, object]], status: dict[int, LeadStatus] | None = None
) -> list[str]:
    """Leads stored as the ingest stores them (status changes as the team would leave them)."""

    async def action(store: Store) -> list[str]:
        site = await store.get_site_by_key(SITE)
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
                "context": {"url": "http://localhost/demo/"},
                "user_agent": "test-agent",
                "source": "direct",
            } | over
            lead, _ = await store.create_lead(NewLead(**fields))  # type: ignore[arg-type]
            if status and i in status:
                await store.update_lead(lead.id, {"status": status[i]}, [])
            refs.append(lead.ref)
        return refs

    return server.with_store(action)


def rows(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("table", name="Leads").locator("tbody tr")


def test_the_table_filters_by_status_and_search_and_exports_what_it_shows(
    crm: BeckonServer, new_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    tag = f"t{time.monotonic_ns() % 10**9}"
    wendy, walter, nora, _ = seed(
        crm,
        [
            {"name": f"Wendy {tag}", "phone": "+442079460101"},
            {"name": f"Walter {tag}", "phone": "+442079460102"},
            {"name": f"Nora {tag}", "phone": "+442079460103"},
            {"name": "Someone Else"},
        ],
        status={0: LeadStatus.WON, 1: LeadStatus.WON},
    )
    page = signed_in_manager(new_context(accept_downloads=True), crm, *MANAGER)
    page.get_by_label("Search").fill(tag)
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(3)
    page.get_by_label("Status").select_option("won")
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(2)
    expect(rows(page).nth(0)).to_contain_text(f"Walter {tag}")
    expect(rows(page).nth(1)).to_contain_text(f"Wendy {tag}")
    assert nora not in page.content()
    # A phone number typed as people say it finds its lead too.
    page.get_by_label("Search").fill("020 7946 0101")
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page)).to_contain_text(f"Wendy {tag}")

    # The export downloads exactly the rows of the filter on screen.
    page.get_by_label("Search").fill(tag)
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(2)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("leads-") and saved.suffix == ".csv"
    with saved.open(newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert [(r["ref"], r["name"], r["status"]) for r in exported] == [
        (walter, f"Walter {tag}", "won"),
        (wendy, f"Wendy {tag}", "won"),
    ]


def story(server: BeckonServer, name: str) -> str:
    """One visitor's visit as Beckon stores it: pages, a popup, a quiz with a callback request,
    the callback's attempts, a chat with a manager."""
    visitor = f"story-{time.monotonic_ns()}"
    now_ms = int(time.time() * 1000)

    async def action(store: Store) -> str:
        site = await store.get_site_by_key(SITE)
        anna = await store.get_user_by_email(MANAGER[0])
        assert site is not None and anna is not None
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
                name=name,
                email=None,
                answers={
                    "title": "Kitchen cost",
                    "complete": True,
                    "steps": [{"id": "size", "question": "How big is the kitchen?", "text": "12 m²"}],
                    "shown": [{"label": "Estimate", "value": "£9,000"}],
                },
                context={
                    "url": "http://localhost/kitchens",
                    "trail": [{"url": "http://localhost/prices", "title": "Prices page", "at": now_ms - 60_000}],
                },
                user_agent="test-agent",
                source="ads",
            ),
            events=[EventRecord("quiz_completed", Actor.VISITOR, None, {"quiz": "Kitchen cost"})],
        )
        await store.add_lead_event(lead.id, EventRecord("alerted", Actor.SYSTEM, None, {"to": ["Anna"]}))
        await store.add_lead_event(lead.id, EventRecord("claimed", Actor.USER, anna.id, {"after_seconds": 4}))
        await store.add_lead_event(lead.id, EventRecord("outcome", Actor.USER, anna.id, {"outcome": "no_answer"}))
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
            name="popup_converted",
            props={"popup": "spring-sale"},
        )
        return lead.ref

    return server.with_store(action)


def test_the_lead_card_tells_the_whole_story_oldest_first(crm: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    name = f"Tina {time.monotonic_ns() % 10**9}"
    story(crm, name)
    page = signed_in_manager(new_context(), crm, *MANAGER)
    page.get_by_label("Search").fill(name)
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    timeline = page.get_by_role("list", name="Everything that happened, oldest first")
    expected = [
        "Viewed Prices page",
        "Saw the popup “spring-sale”",
        "Finished the quiz “Kitchen cost”",
        "How big is the kitchen?: 12 m²",
        "Alerted Anna",
        "Claimed by Anna after 4 s",
        "Outcome: no answer",
        "Chat (2 messages)",
        "visitor: Do you fit worktops?",
        "Anna: Yes, within a week.",
        "Took the popup's offer “spring-sale”",
    ]
    for text in expected:
        expect(timeline).to_contain_text(text)
    shown = " ".join(timeline.inner_text().split())
    where = [shown.find(text) for text in expected]
    assert where == sorted(where), shown
    # The chat folds away like a block of its own.
    chat = timeline.locator("li", has_text="Chat (2 messages)").locator("details")
    chat.locator("summary").click()
    expect(chat.get_by_text("Yes, within a week.")).to_be_hidden()


def test_a_follow_up_coming_due_alerts_the_open_dashboard(crm: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    name = f"Fred {time.monotonic_ns() % 10**9}"
    (ref,) = seed(crm, [{"name": name}])
    ctx = new_context()
    ctx.add_init_script(NOTIFICATION_SPY)
    page = signed_in_manager(ctx, crm, *MANAGER)
    page.goto(f"{crm.base}/app/leads/{ref}")
    expect(page.locator("#live-state")).to_have_text("Live")
    chimes = page.evaluate("window.__chimes")
    # The site's time zone is UTC: a minute ago is due at once.
    page.get_by_label("Follow up at (UTC)").fill(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 60)))
    page.get_by_role("button", name="Set reminder").click()
    alert = page.get_by_role("alert").filter(has_text="Follow-up due")
    expect(alert).to_be_visible()
    expect(alert.get_by_role("link", name=f"{name} +44 20 7946 0958")).to_have_attribute("href", f"/app/leads/{ref}")
    page.wait_for_function(f"() => window.__chimes > {chimes}")
    page.wait_for_function(f"() => window.__notes.some((t) => t.startsWith('Follow-up due: {name}'))")
    # Dismissed, it stays away although the server tells every new page of it again.
    alert.get_by_role("button", name="Dismiss").click()
    expect(alert).to_have_count(0)
    page.reload()
    page.wait_for_function("() => window.__frames.includes('follow_up')")
    expect(page.get_by_role("alert").filter(has_text="Follow-up due")).to_have_count(0)
    # It fired once: the card says so and the leads table marks it.
    expect(page.get_by_text("Follow-up due: reminded Anna")).to_have_count(1)
    page.get_by_role("link", name="Leads", exact=True).click()
    page.get_by_label("Follow-up due").check()
    page.get_by_role("button", name="Filter").click()
    expect(rows(page).filter(has_text=name)).to_contain_text("follow-up due")
