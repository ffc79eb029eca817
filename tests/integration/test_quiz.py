"""Quizzes on the wire: partial capture, server-side results, routing and bad input (real server)."""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from server.demo import KITCHEN_QUIZ
from server.models import Role
from tests.conftest import OUTSIDER
from tests.integration.test_callback_routing import ANNA, ORIGIN, callback_site, manager
from tests.integration.test_visitor_socket import send, visitor
from tests.support import BeckonServer, csrf_from, login

SLUG = "kitchen-cost"
SHORT = {"layout": "straight", "length": 3, "fronts": "painted", "extras": None}
CONTEXT = {"url": "http://shop.test/kitchens", "landing": "http://shop.test/", "utm": {"utm_source": "ads"}}


def new_id() -> str:
    return uuid.uuid4().hex


class Run:
    """One visitor's attempt at a quiz, frame by frame as the widget sends them."""

    def __init__(self, ws: ClientConnection, quiz: str = SLUG) -> None:
        self.ws, self.quiz, self.run, self.n = ws, quiz, new_id(), 0

    def frame(self, answers: dict[str, Any], **extra: Any) -> dict[str, Any]:
        self.n += 1
        head = {"type": "quiz", "id": new_id(), "quiz": self.quiz, "run": self.run, "n": self.n}
        return head | {"answers": answers} | extra

    async def answer(self, answers: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return await send(self.ws, self.frame(answers, **extra))


@pytest.fixture(scope="module")
def shop(beckon: BeckonServer) -> str:
    key = callback_site(beckon, "quiz-shop")

    async def add_quizzes(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(key)
        await store.put_widget(site.id, "quiz", KITCHEN_QUIZ, slug=SLUG)
        broken = copy.deepcopy(KITCHEN_QUIZ) | {"results": {"price": "base / per_m"}, "ranges": []}
        broken["show"] = [{"result": "price", "label": "Price", "prefix": "$"}]
        await store.put_widget(site.id, "quiz", broken, slug="divides")
        await store.put_widget(site.id, "quiz", KITCHEN_QUIZ, slug="retired", enabled=False)

    beckon.with_store(add_quizzes)
    return key


def lead_of(server: BeckonServer, site: str, ref: str) -> Any:
    return next(x for x in server.leads(site) if x.ref == ref)


async def test_config_gives_the_widget_its_questions_but_not_the_formulas_or_the_bonus(
    beckon: BeckonServer, shop: str
) -> None:
    async with httpx.AsyncClient() as client:
        config = (await client.get(f"{beckon.base}/api/v1/sites/{shop}/config", headers={"Origin": ORIGIN})).json()
    items = config["widgets"]["quiz"]["items"]
    assert set(items) == {SLUG, "divides"}  # a disabled quiz is not offered
    quiz = items[SLUG]
    assert [s["id"] for s in quiz["steps"]] == [s["id"] for s in KITCHEN_QUIZ["steps"]]
    assert quiz["steps"][2]["branches"] == [{"if": "length >= 9", "next": "visit"}]  # the widget navigates
    assert "results" not in quiz and "ranges" not in quiz and "bonus" not in quiz and "OAK10" not in json.dumps(config)
    assert quiz["has_bonus"] is True
    # The demo's pictures are Beckon's own: absolute, so they load on the owner's site too.
    assert quiz["steps"][0]["options"][0]["image"] == f"{beckon.base}/demo/img/layout-straight.svg"
    assert "quiz" in config["chunks"]


async def test_each_answer_is_kept_as_a_partial_lead_that_does_not_alert(beckon: BeckonServer, shop: str) -> None:
    async with await visitor(beckon, shop, ORIGIN) as ws:
        run = Run(ws)
        first = await run.answer({"layout": "l"}, context=CONTEXT)
        second = await run.answer({"layout": "l", "length": 6.5})
    assert first["type"] == second["type"] == "ack" and first["lead"] == second["lead"]
    assert first["quiz"] == {"complete": False, "next": "length"}
    assert second["quiz"] == {"complete": False, "next": "fronts"}
    stored = lead_of(beckon, shop, first["lead"])
    assert (stored.kind, stored.status.value, stored.phone) == ("quiz", "partial", None)
    assert [(s["question"], s["text"]) for s in stored.answers["steps"]] == [
        ("Which layout is closest to your room?", "L-shaped"),
        ("How long are the walls with cabinets, in total?", "6.5 m"),
    ]
    assert stored.answers["stopped_at"] == "fronts" and stored.source == "ads"
    assert len([x for x in beckon.leads(shop) if x.ref == first["lead"]]) == 1


async def test_the_contact_completes_the_lead_with_the_servers_own_price_and_rings_managers(
    beckon: BeckonServer, shop: str
) -> None:
    anna = await manager(beckon, ANNA)
    async with anna.ws, await visitor(beckon, shop, ORIGIN) as ws:
        run = Run(ws)
        first = await run.answer({"layout": "straight"}, context=CONTEXT)
        partial = await anna.next(lambda f: f["type"] == "lead" and f["ref"] == first["lead"])
        assert partial["status"] == "partial"
        # A forged price and results from the client change nothing.
        done = await run.answer(
            SHORT | {"price": 1},
            contact={"name": "Zoe", "phone": "020 7946 0958", "email": "zoe@example.test"},
            results={"price": 1},
            context=CONTEXT,
        )
        assert done["type"] == "ack", done
        assert done["quiz"]["complete"] is True and done["quiz"]["next"] is None
        assert done["quiz"]["shown"] == [{"label": "From", "value": "$5,800"}, {"label": "To", "value": "$6,700"}]
        assert done["quiz"]["texts"] == ["A compact kitchen: about four weeks from measuring to fitting."]
        assert done["quiz"]["bonus"]["code"] == "OAK10"
        assert done["callback"]["state"] == "ringing"
        news = await anna.next(lambda f: f["type"] == "lead" and f["ref"] == done["lead"])
        card = await anna.card(done["lead"], "ringing")
    assert news["ref"] == done["lead"] and news["status"] == "new"
    assert card["lead"] == done["lead"] and card["phone"] == "+442079460958"
    stored = lead_of(beckon, shop, done["lead"])
    assert (stored.status.value, stored.name, stored.email) == ("new", "Zoe", "zoe@example.test")
    assert stored.answers["results"] == {"price": 5800.0, "price_high": 6700.0}
    assert [s["text"] for s in stored.answers["steps"]] == ["Straight", "3 m", "Painted MDF", "(skipped)"]

    client = httpx.Client(base_url=beckon.base)
    login(client, *ANNA)
    page = client.get(f"/app/leads/{done['lead']}").text
    assert "What should the fronts be made of?" in page and "Painted MDF" in page and "$5,800" in page
    assert "Finished the quiz" in page and "Started the quiz" in page


async def test_another_branch_takes_its_own_questions_and_price(beckon: BeckonServer, shop: str) -> None:
    answers = {
        "layout": "island",
        "island": 2,
        "length": 10,
        "fronts": "solid",
        "finish": "lacquer",
        "extras": ["stone", "lights"],
    }
    async with await visitor(beckon, shop, ORIGIN) as ws:
        run = Run(ws)
        steps = [await run.answer(dict(list(answers.items())[:i])) for i in range(1, len(answers) + 1)]
        done = await run.answer(answers, contact={"phone": "020 7946 0959"})
    assert [s["quiz"]["next"] for s in steps] == ["island", "length", "fronts", "finish", "extras", "contact"]
    # 7400 + 10 × (650 + 600) + 2 × 900 + 2250 = 23950 → 24,000; × 1.15 = 27,600
    assert [x["value"] for x in done["quiz"]["shown"]] == ["$24,000", "$27,600"]
    assert done["quiz"]["texts"] == ["A showpiece kitchen: our senior designer will draw three layouts for you."]


async def test_a_late_or_repeated_frame_never_undoes_newer_answers(beckon: BeckonServer, shop: str) -> None:
    async with await visitor(beckon, shop, ORIGIN) as ws:
        run = Run(ws)
        old = run.frame({"layout": "straight"})
        new = await run.answer({"layout": "u", "length": 4})
        late = await send(ws, old)
        again = await send(ws, old)
    assert late == again and late["lead"] == new["lead"]
    assert late["quiz"]["next"] == "fronts"  # the newer state, not the late frame's
    assert [s["text"] for s in lead_of(beckon, shop, new["lead"]).answers["steps"]] == ["U-shaped", "4 m"]


@pytest.mark.parametrize(
    ("answers", "contact", "field", "message"),
    [
        ({"layout": "castle"}, None, "layout", "Unknown option."),
        ({"layout": ["l", "u"]}, None, "layout", "Pick one option."),
        ({"layout": "l", "length": 50}, None, "length", "Must be between 2 and 14."),
        ({"layout": "l", "length": "six"}, None, "length", "A number is needed."),
        ({"layout": None}, None, "layout", "This question needs an answer."),
        ({"layout": "l"}, {"phone": "020 7946 0958"}, "length", "Please answer “How long are the walls"),
        (SHORT, {"name": "No Phone", "email": "a@example.test"}, "phone", "Please enter your phone number."),
        (SHORT, {"phone": "12"}, "phone", "That number is too short."),
    ],
)
async def test_answers_that_do_not_fit_are_refused_with_a_clear_message(
    beckon: BeckonServer, shop: str, answers: dict[str, Any], contact: Any, field: str, message: str
) -> None:
    async with await visitor(beckon, shop, ORIGIN) as ws:
        run = Run(ws)
        reply = await run.answer(answers, **({"contact": contact} if contact else {}))
    assert reply["type"] == "error" and reply["field"] == field, reply
    assert message in reply["message"]
    assert not any(x.client_frame_id == run.run for x in beckon.leads(shop))


async def test_huge_text_and_unknown_quizzes_are_refused(beckon: BeckonServer, shop: str) -> None:
    async with await visitor(beckon, shop, ORIGIN) as ws:
        huge = await Run(ws).answer({"layout": "l", "notes": "x" * 20_000})
        retired = await Run(ws, "retired").answer({"layout": "l"})
        bad_n = await send(ws, {"type": "quiz", "id": new_id(), "quiz": SLUG, "run": new_id(), "n": 0, "answers": {}})
    assert huge["code"] == "too_large"
    assert (retired["code"], retired["field"], retired["message"]) == (
        "invalid_field",
        "quiz",
        "This quiz is no longer available.",
    )
    assert bad_n["code"] == "bad_frame" and "frame counter" in bad_n["message"]


async def test_a_formula_that_divides_by_zero_is_reported_not_invented(beckon: BeckonServer, shop: str) -> None:
    async with await visitor(beckon, shop, ORIGIN) as ws:
        done = await Run(ws, "divides").answer(SHORT, contact={"phone": "020 7946 0958"})
    assert done["quiz"]["complete"] is True and done["quiz"]["shown"] == []
    assert done["quiz"]["failed"] == [{"label": "Price", "message": "division by zero"}]
    assert lead_of(beckon, shop, done["lead"]).answers["results"] == {}


async def test_new_runs_are_rate_limited_but_a_run_in_progress_is_not(fresh_beckon) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_LEAD_LIMIT_PER_VISITOR="2")
    key = callback_site(server, "quiz-flood")
    server.with_store(lambda store: _put_quiz(store, key))
    async with await visitor(server, key, ORIGIN) as ws:
        first, second, third = Run(ws), Run(ws), Run(ws)
        assert (await first.answer({"layout": "l"}))["type"] == "ack"
        assert (await second.answer({"layout": "l"}))["type"] == "ack"
        refused = await third.answer({"layout": "l"})
        going_on = await first.answer({"layout": "l", "length": 5})
    assert refused["code"] == "rate_limited" and "too quickly" in refused["message"]
    assert going_on["type"] == "ack"


async def _put_quiz(store, key: str) -> None:  # type: ignore[no-untyped-def]
    site = await store.get_site_by_key(key)
    await store.put_widget(site.id, "quiz", KITCHEN_QUIZ, slug=SLUG)


# -- the quiz editor in the dashboard: validated on save, nothing stored while errors remain ------

OWNER_CREDS = ("quiz.owner@example.test", "owner-password-1")


@pytest.fixture(scope="module")
def editor(beckon: BeckonServer, shop: str) -> httpx.Client:
    beckon.add_user(*OWNER_CREDS, sites=[shop], name="Olivia", role=Role.OWNER)
    client = httpx.Client(base_url=beckon.base, follow_redirects=False)
    login(client, *OWNER_CREDS)
    return client


def save(client: httpx.Client, path: str, definition: str, enabled: bool = True) -> httpx.Response:
    page = client.get(path)
    form = {"csrf": csrf_from(page.text), "definition": definition} | ({"enabled": "on"} if enabled else {})
    return client.post(path, data=form)


def stored_quiz(server: BeckonServer, site: str, slug: str) -> Any:
    async def action(store):  # type: ignore[no-untyped-def]
        found = await store.get_site_by_key(site)
        return await store.get_widget(found.id, "quiz", slug)

    return server.with_store(action)


def test_an_owner_saves_a_valid_quiz_and_it_goes_live(beckon: BeckonServer, shop: str, editor: httpx.Client) -> None:
    quiz = copy.deepcopy(KITCHEN_QUIZ) | {"title": "Wardrobe <b>cost</b>"}
    reply = save(editor, f"/app/widgets/{shop}/quiz/wardrobe", json.dumps(quiz))
    assert reply.status_code == 303 and "saved=1" in reply.headers["location"]
    assert stored_quiz(beckon, shop, "wardrobe").config["title"] == "Wardrobe <b>cost</b>"
    listing = editor.get("/app/widgets").text
    assert "Wardrobe &lt;b&gt;cost&lt;/b&gt;" in listing and "<b>cost</b>" not in listing
    config = httpx.get(f"{beckon.base}/api/v1/sites/{shop}/config", headers={"Origin": ORIGIN}).json()
    assert "wardrobe" in config["widgets"]["quiz"]["items"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda q: q["steps"][4]["options"][1].update(next="nowhere"), "option 2: unknown next step &#39;nowhere&#39;"),
        (lambda q: q["steps"][6].update(next="layout"), "loops are not allowed"),
        (lambda q: q["results"].update(price="base / (per_m"), "results.price: expected &#39;)&#39;"),
    ],
)
def test_a_broken_quiz_is_refused_with_located_errors_and_nothing_changes(
    beckon: BeckonServer, shop: str, editor: httpx.Client, change: Any, error: str
) -> None:
    before = stored_quiz(beckon, shop, SLUG)
    quiz = copy.deepcopy(KITCHEN_QUIZ)
    change(quiz)
    reply = save(editor, f"/app/widgets/{shop}/quiz/{SLUG}", json.dumps(quiz))
    assert reply.status_code == 400 and "Not saved" in reply.text and error in reply.text
    after = stored_quiz(beckon, shop, SLUG)
    assert (after.version, after.config) == (before.version, before.config)


