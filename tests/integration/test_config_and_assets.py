"""What the loader fetches: /embed.js, the site config and the widget chunks."""

from __future__ import annotations

import httpx

from tests.conftest import ORIGIN, OTHER_SITE, SITE
from tests.support import BeckonServer


def config(server: BeckonServer, key: str = SITE, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.base}/api/v1/sites/{key}/config", headers=headers)


def test_config_lists_enabled_widgets_and_their_chunks(beckon: BeckonServer) -> None:
    reply = config(beckon, Origin=ORIGIN)
    assert reply.status_code == 200
    body = reply.json()
    assert body["site"]["key"] == SITE
    assert set(body["widgets"]) == {"callback"}
    assert set(body["chunks"]) == {"runtime", "callback"}
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    chunk = httpx.get(body["chunks"]["callback"])
    assert chunk.status_code == 200
    assert "immutable" in chunk.headers["cache-control"]
    assert chunk.headers["access-control-allow-origin"] == "*"
    assert chunk.headers["content-type"].startswith("text/javascript")


def test_config_is_revalidated_by_etag(beckon: BeckonServer) -> None:
    first = config(beckon)
    assert first.headers["cache-control"] == "no-cache"
    again = config(beckon, **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_config_follows_widget_changes(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()
    etag = config(server).headers["etag"]

    async def disable(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(SITE)
        await store.put_widget(site.id, "callback", {}, enabled=False)

    server.with_store(disable)
    reply = config(server, **{"If-None-Match": etag})
    assert reply.status_code == 200 and reply.json()["widgets"] == {}
    assert set(reply.json()["chunks"]) == {"runtime"}


def test_config_refuses_foreign_pages_and_unknown_sites(beckon: BeckonServer) -> None:
    assert config(beckon, OTHER_SITE, Origin=ORIGIN).status_code == 403
    missing = config(beckon, "no-such-site", Origin=ORIGIN)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_site"


def test_loader_is_served_with_a_short_cache(beckon: BeckonServer) -> None:
    reply = httpx.get(f"{beckon.base}/embed.js")
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "public, max-age=300"
    assert "Beckon" in reply.text
    assert httpx.get(f"{beckon.base}/widgets/runtime.0000000000.js").status_code == 404
    assert httpx.get(f"{beckon.base}/widgets/nothing.js").status_code == 404


def test_demo_site_has_the_snippet_filled_in(beckon: BeckonServer) -> None:
    page = httpx.get(f"{beckon.base}/demo/").text
    assert f"'{beckon.base}/embed.js'" in page
    assert "https://HOST" not in page
    assert httpx.get(f"{beckon.base}/demo/../server/settings.py").status_code == 404
