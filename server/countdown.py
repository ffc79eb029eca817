"""Countdown deadlines, worked out by the server so that they never lie.

fixed: a local date and time in the site timezone · evergreen: a span from the
visitor's first view (stored per visitor; see the store) · daily: a time of day on
chosen weekdays. Local times that a DST change skips or repeats resolve as
``zoneinfo`` does: a skipped time lands after the jump, a repeated one on its first pass.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DISPLAYS = ("bar-top", "bar-bottom", "inline")
OPENS = re.compile(r"^(callback|chat|(quiz|popup):[a-z0-9][a-z0-9_-]{0,39})$")
MAX_MINUTES = 60 * 24 * 366


class Mode(enum.StrEnum):
    FIXED = "fixed"
    EVERGREEN = "evergreen"
    DAILY = "daily"


class Expiry(enum.StrEnum):
    HIDE = "hide"
    MESSAGE = "message"
    REDIRECT = "redirect"
    SWITCH = "switch"


class CountdownInvalid(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Deadline:
    at: float  # unix seconds
    following: float | None = None  # daily: the one after, to roll over without asking


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CountdownInvalid([f"unknown timezone {timezone!r}"]) from exc


def fixed_deadline(local: str, timezone: str) -> float:
    """'2026-12-01T18:00' in the site timezone, as unix seconds."""
    try:
        naive = dt.datetime.fromisoformat(local)
    except ValueError as exc:
        raise CountdownInvalid([f"deadline: {local!r} is not a date and time like 2026-12-01T18:00"]) from exc
    if naive.tzinfo is not None:
        raise CountdownInvalid(["deadline: give the local time without an offset; the site timezone applies"])
    return naive.replace(tzinfo=_zone(timezone)).timestamp()


def daily_deadlines(time_of_day: str, days: list[int] | None, timezone: str, now: float) -> Deadline:
    """The next two moments at ``time_of_day`` (site timezone) on the given weekdays, after ``now``."""
    match = _TIME.match(time_of_day)
    if match is None:
        raise CountdownInvalid([f"time: {time_of_day!r} is not a time of day like 14:00"])
    tz = _zone(timezone)
    hour, minute = int(match[1]), int(match[2])
    allowed = set(days or range(1, 8))
    found: list[float] = []
    day = dt.datetime.fromtimestamp(now, tz).date()
    for _ in range(16):
        if day.isoweekday() in allowed:
            at = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp()
            if at > now:
                found.append(at)
                if len(found) == 2:
                    break
        day += dt.timedelta(days=1)
    if not found:
        raise CountdownInvalid(["days: choose at least one weekday from 1 (Monday) to 7 (Sunday)"])
    return Deadline(found[0], found[1] if len(found) > 1 else None)


def deadline(config: dict[str, Any], timezone: str, now: float, started_at: float | None = None) -> Deadline:
    """The deadline a visitor sees now; ``started_at``: their first view (evergreen)."""
    mode = Mode(config["mode"])
    if mode is Mode.FIXED:
        return Deadline(fixed_deadline(config["deadline"], timezone))
    if mode is Mode.DAILY:
        return daily_deadlines(config["time"], config.get("days"), timezone, now)
    return Deadline((started_at if started_at is not None else now) + float(config["minutes"]) * 60)


def validate(config: object, timezone: str = "UTC") -> None:
    """Raise :class:`CountdownInvalid` listing every problem, each with its field."""
    if not isinstance(config, dict):
        raise CountdownInvalid(["the countdown must be a JSON object"])
    errors: list[str] = []
    mode = config.get("mode")
    if mode not in set(Mode):
        errors.append(f"mode: must be one of {', '.join(Mode)}")
    elif mode == Mode.FIXED:
        try:
            fixed_deadline(str(config.get("deadline", "")), timezone)
        except CountdownInvalid as exc:
            errors.extend(exc.errors)
    elif mode == Mode.DAILY:
        days = config.get("days")
        if days is not None and (not isinstance(days, list) or not days or not set(days) <= set(range(1, 8))):
            errors.append("days: choose weekdays from 1 (Monday) to 7 (Sunday)")
        elif not isinstance(config.get("time"), str) or not _TIME.match(config["time"]):
            errors.append(f"time: {config.get('time')!r} is not a time of day like 14:00")
    else:
        minutes = config.get("minutes")
        if not isinstance(minutes, int | float) or isinstance(minutes, bool) or not 0 < minutes <= MAX_MINUTES:
            errors.append(f"minutes: give the time each visitor gets, 1 to {MAX_MINUTES}")
    if config.get("display", "bar-top") not in DISPLAYS:
        errors.append(f"display: must be one of {', '.join(DISPLAYS)}")
    if not isinstance(config.get("title", ""), str):
        errors.append("title: must be text")
    cta = config.get("cta")
    if cta is not None and (
        not isinstance(cta, dict) or not isinstance(cta.get("label"), str) or not OPENS.match(str(cta.get("open")))
    ):
        errors.append("cta: give a label and what it opens: callback, chat, quiz:<id> or popup:<id>")
    expiry = config.get("expiry") or {"action": "hide"}
    action = expiry.get("action") if isinstance(expiry, dict) else None
    if action not in set(Expiry):
        errors.append(f"expiry.action: must be one of {', '.join(Expiry)}")
    elif action == Expiry.MESSAGE and not isinstance(expiry.get("message"), str):
        errors.append("expiry.message: give the text shown once the offer has ended")
    elif action == Expiry.REDIRECT and not re.match(r"^(https?://|/)", str(expiry.get("url", ""))):
        errors.append("expiry.url: give a page address starting with /, http:// or https://")
    elif action == Expiry.SWITCH and not _SLUG.match(str(expiry.get("next", ""))):
        errors.append("expiry.next: give the id of the follow-up countdown")
    if errors:
        raise CountdownInvalid(errors)
