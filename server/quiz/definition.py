"""Quiz definitions: checked on save, with errors that point at the field.

A quiz is a JSON document: ``steps`` (each with an ``id`` and a ``type``), optional
``results`` (named formulas), ``ranges`` (text per result range) and a ``bonus``.
A step goes on to its ``next`` (default: the following step; after the last one,
the result), an option's ``next`` overrides that, and ``branches`` —
``[{"if": formula, "next": id}]`` — are tried first. ``"result"`` ends the quiz.
Loops, unreachable steps and paths that skip the contact step are refused.
"""

from __future__ import annotations

import re
from typing import Any

from server.quiz.formula import FormulaError, parse, variables

RESULT = "result"
# Error frames name a step or one of these fields, so no step may take their names.
RESERVED = {RESULT, "quiz", "phone", "email", "name", "consent", "widget"}
QUESTION_TYPES = {"single", "multiple", "image", "number", "text", "info", "contact"}
CHOICE_TYPES = {"single", "multiple", "image"}
CONTACT_FIELDS = {"phone", "email", "name"}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_STEPS = 40
MAX_OPTIONS = 20


class QuizInvalid(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _where(index: int, step: dict[str, Any]) -> str:
    sid = step.get("id")
    return f"step {index + 1}" + (f" ({sid!r})" if isinstance(sid, str) else "")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate(quiz: object) -> None:
    """Raise :class:`QuizInvalid` listing every problem, each with its place."""
    errors: list[str] = []
    if not isinstance(quiz, dict):
        raise QuizInvalid(["the quiz must be a JSON object"])
    steps = quiz.get("steps")
    if not isinstance(steps, list) or not steps:
        raise QuizInvalid(["steps: a quiz needs at least one step"])
    if len(steps) > MAX_STEPS:
        errors.append(f"steps: at most {MAX_STEPS} steps")
    ids: list[str] = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            raise QuizInvalid([f"step {i + 1}: must be an object"])
        sid = step.get("id")
        if not isinstance(sid, str) or not _ID.match(sid):
            errors.append(f"{_where(i, step)}: id must be 1–40 lowercase letters, digits, '-' or '_'")
        elif sid in ids or sid in RESERVED:
            errors.append(f"{_where(i, step)}: the id is used twice or is reserved")
        ids.append(str(sid))
    known = set(ids)
    defined_vars: set[str] = set()
    edges: dict[str, list[str]] = {}

    def check_next(target: object, place: str) -> str | None:
        if target is None:
            return None
        if not isinstance(target, str) or (target not in known and target != RESULT):
            errors.append(f"{place}: unknown next step {target!r}")
            return None
        return target

    for i, step in enumerate(steps):
        place = _where(i, step)
        kind = step.get("type")
        if kind not in QUESTION_TYPES:
            errors.append(f"{place}: type must be one of {', '.join(sorted(QUESTION_TYPES))}")
            continue
        if kind != "info" and kind != "contact" and not isinstance(step.get("question"), str):
            errors.append(f"{place}: a question needs its text")
        if kind == "info" and not isinstance(step.get("text"), str):
            errors.append(f"{place}: an info step needs its text")
        if kind != "contact" and not isinstance(step.get("required", True), bool):
            errors.append(f"{place}: required must be true or false")
        targets: list[str] = []
        if kind in CHOICE_TYPES:
            options = step.get("options")
            if not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS:
                errors.append(f"{place}: give 2–{MAX_OPTIONS} options")
                options = []
            seen: set[str] = set()
            for j, option in enumerate(options):
                oplace = f"{place}, option {j + 1}"
                if not isinstance(option, dict) or not isinstance(option.get("label"), str):
                    errors.append(f"{oplace}: an option needs a label")
                    continue
                oid = option.get("id", str(j + 1))
                if oid in seen:
                    errors.append(f"{oplace}: id {oid!r} is used twice")
                seen.add(str(oid))
                if kind == "image" and not isinstance(option.get("image"), str):
                    errors.append(f"{oplace}: an image choice needs an image URL")
                add = option.get("add") or {}
                if not isinstance(add, dict) or not all(_is_number(v) for v in add.values()):
                    errors.append(f"{oplace}: add must map variable names to numbers")
                else:
                    defined_vars.update(add)
                if (target := check_next(option.get("next"), oplace)) is not None:
                    targets.append(target)
        if kind == "number":
            low, high, stride = step.get("min"), step.get("max"), step.get("step", 1)
            if not (_is_number(low) and _is_number(high) and low < high):  # type: ignore[operator]
                errors.append(f"{place}: min must be a number below max")
            if not _is_number(stride) or stride <= 0:  # type: ignore[operator]
                errors.append(f"{place}: step must be a positive number")
            default = step.get("default", low)
            if not _is_number(default) or (_is_number(low) and _is_number(high) and not low <= default <= high):  # type: ignore[operator]
                errors.append(f"{place}: default must be a number between min and max")
            var = step.get("var", step.get("id"))
            if isinstance(var, str):
                defined_vars.add(var)
        if kind == "contact":
            fields = step.get("fields", ["phone", "name"])
            if not isinstance(fields, list) or not fields or not set(fields) <= CONTACT_FIELDS:
                errors.append(f"{place}: fields must be some of phone, email, name")
            elif not ({"phone", "email"} & set(fields)):
                errors.append(f"{place}: ask for a phone or an email, or nobody can answer the lead")
            else:
                needed = step.get("required", [f for f in ("phone", "email") if f in fields][:1])
                if not isinstance(needed, list) or not set(needed) <= set(fields):
                    errors.append(f"{place}: required must list some of the step's fields")
        for k, branch in enumerate(step.get("branches") or []):
            bplace = f"{place}, branch {k + 1}"
            if not isinstance(branch, dict) or not isinstance(branch.get("if"), str):
                errors.append(f"{bplace}: a branch needs an 'if' formula")
                continue
            try:
                parse(branch["if"])
            except FormulaError as exc:
                errors.append(f"{bplace}: {exc}")
            if (target := check_next(branch.get("next"), bplace)) is not None:
                targets.append(target)
        default = check_next(step.get("next"), place)
        if default is None and step.get("next") is None:
            default = ids[i + 1] if i + 1 < len(ids) else RESULT
        if default is not None:
            targets.append(default)
        edges[ids[i]] = targets

    results = quiz.get("results") or {}
    if not isinstance(results, dict):
        errors.append("results: must map names to formulas")
        results = {}
    for name, source in results.items():
        try:
            unknown = variables(parse(str(source))) - defined_vars - set(results)
        except FormulaError as exc:
            errors.append(f"results.{name}: {exc}")
            continue
        if unknown:
            errors.append(f"results.{name}: unknown variable {sorted(unknown)[0]!r}")
    for r, entry in enumerate(quiz.get("ranges") or []):
        if not isinstance(entry, dict) or entry.get("result") not in results or not isinstance(entry.get("text"), str):
            errors.append(f"ranges {r + 1}: name one of the results and give a text")
        elif not all(_is_number(entry.get(k, 0)) for k in ("min", "max")):
            errors.append(f"ranges {r + 1}: min and max must be numbers")
    for r, entry in enumerate(quiz.get("show") or []):
        if not isinstance(entry, dict) or entry.get("result") not in results or not isinstance(entry.get("label"), str):
            errors.append(f"show {r + 1}: name one of the results and give a label")
    bonus = quiz.get("bonus")
    if (
        bonus is not None
        and not isinstance(bonus, str)
        and not (isinstance(bonus, dict) and isinstance(bonus.get("code"), str))
    ):
        errors.append("bonus: give a code, or {code, text}")
    if not isinstance(quiz.get("title", ""), str):
        errors.append("title: must be text")

    if not errors:
        errors.extend(_walk(steps, ids, edges))
    if errors:
        raise QuizInvalid(errors)


def contact_step(quiz: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in quiz["steps"] if s["type"] == "contact")


def bonus_of(quiz: dict[str, Any]) -> dict[str, str] | None:
    bonus = quiz.get("bonus")
    if isinstance(bonus, str):
        return {"code": bonus, "text": ""}
    return {"code": bonus["code"], "text": str(bonus.get("text", ""))} if bonus else None


SERVER_ONLY = ("results", "ranges", "bonus")


def for_visitor(quiz: dict[str, Any], base: str = "") -> dict[str, Any]:
    """What the widget needs to ask the questions; formulas for results and the bonus stay here.

    Image paths starting with "/" are Beckon's own (the demo's pictures): made absolute against
    ``base`` so that they load on the owner's site too.
    """

    def option(o: dict[str, Any]) -> dict[str, Any]:
        image = o.get("image")
        return o | {"image": base + image} if isinstance(image, str) and image.startswith("/") else o

    steps = [s | {"options": [option(o) for o in s["options"]]} if "options" in s else s for s in quiz["steps"]]
    public = {k: v for k, v in quiz.items() if k not in SERVER_ONLY}
    return public | {"steps": steps, "has_bonus": bool(quiz.get("bonus"))}


def _walk(steps: list[dict[str, Any]], ids: list[str], edges: dict[str, list[str]]) -> list[str]:
    """Loops, unreachable steps, and paths to the result that skip the contact step."""
    errors: list[str] = []
    index = {sid: i for i, sid in enumerate(ids)}
    contact = {sid for sid, step in zip(ids, steps, strict=True) if step.get("type") == "contact"}
    if not contact:
        return ["steps: a quiz needs a contact step before its result"]
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(sid: str) -> None:
        state[sid] = 1
        for target in edges.get(sid, []):
            if target == RESULT:
                continue
            if state.get(target) == 1:
                errors.append(
                    f"{_where(index[sid], steps[index[sid]])}: leads back to "
                    f"{_where(index[target], steps[index[target]])}: loops are not allowed"
                )
            elif state.get(target) is None:
                visit(target)
        state[sid] = 2

    visit(ids[0])
    for sid in ids:
        if sid not in state:
            errors.append(f"{_where(index[sid], steps[index[sid]])}: can never be reached")
    if errors:
        return errors

    memo: dict[str, bool] = {}

    def skips(sid: str) -> bool:
        """Some path from here reaches the result without a contact step."""
        if sid not in memo:
            memo[sid] = sid not in contact and any(t == RESULT or skips(t) for t in edges.get(sid, []))
        return memo[sid]

    if skips(ids[0]):
        path, current = [ids[0]], ids[0]
        while True:
            current = next(t for t in edges[current] if t == RESULT or skips(t))
            path.append(current)
            if current == RESULT:
                break
        errors.append(f"a path reaches the result without the contact step: {' → '.join(path)}")
    return errors
