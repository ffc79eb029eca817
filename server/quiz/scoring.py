"""The server's own reckoning of a quiz: the path taken, the variables, the results.

The visitor's widget only displays results; these are the ones stored and shown
to managers, computed from the answers alone, so a forged price is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.quiz.definition import CHOICE_TYPES, RESULT
from server.quiz.formula import FormulaError, compute


class AnswerInvalid(ValueError):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step


@dataclass
class Outcome:
    path: list[str] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    results: dict[str, float] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    complete: bool = False  # every step on the path answered, up to the result
    next_step: str | None = None


def _check(step: dict[str, Any], answer: object) -> None:
    kind, sid = step["type"], step["id"]
    if kind in CHOICE_TYPES:
        ids = {str(o.get("id", i + 1)) for i, o in enumerate(step["options"])}
        chosen = answer if isinstance(answer, list) else [answer]
        if kind != "multiple" and len(chosen) != 1:
            raise AnswerInvalid(sid, "pick one option")
        if not chosen or any(str(c) not in ids for c in chosen):
            raise AnswerInvalid(sid, "unknown option")
    elif kind == "number":
        if not isinstance(answer, int | float) or isinstance(answer, bool):
            raise AnswerInvalid(sid, "a number is needed")
        if not step["min"] <= answer <= step["max"]:
            raise AnswerInvalid(sid, f"must be between {step['min']} and {step['max']}")
    elif kind == "text":
        if not isinstance(answer, str) or len(answer) > 1000:
            raise AnswerInvalid(sid, "text of at most 1000 characters")


def score(quiz: dict[str, Any], answers: dict[str, Any]) -> Outcome:
    """Follow the quiz from its first step using ``answers``; stop at the first unanswered step."""
    steps = {s["id"]: s for s in quiz["steps"]}
    order = [s["id"] for s in quiz["steps"]]
    out = Outcome()
    current: str = order[0]
    while current != RESULT:
        step = steps[current]
        out.path.append(current)
        kind = step["type"]
        answer = answers.get(current)
        if kind not in ("info", "contact"):
            if answer is None:
                out.next_step = current
                return out
            _check(step, answer)
        chosen_next = None
        if kind in CHOICE_TYPES:
            picked = {str(a) for a in (answer if isinstance(answer, list) else [answer])}
            for i, option in enumerate(step["options"]):
                if str(option.get("id", i + 1)) in picked:
                    for name, amount in (option.get("add") or {}).items():
                        out.values[name] = out.values.get(name, 0.0) + float(amount)
                    chosen_next = chosen_next or option.get("next")
        elif kind == "number":
            out.values[step.get("var", current)] = float(answer)  # type: ignore[arg-type]
        for branch in step.get("branches") or []:
            if compute(branch["if"], out.values):
                chosen_next = branch["next"]
                break
        following = order[order.index(current) + 1] if order.index(current) + 1 < len(order) else RESULT
        current = chosen_next or step.get("next") or following
    out.complete = True
    for name, source in (quiz.get("results") or {}).items():
        try:
            out.results[name] = compute(source, out.values | out.results)
        except FormulaError:
            out.results[name] = 0.0
    for entry in quiz.get("ranges") or []:
        value = out.results.get(entry["result"])
        low, high = entry.get("min", float("-inf")), entry.get("max", float("inf"))
        if value is not None and low <= value <= high:
            out.texts.append(entry["text"])
    return out
