"""The quiz widget as visitors use it: one question at a time, inline and in a dialog, the server's result."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, WebSocketRoute, expect

from server.demo import KITCHEN_QUIZ
from server.quiz.formula import FormulaError, compute
from tests.browser.test_loader import collect_errors, serve_page, snippet
from tests.browser.test_popup import counts
from tests.support import BeckonServer

SHOP = "http://quiz.test"
SLUG = "kitchen-cost"
LAYOUT = "Which layout is closest to your room?"
ISLAND = "How long should the island be?"
WALLS = "How long are the walls with cabinets, in total?"
FRONTS = "What should the fronts be made of?"
FINISH = "How should the solid oak be finished?"
EXTRAS = "Anything else? Pick all that apply."
CONTACT = "Where should we send your estimate?"


def quiz_site(
    server: BeckonServer, key: str, quiz: dict[str, Any] = KITCHEN_QUIZ, slug: str = SLUG, **settings: Any
) -> str:
    site = server.add_site(
        key, ["quiz.test"], name=f"Kitchens {key}", widgets={}, settings={"phone_region": "GB", **settings}
    )

    async def put(store):  # type: ignore[no-untyped-def]
        await store.put_widget(site.id, "quiz", quiz, slug=slug)

    server.with_store(put)
    return key


def open_page(
    ctx: BrowserContext, server: BeckonServer, key: str, *, inline: bool = True, button: bool = False
) -> Page:
    body = (
        '<!doctype html><meta name="viewport" content="width=device-width, initial-scale=1"><title>Kitchens</title>'
        "<script>window.__leads = []; window.__events = [];</script>"
        f"{snippet(server, key)}<script>Beckon('on', 'lead', function (d) {{ __leads.push(d); }});"
        "Beckon('on', 'open', function (d) { __events.push('open:' + d.kind); });"
        "Beckon('on', 'close', function (d) { __events.push('close:' + d.kind); });</script>"
        "<h1>Kitchens</h1>"
        + (f'<button data-beckon-open="quiz:{SLUG}">Estimate your kitchen price</button>' if button else "")
        + (f'<section data-beckon-quiz="{SLUG}"></section>' if inline else "")
        + "<p><a href='/other'>Another page</a></p>"
    )
    serve_page(ctx, f"{SHOP}/", body)
    page = ctx.new_page()
    page.goto(f"{SHOP}/")
    return page


def inline_quiz(page: Page) -> Locator:
    return page.locator(f'[data-beckon-quiz="{SLUG}"]')


def question(quiz: Locator, text: str) -> Locator:
    return quiz.get_by_role("heading", name=text)


def choose(quiz: Locator, label: str) -> None:
    quiz.get_by_role("button", name=label, exact=True).click()


def number(quiz: Locator, text: str, value: float) -> None:
    expect(question(quiz, text)).to_be_visible()
    quiz.get_by_role("spinbutton", name=text).fill(f"{value:g}")
    quiz.get_by_role("button", name="Next").click()


def leave_contact(quiz: Locator, phone: str, name: str) -> None:
    expect(question(quiz, CONTACT)).to_be_visible()
    quiz.get_by_label("Name").fill(name)
    quiz.get_by_label("Phone").fill(phone)
    quiz.get_by_role("button", name="Show my result").click()


def path_of(lead: Any) -> list[str]:
    return [step["id"] for step in lead.answers["steps"]]


def test_a_straight_kitchen_gets_a_compact_price_and_the_bonus(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-straight")
    page = open_page(new_context(), beckon, key)
    errors = collect_errors(page)
    quiz = inline_quiz(page)
    expect(question(quiz, LAYOUT)).to_be_visible()
    # Partial capture is announced before the first answer.
    expect(quiz).to_contain_text("We save your answers as you go")
    expect(quiz.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "0")
    expect(quiz.get_by_role("img", name="Straight")).to_be_visible()
    # Nothing is stored or sent before the visitor answers.
    assert page.evaluate("Object.keys(localStorage).filter(k => k.includes(':quiz:'))") == []
    assert beckon.leads(key) == []

    choose(quiz, "Straight")
    number(quiz, WALLS, 3)
    expect(question(quiz, FRONTS)).to_be_visible()
    choose(quiz, "Painted MDF")
    expect(question(quiz, EXTRAS)).to_be_visible()
    quiz.get_by_role("button", name="Skip").click()
    leave_contact(quiz, "020 7946 0701", "Stella Straight")

    expect(quiz).to_contain_text("From $5,800")
    expect(quiz).to_contain_text("To $6,700")
    expect(quiz).to_contain_text("A compact kitchen: about four weeks from measuring to fitting.")
    expect(quiz).to_contain_text("OAK10")
    expect(quiz).to_contain_text("10% off your kitchen: give this code when we call.")
    expect(quiz).to_contain_text("We'll call you within")
    expect(quiz.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    page.wait_for_function("window.__leads.length == 1")
    assert page.evaluate("window.__leads[0].kind") == "quiz"

    [lead] = beckon.leads(key)
    assert lead.status == "new" and lead.name == "Stella Straight" and lead.phone == "+442079460701"
    assert path_of(lead) == ["layout", "length", "fronts", "extras"]
    assert [s["answer"] for s in lead.answers["steps"]] == ["straight", 3, "painted", None]
    assert errors == []


def test_a_long_island_kitchen_takes_the_other_way(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-island")
    page = open_page(new_context(), beckon, key)
    quiz = inline_quiz(page)
    choose(quiz, "With an island")
    number(quiz, ISLAND, 3)
    number(quiz, WALLS, 10)
    # Nine metres or more of wall: the free design visit is offered on the way.
    expect(quiz).to_contain_text("A kitchen this size gets a free design visit")
    quiz.get_by_role("button", name="Next").click()
    choose(quiz, "Solid oak")
    expect(question(quiz, FINISH)).to_be_visible()
    choose(quiz, "Matt lacquer")
    expect(question(quiz, EXTRAS)).to_be_visible()
    quiz.get_by_label("Stone worktop").check()
    # What the page knows about the visitor fills the contact step.
    page.evaluate("Beckon('identify', {name: 'Ivan Island', phone: '020 7946 0702'})")
    quiz.get_by_role("button", name="Next").click()
    expect(question(quiz, CONTACT)).to_be_visible()
    expect(quiz.get_by_label("Phone")).to_have_value("020 7946 0702")
    quiz.get_by_role("button", name="Show my result").click()

    # 7400 + 10 m × (650 + 520 + 80) + 3 m × 900 + 1800 = 24,400; × 1.15 = 28,060 → 28,100
    expect(quiz).to_contain_text("From $24,400")
    expect(quiz).to_contain_text("To $28,100")
    expect(quiz).to_contain_text("A showpiece kitchen: our senior designer will draw three layouts for you.")
    expect(quiz).not_to_contain_text("compact kitchen")
    expect(quiz).to_contain_text("OAK10")
    [lead] = beckon.leads(key)
    assert path_of(lead) == ["layout", "island", "length", "fronts", "finish", "extras"]
    assert lead.name == "Ivan Island"


def test_a_russian_visitor_gets_the_quiz_in_russian(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-ru")
    page = open_page(new_context(locale="ru-RU"), beckon, key)
    quiz = inline_quiz(page)
    expect(quiz).to_contain_text("Мы сохраняем ответы по ходу теста")
    choose(quiz, "Straight")
    expect(quiz.get_by_role("button", name="Назад")).to_be_visible()
    expect(quiz.get_by_role("button", name="Далее")).to_be_visible()


def test_going_back_keeps_answers_and_a_changed_answer_changes_the_way(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-back")
    page = open_page(new_context(), beckon, key)
    quiz = inline_quiz(page)
    choose(quiz, "With an island")
    expect(question(quiz, ISLAND)).to_be_visible()
    progress_on_island = int(quiz.get_by_role("progressbar").get_attribute("aria-valuenow") or 0)
    assert progress_on_island > 0
    quiz.get_by_role("button", name="Back").click()
    expect(question(quiz, LAYOUT)).to_be_visible()
    expect(quiz.get_by_role("button", name="With an island")).to_have_attribute("aria-pressed", "true")
    choose(quiz, "L-shaped")
    # No island on an L-shaped kitchen: straight to the walls.
    number(quiz, WALLS, 6)
    choose(quiz, "Oak veneer")
    expect(question(quiz, EXTRAS)).to_be_visible()
    quiz.get_by_role("button", name="Back").click()
    expect(question(quiz, FRONTS)).to_be_visible()
    quiz.get_by_role("button", name="Back").click()
    expect(quiz.get_by_role("spinbutton", name=WALLS)).to_have_value("6")
    number(quiz, WALLS, 9.5)
    expect(quiz).to_contain_text("free design visit")
    quiz.get_by_role("button", name="Next").click()
    choose(quiz, "Oak veneer")
    quiz.get_by_role("button", name="Skip").click()
    leave_contact(quiz, "020 7946 0703", "Betty Back")
    expect(quiz).to_contain_text("From $")
    [lead] = beckon.leads(key)
    assert path_of(lead) == ["layout", "length", "fronts", "extras"]
    assert lead.answers["steps"][0]["answer"] == "l" and lead.answers["steps"][1]["answer"] == 9.5


def outbox_empty(page: Page, key: str) -> None:
    """Every frame answered by the server (the runtime drops a frame from its outbox on its ack)."""
    page.wait_for_function(f"!JSON.parse(localStorage.getItem('beckon:{key}:outbox') || '[]').length")


def test_a_reload_continues_where_the_visitor_was_and_makes_one_lead(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-reload")
    page = open_page(new_context(), beckon, key)
    quiz = inline_quiz(page)
    choose(quiz, "U-shaped")
    number(quiz, WALLS, 7.5)
    expect(question(quiz, FRONTS)).to_be_visible()
    outbox_empty(page, key)
    # Stored from the first answer, without a contact: a partial lead that alerts nobody.
    [partial] = beckon.leads(key)
    assert partial.status == "partial" and partial.phone is None
    assert path_of(partial) == ["layout", "length"]
    assert counts(beckon, key) == {"quiz_opened": 1}  # an inline quiz opens with the first click in it

    page.reload()
    quiz = inline_quiz(page)
    expect(question(quiz, FRONTS)).to_be_visible()
    quiz.get_by_role("button", name="Back").click()
    expect(quiz.get_by_role("spinbutton", name=WALLS)).to_have_value("7.5")
    quiz.get_by_role("button", name="Next").click()
    choose(quiz, "Painted MDF")
    quiz.get_by_role("button", name="Skip").click()
    leave_contact(quiz, "020 7946 0704", "Rita Reload")
    # 6900 + 7.5 × 650 = 11,775 → 11,800: a family kitchen
    expect(quiz).to_contain_text("From $11,800")
    expect(quiz).to_contain_text("A family kitchen")

    [lead] = beckon.leads(key)
    assert lead.id == partial.id and lead.status == "new" and lead.name == "Rita Reload"
    # The result stays for this visitor, with a way to start again.
    page.reload()
    quiz = inline_quiz(page)
    expect(quiz).to_contain_text("From $11,800")
    quiz.get_by_role("link", name="Start again").click()
    expect(question(quiz, LAYOUT)).to_be_visible()
    expect(quiz.get_by_role("button", name="U-shaped")).to_have_attribute("aria-pressed", "false")


SAVED = "Your answers are saved; the result will appear here once the connection is back."


def answer_offline(page: Page, key: str, name: str) -> Locator:
    """Online for the first answer, then the connection drops before the rest and the contact."""
    quiz = inline_quiz(page)
    choose(quiz, "Straight")
    expect(question(quiz, WALLS)).to_be_visible()
    outbox_empty(page, key)
    page.context.set_offline(True)
    number(quiz, WALLS, 3)
    choose(quiz, "Painted MDF")
    quiz.get_by_role("button", name="Skip").click()
    leave_contact(quiz, "020 7946 0706", name)
    expect(quiz.get_by_role("status")).to_have_text(SAVED)
    return quiz


def test_offline_the_visitor_is_told_the_answers_are_saved_and_gets_the_result_when_back(
    beckon: BeckonServer, new_context
) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-offline")
    page = open_page(new_context(), beckon, key)
    quiz = answer_offline(page, key, "Olive Offline")
    page.context.set_offline(False)
    expect(quiz).to_contain_text("From $5,800", timeout=20_000)
    page.wait_for_function("window.__leads.length == 1")
    [lead] = beckon.leads(key)
    assert lead.status == "new" and lead.name == "Olive Offline"


def test_the_result_of_answers_sent_from_an_earlier_page_view_shows_on_the_next(
    beckon: BeckonServer, new_context
) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-later")
    page = open_page(new_context(), beckon, key)
    answer_offline(page, key, "Lars Later")
    # The visitor leaves while still offline and comes back later.
    ctx = page.context
    page.close()
    ctx.set_offline(False)
    page = ctx.new_page()
    page.goto(f"{SHOP}/")
    quiz = inline_quiz(page)
    expect(quiz).to_contain_text("From $5,800")
    expect(quiz).to_contain_text("OAK10")
    page.wait_for_function("window.__leads.length == 1")
    outbox_empty(page, key)
    [lead] = beckon.leads(key)
    assert lead.status == "new" and lead.name == "Lars Later"


def test_the_server_has_the_last_word_on_the_next_step(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-authority")
    ctx = new_context()

    def disagree(ws: WebSocketRoute) -> None:
        """The server's reckoning differs from the widget's: after the fronts it wants the finish."""
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "ack" and (frame.get("quiz") or {}).get("next") == "extras":
                frame["quiz"]["next"] = "finish"
            ws.send(json.dumps(frame))

        server.on_message(to_page)

    ctx.route_web_socket(re.compile(r"/ws/visitor"), disagree)
    page = open_page(ctx, beckon, key)
    quiz = inline_quiz(page)
    choose(quiz, "Straight")
    number(quiz, WALLS, 3)
    choose(quiz, "Painted MDF")
    expect(question(quiz, FINISH)).to_be_visible()
    quiz.get_by_role("button", name="Back").click()
    expect(question(quiz, FRONTS)).to_be_visible()


def test_too_many_quiz_runs_get_the_servers_friendly_message(fresh_beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_LEAD_LIMIT_PER_VISITOR="1")
    key = quiz_site(server, "quiz-flood")
    page = open_page(new_context(), server, key)
    choose(inline_quiz(page), "Straight")
    outbox_empty(page, key)
    # The same visitor starts a second run from scratch.
    page.evaluate(f"localStorage.removeItem('beckon:{key}:quiz:{SLUG}')")
    page.reload()
    quiz = inline_quiz(page)
    choose(quiz, "U-shaped")
    expect(quiz.get_by_role("alert")).to_have_text(
        "You're sending requests too quickly. Please wait a little and try again."
    )
    assert len(server.leads(key)) == 1


def test_keyboard_only_through_the_dialog_opened_from_a_button(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-keys")
    page = open_page(new_context(), beckon, key, inline=False, button=True)
    opener = page.get_by_role("button", name="Estimate your kitchen price")
    expect(page.locator('[data-beckon-widget="quiz"]')).to_have_count(0)  # nothing drawn before it is asked for
    page.keyboard.press("Tab")
    expect(opener).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="What will your kitchen cost?")
    expect(dialog).to_be_visible()
    expect(question(dialog, LAYOUT)).to_be_focused()
    outbox_empty(page, key)
    assert counts(beckon, key) == {"quiz_opened": 1}  # opening the dialog is the funnel's "Opened"

    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Straight")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="L-shaped")).to_be_focused()
    page.keyboard.press("Enter")
    expect(question(dialog, WALLS)).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("slider", name=WALLS)).to_be_focused()
    page.keyboard.press("ArrowRight")  # the slider and the number move together
    expect(dialog.get_by_role("spinbutton", name=WALLS)).to_have_value("5.5")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(question(dialog, FRONTS)).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(question(dialog, EXTRAS)).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(dialog.get_by_role("checkbox", name="Built-in appliances")).to_be_checked()

    # Focus stays in the dialog however far one tabs, both ways.
    for key_name in ["Tab"] * 8 + ["Shift+Tab"] * 8:
        page.keyboard.press(key_name)
        expect(dialog.locator(":focus")).to_have_count(1)

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    assert page.evaluate("window.__events") == ["open:quiz", "close:quiz"]
    # Opened again, it is where the visitor left it.
    page.keyboard.press("Enter")
    expect(question(dialog, EXTRAS)).to_be_focused()
    expect(dialog.get_by_role("checkbox", name="Built-in appliances")).not_to_be_checked()


XSS = '<img src=x onerror="window.__xss=1">'


def test_markup_in_a_quiz_definition_is_shown_as_text(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    quiz = {
        "title": f"Quiz {XSS}",
        "intro": f"Intro {XSS}",
        "steps": [
            {
                "id": "q",
                "type": "single",
                "question": f"Question {XSS}",
                "options": [{"id": "a", "label": f"A {XSS}"}, {"id": "b", "label": f"B {XSS}"}],
            },
            {"id": "i", "type": "info", "text": f"Info {XSS}"},
            {"id": "contact", "type": "contact", "fields": ["phone"]},
        ],
    }
    key = quiz_site(beckon, "quiz-xss", quiz=quiz)
    page = open_page(new_context(), beckon, key)
    box = inline_quiz(page)
    expect(question(box, f"Question {XSS}")).to_be_visible()
    expect(box).to_contain_text(f"Quiz {XSS}")
    expect(box).to_contain_text(f"Intro {XSS}")
    box.get_by_role("button", name=f"B {XSS}").click()
    expect(box).to_contain_text(f"Info {XSS}")
    expect(box.locator("img")).to_have_count(0)
    assert page.evaluate("window.__xss") is None


def test_the_servers_word_on_a_phone_number_shows_under_the_field(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-phone", require_consent=True)
    page = open_page(new_context(), beckon, key)
    quiz = inline_quiz(page)
    choose(quiz, "Straight")
    number(quiz, WALLS, 4)
    choose(quiz, "Painted MDF")
    quiz.get_by_role("button", name="Skip").click()
    expect(question(quiz, CONTACT)).to_be_visible()
    phone = quiz.get_by_label("Phone")
    # Too few digits is caught at once; the consent is asked for (and says the answers are saved).
    phone.fill("12345")
    quiz.get_by_role("button", name="Show my result").click()
    expect(phone).to_have_accessible_description("Please enter a phone number with at least 6 digits.")
    phone.fill("020 7946 070")
    quiz.get_by_role("button", name="Show my result").click()
    consent = quiz.get_by_role("checkbox", name="I agree to be contacted about my request")
    expect(consent).to_have_accessible_description("Please agree to be contacted so that we can call you.")
    expect(consent).to_have_accessible_name(
        "I agree to be contacted about my request. We save your answers as you go so that we can prepare your estimate."
    )
    consent.check()
    quiz.get_by_role("button", name="Show my result").click()
    # Six digits but no real number: the server says why, right under the field.
    expect(phone).to_have_accessible_description(
        "That doesn't look like a valid phone number. Please check it and include the area code."
    )
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    phone.fill("020 7946 0705")
    quiz.get_by_role("button", name="Show my result").click()
    expect(quiz).to_contain_text("From $6,400")
    [lead] = beckon.leads(key)
    assert lead.status == "new" and lead.phone == "+442079460705"


FORMULAS = [
    "1 + 2 * 3",
    "(1 + 2) * 3",
    "10 - 2 - 3",
    "-7 % 3",
    "7 % -3",
    "2 * -3",
    "not a == b",
    "not a and b",
    "a and b or c",
    "a or b and c",
    "length >= 9",
    "length >= 9 and base > 5000",
    "if(x == 0, 0, 100 / x)",
    "100 / x",
    "round(1234.5, -2)",
    "round(2.5)",
    "round(-2.5)",
    "round(1.2345, 2)",
    "min(3, 2, 5) + max(1, 4)",
    "abs(-3) + floor(2.7) + ceil(2.1)",
    "unknown_var + 1",
    "1 < 2 == 1",
    "3 != 3",
    "1 +",
    "foo(1)",
    "(1",
    "1 2",
    "and",
    "1.5.2",
]
VALUES = {"a": 1, "b": 0, "c": 1, "length": 9, "base": 7400, "x": 0}


def test_branch_conditions_are_worked_out_as_the_server_does(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-calc")
    page = open_page(new_context(), beckon, key)
    expect(question(inline_quiz(page), LAYOUT)).to_be_visible()
    got = page.evaluate(
        """async ([base, key, formulas, values]) => {
            const config = await (await fetch(`${base}/api/v1/sites/${key}/config`)).json();
            const {calc} = await import(config.chunks.quiz);
            return formulas.map(f => { try { return calc(f, values) } catch (e) { return null } });
        }""",
        [beckon.base, key, FORMULAS, VALUES],
    )
    for formula, value in zip(FORMULAS, got, strict=True):
        try:
            expected: float | None = compute(formula, {k: float(v) for k, v in VALUES.items()})
        except FormulaError:
            expected = None
        assert value == expected, formula


def test_the_demo_home_page_offers_the_estimate(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SITE

    site = beckon.with_store(lambda store: store.get_site_by_key(SITE))

    async def put(store):  # type: ignore[no-untyped-def]
        await store.put_widget(site.id, "quiz", copy.deepcopy(KITCHEN_QUIZ), slug=SLUG)

    beckon.with_store(put)
    page = new_context().new_page()
    errors = collect_errors(page)
    page.goto(f"{beckon.base}/demo/")
    page.get_by_role("button", name="Estimate your kitchen price").click()
    dialog = page.get_by_role("dialog", name="What will your kitchen cost?")
    expect(question(dialog, LAYOUT)).to_be_visible()
    for label in ("Straight", "L-shaped", "U-shaped", "With an island"):
        picture = dialog.get_by_role("img", name=label)
        expect(picture).to_be_visible()
        assert picture.evaluate("img => img.complete && img.naturalWidth > 0"), label
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    # From a script, without an id: the site's first quiz.
    page.evaluate("Beckon('open', 'quiz')")
    expect(question(dialog, LAYOUT)).to_be_visible()
    assert errors == []


def test_the_quiz_works_under_a_strict_content_security_policy(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-csp")
    ctx = new_context()
    csp = (
        f"default-src 'none'; script-src {beckon.base}; connect-src {beckon.base} {beckon.ws_base}; "
        f"style-src 'self'; img-src {beckon.base}"
    )
    body = (
        f'<!doctype html><title>Strict</title><h1>Strict</h1><div data-beckon-quiz="{SLUG}"></div>'
        f'<script async src="{beckon.base}/embed.js" data-site="{key}"></script>'
    )
    serve_page(ctx, f"{SHOP}/strict", body, csp)
    page = ctx.new_page()
    errors = collect_errors(page)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{SHOP}/strict")
    quiz = inline_quiz(page)
    choose(quiz, "U-shaped")
    number(quiz, WALLS, 12)
    # The branch (length >= 9) is worked out without eval.
    expect(quiz).to_contain_text("free design visit")
    expect(quiz.get_by_role("progressbar")).not_to_have_attribute("aria-valuenow", "0")
    assert errors == [] and violations == []


def test_a_page_without_a_quiz_fetches_the_quiz_only_when_the_visitor_asks_for_it(
    beckon: BeckonServer, new_context
) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-lazy")
    ctx = new_context()
    fetched: list[str] = []
    ctx.on("request", lambda r: fetched.append(r.url) if "/widgets/quiz." in r.url else None)
    page = open_page(ctx, beckon, key, inline=False, button=True)
    # The runtime is fetched together with every chunk the page needs at once.
    page.wait_for_function("performance.getEntriesByType('resource').some(e => e.name.includes('/widgets/runtime.'))")
    assert fetched == []  # nothing of the quiz's is downloaded on a page that doesn't show it
    page.get_by_role("button", name="Estimate your kitchen price").click()
    dialog = page.get_by_role("dialog")
    expect(question(dialog, LAYOUT)).to_be_visible()
    assert len(fetched) == 1
