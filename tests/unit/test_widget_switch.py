"""store.widget_enabled: the switch a lead or chat message is checked against (bench #10: read alone,
without decoding the widget's config as get_widget does)."""

from __future__ import annotations

from server.store.sqlite import SQLiteStore


async def test_the_switch_follows_the_owner_and_agrees_with_get_widget(store: SQLiteStore) -> None:
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    assert await store.widget_enabled(site.id, "callback") is None  # no row: the site takes them
    await store.put_widget(site.id, "callback", {"texts": {"title": "Call me"}})
    assert await store.widget_enabled(site.id, "callback") is True
    await store.put_widget(site.id, "callback", {"texts": {"title": "Call me"}}, enabled=False)
    assert await store.widget_enabled(site.id, "callback") is False
    widget = await store.get_widget(site.id, "callback")
    assert widget is not None and widget.enabled is False
    await store.put_widget(site.id, "popup", {"title": "Sale"}, slug="sale", enabled=False)
    assert await store.widget_enabled(site.id, "popup", "sale") is False
    assert await store.widget_enabled(site.id, "popup") is None
