"""Popup configs, checked on save with errors that name the field (the rules run in the widget)."""

from __future__ import annotations

import re
from typing import Any

LAYOUTS = ("modal", "slide", "bar-top", "bar-bottom")
FIELDS = ("phone", "email", "name")
TRIGGERS: dict[str, str | None] = {
    "delay": "seconds",
    "time_on_site": "seconds",
    "exit_intent": None,
    "scroll": "percent",
    "inactivity": "seconds",
    "click": "selector",
    "pages": "count",
}
MATCHES = ("exact", "contains", "prefix", "regex")
SHOW = ("session", "days", "until_converted", "always")
OPENS = re.compile(r"^(callback|chat|quiz:[a-z0-9][a-z0-9_-]{0,39})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class PopupInvalid(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _triggers(tree: object, place: str, errors: list[str], depth: int = 0) -> None:
    if depth > 4 or not isinstance(tree, dict):
        errors.append(f"{place}: a trigger or {{'any': [...]}} / {{'all': [...]}}")
        return
    for combinator in ("any", "all"):
        if combinator in tree:
            items = tree[combinator]
            if not isinstance(items, list) or not items:
                errors.append(f"{place}.{combinator}: list at least one trigger")
                return
            for i, item in enumerate(items):
                _triggers(item, f"{place}.{combinator}[{i + 1}]", errors, depth + 1)
            return
    kind = tree.get("type")
    if kind not in TRIGGERS:
        errors.append(f"{place}: type must be one of {', '.join(TRIGGERS)}")
        return
    need = TRIGGERS[kind]
    if need == "selector":
        if not isinstance(tree.get("selector"), str) or not tree["selector"].strip():
            errors.append(f"{place}: a click trigger needs a CSS selector")
    elif need is not None and not _number(tree.get(need)):
        errors.append(f"{place}: {kind} needs {need} (a number)")
    elif need == "percent" and tree["percent"] > 100:
        errors.append(f"{place}: percent is at most 100")


def validate(config: object) -> None:
    """Raise :class:`PopupInvalid` listing every problem, each with its field."""
    if not isinstance(config, dict):
        raise PopupInvalid(["the popup must be a JSON object"])
    errors: list[str] = []
    if not isinstance(config.get("title"), str) or not config["title"].strip():
        errors.append("title: a popup needs a title")
    if config.get("layout", "modal") not in LAYOUTS:
        errors.append(f"layout: must be one of {', '.join(LAYOUTS)}")
    if not isinstance(config.get("priority", 0), int):
        errors.append("priority: a whole number (higher shows first)")
    fields = config.get("fields", [])
    if not isinstance(fields, list) or not set(fields) <= set(FIELDS) or len(fields) > 3:
        errors.append("fields: up to three of phone, email, name")
    elif fields and not {"phone", "email"} & set(fields):
        errors.append("fields: ask for a phone or an email, or nobody can answer the lead")
    button = config.get("button")
    if button is not None and (not isinstance(button, dict) or not OPENS.match(str(button.get("open")))):
        errors.append("button.open: callback, chat or quiz:<id>")
    if "countdown" in config and not re.match(r"^[a-z0-9][a-z0-9_-]{0,39}$", str(config["countdown"])):
        errors.append("countdown: the id of the countdown whose deadline the popup shows")
    if not fields and button is None:
        errors.append("fields: give a form (fields) or a button that opens another widget")
    _triggers(config.get("triggers"), "triggers", errors)
    targeting = config.get("targeting") or {}
    for side in ("include", "exclude"):
        for i, rule in enumerate(targeting.get(side) or []):
            place = f"targeting.{side}[{i + 1}]"
            if not isinstance(rule, dict) or rule.get("match") not in MATCHES or not isinstance(rule.get("value"), str):
                errors.append(f"{place}: give match ({', '.join(MATCHES)}) and a value")
            elif rule["match"] == "regex":
                try:
                    re.compile(rule["value"])
                except re.error as exc:
                    errors.append(f"{place}: the pattern does not compile: {exc}")
    if targeting.get("device", "any") not in ("any", "desktop", "mobile"):
        errors.append("targeting.device: any, desktop or mobile")
    if targeting.get("visitor", "any") not in ("any", "new", "returning"):
        errors.append("targeting.visitor: any, new or returning")
    schedule: dict[str, Any] = targeting.get("schedule") or {}
    for key in ("from", "to"):
        if key in schedule and not _DATE.match(str(schedule[key])):
            errors.append(f"targeting.schedule.{key}: a date like 2026-12-31")
    if "days" in schedule and not (isinstance(schedule["days"], list) and set(schedule["days"]) <= set(range(1, 8))):
        errors.append("targeting.schedule.days: weekdays from 1 (Monday) to 7 (Sunday)")
    hours = schedule.get("hours")
    if hours is not None and not (
        isinstance(hours, list) and len(hours) == 2 and all(_TIME.match(str(h)) for h in hours)
    ):
        errors.append("targeting.schedule.hours: [from, to] like ['09:00', '18:00']")
    frequency = config.get("frequency") or {}
    if frequency.get("show", "session") not in SHOW:
        errors.append(f"frequency.show: one of {', '.join(SHOW)}")
    for key in ("days", "after_close_days"):
        if key in frequency and not _number(frequency[key]):
            errors.append(f"frequency.{key}: a number of days")
    if errors:
        raise PopupInvalid(errors)
