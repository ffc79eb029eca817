"""The manager's side of quizzes: a visitor who leaves halfway is a quiet partial lead with the
answers given; one who finishes rings the manager, and the lead page holds every answer."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.pages import signed_in_manager
from tests.browser.test_manager_alerts import join
from tests.browser.test_quiz import (
    FINISH,
    FRONTS,
    ISLAND,
    LAYOUT,
    WALLS,
    choose,
    inline_quiz,
    leave_contact,
    number,
    open_page,
    question,
    quiz_site,
)
from tests.conftest import MANAGER
from tests.support import BeckonServer


def test_an_abandoned_quiz_is_a_quiet_partial_lead_and_a_finished_one_rings(beckon: BeckonServer, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-desk")
    join(beckon, key, MANAGER[0])
    anna = signed_in_manager(new_context(), beckon, *MANAGER)
    rows = anna.get_by_role("table", name="Leads").locator("tbody tr")

    # A visitor answers two questions and leaves.
    leaver = open_page(new_context(), beckon, key)
    quiz = inline_quiz(leaver)
    choose(quiz, "L-shaped")
    number(quiz, WALLS, 4.5)
    expect(question(quiz, FRONTS)).to_be_visible()
    leaver.context.close()

    partial = rows.filter(has_text="partial")
    expect(partial).to_have_count(1)
    expect(partial).to_contain_text("quiz")
    assert anna.evaluate("window.__chimes") == 0  # answers without contact details don't ring anyone

    partial.get_by_role("link").click()
    expect(anna.get_by_text("Left before the end: 2 answers so far")).to_be_visible()
    answers = anna.get_by_role("table", name="Quiz: What will your kitchen cost?")
    expect(answers.get_by_role("row", name=f"{LAYOUT} L-shaped")).to_be_visible()
    expect(answers.get_by_role("row", name=f"{WALLS} 4.5 m")).to_be_visible()
    expect(anna.get_by_text("Started the quiz")).to_be_visible()
    anna.go_back()
    expect(anna.locator("#live-state")).to_have_text("Live")

    # Another visitor goes the island way to the end.
    buyer = open_page(new_context(), beckon, key)
    quiz = inline_quiz(buyer)
    choose(quiz, "With an island")
    number(quiz, ISLAND, 2)
    number(quiz, WALLS, 10)
    expect(quiz).to_contain_text("free design visit")
    quiz.get_by_role("button", name="Next").click()
    choose(quiz, "Solid oak")
    expect(question(quiz, FINISH)).to_be_visible()
    choose(quiz, "Matt lacquer")
    quiz.get_by_role("button", name="Skip").click()
    leave_contact(quiz, "020 7946 0702", "Ivy Island")
    expect(quiz).to_contain_text("$21,700")

    card = anna.get_by_role("article", name="Callback from Ivy Island")
    expect(card).to_contain_text("What will your kitchen cost?: From $21,700 · To $25,000")
    anna.wait_for_function("() => window.__chimes >= 1")
    row = rows.filter(has_text="Ivy Island")
    expect(row).to_contain_text("new")
    row.get_by_role("link", name="Ivy Island").click()
    answers = anna.get_by_role("table", name="Quiz: What will your kitchen cost?")
    for line in (
        f"{LAYOUT} With an island",
        f"{ISLAND} 2 m",
        f"{WALLS} 10 m",
        f"{FRONTS} Solid oak",
        f"{FINISH} Matt lacquer",
    ):
        expect(answers.get_by_role("row", name=line)).to_be_visible()
    results = anna.get_by_label("Quiz results")
    expect(results).to_contain_text("$21,700")
    expect(results).to_contain_text("OAK10")
    expect(anna.get_by_text("Finished the quiz “What will your kitchen cost?”")).to_be_visible()
