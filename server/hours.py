"""Working hours of a site, in its timezone: open now?, back when?, which slots to offer.

``working_hours`` maps weekday names to opening intervals, e.g.
``{"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": [["10:00", "15:00"]]}``;
a day that is missing is closed, and so is every date in ``holidays``. An empty
mapping means open around the clock.
Times are "HH:MM" or "HH:MM:SS"; "24:00" ends a day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SLOT_SECONDS = 3600
SLOT_COUNT = 12
LOOKAHEAD_DAYS = 14


class InvalidHours(ValueError):
    pass


def _seconds(text: str) -> int:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise InvalidHours(f"{text!r} is not a time of day like 09:00")
    h, m, s = (int(p) for p in (*parts, "0")[:3])
    total = h * 3600 + m * 60 + s
    if m > 59 or s > 59 or total > 24 * 3600:
        raise InvalidHours(f"{text!r} is not a time of day like 09:00")
    return total


@dataclass(frozen=True)
class Window:
    start: float
    end: float


class Schedule:
    def __init__(self, working_hours: dict[str, Any], timezone: str, holidays: Iterable[str] = ()) -> None:
        try:
            self.tz = ZoneInfo(timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidHours(f"unknown timezone {timezone!r}") from exc
        self.always_open = not working_hours
        try:
            self.holidays = {dt.date.fromisoformat(d) for d in holidays}
        except (TypeError, ValueError) as exc:
            raise InvalidHours(f"holidays must be dates like 2026-12-25: {exc}") from exc
        self.days: dict[int, list[tuple[int, int]]] = {}
        for name, intervals in (working_hours or {}).items():
            if name not in DAYS:
                raise InvalidHours(f"unknown weekday {name!r}; use one of {', '.join(DAYS)}")
            spans = []
            for interval in intervals:
                start, end = _seconds(interval[0]), _seconds(interval[1])
                if end <= start:
                    raise InvalidHours(f"{name}: {interval[0]}–{interval[1]} ends before it starts")
                spans.append((start, end))
            self.days[DAYS.index(name)] = sorted(spans)

    def _windows_from(self, at: float) -> Iterator[Window]:
        """Opening windows that end after ``at``, in order, as unix times (DST-aware)."""
        local = dt.datetime.fromtimestamp(at, self.tz)
        for offset in range(LOOKAHEAD_DAYS + 1):
            day = local.date() + dt.timedelta(days=offset)
            if day in self.holidays:
                continue
            midnight = dt.datetime.combine(day, dt.time(), self.tz)
            for start, end in self.days.get(day.weekday(), []):
                w_start = (midnight + dt.timedelta(seconds=start)).timestamp()
                w_end = (midnight + dt.timedelta(seconds=end)).timestamp()
                if w_end > at:
                    yield Window(w_start, w_end)

    def is_open(self, at: float) -> bool:
        if self.always_open:
            return True
        return any(w.start <= at < w.end for w in self._windows_from(at) if w.start <= at)

    def next_open(self, at: float) -> float | None:
        """When the team is back; ``at`` itself when open now; None when no opening in two weeks."""
        if self.always_open:
            return at
        for window in self._windows_from(at):
            return max(window.start, at)
        return None

    def slots(self, at: float, count: int = SLOT_COUNT, length: int = SLOT_SECONDS) -> list[Window]:
        """Hour-long windows a visitor may book, starting at the next opening."""
        if self.always_open:
            return []
        found: list[Window] = []
        for window in self._windows_from(at):
            start = max(window.start, at)
            while start < window.end and len(found) < count:
                end = min(start + length, window.end)
                if end - start >= min(length, 15 * 60) or end == window.end:
                    found.append(Window(start, end))
                start = end
            if len(found) >= count:
                break
        return found

    def contains_window(self, start: float, end: float) -> bool:
        """A booked slot must lie within one opening window."""
        return any(w.start <= start and end <= w.end for w in self._windows_from(start))
