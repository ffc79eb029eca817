"""The widget editor's routes on a real server: every kind is published as a new version that
visitors get on their next config fetch, errors come back with the path of their field, drafts are
previewed without being saved, and only owners and admins of the site may do any of it."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server import widget_texts
from server.demo import DEMO_POPUPS, KITCHEN_QUIZ
from server.models import Role
from tests.support import BeckonServer, csrf_from, login

ORIGIN = "http://localhost"
OWNER = ("edna.owner@example.test", "edna-password-1")
ADMIN_ELSEWHERE = ("abe.admin@example.test", "abe-password-1")
MANAGER = ("milo.manager@example.test", "milo-password-1")


@pytest.fixture(scope="module")
def shop(beckon: BeckonServer) -> str:
    key = "editor-shop"
    beckon.add_site(
        key,
        ["localhost", "127.0.0.1"],
        name="Editor Shop",
        widgets={
            "callback": {"color": "#0f766e"},
            "quiz:kitchen-cost": KITCHEN_QUIZ,
            "popup:exit": DEMO_POPUPS["exit-offer"],
        },
    )
    beckon.add_site("editor-elsewhere", ["elsewhere.test"], name="Elsewhere", widgets={})
    beckon.add_user(*OWNER, sites=[key], name="Edna", role=Role.OWNER)
    beckon.add_user(*ADMIN_ELSEWHERE, sites=["editor-elsewhere"], name="Abe", role=Role.ADMIN)
    beckon.add_user(*MANAGER, sites=[key], name="Milo", role=Role.MANAGER)
    return key


def client_for(beckon: BeckonServer, creds: tuple[str, str]) -> httpx.Client:
    client = httpx.Client(base_url=beckon.base, follow_redirects=False)
    login(client, *creds)
    return client


@pytest.fixture(scope="module")
def owner(beckon: BeckonServer, shop: str) -> httpx.Client:
    return client_for(beckon, OWNER)


def publish(client: httpx.Client, path: str, config: Any, enabled: bool = True) -> httpx.Response:
    page = client.get(path)
    source = config if isinstance(config, str) else json.dumps(config)
    form = {"csrf": csrf_from(page.text), "definition": source} | ({"enabled": "on"} if enabled else {})
    return client.post(path, data=form)


def public_config(beckon: BeckonServer, key: str) -> httpx.Response:
    return httpx.get(f"{beckon.base}/api/v1/sites/{key}/config", headers={"Origin": ORIGIN})


def located_errors(html: str) -> list[dict[str, str]]:
    found = re.search(r'<script type="application/json" id="widget-errors-data">(.*?)</script>', html, re.S)
    assert found, "the editor page carries its errors for the form"
    return json.loads(found[1])


def stored(beckon: BeckonServer, key: str, kind: str, slug: str = "") -> Any:
    async def action(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(key)
        return await store.get_widget(site.id, kind, slug)

    return beckon.with_store(action)


def test_the_list_shows_callback_and_chat_per_site_with_links(shop: str, owner: httpx.Client) -> None:
    listing = owner.get("/app/widgets").text
    assert f'href="/app/widgets/{shop}/callback/main"' in listing
    assert f'href="/app/widgets/{shop}/chat/main"' in listing and "Set up the chat" in listing
    assert f'href="/app/widgets/{shop}/quiz/kitchen-cost"' in listing
    assert "editor-elsewhere" not in listing  # not Edna's site


def test_publishing_the_callback_widget_changes_what_the_next_page_view_gets(
    beckon: BeckonServer, shop: str, owner: httpx.Client
) -> None:
    before = public_config(beckon, shop)
    path = f"/app/widgets/{shop}/callback/main"
    config = {"color": "#7c3aed", "position": "left", "texts": {"title": "Call me, maybe"}}
    reply = publish(owner, path, config)
    assert reply.status_code == 303 and reply.headers["location"].startswith(f"{path}?saved=")
    after = public_config(beckon, shop)
    assert after.headers["etag"] != before.headers["etag"]
    callback = after.json()["widgets"]["callback"]
    assert (callback["color"], callback["position"], callback["texts"]) == (
        "#7c3aed",
        "left",
        {"title": "Call me, maybe"},
    )
    again = httpx.get(
        f"{beckon.base}/api/v1/sites/{shop}/config", headers={"Origin": ORIGIN, "If-None-Match": after.headers["etag"]}
    )
    assert again.status_code == 304
    assert "by Edna" in owner.get(path).text


def test_a_chat_widget_is_set_up_from_nothing_and_can_be_switched_off(
    beckon: BeckonServer, shop: str, owner: httpx.Client
) -> None:
    path = f"/app/widgets/{shop}/chat/main"
    page = owner.get(path)
    assert page.status_code == 200 and "Not published yet" in page.text
    chat = {
        "color": "#0f766e",
        "greeting": "Hello from the editor",
        "prechat": ["name", "email"],
        "greetings": [{"id": "kitchens", "url": "/kitchens", "text": "Planning a kitchen?", "seconds": 5}],
    }
    assert publish(owner, path, chat).status_code == 303
    assert public_config(beckon, shop).json()["widgets"]["chat"]["greeting"] == "Hello from the editor"
    assert publish(owner, path, chat, enabled=False).status_code == 303
    assert "chat" not in public_config(beckon, shop).json()["widgets"]
    assert stored(beckon, shop, "chat").enabled is False


def nested(trigger: dict[str, Any]) -> dict[str, Any]:
    """all: [5 s on the page, any: [the trigger, an exit]]."""
    return {"all": [{"type": "delay", "seconds": 5}, {"any": [trigger, {"type": "exit_intent"}]}]}


@pytest.mark.parametrize(
    ("kind", "slug", "change", "path", "words"),
    [
        ("callback", "main", lambda c: c.update(color="teal-ish"), "color", "is not a colour"),
        ("callback", "main", lambda c: c.update(position="middle"), "position", "left or right"),
        (
            "chat",
            "main",
            lambda c: c.update(greetings=[{"url": "/x", "text": ""}]),
            "greetings[0].text",
            "needs its text",
        ),
        (
            "chat",
            "main",
            lambda c: c.update(greetings=[{"text": "Hi", "scroll": 140}]),
            "greetings[0].scroll",
            "0 to 100",
        ),
        (
            "quiz",
            "kitchen-cost",
            lambda q: q["steps"][4]["options"][1].update(next="nowhere"),
            "steps[4].options[1].next",
            "unknown next step",
        ),
        (
            "quiz",
            "kitchen-cost",
            lambda q: q["steps"][2]["branches"][0].update({"if": "length >"}),
            "steps[2].branches[0].if",
            "branch 1",
        ),
        ("quiz", "kitchen-cost", lambda q: q["results"].update(price="base / (per_m"), "results.price", "expected"),
        ("quiz", "kitchen-cost", lambda q: q["steps"][2].update(min=20), "steps[2].min", "min must be"),
        ("quiz", "kitchen-cost", lambda q: q.update(color="#12"), "color", "is not a colour"),
        (
            "popup",
            "exit",
            lambda p: p.update(triggers={"any": [{"type": "exit_intent"}, {"type": "scroll", "percent": 140}]}),
            "triggers.any[1].percent",
            "percent is at most 100",
        ),
        # Nested triggers: the path reaches the field of the trigger inside its group.
        (
            "popup",
            "exit",
            lambda p: p.update(triggers=nested({"type": "scroll", "percent": 140})),
            "triggers.all[1].any[0].percent",
            "percent is at most 100",
        ),
        (
            "popup",
            "exit",
            lambda p: p.update(triggers=nested({"type": "scroll"})),
            "triggers.all[1].any[0].percent",
            "needs percent",
        ),
        (
            "popup",
            "exit",
            lambda p: p.update(triggers=nested({"type": "click"})),
            "triggers.all[1].any[0].selector",
            "CSS selector",
        ),
        (
            "popup",
            "exit",
            lambda p: p.update(triggers=nested({"type": "hover"})),
            "triggers.all[1].any[0].type",
            "type must be",
        ),
        (
            "popup",
            "exit",
            lambda p: p.update(triggers={"any": [{"all": [{"type": "pages", "count": "three"}]}]}),
            "triggers.any[0].all[0].count",
            "needs count",
        ),
        ("popup", "exit", lambda p: p.update(triggers={"all": [{"any": []}]}), "triggers.all[0].any", "at least one"),
        ("popup", "exit", lambda p: p.update(triggers={"type": "inactivity"}), "triggers.seconds", "needs seconds"),
        ("popup", "exit", lambda p: p.update(texts={"code": 7}), "texts.code", "must be text"),
        ("quiz", "kitchen-cost", lambda q: q.update(texts=["next"]), "texts", "must map text names"),
        ("popup", "exit", lambda p: p["frequency"].update(show="hourly"), "frequency.show", "one of"),
    ],
)
def test_a_refused_draft_names_the_field_and_publishes_nothing(
    beckon: BeckonServer, shop: str, owner: httpx.Client, kind: str, slug: str, change: Any, path: str, words: str
) -> None:
    url = f"/app/widgets/{shop}/{kind}/{slug}"
    before = stored(beckon, shop, kind, "" if slug == "main" else slug)
    config = copy.deepcopy(before.config) if before else {}
    change(config)
    reply = publish(owner, url, config)
    assert reply.status_code == 400 and "Not saved" in reply.text
    errors = located_errors(reply.text)
    assert any(e["path"] == path and words in e["message"] for e in errors), errors
    after = stored(beckon, shop, kind, "" if slug == "main" else slug)
    assert (after.version, after.config) == (before.version, before.config)


def test_the_live_preview_answers_json_with_a_token_or_located_errors(
    beckon: BeckonServer, shop: str, owner: httpx.Client
) -> None:
    path = f"/app/preview/{shop}/callback/main"
    csrf = csrf_from(owner.get(f"/app/widgets/{shop}/callback/main").text)
    version = stored(beckon, shop, "callback").version
    ok = owner.post(
        path,
        data={"csrf": csrf, "definition": json.dumps({"color": "#be123c", "texts": {"title": "Draft only"}})},
        headers={"Accept": "application/json"},
    )
    assert ok.status_code == 200 and ok.json()["errors"] == []
    frame = owner.get(f"{path}?draft={ok.json()['token']}")
    assert frame.status_code == 200 and "frame-ancestors 'self'" in frame.headers["content-security-policy"]
    config_path = re.search(r'data-config="([^"]+)"', frame.text)[1]  # type: ignore[index]
    draft = httpx.get(f"{beckon.base}{config_path}").json()["widgets"]["callback"]
    assert draft["texts"] == {"title": "Draft only"} and draft["color"] == "#be123c"
    assert stored(beckon, shop, "callback").version == version  # previewing saves nothing

    bad = owner.post(
        path,
        data={"csrf": csrf, "definition": json.dumps({"color": "red-ish"})},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 400 and bad.json() == {
        "token": "",
        "errors": [{"path": "color", "message": "color: 'red-ish' is not a colour like #0f766e"}],
    }
    # A draft's token shows only under its own widget.
    other = owner.get(f"/app/preview/{shop}/quiz/kitchen-cost?draft={ok.json()['token']}")
    assert config_path not in other.text


def test_rolling_back_makes_the_old_version_the_newest_and_visitors_get_it(
    beckon: BeckonServer, shop: str, owner: httpx.Client
) -> None:
    path = f"/app/widgets/{shop}/quiz/kitchen-cost"
    first = stored(beckon, shop, "quiz", "kitchen-cost")
    renamed = copy.deepcopy(first.config) | {"title": "Rolled forward"}
    assert publish(owner, path, renamed).status_code == 303
    items = public_config(beckon, shop).json()["widgets"]["quiz"]["items"]
    assert items["kitchen-cost"]["title"] == "Rolled forward"
    page = owner.get(path)
    restored = owner.post(f"{path}/restore/{first.version}", data={"csrf": csrf_from(page.text)})
    assert restored.status_code == 303
    now = stored(beckon, shop, "quiz", "kitchen-cost")
    assert now.version == first.version + 2 and now.config == first.config
    assert (
        public_config(beckon, shop).json()["widgets"]["quiz"]["items"]["kitchen-cost"]["title"] == first.config["title"]
    )


def test_a_post_without_the_csrf_token_is_refused(beckon: BeckonServer, shop: str, owner: httpx.Client) -> None:
    before = stored(beckon, shop, "callback")
    path = f"/app/widgets/{shop}/callback/main"
    refused = owner.post(path, data={"definition": json.dumps({"color": "#000000"}), "enabled": "on"})
    assert refused.status_code == 403
    preview = owner.post(f"/app/preview/{shop}/callback/main", data={"definition": "{}"})
    assert preview.status_code == 403
    assert stored(beckon, shop, "callback").version == before.version


def test_managers_and_admins_of_other_sites_cannot_edit(beckon: BeckonServer, shop: str) -> None:
    before = stored(beckon, shop, "callback")
    manager = client_for(beckon, MANAGER)
    page = manager.get(f"/app/widgets/{shop}/callback/main")
    assert page.status_code == 403
    assert manager.get("/app/widgets").status_code == 403
    stranger = client_for(beckon, ADMIN_ELSEWHERE)
    assert stranger.get(f"/app/widgets/{shop}/callback/main").status_code == 404
    assert stranger.get(f"/app/preview/{shop}/callback/main").status_code == 404
    csrf = csrf_from(stranger.get("/app/widgets").text)
    data = {"csrf": csrf, "definition": json.dumps({"color": "#000000"}), "enabled": "on"}
    assert stranger.post(f"/app/widgets/{shop}/callback/main", data=data).status_code == 404
    assert stranger.post(f"/app/widgets/{shop}/callback/main/restore/1", data={"csrf": csrf}).status_code == 404
    assert stored(beckon, shop, "callback").version == before.version


def test_callback_and_chat_have_one_editor_per_site_only(shop: str, owner: httpx.Client) -> None:
    assert owner.get(f"/app/widgets/{shop}/callback/other").status_code == 404
    csrf = csrf_from(owner.get("/app/widgets").text)
    made = owner.post("/app/widgets/new", data={"csrf": csrf, "site": shop, "kind": "chat", "slug": "second"})
    assert made.status_code == 400


def test_canned_replies_are_edited_with_the_chat_and_kept_as_the_site_setting(
    beckon: BeckonServer, shop: str, owner: httpx.Client
) -> None:
    path = f"/app/widgets/{shop}/chat/main"
    page = owner.get(path)
    chat = {"color": "#0f766e", "greeting": "Hi"}
    canned = [{"shortcut": "hours", "text": "We are open 9 to 6."}]
    form = {"csrf": csrf_from(page.text), "definition": json.dumps(chat), "canned": json.dumps(canned), "enabled": "on"}
    assert owner.post(path, data=form).status_code == 303

    async def settings(store):  # type: ignore[no-untyped-def]
        return (await store.get_site_by_key(shop)).settings

    assert beckon.with_store(settings)["canned"] == canned
    assert "canned" not in stored(beckon, shop, "chat").config  # the site's, not the widget's
    assert "We are open 9 to 6." in owner.get(path).text

    bad = form | {"canned": json.dumps([{"shortcut": "two words", "text": "x"}, {"text": " "}])}
    refused = owner.post(path, data=bad)
    assert refused.status_code == 400
    assert [e["path"] for e in located_errors(refused.text)] == ["canned[0].shortcut", "canned[1].text"]
    assert beckon.with_store(settings)["canned"] == canned


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda q: q["steps"][6].update(next="layout"), "steps[6]"),  # a loop: the step that leads back
        (lambda q: q["steps"][5].update(next="result"), "steps"),  # a path that skips the contact step
        (lambda q: q["steps"][1].update(id="layout"), "steps[1].id"),
        (lambda q: q["steps"][0]["options"][0].pop("image"), "steps[0].options[0].image"),
        (lambda q: q["steps"][7].update(required=["fax"]), "steps[7].required"),
        (lambda q: q["ranges"][0].update(result="cost"), "ranges[0]"),
    ],
)
def test_quiz_errors_in_words_are_located_at_their_field(
    shop: str, owner: httpx.Client, change: Any, path: str
) -> None:
    quiz = copy.deepcopy(KITCHEN_QUIZ)
    change(quiz)
    csrf = csrf_from(owner.get(f"/app/widgets/{shop}/quiz/kitchen-cost").text)
    reply = owner.post(
        f"/app/preview/{shop}/quiz/kitchen-cost",
        data={"csrf": csrf, "definition": json.dumps(quiz)},
        headers={"Accept": "application/json"},
    )
    assert reply.status_code == 400
    assert path in [e["path"] for e in reply.json()["errors"]], reply.json()


async def _preview_socket(beckon: BeckonServer, key: str, origin: str, frames: list[dict[str, Any]]) -> list[Any]:
    """What the visitor socket answers a preview frame's key: each frame's reply."""
    async with connect(f"{beckon.ws_base}/ws/visitor?site={key}", origin=origin) as ws:  # type: ignore[arg-type]
        replies: list[Any] = []
        for frame in frames:
            await ws.send(json.dumps(frame))
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        return replies


async def _refused(beckon: BeckonServer, key: str, origin: str) -> tuple[str, int | None]:
    """The error a refused socket says before it closes, and its close code."""
    async with connect(f"{beckon.ws_base}/ws/visitor?site={key}", origin=origin) as ws:  # type: ignore[arg-type]
        said = json.loads(await asyncio.wait_for(ws.recv(), 10))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    return said["code"], closed.value.rcvd.code if closed.value.rcvd else None


async def test_a_countdown_preview_is_answered_from_the_draft_and_stores_nothing(
    beckon: BeckonServer, shop: str, owner: httpx.Client
) -> None:
    # The shop has no countdown at all: the draft is all there is, and its key is no site's.
    csrf = csrf_from(owner.get(f"/app/widgets/{shop}/countdown/launch").text)
    draft = {"mode": "fixed", "deadline": "2031-05-17T18:30", "display": "inline", "title": "Launch"}
    made = owner.post(
        f"/app/preview/{shop}/countdown/launch",
        data={"csrf": csrf, "definition": json.dumps(draft)},
        headers={"Accept": "application/json"},
    )
    assert made.status_code == 200, made.text
    key = "preview-" + made.json()["token"]
    page = owner.get(f"/app/preview/{shop}/countdown/launch?draft={made.json()['token']}")
    assert f'data-site="{key}"' in page.text  # the frame's loader connects under the preview key

    hello = {"type": "hello", "visitor": "preview-visitor-1"}
    ask = {"type": "countdown", "id": "ask-launch-01", "countdown": "launch"}
    lead = {"type": "lead", "id": "lead-from-preview-1", "kind": "callback", "phone": "020 7946 0733"}
    welcome, answer, refused = await _preview_socket(beckon, key, beckon.base, [hello, ask, lead])
    assert welcome["type"] == "welcome"
    assert answer["type"] == "ack" and answer["countdown"]["deadline"] == 1936809000000  # 2031-05-17 18:30 UTC
    assert refused["type"] == "error" and refused["code"] == "bad_frame"
    assert stored(beckon, shop, "countdown", "launch") is None and beckon.leads(shop) == []

    # Another page (its origin is not the dashboard's) may not use the token; nor does a
    # preview of any other kind open a socket.
    assert await _refused(beckon, key, "http://localhost") == ("unknown_site", 4404)
    callback = owner.post(
        f"/app/preview/{shop}/callback/main",
        data={"csrf": csrf, "definition": "{}"},
        headers={"Accept": "application/json"},
    )
    other = "preview-" + callback.json()["token"]
    assert await _refused(beckon, other, beckon.base) == ("unknown_site", 4404)


async def test_a_quiz_preview_shows_the_drafts_result_and_stores_nothing(
    beckon: BeckonServer, shop: str, owner: httpx.Client
) -> None:
    csrf = csrf_from(owner.get(f"/app/widgets/{shop}/quiz/kitchen-cost").text)

    async def result(quiz: dict[str, Any]) -> dict[str, Any]:
        made = owner.post(
            f"/app/preview/{shop}/quiz/kitchen-cost",
            data={"csrf": csrf, "definition": json.dumps(quiz)},
            headers={"Accept": "application/json"},
        )
        assert made.status_code == 200, made.text
        answers = {"layout": "straight", "length": 3, "fronts": "painted", "extras": None}
        run = {"type": "quiz", "id": f"q-{made.json()['token'][:8]}", "quiz": "kitchen-cost", "run": "run-preview-1"}
        contact = {"name": "Owner trying", "phone": "020 7946 0958"}
        frames = [
            {"type": "hello", "visitor": "preview-visitor-2"},
            run | {"n": 1, "answers": answers, "contact": contact},
            run | {"id": run["id"] + "-other", "n": 1, "quiz": "another-quiz", "answers": answers},
        ]
        welcome, done, other = await _preview_socket(beckon, "preview-" + made.json()["token"], beckon.base, frames)
        assert welcome["type"] == "welcome" and other["type"] == "error"  # only the draft's own quiz
        assert done["type"] == "ack" and done["lead"] == "preview", done
        assert done["quiz"]["complete"] is True
        return done["quiz"]

    # The same answers as a visitor of the published quiz: the same price.
    assert (await result(KITCHEN_QUIZ))["shown"][0] == {"label": "From", "value": "$5,800"}
    # A dearer straight layout in the draft: the preview's price follows the draft at once.
    dearer = copy.deepcopy(KITCHEN_QUIZ)
    dearer["steps"][0]["options"][0]["add"]["base"] += 1000
    assert (await result(dearer))["shown"][0] != {"label": "From", "value": "$5,800"}
    assert all(lead.client_frame_id != "run-preview-1" for lead in beckon.leads(shop))


def all_texts(html: str) -> list[dict[str, str]]:
    found = re.search(r'<script type="application/json" id="widget-texts-data">(.*?)</script>', html, re.S)
    assert found, "the editor page lists every text of the kind for the form"
    return json.loads(found[1])


@pytest.mark.parametrize("kind", ["callback", "chat", "quiz", "popup", "countdown"])
def test_the_editor_lists_every_text_of_its_kind_with_a_label_in_words(
    shop: str, owner: httpx.Client, kind: str
) -> None:
    slug = {"quiz": "kitchen-cost", "popup": "exit", "countdown": "launch"}.get(kind, "main")
    listed = all_texts(owner.get(f"/app/widgets/{shop}/{kind}/{slug}").text)
    # The chat's greeting card speaks for the chat, so the chat's editor rewords it too.
    owners = (kind + ".", "greeter.") if kind == "chat" else (kind + ".",)
    own = {k for k in widget_texts.EN if k.startswith(owners)}
    assert own <= {t["key"] for t in listed}
    assert {t["key"] for t in listed} <= set(widget_texts.EN)  # only texts that exist
    assert all("." not in t["key"] or t["key"].startswith(owners) for t in listed)  # not another kind's
    assert len({t["label"] for t in listed}) == len(listed), "two texts of one widget with the same label"
    for t in listed:
        # The name a widget's own texts use (the short key, as its lookup tries it), and words, not the key.
        assert t["name"] == t["key"].rpartition(".")[2] and t["label"] and t["label"] != t["key"], t


def test_every_built_in_text_has_a_label_for_the_editor() -> None:
    assert set(widget_texts.LABELS) == set(widget_texts.EN)
    assert set(widget_texts.EN) == set(widget_texts.RU)


def test_a_popups_own_text_from_the_form_reaches_visitors_under_its_item(
    beckon: BeckonServer, shop: str, owner: httpx.Client
) -> None:
    url = f"/app/widgets/{shop}/popup/exit"
    config = copy.deepcopy(stored(beckon, shop, "popup", "exit").config)
    config |= {"texts": {"code": "Your code, just for you:", "close": "Not now"}}
    config["triggers"] = nested({"type": "scroll", "percent": 60})
    assert publish(owner, url, config).status_code == 303
    item = public_config(beckon, shop).json()["widgets"]["popup"]["items"]["exit"]
    assert item["texts"] == {"code": "Your code, just for you:", "close": "Not now"}
    assert item["triggers"] == nested({"type": "scroll", "percent": 60})
