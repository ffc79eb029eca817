from server.models import LeadStatus, NewLead, Role
from server.store import new_ref
from server.store.sqlite import SQLiteStore


def new_lead(site_id: int, frame_id: str = "frame-0001", **over) -> NewLead:
    fields = dict(
        site_id=site_id,
        visitor_key="visitor-0001",
        kind="callback",
        client_frame_id=frame_id,
        phone="+442079460958",
        name="Ann",
        email=None,
        answers={},
        context={"url": "https://shop.test/a", "trail": [{"url": "https://shop.test/", "title": "Home", "at": 1}]},
        user_agent="UA",
        source="direct",
    )
    return NewLead(**(fields | over))


async def test_migrations_are_applied_once(store: SQLiteStore) -> None:
    assert await store.migrate() == []
    await store.close()
    await store.open()
    assert await store.migrate() == []


async def test_a_lead_is_stored_once_per_frame_id_with_its_story(store: SQLiteStore) -> None:
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    lead, created = await store.create_lead(new_lead(site.id))
    again, created_again = await store.create_lead(new_lead(site.id, name="Changed"))
    assert created and not created_again
    assert again.ref == lead.ref and again.name == "Ann"
    assert lead.status is LeadStatus.NEW and lead.site_name == "Shop"
    assert [e.type for e in await store.lead_events(lead.id)] == ["created"]
    assert len(await store.list_leads([site.id])) == 1


async def test_refs_survive_a_spreadsheet_unaltered(store: SQLiteStore) -> None:
    # A ref starting with '-' or '=' was prefixed with ' by the CSV export, so the export no longer matched the lead.
    site = await store.create_site(key="r1", name="Refs", allowed_domains=[])
    refs = [(await store.create_lead(new_lead(site.id, frame_id=f"frame-{i:04}")))[0].ref for i in range(300)]
    for i in range(20):
        chat, _, _ = await store.add_visitor_message(
            site_id=site.id,
            visitor_key=f"visitor-{i:04}",
            frame_id=f"chat-{i:04}",
            text="Hi",
            contact={},
            offered_to=[],
            assignee_id=None,
            user_agent="UA",
            context={},
        )
        refs.append(chat.ref)
    assert len(set(refs)) == len(refs)
    assert all(ref.isascii() and ref.isalnum() and len(ref) == 12 for ref in refs), refs
    keys = [new_ref(16) for _ in range(5000)]
    assert all(key.isascii() and key.isalnum() for key in keys)


async def test_the_same_frame_id_on_another_site_is_another_lead(store: SQLiteStore) -> None:
    a = await store.create_site(key="a1", name="A", allowed_domains=[])
    b = await store.create_site(key="b1", name="B", allowed_domains=[])
    await store.create_lead(new_lead(a.id))
    _, created = await store.create_lead(new_lead(b.id))
    assert created
    assert [lead.site_id for lead in await store.list_leads([a.id])] == [a.id]


async def test_visitor_page_trail_is_merged_across_leads(store: SQLiteStore) -> None:
    site = await store.create_site(key="s1", name="Shop", allowed_domains=[])
    first, _ = await store.create_lead(new_lead(site.id))
    ctx = {"url": "https://shop.test/b", "trail": [{"url": "https://shop.test/b", "title": "B", "at": 2}]}
    await store.create_lead(new_lead(site.id, "frame-0002", context=ctx))
    visitor = await store.get_visitor(first.visitor_id or 0)
    assert visitor is not None
    assert [p["url"] for p in visitor.page_trail] == ["https://shop.test/", "https://shop.test/b"]


async def test_members_see_only_their_sites(store: SQLiteStore) -> None:
    mine = await store.create_site(key="m1", name="Mine", allowed_domains=[])
    await store.create_site(key="t1", name="Theirs", allowed_domains=[])
    user = await store.create_user(email="A@Example.test", name="A", password_hash="x", role=Role.MANAGER)
    await store.add_member(mine.id, user.id)
    assert [s.key for s in await store.user_sites(user.id)] == ["m1"]
    assert (await store.get_user_by_email("a@example.TEST")) == user


async def test_sessions_expire_and_can_be_revoked(store: SQLiteStore) -> None:
    user = await store.create_user(email="a@e.test", name="A", password_hash="x", role=Role.OWNER)
    await store.create_session("h1", user.id, expires_at=2000.0)
    assert await store.session_user("h1", now=1000.0) == user
    assert await store.session_user("h1", now=2001.0) is None
    await store.delete_session("h1")
    assert await store.session_user("h1", now=1000.0) is None


async def test_widget_versions_count_up(store: SQLiteStore) -> None:
    site = await store.create_site(key="s1", name="Shop", allowed_domains=[])
    first = await store.put_widget(site.id, "callback", {"color": "#000"})
    second = await store.put_widget(site.id, "callback", {"color": "#fff"})
    await store.put_widget(site.id, "chat", {}, enabled=False)
    assert (first.version, second.version) == (1, 2)
    assert [(w.kind, w.config) for w in await store.enabled_widgets(site.id)] == [("callback", {"color": "#fff"})]
