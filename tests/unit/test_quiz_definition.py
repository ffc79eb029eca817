import copy

import pytest

from server.quiz.definition import QuizInvalid, validate

KITCHEN = {
    "title": "What will your kitchen cost?",
    "steps": [
        {
            "id": "layout",
            "type": "image",
            "question": "Which layout?",
            "options": [
                {"id": "straight", "label": "Straight", "image": "/demo/a.svg", "add": {"base": 4000}},
                {"id": "l", "label": "L-shaped", "image": "/demo/b.svg", "add": {"base": 5200}},
                {
                    "id": "island",
                    "label": "With island",
                    "image": "/demo/c.svg",
                    "add": {"base": 7000},
                    "next": "island",
                },
            ],
            "next": "length",
        },
        {
            "id": "island",
            "type": "number",
            "question": "Island length?",
            "min": 1,
            "max": 4,
            "unit": "m",
            "var": "island_m",
        },
        {
            "id": "length",
            "type": "number",
            "question": "Wall length?",
            "min": 2,
            "max": 12,
            "step": 0.5,
            "unit": "m",
            "branches": [{"if": "length > 8", "next": "big"}],
            "next": "contact",
        },
        {"id": "big", "type": "info", "text": "Big kitchens get a free design visit."},
        {"id": "contact", "type": "contact", "fields": ["phone", "name"]},
    ],
    "results": {"price": "round(base + length * 650 + island_m * 900, -2)"},
    "ranges": [{"result": "price", "min": 0, "max": 9000, "text": "A compact kitchen."}],
    "bonus": "OAK10",
}


def errors_of(quiz: object) -> list[str]:
    with pytest.raises(QuizInvalid) as info:
        validate(quiz)
    return info.value.errors


def test_a_sound_quiz_passes() -> None:
    validate(KITCHEN)


def test_unknown_next_step_is_located() -> None:
    quiz = copy.deepcopy(KITCHEN)
    quiz["steps"][0]["options"][1]["next"] = "x"
    assert errors_of(quiz) == ["step 1 ('layout'), option 2: unknown next step 'x'"]


def test_loops_are_refused() -> None:
    quiz = copy.deepcopy(KITCHEN)
    quiz["steps"][3]["next"] = "length"
    assert errors_of(quiz) == ["step 4 ('big'): leads back to step 3 ('length'): loops are not allowed"]


def test_unreachable_steps_are_refused() -> None:
    quiz = copy.deepcopy(KITCHEN)
    quiz["steps"].insert(4, {"id": "orphan", "type": "text", "question": "?", "next": "contact"})
    quiz["steps"][3]["next"] = "contact"
    assert errors_of(quiz) == ["step 5 ('orphan'): can never be reached"]


def test_every_path_must_pass_the_contact_step() -> None:
    quiz = copy.deepcopy(KITCHEN)
    quiz["steps"][2]["branches"].append({"if": "length < 3", "next": "result"})
    assert errors_of(quiz) == ["a path reaches the result without the contact step: layout → island → length → result"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda q: q["steps"][0].update(type="dropdown"), "step 1 ('layout'): type must be one of"),
        (lambda q: q["steps"][0]["options"][0].pop("image"), "option 1: an image choice needs an image URL"),
        (lambda q: q["steps"][2].update(min=20), "step 3 ('length'): min must be a number below max"),
        (lambda q: q["steps"][2]["branches"][0].update({"if": "length >"}), "step 3 ('length'), branch 1: unexpected"),
        (lambda q: q["results"].update(price="base + aera"), "results.price: unknown variable 'aera'"),
        (lambda q: q["steps"][4].update(fields=["name"]), "ask for a phone or an email"),
        (lambda q: q["steps"][1].update(id="layout"), "step 2 ('layout'): the id is used twice"),
        (lambda q: q["steps"][1].update(id="phone"), "step 2 ('phone'): the id is used twice or is reserved"),
        (lambda q: q["ranges"][0].update(result="cost"), "ranges 1: name one of the results"),
        (lambda q: q["steps"][2].update(default=40), "step 3 ('length'): default must be a number between min and max"),
        (lambda q: q["steps"][3].pop("text"), "step 4 ('big'): an info step needs its text"),
        (lambda q: q["steps"][4].update(required=["email"]), "step 5 ('contact'): required must list some of"),
        (lambda q: q["steps"][1].update(required="yes"), "step 2 ('island'): required must be true or false"),
        (lambda q: q.update(show=[{"result": "cost", "label": "Cost"}]), "show 1: name one of the results"),
        (lambda q: q.update(bonus=5), "bonus: give a code"),
    ],
)
def test_field_errors_point_at_the_field(change, error: str) -> None:  # type: ignore[no-untyped-def]
    quiz = copy.deepcopy(KITCHEN)
    change(quiz)
    assert any(e.startswith(error) or error in e for e in errors_of(quiz)), errors_of(quiz)


def test_not_a_quiz_at_all() -> None:
    assert errors_of([]) == ["the quiz must be a JSON object"]
    assert errors_of({"steps": []}) == ["steps: a quiz needs at least one step"]
