"""The widget editor as an owner uses it: a form for every kind, the preview beside it running the
real widget code as they type, errors shown at their field, publish and roll back, and a visitor's
next page view getting exactly what was published."""

from __future__ import annotations

import json
import re
import sqlite3

from playwright.sync_api import BrowserContext, FrameLocator, Locator, Page, expect

from server.models import Role
from tests.browser.pages import request_callback
from tests.browser.test_loader import collect_errors, serve_page, snippet
from tests.browser.test_popup import leave_through_the_top, pause, visit
from tests.support import BeckonServer

OWNER = ("olive.editor@example.test", "olive-password-1")
SHOP = "http://sofa.test"
SOFA_QUIZ = {
    "title": "Which sofa?",
    "steps": [
        {
            "id": "size",
            "type": "single",
            "question": "How many seats?",
            "options": [{"id": "two", "label": "Two seats"}, {"id": "three", "label": "Three seats"}],
        },
        {"id": "contact", "type": "contact", "question": "Where do we send the offer?", "fields": ["phone", "name"]},
    ],
}
POPUP = {
    "title": "Ten percent off",
    "text": "Leave your number.",
    "fields": ["phone"],
    "triggers": {"any": [{"type": "delay", "seconds": 600}]},
}
COUNTDOWN = {"mode": "evergreen", "minutes": 90, "display": "bar-top", "title": "Sale ends soon"}


def editor_site(server: BeckonServer, key: str, *more_domains: str) -> str:
    """A site whose pages live on sofa.test, with one widget of every kind, and its owner."""
    server.add_site(
        key,
        ["sofa.test", *more_domains],
        name=f"Sofas {key}",
        widgets={
            "callback": {"color": "#0f766e"},
            "chat": {"color": "#0f766e", "greeting": "Hello there"},
            "quiz:sofa": SOFA_QUIZ,
            "popup:offer": POPUP,
            "countdown:sale": COUNTDOWN,
        },
    )
    email = f"{key}.{OWNER[0]}"
    server.add_user(email, OWNER[1], sites=[key], name="Olive", role=Role.OWNER)
    return email


def signed_in(ctx: BrowserContext, server: BeckonServer, email: str) -> Page:
    page = ctx.new_page()
    page.goto(f"{server.base}/app/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(OWNER[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.base}/app/leads")
    return page


