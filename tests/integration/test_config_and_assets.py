"""What the loader fetches: /embed.js, the site config and the widget chunks."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import httpx

from server.assets import Assets
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


def test_config_carries_the_built_in_texts_in_the_visitors_language(beckon: BeckonServer) -> None:
    """Issue #10: the widgets hold no texts of their own; a site without a language of its own gets them in
    the browser's first language (ru* or English), for its enabled widgets only, and caches keep one per language."""
    ru = config(beckon, Origin=ORIGIN, **{"Accept-Language": "ru-RU,ru;q=0.9,en-US;q=0.8"})
    en = config(beckon, Origin=ORIGIN, **{"Accept-Language": "en-GB,en;q=0.9,ru;q=0.8"})
    assert ru.json()["site"]["lang"] == "ru" and en.json()["site"]["lang"] == "en"
    assert ru.json()["site"]["texts"]["callback.title"] == "Мы вам перезвоним"
    assert en.json()["site"]["texts"]["callback.title"] == "We'll call you back"
    assert en.json()["site"]["texts"]["phone"] == "Phone"  # shared by every widget
    assert not [k for k in en.json()["site"]["texts"] if k.startswith(("chat.", "quiz."))]  # not enabled here
    for reply in (ru, en):
        assert "accept-language" in reply.headers["vary"].lower()
    assert ru.headers["etag"] != en.headers["etag"]
    assert config(beckon, **{"Accept-Language": "ru", "If-None-Match": en.headers["etag"]}).status_code == 200


def test_a_sites_own_language_and_texts_win(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon()

    async def russian(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(SITE)
        await store.update_site(site.id, locale="ru", settings={"texts": {"callback.title": "Перезвоним за 30 секунд"}})
        await store.put_widget(site.id, "chat", {})

    server.with_store(russian)
    reply = config(server, **{"Accept-Language": "en-US,en"})
    texts = reply.json()["site"]["texts"]
    assert reply.json()["site"]["lang"] == "ru"
    assert texts["callback.title"] == "Перезвоним за 30 секунд"  # the site's own
    assert texts["callback.button"] == "Заказать обратный звонок" and texts["chat.send"] == "Отправить"
    assert "accept-language" not in reply.headers.get("vary", "").lower()


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


def raw_get(url: str, encoding: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """A GET asking for ``encoding``; the body as sent on the wire (httpx would otherwise unzip it)."""
    with httpx.Client() as client, client.stream("GET", url, headers={"Accept-Encoding": encoding, **headers}) as r:
        return r, b"".join(r.iter_raw())


def test_scripts_are_sent_gzipped_to_those_who_accept_it(beckon: BeckonServer) -> None:
    assets = Assets(ROOT)
    chunks = config(beckon, Origin=ORIGIN).json()["chunks"]
    served = [(f"{beckon.base}/embed.js", assets.loader), *((url, assets.chunks[n]) for n, url in chunks.items())]
    for url, asset in served:
        zipped, wire = raw_get(url, "gzip, deflate, br")
        assert zipped.status_code == 200 and zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding" and zipped.headers["content-type"].startswith(
            "text/javascript"
        )
        assert gzip.decompress(wire) == asset.body and len(wire) < len(asset.body)
        assert int(zipped.headers["content-length"]) == len(wire)

        plain, body = raw_get(url, "identity")
        assert plain.status_code == 200 and "content-encoding" not in plain.headers and body == asset.body
        assert "Accept-Encoding" in {v.strip() for v in plain.headers["vary"].split(",")}
        assert plain.headers["etag"] != zipped.headers["etag"]

    url, asset = served[0]
    # Revalidation: each ETag stands for its own bytes only.
    zipped, _ = raw_get(url, "gzip")
    assert raw_get(url, "gzip", **{"If-None-Match": zipped.headers["etag"]})[0].status_code == 304
    again, body = raw_get(url, "identity", **{"If-None-Match": zipped.headers["etag"]})
    assert again.status_code == 200 and body == asset.body


def test_demo_site_has_the_snippet_filled_in(beckon: BeckonServer) -> None:
    page = httpx.get(f"{beckon.base}/demo/").text
    assert f"'{beckon.base}/embed.js'" in page
    assert "https://HOST" not in page
    assert httpx.get(f"{beckon.base}/demo/../server/settings.py").status_code == 404


# -- the served widgets are terser's builds of the current sources (issue #10) --

ROOT = Path(__file__).resolve().parents[2]
# DESIGN.md's budget for all widgets together is 30 KB (30720 B): the runtime and the widget chunks now
# fit it (30,339 B since the built-in texts moved to the server, issue #10). With the loader beside them,
# as bench/weight.py's total line counts, they come to 31,492 B: that line is still missed by 772 B.
# These are the totals as measured (plus a little slack), so that the weight can only go down from here.
WIDGETS_BUDGET, WIDGETS_TOTAL_NOW, WITH_LOADER_NOW = 30 * 1024, 30_400, 31_550


def test_every_served_script_is_the_committed_build_of_its_current_source(beckon: BeckonServer) -> None:
    assets = Assets(ROOT)
    stale = [a.name for a in (assets.loader, *assets.chunks.values()) if not a.built]
    assert stale == [], f"widgets/dist or embed/dist is older than the source of {stale}: run `make widgets`"
    # ...and that build is what the server sends.
    body = config(beckon, Origin=ORIGIN).json()
    for name, url in body["chunks"].items():
        assert httpx.get(url).content == assets.chunks[name].body
    assert httpx.get(f"{beckon.base}/embed.js").content == assets.loader.body


def test_a_build_older_than_its_source_is_not_served(tmp_path: Path) -> None:
    for part in ("embed", "widgets"):
        shutil.copytree(ROOT / part, tmp_path / part)
    runtime = tmp_path / "widgets" / "runtime.js"
    runtime.write_text(runtime.read_text() + "\nexport const changed = 'after the build';\n")
    assets = Assets(tmp_path)
    assert not assets.chunks["runtime"].built
    assert b"after the build" in assets.chunks["runtime"].body  # the source itself, minified by rjsmin
    assert assets.chunks["callback"].built
    (tmp_path / "widgets" / "dist" / "callback.js").unlink()
    assert not Assets(tmp_path).chunks["callback"].built


def test_the_widgets_fit_the_weight_budget() -> None:
    """DESIGN.md's budgets, gzip -9 of what is served: loader ≤ 2 KB, each chunk ≤ 8 KB, all ≤ 30 KB."""
    assets = Assets(ROOT)
    sizes = {name: len(gzip.compress(a.body, 9)) for name, a in assets.chunks.items()}
    loader = len(gzip.compress(assets.loader.body, 9))
    assert loader <= 2048
    assert max(sizes.values()) <= 8192, sizes
    assert sum(sizes.values()) <= min(WIDGETS_BUDGET, WIDGETS_TOTAL_NOW), sizes
    assert loader + sum(sizes.values()) <= WITH_LOADER_NOW, (loader, sizes)