def test_text_that_is_not_json_is_refused_with_its_line(shop: str, editor: httpx.Client) -> None:
    reply = save(editor, f"/app/widgets/{shop}/quiz/{SLUG}", '{\n  "title": "x",\n  "steps": [}\n')
    assert reply.status_code == 400 and "Not valid JSON: line 3" in reply.text


def test_managers_and_strangers_cannot_edit_quizzes(beckon: BeckonServer, shop: str) -> None:
    manager_client = httpx.Client(base_url=beckon.base, follow_redirects=False)
    login(manager_client, *ANNA)
    assert manager_client.get(f"/app/widgets/{shop}/quiz/{SLUG}").status_code == 403
    outsider = httpx.Client(base_url=beckon.base, follow_redirects=False)
    login(outsider, *OUTSIDER)
    assert outsider.get(f"/app/widgets/{shop}/quiz/{SLUG}").status_code in (403, 404)


def test_the_live_preview_runs_a_draft_without_saving_it(beckon: BeckonServer, shop: str, editor: httpx.Client) -> None:
    before = stored_quiz(beckon, shop, SLUG)
    draft = copy.deepcopy(KITCHEN_QUIZ) | {"title": "Draft title"}
    page = editor.get(f"/app/widgets/{shop}/quiz/{SLUG}")
    shown = editor.post(
        f"/app/preview/{shop}/quiz/{SLUG}", data={"csrf": csrf_from(page.text), "definition": json.dumps(draft)}
    )
    assert shown.status_code == 200 and "frame-ancestors 'self'" in shown.headers["content-security-policy"]
    config_path = re.search(r'data-config="([^"]+)"', shown.text)[1]  # type: ignore[index]
    config = httpx.get(f"{beckon.base}{config_path}").json()
    assert list(config["widgets"]) == ["quiz"] and config["widgets"]["quiz"]["items"][SLUG]["title"] == "Draft title"
    assert "OAK10" not in json.dumps(config)
    assert stored_quiz(beckon, shop, SLUG).version == before.version  # nothing saved
    broken = editor.post(
        f"/app/preview/{shop}/quiz/{SLUG}", data={"csrf": csrf_from(page.text), "definition": '{"steps": []}'}
    )
    assert broken.status_code == 400 and "a quiz needs at least one step" in broken.text
    assert httpx.get(f"{beckon.base}/app/preview-config/made-up").status_code == 404
