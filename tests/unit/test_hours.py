import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from server.hours import InvalidHours, Schedule

LA = ZoneInfo("America/Los_Angeles")
HOURS = {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": [["10:00", "15:00"]]}


def at(*args: int, tz: ZoneInfo = LA) -> float:
    return dt.datetime(*args, tzinfo=tz).timestamp()


def local(ts: float, tz: ZoneInfo = LA) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%a %Y-%m-%d %H:%M")


def test_open_inside_hours_and_closed_over_lunch_and_at_night() -> None:
    s = Schedule(HOURS, "America/Los_Angeles")
    assert s.is_open(at(2026, 11, 23, 9, 0))  # Monday
    assert not s.is_open(at(2026, 11, 23, 13, 30))
    assert not s.is_open(at(2026, 11, 23, 18, 0))
    assert not s.is_open(at(2026, 11, 24, 10, 0))  # Tuesday: closed all day


def test_back_when_is_the_next_opening() -> None:
    s = Schedule(HOURS, "America/Los_Angeles")
    assert local(s.next_open(at(2026, 11, 23, 13, 30)) or 0) == "Mon 2026-11-23 14:00"
    assert local(s.next_open(at(2026, 11, 23, 20, 0)) or 0) == "Sat 2026-11-28 10:00"
    now = at(2026, 11, 23, 10, 0)
    assert s.next_open(now) == now


def test_slots_are_hour_windows_inside_opening_hours() -> None:
    s = Schedule(HOURS, "America/Los_Angeles")
    slots = s.slots(at(2026, 11, 23, 12, 20), count=4)
    assert [(local(w.start), local(w.end)[-5:]) for w in slots] == [
        ("Mon 2026-11-23 12:20", "13:00"),
        ("Mon 2026-11-23 14:00", "15:00"),
        ("Mon 2026-11-23 15:00", "16:00"),
        ("Mon 2026-11-23 16:00", "17:00"),
    ]
    assert s.contains_window(slots[1].start, slots[1].end)
    assert not s.contains_window(at(2026, 11, 23, 12, 30), at(2026, 11, 23, 14, 30))


def test_hours_follow_the_clock_across_a_dst_change() -> None:
    london = ZoneInfo("Europe/London")
    s = Schedule({"sun": [["09:00", "10:00"]]}, "Europe/London")
    # Clocks go back on 2026-10-25: 09:00 local is 09:00 UTC that day, 08:00 UTC the week before.
    before = s.next_open(at(2026, 10, 18, 0, 0, tz=london)) or 0
    after = s.next_open(at(2026, 10, 25, 0, 0, tz=london)) or 0
    assert dt.datetime.fromtimestamp(before, dt.UTC).hour == 8
    assert dt.datetime.fromtimestamp(after, dt.UTC).hour == 9
    assert after - before == 7 * 86400 + 3600


def test_no_hours_means_always_open_and_no_slots() -> None:
    s = Schedule({}, "UTC")
    assert s.is_open(0) and s.slots(0) == []


@pytest.mark.parametrize(
    ("hours", "tz", "message"),
    [
        ({"funday": [["09:00", "10:00"]]}, "UTC", "unknown weekday"),
        ({"mon": [["10:00", "09:00"]]}, "UTC", "ends before it starts"),
        ({"mon": [["9am", "10:00"]]}, "UTC", "not a time of day"),
        ({}, "Mars/Olympus", "unknown timezone"),
    ],
)
def test_bad_hours_are_refused_with_a_reason(hours: dict, tz: str, message: str) -> None:
    with pytest.raises(InvalidHours) as info:
        Schedule(hours, tz)
    assert message in str(info.value)


def test_a_holiday_is_closed_all_day_and_the_next_opening_skips_it() -> None:
    london = ZoneInfo("Europe/London")
    hours = Schedule({"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]]}, "Europe/London", ["2026-12-28"])
    monday_noon = dt.datetime(2026, 12, 28, 12, tzinfo=london).timestamp()
    assert not hours.is_open(monday_noon)
    back = dt.datetime.fromtimestamp(hours.next_open(monday_noon) or 0, london)
    assert (back.day, back.hour) == (29, 9)