def preview(page: Page) -> FrameLocator:
    return page.frame_locator("iframe[title='Live preview']")


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_callback_texts_and_colour_change_the_preview_as_the_owner_types(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    email = editor_site(beckon, "ed-callback")
    page = signed_in(new_context(), beckon, email)
    page.goto(f"{beckon.base}/app/widgets")
    page.get_by_role("link", name="Callback on Sofas ed-callback").click()
    frame = preview(page)
    expect(frame.get_by_role("heading", name="We'll call you back")).to_be_visible()

    page.get_by_label("Title", exact=True).fill("Ring me, please")
    expect(frame.get_by_role("heading", name="Ring me, please")).to_be_visible()
    page.get_by_label("Colour", exact=True).fill("#7c3aed")
    expect(frame.get_by_role("button", name="Request a callback")).to_have_css("background-color", rgb("#7c3aed"))
    # The JSON view is the same draft, both ways.
    source = page.get_by_label("Definition (JSON)")
    assert '"title": "Ring me, please"' in source.input_value()
    page.get_by_text("Advanced (JSON)").click()
    source.fill(json.dumps({"color": "#7c3aed", "position": "left", "texts": {"title": "Typed as JSON"}}))
    expect(page.get_by_label("Title", exact=True)).to_have_value("Typed as JSON")
    expect(page.get_by_label("Side of the page")).to_have_value("left")
    expect(frame.get_by_role("heading", name="Typed as JSON")).to_be_visible()

    # A colour the widget can't use: marked at the field, and publishing stores nothing.
    colour = page.get_by_label("Colour", exact=True)
    colour.fill("teal-ish")
    expect(colour).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("color: 'teal-ish' is not a colour like #0f766e")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved")
    expect(page.get_by_label("Colour", exact=True)).to_be_focused()
    expect(page.get_by_label("Colour", exact=True)).to_have_attribute("aria-invalid", "true")

    async def version(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key("ed-callback")
        return (await store.get_widget(site.id, "callback")).version

    assert beckon.with_store(version) == 1


def test_empty_text_fields_show_the_built_in_texts_of_the_visitors_language(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    """The placeholders are what visitors read when a field is left empty: the server's built-in texts
    (server/widget_texts.py), in the site's language, under the site's own texts."""
    email = editor_site(beckon, "ed-texts")

    async def russian(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key("ed-texts")
        await store.update_site(site.id, locale="ru", settings={"texts": {"callback.submit": "Жду звонка"}})

    beckon.with_store(russian)
    page = signed_in(new_context(), beckon, email)
    page.goto(f"{beckon.base}/app/widgets")
    page.get_by_role("link", name="Callback on Sofas ed-texts").click()
    expect(preview(page).get_by_role("heading", name="Мы вам перезвоним")).to_be_visible()
    expect(page.get_by_label("Title", exact=True)).to_have_attribute("placeholder", "Мы вам перезвоним")
    expect(page.get_by_label("Phone label", exact=True)).to_have_attribute("placeholder", "Телефон")  # a shared text
    expect(page.get_by_label("Submit button", exact=True)).to_have_attribute("placeholder", "Жду звонка")  # the site's own
    # Typed texts win in the preview; the placeholders stay as hints for the fields left empty.
    page.get_by_label("Title", exact=True).fill("Позвоним за минуту")
    expect(preview(page).get_by_role("heading", name="Позвоним за минуту")).to_be_visible()
    expect(page.get_by_label("Intro", exact=True)).to_have_attribute("placeholder", "Оставьте номер, и мы вам перезвоним.")


def test_chat_greeting_and_colour_and_a_proactive_greeting_rule(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    email = editor_site(beckon, "ed-chat")
    page = signed_in(new_context(), beckon, email)
    page.goto(f"{beckon.base}/app/widgets/ed-chat/chat/main")
    frame = preview(page)
    expect(frame.get_by_text("Hello there")).to_be_visible()
    page.get_by_label("Greeting in the open chat").fill("Ask us about sofas")
    expect(frame.get_by_text("Ask us about sofas")).to_be_visible()
    page.get_by_label("Colour", exact=True).fill("#be123c")
    expect(frame.get_by_role("button", name="Open chat")).to_have_css("background-color", rgb("#be123c"))

    page.get_by_role("button", name="Add a greeting").click()
    rule = page.get_by_role("group", name="Greeting 1", exact=True)
    rule.get_by_label("Text ({name}: the manager's first name)").fill("Need a hand, {name} here?")
    rule.get_by_label("After scrolling (percent)").fill("150")
    field = rule.get_by_label("After scrolling (percent)")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(rule).to_contain_text("greetings[0].scroll: a number from 0 to 100")
    field.fill("50")
    expect(field).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Add a canned reply").click()
    reply = page.get_by_role("group", name="Canned reply 1", exact=True)
    reply.get_by_label("Shortcut (typed after /)").fill("delivery")
    reply.get_by_label("Reply text").fill("We deliver within two weeks.")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published")).to_be_visible()

    async def greetings(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key("ed-chat")
        return (await store.get_widget(site.id, "chat")).config

    async def canned(store):  # type: ignore[no-untyped-def]
        return (await store.get_site_by_key("ed-chat")).settings["canned"]

    assert beckon.with_store(canned) == [{"shortcut": "delivery", "text": "We deliver within two weeks."}]
    config = beckon.with_store(greetings)
    assert "canned" not in config and config["greeting"] == "Ask us about sofas" and config["color"] == "#be123c"
    assert config["greetings"] == [{"url": "", "text": "Need a hand, {name} here?", "seconds": 20, "scroll": 50}]


def test_popup_and_countdown_texts_change_the_preview(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    # The dashboard's host is one of this site's domains (as in the demo): a number left in the preview
    # must still be no lead.
    email = editor_site(beckon, "ed-offers", "127.0.0.1")
    page = signed_in(new_context(), beckon, email)
    page.goto(f"{beckon.base}/app/widgets/ed-offers/popup/offer")
    frame = preview(page)
    expect(frame.get_by_role("heading", name="Ten percent off")).to_be_visible()
    page.get_by_label("Title", exact=True).fill("Fifteen percent off")
    expect(frame.get_by_role("heading", name="Fifteen percent off")).to_be_visible()
    # A trigger added and set through the form lands in the JSON.
    page.get_by_role("button", name="Add a trigger").click()
    trigger = page.get_by_role("group", name="Trigger 2", exact=True)
    trigger.get_by_label("When").select_option("scroll")
    trigger.get_by_label("Percent").fill("70")
    expect(page.get_by_text("Preview: up to date")).to_be_visible()
    assert '"percent": 70' in page.get_by_label("Definition (JSON)").input_value()
    # A number left in the preview is no lead, though this site's domains include the dashboard's.
    dialog = frame.get_by_role("dialog")
    dialog.get_by_label("Phone").fill("020 7946 0733")
    dialog.get_by_role("button", name="Send").click()
    expect(dialog).to_contain_text("we saved your request", timeout=10_000)  # never acknowledged
    assert beckon.leads("ed-offers") == []

    page.goto(f"{beckon.base}/app/widgets/ed-offers/countdown/sale")
    frame = preview(page)
    expect(frame.get_by_text("Sale ends soon")).to_be_visible()
    page.get_by_label("Title", exact=True).fill("Last chance this week")
    expect(frame.get_by_text("Last chance this week")).to_be_visible()
    # Switching the mode shows that mode's own fields.
    page.get_by_label("Mode").select_option("daily")
    expect(page.get_by_label("Time of day")).to_be_visible()
    expect(page.get_by_label("Minutes each visitor gets")).to_have_count(0)


def stored_for_site(server: BeckonServer, key: str) -> tuple[int, int]:
    """Visitors and evergreen starts stored for a site: what a preview must never write."""
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
        (site_id,) = db.execute("SELECT id FROM sites WHERE key = ?", (key,)).fetchone()
        visitors = db.execute("SELECT COUNT(*) FROM visitors WHERE site_id = ?", (site_id,)).fetchone()[0]
        starts = db.execute("SELECT COUNT(*) FROM countdown_starts WHERE site_id = ?", (site_id,)).fetchone()[0]
    return int(visitors), int(starts)


def test_the_countdown_preview_counts_to_the_draft_not_the_saved_deadline(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    # The dashboard's host is NOT among this site's domains: the preview asks for the draft's deadline
    # under its preview key, and the server answers from the draft, storing nothing.
    email = editor_site(beckon, "ed-timer")
    page = signed_in(new_context(), beckon, email)
    page.goto(f"{beckon.base}/app/widgets/ed-timer/countdown/sale")
    timer = preview(page).get_by_role("timer")
    expect(timer).to_have_attribute("aria-label", re.compile(r"\b1 hour\b"))  # saved: evergreen, 90 minutes
    page.get_by_label("Minutes each visitor gets").fill("5")
    expect(timer).to_have_attribute("aria-label", re.compile(r"^(4|5) minutes\b"))
    page.get_by_label("Mode").select_option("fixed")
    page.get_by_label("Deadline (site timezone)").fill("2031-05-17T18:30")
    expect(timer).to_have_attribute("datetime", "2031-05-17T18:30:00.000Z")  # the site's timezone is UTC
    expect(page.get_by_text("Preview: up to date")).to_be_visible()
    saved = beckon.with_store(lambda store: store.get_site_by_key("ed-timer"))
    widget = beckon.with_store(lambda store: store.get_widget(saved.id, "countdown", "sale"))
    assert widget.config == COUNTDOWN  # previewing saved nothing...
    assert stored_for_site(beckon, "ed-timer") == (0, 0)  # ...and made no visitor, no evergreen start


def visitor_page(ctx: BrowserContext, server: BeckonServer, key: str) -> Page:
    body = (
        "<!doctype html><title>Sofas</title>"
        f'{snippet(server, key)}<h1>Sofas</h1><section data-beckon-quiz="sofa"></section>'
    )
    serve_page(ctx, f"{SHOP}/", body)
    page = ctx.new_page()
    page.goto(f"{SHOP}/")
    return page


def quiz_of(page: Page) -> Locator:
    return page.locator('[data-beckon-quiz="sofa"]')


def test_a_quiz_step_with_a_branch_is_published_refused_when_broken_and_rolled_back(
    beckon: BeckonServer, new_context
) -> None:  # type: ignore[no-untyped-def]
    email = editor_site(beckon, "ed-quiz")
    owner = signed_in(new_context(), beckon, email)
    owner.goto(f"{beckon.base}/app/widgets/ed-quiz/quiz/sofa")
    frame = preview(owner)
    expect(frame.get_by_role("heading", name="How many seats?")).to_be_visible()

    # A new step with two options, moved before the contact step.
    owner.get_by_role("button", name="Add a step").click()
    step = owner.get_by_role("group", name="Step 3", exact=True)
    step.get_by_label("Step id", exact=True).fill("fabric")
    step.get_by_label("Question").fill("Which fabric?")
    step.get_by_role("group", name="Option 1", exact=True).get_by_label("Label").fill("Linen")
    step.get_by_role("group", name="Option 2", exact=True).get_by_label("Label").fill("Velvet")
    step.get_by_role("button", name="Move step 3 up").click()
    # Two seats skip the fabric: the option's own next step.
    first = owner.get_by_role("group", name="Step 1", exact=True)
    first.get_by_role("group", name="Option 1", exact=True).get_by_label("Then go to", exact=False).fill("contact")
    expect(owner.get_by_text("Preview: up to date")).to_be_visible()
    frame.get_by_role("button", name="Three seats").click()
    expect(frame.get_by_role("heading", name="Which fabric?")).to_be_visible()

    # A branch to a step that doesn't exist: marked at its field, in the form, and not published.
    next_of_two = first.get_by_role("group", name="Option 1", exact=True).get_by_label("Then go to", exact=False)
    next_of_two.fill("nowhere")
    expect(next_of_two).to_have_attribute("aria-invalid", "true")
    expect(first).to_contain_text("unknown next step 'nowhere'")
    owner.get_by_role("button", name="Publish").click()
    expect(owner.get_by_role("alert")).to_contain_text("Not saved")
    marked = owner.get_by_role("group", name="Step 1", exact=True).get_by_role("group", name="Option 1", exact=True)
    expect(marked.get_by_label("Then go to", exact=False)).to_be_focused()
    expect(marked.get_by_label("Then go to", exact=False)).to_have_attribute("aria-invalid", "true")
    expect(marked).to_contain_text("unknown next step 'nowhere'")
    assert stored_version(beckon) == 1

    # A formula that can't be parsed, in a branch added through the form.
    marked.get_by_label("Then go to", exact=False).fill("contact")
    first = owner.get_by_role("group", name="Step 1", exact=True)
    first.get_by_role("button", name="Add a branch").click()
    branch = first.get_by_role("group", name="Branch 1", exact=True)
    branch.get_by_label("If (formula", exact=False).fill("seats >")
    branch.get_by_label("Go to (step id)").fill("fabric")
    expect(branch.get_by_label("If (formula", exact=False)).to_have_attribute("aria-invalid", "true")
    branch.get_by_label("If (formula", exact=False).fill("1 > 2")
    expect(owner.get_by_text("Preview: up to date")).to_be_visible()
    owner.get_by_role("button", name="Publish").click()
    expect(owner.get_by_role("status").filter(has_text="Published: version 2")).to_be_visible()

    visitor = visitor_page(new_context(), beckon, "ed-quiz")
    quiz = quiz_of(visitor)
    quiz.get_by_role("button", name="Three seats").click()
    expect(quiz.get_by_role("heading", name="Which fabric?")).to_be_visible()

    # Roll back: version 1 becomes version 3, and the visitor's next page view has no fabric step.
    owner.get_by_role("button", name="Restore version 1").click()
    expect(owner.get_by_role("status").filter(has_text="Published: version 3")).to_be_visible()
    visitor.reload()
    quiz = quiz_of(visitor)
    quiz.get_by_role("button", name="Three seats").click()
    expect(quiz.get_by_role("heading", name="Where do we send the offer?")).to_be_visible()
    expect(quiz.get_by_role("heading", name="Which fabric?")).to_have_count(0)


def stored_version(server: BeckonServer) -> int:
    async def action(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key("ed-quiz")
        return (await store.get_widget(site.id, "quiz", "sofa")).version

    return server.with_store(action)


def test_the_quiz_calculator_is_built_in_the_form(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    email = editor_site(beckon, "ed-calc")
    owner = signed_in(new_context(), beckon, email)
    owner.goto(f"{beckon.base}/app/widgets/ed-calc/quiz/sofa")
    first = owner.get_by_role("group", name="Step 1", exact=True)
    for n, seats in ((1, "2"), (2, "3")):
        option = first.get_by_role("group", name=f"Option {n}", exact=True)
        option.get_by_role("button", name="Add a variable").click()
        option = owner.get_by_role("group", name="Step 1", exact=True).get_by_role(
            "group", name=f"Option {n}", exact=True
        )
        option.get_by_label("Variable 1 name").fill("seats")
        option.get_by_label("Variable 1 amount").fill(seats)
    owner.get_by_role("button", name="Add a result").click()
    owner.get_by_label("Result 1 name").fill("price")
    formula = owner.get_by_label("Result 1 formula")
    formula.fill("seats *")
    expect(formula).to_have_attribute("aria-invalid", "true")
    expect(owner.get_by_text("results.price:")).to_be_visible()
    formula.fill("seats * 400")
    expect(formula).not_to_have_attribute("aria-invalid", "true")
    owner.get_by_role("button", name="Add a shown result").click()
    shown = owner.get_by_role("group", name="Shown result 1", exact=True)
    shown.get_by_label("Result").fill("price")
    shown.get_by_label("Label").fill("Your price")
    expect(owner.get_by_text("Preview: up to date")).to_be_visible()
    owner.get_by_role("button", name="Publish").click()
    expect(owner.get_by_role("status").filter(has_text="Published: version 2")).to_be_visible()

    async def config(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key("ed-calc")
        return (await store.get_widget(site.id, "quiz", "sofa")).config

    saved = beckon.with_store(config)
    assert saved["results"] == {"price": "seats * 400"}
    assert saved["show"] == [{"result": "price", "label": "Your price"}]
    assert [o["add"] for o in saved["steps"][0]["options"]] == [{"seats": 2}, {"seats": 3}]


# -- the popup's whole trigger tree in the form -------------------------------------------------

TREE = {
    "all": [{"any": [{"type": "scroll", "percent": 60}, {"type": "exit_intent"}]}, {"type": "delay", "seconds": 10}]
}


def test_a_nested_trigger_tree_is_built_in_the_form_and_visitors_get_exactly_it(
    beckon: BeckonServer, new_context
) -> None:  # type: ignore[no-untyped-def]
    """all: [any: [scroll >= 60 %, exit intent], >= 10 s on the page], built by clicking and typing;
    a wrong number deep in the tree is marked at its own field; visitors see the popup only when the
    whole tree holds."""
    key = "ed-tree"
    beckon.add_site(key, ["popup.test"], name="Tree shop", widgets={"callback": {}, "popup:offer": POPUP})
    beckon.add_user(f"{key}.{OWNER[0]}", OWNER[1], sites=[key], name="Olive", role=Role.OWNER)
    owner = signed_in(new_context(), beckon, f"{key}.{OWNER[0]}")
    owner.goto(f"{beckon.base}/app/widgets/{key}/popup/offer")
    expect(owner.get_by_text("edit them in Advanced (JSON)")).to_have_count(0)

    owner.get_by_label("Show the popup when").select_option("all")
    owner.get_by_role("group", name="Trigger 1", exact=True).get_by_label("Seconds").fill("10")
    owner.get_by_role("button", name="Add a group", exact=True).click()
    expect(owner.get_by_label("Group 2 counts when")).to_be_focused()  # the new group, ready to set
    inner = owner.get_by_role("group", name="Trigger 2.1", exact=True)
    inner.get_by_label("When").select_option("scroll")
    # Out of range, two levels down: the server's error sits at that very field, and only there.
    inner.get_by_label("Percent").fill("150")
    expect(inner.get_by_label("Percent")).to_have_attribute("aria-invalid", "true")
    expect(inner).to_contain_text("triggers.all[2].any[1]: percent is at most 100")
    expect(owner.get_by_role("group", name="Trigger 1", exact=True).get_by_label("Seconds")).not_to_have_attribute(
        "aria-invalid", "true"
    )
    inner.get_by_label("Percent").fill("60")
    expect(inner.get_by_label("Percent")).not_to_have_attribute("aria-invalid", "true")
    owner.get_by_role("button", name="Add a trigger to group 2").click()
    exit_intent = owner.get_by_role("group", name="Trigger 2.2", exact=True)
    exit_intent.get_by_label("When").select_option("exit_intent")
    expect(exit_intent.get_by_label("Seconds")).to_have_count(0)  # an exit needs no number
    # A stray trigger added and taken out again; the group moved first.
    owner.get_by_role("button", name="Add a trigger to group 2").click()
    owner.get_by_role("button", name="Remove trigger 2.3").click()
    expect(owner.get_by_role("group", name="Trigger 2.3", exact=True)).to_have_count(0)
    owner.get_by_role("button", name="Move group 2 up").click()
    moved = owner.get_by_role("group", name="Group 1", exact=True)
    expect(moved.get_by_label("Group 1 counts when")).to_have_value("any")
    expect(owner.get_by_text("Preview: up to date")).to_be_visible()
    source = owner.get_by_label("Definition (JSON)")
    assert json.loads(source.input_value())["triggers"] == TREE

    # The JSON view is the same draft: a nested number typed there shows in its field.
    owner.get_by_text("Advanced (JSON)").click()
    source.fill(json.dumps(POPUP | {"triggers": json.loads(json.dumps(TREE).replace("60", "55"))}))
    expect(owner.get_by_role("group", name="Trigger 1.1", exact=True).get_by_label("Percent")).to_have_value("55")
    owner.get_by_role("group", name="Trigger 1.1", exact=True).get_by_label("Percent").fill("60")
    expect(owner.get_by_text("Preview: up to date")).to_be_visible()
    owner.get_by_role("button", name="Publish").click()
    expect(owner.get_by_role("status").filter(has_text="Published: version 2")).to_be_visible()

    async def triggers(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key(key)
        return (await store.get_widget(site.id, "popup", "offer")).config["triggers"]

    assert beckon.with_store(triggers) == TREE

    # A visitor who scrolls down at once: not before 10 s on the page, then at once.
    visitor = visit(new_context(), beckon, key)
    offer = visitor.get_by_role("dialog", name="Ten percent off")
    pause(visitor, 500)  # stopped a moment ahead (now would already be past)
    visitor.mouse.move(640, 300)
    visitor.mouse.wheel(0, 3_000)
    visitor.wait_for_function("scrollY >= 2500")
    visitor.clock.run_for(1_500)
    expect(offer).to_have_count(0)
    visitor.clock.run_for(10_000)
    expect(offer).to_be_visible()

    # Another who leaves through the top too early, then only waits: nothing; leaving later: the offer.
    visitor = visit(new_context(), beckon, key)
    offer = visitor.get_by_role("dialog", name="Ten percent off")
    pause(visitor, 3_500)
    leave_through_the_top(visitor)
    visitor.clock.run_for(1_000)
    expect(offer).to_have_count(0)
    visitor.clock.run_for(8_000)  # over 10 s now, but neither scrolled nor leaving
    expect(offer).to_have_count(0)
    leave_through_the_top(visitor)
    expect(offer).to_be_visible()


# -- every text a visitor reads, as a field -----------------------------------------------------


def test_all_texts_reword_a_minor_text_that_visitors_then_read(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    email = editor_site(beckon, "ed-alltexts")

    async def british(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key("ed-alltexts")
        await store.update_site(site.id, settings=site.settings | {"phone_region": "GB", "promise_seconds": 100})

    beckon.with_store(british)
    page = signed_in(new_context(), beckon, email)
    page.goto(f"{beckon.base}/app/widgets/ed-alltexts/callback/main")
    finding = page.get_by_label("Finding a manager", exact=True)
    expect(finding).to_be_hidden()  # folded away until wanted
    page.locator("summary", has_text="All texts").click()
    expect(finding).to_be_visible()
    # Each says what visitors read when it is left empty: the built-in text, from the server.
    expect(finding).to_have_attribute("placeholder", "Finding a manager…")
    expect(page.get_by_label("Close button", exact=True)).to_have_attribute("placeholder", "Close")
    expect(page.get_by_label("Title", exact=True)).to_have_count(1)  # the main texts are not repeated
    finding.fill("Looking for a free manager…")
    within = page.get_by_label("Promise: within {n} seconds", exact=True)
    expect(within).to_have_attribute("placeholder", "We'll call you within {n} s")
    within.fill("A call in {n} seconds at most")
    source = page.get_by_label("Definition (JSON)")
    expect(page.get_by_text("Preview: up to date")).to_be_visible()
    assert json.loads(source.input_value())["texts"] == {
        "finding": "Looking for a free manager…",
        "within": "A call in {n} seconds at most",
    }
    # Typed in the JSON view: the field follows, and the section stays open.
    page.get_by_text("Advanced (JSON)").click()
    config = json.loads(source.input_value())
    source.fill(json.dumps(config | {"texts": config["texts"] | {"keep": "Phone at hand, please."}}))
    expect(page.get_by_label("Keep your phone close", exact=True)).to_have_value("Phone at hand, please.")
    expect(finding).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published: version 2")).to_be_visible()

    visitor = visitor_page(new_context(), beckon, "ed-alltexts")
    request_callback(visitor, "020 7946 0611")
    dialog = visitor.get_by_role("dialog")
    expect(dialog).to_contain_text("Looking for a free manager…")
    expect(dialog).to_contain_text(re.compile(r"A call in \d+ seconds at most"))
    expect(dialog).not_to_contain_text("Finding a manager")


def test_a_single_trigger_is_put_in_a_group_and_groups_nest_deeper(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    email = editor_site(beckon, "ed-deep")

    async def single(store):  # type: ignore[no-untyped-def]
        site = await store.get_site_by_key("ed-deep")
        await store.put_widget(site.id, "popup", POPUP | {"triggers": {"type": "exit_intent"}}, slug="offer")

    beckon.with_store(single)
    owner = signed_in(new_context(), beckon, email)
    owner.goto(f"{beckon.base}/app/widgets/ed-deep/popup/offer")
    expect(owner.get_by_label("When", exact=True)).to_have_value("exit_intent")
    owner.get_by_role("button", name="Combine with another trigger").click()
    expect(owner.get_by_role("group", name="Trigger 1", exact=True).get_by_label("When")).to_have_value("exit_intent")
    expect(owner.get_by_role("group", name="Trigger 2", exact=True).get_by_label("Seconds")).to_have_value("20")
    owner.get_by_role("button", name="Add a group", exact=True).click()
    owner.get_by_role("button", name="Add a group to group 3").click()
    deepest = owner.get_by_role("group", name="Trigger 3.2.1", exact=True)
    deepest.get_by_label("When").select_option("click")
    selector = deepest.get_by_label("CSS selector")
    expect(selector).to_have_attribute("aria-invalid", "true")
    expect(deepest).to_contain_text("triggers.any[3].any[2].any[1]: a click trigger needs a CSS selector")
    selector.fill(".price-link")
    expect(selector).not_to_have_attribute("aria-invalid", "true")
    expect(owner.get_by_text("Preview: up to date")).to_be_visible()
    tree = json.loads(owner.get_by_label("Definition (JSON)").input_value())["triggers"]
    deep = {"any": [{"type": "delay", "seconds": 20}, {"any": [{"type": "click", "selector": ".price-link"}]}]}
    assert tree["any"][2] == deep
    owner.get_by_role("button", name="Remove group 3", exact=True).click()
    expect(owner.get_by_role("group", name="Group 3", exact=True)).to_have_count(0)
    expect(owner.get_by_role("button", name="Add a trigger", exact=True)).to_be_focused()
    tree = json.loads(owner.get_by_label("Definition (JSON)").input_value())["triggers"]
    assert tree == {"any": [{"type": "exit_intent"}, {"type": "delay", "seconds": 20}]}


def test_every_kinds_all_texts_show_what_visitors_read_when_left_empty(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    email = editor_site(beckon, "ed-every-text")
    page = signed_in(new_context(), beckon, email)
    errors = collect_errors(page)
    kinds = (("callback", "main"), ("chat", "main"), ("quiz", "sofa"), ("popup", "offer"), ("countdown", "sale"))
    for kind, slug in kinds:
        page.goto(f"{beckon.base}/app/widgets/ed-every-text/{kind}/{slug}")
        section = page.locator("details", has=page.locator("summary", has_text="All texts"))
        section.locator("summary").click()
        fields = section.get_by_role("textbox")
        expect(fields.first).to_be_visible()
        assert fields.count() >= 3, kind
        for i in range(fields.count()):
            # The built-in text (from the preview's config) for every one of them: none left blank.
            expect(fields.nth(i)).to_have_attribute("placeholder", re.compile(r"\S"))
    # Texts typed in the JSON view as something else than texts: the error shows in the section, opened.
    section.locator("summary").click()
    page.get_by_text("Advanced (JSON)").click()
    page.get_by_label("Definition (JSON)").fill(json.dumps(COUNTDOWN | {"texts": ["left"]}))
    expect(section).to_have_attribute("open", "")
    expect(section).to_contain_text("texts: must map text names to texts")
    assert errors == []
