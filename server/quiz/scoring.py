"""The server's own reckoning of a quiz: the path taken, the variables, the results.

The visitor's widget only displays results; these are the ones stored and shown
to managers, computed from the answers alone, so a forged price is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.quiz.definition import CHOICE_TYPES, RESULT, bonus_of
from server.quiz.formula import FormulaError, compute

MAX_TEXT = 1000


class AnswerInvalid(ValueError):
    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


@dataclass
class Outcome:
    path: list[str] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    results: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # result name -> why it has no value
    texts: list[str] = field(default_factory=list)
    complete: bool = False  # every step on the path answered, up to the result
    next_step: str | None = None
    contact_reached: bool = False  # every step before the contact step is answered


def _option_ids(step: dict[str, Any]) -> list[str]:
    return [str(o.get("id", i + 1)) for i, o in enumerate(step["options"])]


def _check(step: dict[str, Any], answer: object) -> None:
    kind, sid = step["type"], step["id"]
    if answer is None:
        if step.get("required", True):
            raise AnswerInvalid(sid, "this question needs an answer")
        return
    if kind in CHOICE_TYPES:
        chosen = answer if isinstance(answer, list) else [answer]
        if kind != "multiple" and (isinstance(answer, list) or len(chosen) != 1):
            raise AnswerInvalid(sid, "pick one option")
        if not chosen and step.get("required", True):
            raise AnswerInvalid(sid, "pick at least one option")
        if any(not isinstance(c, str | int) or str(c) not in _option_ids(step) for c in chosen):
            raise AnswerInvalid(sid, "unknown option")
    elif kind == "number":
        if not isinstance(answer, int | float) or isinstance(answer, bool):
            raise AnswerInvalid(sid, "a number is needed")
        if not step["min"] <= answer <= step["max"]:
            raise AnswerInvalid(sid, f"must be between {step['min']:g} and {step['max']:g}")
    elif kind == "text":
        if not isinstance(answer, str):
            raise AnswerInvalid(sid, "an answer in words is needed")
        if len(answer) > MAX_TEXT:
            raise AnswerInvalid(sid, f"at most {MAX_TEXT} characters, please")
        if not answer.strip() and step.get("required", True):
            raise AnswerInvalid(sid, "this question needs an answer")


def score(quiz: dict[str, Any], answers: dict[str, Any], *, contact: bool = False) -> Outcome:
    """Follow the quiz from its first step using ``answers``; stop at the first step not answered.

    ``contact``: the visitor has given their contact details (the contact step is passed).
    Answers to steps off the path are ignored. Raises :class:`AnswerInvalid` for an answer
    that does not fit its step.
    """
    steps = {s["id"]: s for s in quiz["steps"]}
    order = [s["id"] for s in quiz["steps"]]
    out = Outcome()
    current: str = order[0]
    while current != RESULT:
        step = steps[current]
        out.path.append(current)
        kind = step["type"]
        answer = answers.get(current)
        if kind == "contact":
            out.contact_reached = True
            if not contact:
                out.next_step = current
                return out
        elif kind != "info":
            if current not in answers:
                out.next_step = current
                return out
            _check(step, answer)
        chosen_next = None
        if kind in CHOICE_TYPES and answer is not None:
            picked = {str(a) for a in (answer if isinstance(answer, list) else [answer])}
            for i, option in enumerate(step["options"]):
                if str(option.get("id", i + 1)) in picked:
                    for name, amount in (option.get("add") or {}).items():
                        out.values[name] = out.values.get(name, 0.0) + float(amount)
                    chosen_next = chosen_next or option.get("next")
        elif kind == "number" and answer is not None:
            out.values[step.get("var", current)] = float(answer)
        for branch in step.get("branches") or []:
            try:
                taken = compute(branch["if"], out.values)
            except FormulaError:
                taken = 0.0  # a condition that cannot be worked out is not met
            if taken:
                chosen_next = branch["next"]
                break
        position = order.index(current)
        following = order[position + 1] if position + 1 < len(order) else RESULT
        current = chosen_next or step.get("next") or following
    out.complete = True
    for name, source in (quiz.get("results") or {}).items():
        try:
            out.results[name] = compute(source, out.values | out.results)
        except FormulaError as exc:
            out.failed[name] = str(exc)
    for entry in quiz.get("ranges") or []:
        value = out.results.get(entry["result"])
        low, high = entry.get("min", float("-inf")), entry.get("max", float("inf"))
        if value is not None and low <= value <= high:
            out.texts.append(entry["text"])
    return out


def answer_text(step: dict[str, Any], answer: object) -> str:
    """An answer as a manager reads it: option labels, a number with its unit."""
    if answer is None:
        return "(skipped)"
    if step["type"] in CHOICE_TYPES:
        labels = dict(zip(_option_ids(step), (o["label"] for o in step["options"]), strict=True))
        chosen = answer if isinstance(answer, list) else [answer]
        return ", ".join(labels.get(str(c), str(c)) for c in chosen) or "(none)"
    if step["type"] == "number":
        unit = step.get("unit")
        return f"{answer:g}" + (f" {unit}" if unit else "")  # type: ignore[str-format]
    return str(answer)


def format_number(value: float, locale: str = "") -> str:
    """Grouped thousands, no needless decimals: 12,700 (en) or 12 700 (ru)."""
    whole = abs(value - round(value)) < 1e-9
    text = f"{value:,.0f}" if whole else f"{value:,.2f}"
    return text.replace(",", "\u00a0") if locale.startswith("ru") else text


def summary(quiz: dict[str, Any], slug: str, answers: dict[str, Any], outcome: Outcome, locale: str = "") -> dict:
    """What is stored on the lead: every answer in words, and the server's results."""
    steps = {s["id"]: s for s in quiz["steps"]}
    out: dict[str, Any] = {
        "quiz": slug,
        "title": quiz.get("title", slug),
        "steps": [
            {
                "id": sid,
                "question": steps[sid].get("question", ""),
                "answer": answers[sid],
                "text": answer_text(steps[sid], answers[sid]),
            }
            for sid in outcome.path
            if sid in answers and steps[sid]["type"] not in ("info", "contact")
        ],
        "complete": outcome.complete,
        "stopped_at": outcome.next_step,
        "stopped_question": steps[outcome.next_step].get("question", "") if outcome.next_step else "",
    }
    if outcome.complete:
        labels = {e["result"]: e for e in quiz.get("show") or []}
        out["results"] = outcome.results
        out["shown"] = [
            {
                "label": e["label"],
                "value": f"{e.get('prefix', '')}{format_number(outcome.results[name], locale)}{e.get('suffix', '')}",
            }
            for name, e in labels.items()
            if name in outcome.results
        ]
        out["failed"] = [
            {"label": labels[name]["label"] if name in labels else name, "message": why}
            for name, why in outcome.failed.items()
        ]
        out["texts"] = outcome.texts
        out["bonus"] = bonus_of(quiz)
    return out


def quiz_view(stored: dict[str, Any]) -> dict[str, Any]:
    """What the visitor's widget is told about its run, from what is stored on the lead."""
    view: dict[str, Any] = {"complete": bool(stored.get("complete")), "next": stored.get("stopped_at")}
    if view["complete"]:
        view |= {k: stored.get(k) for k in ("shown", "texts", "bonus", "failed")}
    return view


def quiz_answers(stored: dict[str, Any]) -> dict[str, str]:
    """A stored run as question → answer lines (results last), for a manager's side panel."""
    lines = {str(step.get("question") or step.get("id")): str(step.get("text", "")) for step in stored.get("steps", [])}
    for item in stored.get("shown") or []:
        lines[str(item.get("label"))] = str(item.get("value"))
    return lines
