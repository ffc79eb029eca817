import copy

import pytest

from server.quiz.definition import for_visitor, validate
from server.quiz.scoring import AnswerInvalid, format_number, quiz_answers, quiz_view, score, summary
from tests.unit.test_quiz_definition import KITCHEN


def test_results_come_from_the_answers_along_the_path_taken() -> None:
    validate(KITCHEN)
    outcome = score(KITCHEN, {"layout": "island", "island": 2, "length": 6}, contact=True)
    assert outcome.path == ["layout", "island", "length", "contact"]
    assert outcome.complete
    assert outcome.results == {"price": 12700.0}  # round(7000 + 6 * 650 + 2 * 900, -2)
    assert outcome.texts == []


def test_a_branch_takes_its_own_way_and_ranges_give_text() -> None:
    big = score(KITCHEN, {"layout": "straight", "length": 9}, contact=True)
    assert big.path == ["layout", "length", "big", "contact"]
    small = score(KITCHEN, {"layout": "straight", "length": 3}, contact=True)
    assert small.results == {"price": 6000.0} and small.texts == ["A compact kitchen."]


def test_a_partial_quiz_says_where_the_visitor_stopped() -> None:
    partial = score(KITCHEN, {"layout": "l"})
    assert (partial.complete, partial.next_step, partial.path) == (False, "length", ["layout", "length"])
    assert partial.results == {}


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"layout": "castle"}, "layout: unknown option"),
        ({"layout": ["l", "straight"]}, "layout: pick one option"),
        ({"layout": "l", "length": 50}, "length: must be between 2 and 12"),
        ({"layout": "l", "length": "6"}, "length: a number is needed"),
    ],
)
def test_answers_that_do_not_fit_the_quiz_are_refused(answers: dict, message: str) -> None:
    with pytest.raises(AnswerInvalid) as info:
        score(KITCHEN, answers)
    assert str(info.value) == message


def test_without_the_contact_the_quiz_waits_at_the_contact_step() -> None:
    waiting = score(KITCHEN, {"layout": "straight", "length": 3})
    assert (waiting.complete, waiting.next_step, waiting.contact_reached) == (False, "contact", True)
    assert waiting.results == {}


def test_an_optional_step_may_be_skipped_but_a_required_one_may_not() -> None:
    quiz = copy.deepcopy(KITCHEN)
    quiz["steps"].insert(4, {"id": "notes", "type": "text", "question": "Anything else?", "required": False})
    quiz["steps"][3]["next"] = "notes"
    quiz["steps"][2]["next"] = "notes"
    validate(quiz)
    assert score(quiz, {"layout": "straight", "length": 3, "notes": None}, contact=True).complete
    with pytest.raises(AnswerInvalid, match="this question needs an answer"):
        score(quiz, {"layout": None})
    with pytest.raises(AnswerInvalid, match="at most 1000 characters"):
        score(quiz, {"layout": "straight", "length": 3, "notes": "x" * 1001})


def test_a_result_that_cannot_be_computed_is_reported_and_left_out() -> None:
    quiz = copy.deepcopy(KITCHEN) | {"results": {"price": "base / island_m"}}
    outcome = score(quiz, {"layout": "straight", "length": 3}, contact=True)
    assert outcome.complete and outcome.results == {} and outcome.failed == {"price": "division by zero"}


def test_the_stored_summary_has_answers_in_words_and_formatted_results() -> None:
    answers = {"layout": "island", "island": 2.5, "length": 6}
    outcome = score(KITCHEN | {"show": [{"result": "price", "label": "Price", "prefix": "$"}]}, answers, contact=True)
    kept = summary(KITCHEN | {"show": [{"result": "price", "label": "Price", "prefix": "$"}]}, "k", answers, outcome)
    assert [(s["id"], s["text"]) for s in kept["steps"]] == [
        ("layout", "With island"),
        ("island", "2.5 m"),
        ("length", "6 m"),
    ]
    assert kept["shown"] == [{"label": "Price", "value": "$13,200"}]
    assert kept["bonus"] == {"code": "OAK10", "text": ""}
    assert quiz_view(kept) == {
        "complete": True,
        "next": None,
        "shown": kept["shown"],
        "texts": [],
        "bonus": kept["bonus"],
        "failed": [],
    }
    assert quiz_answers(kept)["Island length?"] == "2.5 m"


@pytest.mark.parametrize(
    ("value", "locale", "text"),
    [(12700.0, "", "12,700"), (12700.0, "ru", "12\u00a0700"), (2.5, "", "2.50"), (-3.0, "", "-3")],
)
def test_numbers_are_shown_as_people_write_them(value: float, locale: str, text: str) -> None:
    assert format_number(value, locale) == text


def test_the_widget_gets_the_questions_without_formulas_or_bonus() -> None:
    public = for_visitor(KITCHEN)
    assert "results" not in public and "ranges" not in public and "bonus" not in public
    assert public["has_bonus"] is True and public["steps"] == KITCHEN["steps"]
