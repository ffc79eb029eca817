"""First run and the team in the browser: the owner sets Beckon up from an empty database, adds the
first site and gets its snippet; an invited manager joins by the link, signs in again later and
sees only the site they were invited to."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import expect

from server.models import NewLead, Role
from server.store import Store
from tests.browser.pages import signed_in_manager
from tests.support import BeckonServer


def test_first_run_setup_creates_the_owner_and_the_first_site_with_its_snippet(tmp_path: Path, new_context) -> None:  # type: ignore[no-untyped-def]
    server = BeckonServer(tmp_path).start()  # an empty database: no people, no sites
    try:
        page = new_context().new_page()
        page.goto(f"{server.base}/app/")
        expect(page.get_by_role("heading", name="Set up Beckon")).to_be_visible()
        page.get_by_label("Your name").fill("Olivia Owner")
        page.get_by_label("Email").fill("olivia@shop.test")
        page.get_by_label("Password (at least 10 characters)").fill("olivia-password-1")
        page.get_by_role("button", name="Create the owner account").click()

        expect(page.get_by_role("heading", name="Sites")).to_be_visible()
        expect(page.get_by_text("No sites yet")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("Olivia's Kitchens")
        page.get_by_label("Allowed domains").fill("kitchens.test\nwww.kitchens.test")
        page.get_by_role("button", name="Add the site").click()

        snippet = page.get_by_role("textbox", name="Install")
        expect(snippet).to_be_visible()
        text = snippet.input_value()
        site = server.with_store(lambda s: s.all_sites())
        assert len(site) == 1 and site[0].name == "Olivia's Kitchens"
        assert f"'{server.base}/embed.js','{site[0].key}'" in text.replace('"', "'")
        owner = server.with_store(lambda s: s.get_user_by_email("olivia@shop.test"))
        assert owner is not None and owner.role is Role.OWNER
        assert [s.id for s in server.with_store(lambda s: s.user_sites(owner.id))] == [site[0].id]

        # Setup happens once: later visitors get the sign-in page, never a second owner.
        stranger = new_context().new_page()
        stranger.goto(f"{server.base}/app/setup")
        expect(stranger.get_by_role("button", name="Sign in")).to_be_visible()
        assert server.with_store(lambda s: s.count_users()) == 1
    finally:
        server.stop()


def test_an_invited_manager_joins_signs_in_again_and_sees_only_their_site(tmp_path: Path, new_context) -> None:  # type: ignore[no-untyped-def]
    server = BeckonServer(tmp_path)
    server.add_site("shop-a", ["a.test"], name="Shop A")
    server.add_site("shop-b", ["b.test"], name="Shop B")
    server.add_user("boss@shop.test", "boss-password-1", sites=["shop-a", "shop-b"], name="Bea", role=Role.OWNER)
    server.start()
    try:

        async def leads(store: Store) -> None:
            for key, name in (("shop-a", "Alice on A"), ("shop-b", "Bob on B")):
                site = await store.get_site_by_key(key)
                assert site is not None
                await store.create_lead(
                    NewLead(
                        site_id=site.id,
                        visitor_key=f"v-{key}",
                        kind="callback",
                        client_frame_id=f"f-{key}-{time.monotonic_ns()}",
                        phone="+442079460958",
                        name=name,
                        email=None,
                        answers={},
                        context={},
                        user_agent="test",
                        source="direct",
                    )
                )

        server.with_store(leads)
        boss = signed_in_manager(new_context(), server, "boss@shop.test", "boss-password-1")
        boss.get_by_role("link", name="Team").click()
        invite = boss.get_by_role("form", name="Invite someone")
        invite.get_by_label("Email").fill("nina@shop.test")
        invite.get_by_label("Shop B").uncheck()
        invite.get_by_role("button", name="Create the invitation link").click()
        link = boss.get_by_role("textbox", name="Invitation link").input_value()
        assert link.startswith(f"{server.base}/app/invite/")

        nina = new_context().new_page()
        nina.goto(link)
        nina.get_by_label("Your name").fill("Nina New")
        nina.get_by_label("Choose a password").fill("nina-password-1")
        nina.get_by_role("button", name="Join").click()
        expect(nina.get_by_role("heading", name="Leads")).to_be_visible()
        nina.get_by_role("button", name="Sign out").click()

        # Later, on another day: she signs in with what she chose and works on Shop A only.
        again = signed_in_manager(new_context(), server, "nina@shop.test", "nina-password-1")
        expect(again.get_by_text("Sites: Shop A.")).to_be_visible()
        table = again.get_by_role("table", name="Leads")
        expect(table).to_contain_text("Alice on A")
        expect(table).not_to_contain_text("Bob on B")
        expect(again.get_by_label("Site").locator("option")).to_have_text(["Any", "Shop A"])
        expect(again.get_by_role("link", name="Team")).to_have_count(0)  # a manager, not an admin
        # The link worked once.
        used = new_context().new_page()
        used.goto(link)
        expect(used.get_by_role("button", name="Join")).to_have_count(0)
    finally:
        server.stop()
