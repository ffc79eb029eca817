import pytest

from server.quiz.definition import validate
from server.quiz.scoring import AnswerInvalid, score
from tests.unit.test_quiz_definition import KITCHEN


def test_results_come_from_the_answers_along_the_path_taken() -> None:
    validate(KITCHEN)
    outcome = score(KITCHEN, {"layout": "island", "island": 2, "length": 6})
    assert outcome.path == ["layout", "island", "length", "contact"]
    assert outcome.complete
    assert outcome.results == {"price": 12700.0}  # round(7000 + 6 * 650 + 2 * 900, -2)
    assert outcome.texts == []


def test_a_branch_takes_its_own_way_and_ranges_give_text() -> None:
    big = score(KITCHEN, {"layout": "straight", "length": 9})
    assert big.path == ["layout", "length", "big", "contact"]
    small = score(KITCHEN, {"layout": "straight", "length": 3})
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
