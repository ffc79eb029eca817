import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from server.countdown import CountdownInvalid, daily_deadlines, deadline, fixed_deadline, validate

LA = "America/Los_Angeles"


def at(text: str, tz: str = LA) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def local(ts: float, tz: str = LA) -> str:
    return dt.datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def test_a_fixed_deadline_is_the_owners_local_time_in_the_site_timezone() -> None:
    assert fixed_deadline("2026-12-01T18:00", LA) == dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC).timestamp()
    assert (
        fixed_deadline("2026-12-01T18:00", "Europe/Moscow") == dt.datetime(2026, 12, 1, 15, tzinfo=dt.UTC).timestamp()
    )


def test_fixed_deadlines_across_a_dst_change_keep_the_wall_clock_time() -> None:
    # 2026-11-01 02:00 PDT → 01:00 PST in Los Angeles: the hour before and after differ by 25 h, not 24.
    before, after = fixed_deadline("2026-10-31T12:00", LA), fixed_deadline("2026-11-01T12:00", LA)
    assert after - before == 25 * 3600
    # A time the spring change skips (02:30 on 8 March 2026) lands after the jump, not before it.
    assert local(fixed_deadline("2026-03-08T02:30", LA)) == "2026-03-08 03:30 PDT"


def test_daily_deadline_rolls_over_to_the_next_allowed_day() -> None:
    morning = at("2026-11-23T09:00")  # a Monday
    today = daily_deadlines("14:00", None, LA, morning)
    assert (local(today.at), local(today.following or 0)) == ("2026-11-23 14:00 PST", "2026-11-24 14:00 PST")
    after = daily_deadlines("14:00", None, LA, at("2026-11-23T14:00"))  # exactly at the deadline: the next one
    assert local(after.at) == "2026-11-24 14:00 PST"
    weekdays = daily_deadlines("14:00", [1, 2, 3, 4, 5], LA, at("2026-11-27T15:00"))  # Friday afternoon
    assert (local(weekdays.at), local(weekdays.following or 0)) == ("2026-11-30 14:00 PST", "2026-12-01 14:00 PST")


def test_daily_deadline_over_the_dst_night_is_still_at_the_local_time() -> None:
    result = daily_deadlines("14:00", None, LA, at("2026-10-31T15:00"))
    assert local(result.at) == "2026-11-01 14:00 PST" and result.at - at("2026-10-31T14:00") == 25 * 3600


def test_evergreen_counts_from_the_visitors_first_view() -> None:
    first = 1_800_000_000.0
    config = {"mode": "evergreen", "minutes": 90}
    assert deadline(config, LA, first + 7200, started_at=first).at == first + 5400  # already expired, stays so
    assert deadline(config, LA, first).at == first + 5400


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"mode": "sometimes"}, "mode: must be one of fixed, evergreen, daily"),
        ({"mode": "fixed", "deadline": "next friday"}, "deadline: 'next friday' is not a date and time"),
        ({"mode": "fixed", "deadline": "2026-12-01T18:00+02:00"}, "deadline: give the local time without an offset"),
        ({"mode": "daily", "time": "25:00"}, "time: '25:00' is not a time of day"),
        ({"mode": "daily", "time": "14:00", "days": [0, 8]}, "days: choose weekdays from 1"),
        ({"mode": "evergreen", "minutes": 0}, "minutes: give the time each visitor gets"),
        ({"mode": "evergreen", "minutes": 5, "display": "sky"}, "display: must be one of"),
        ({"mode": "evergreen", "minutes": 5, "cta": {"label": "Go", "open": "javascript:alert(1)"}}, "cta: give"),
        ({"mode": "evergreen", "minutes": 5, "expiry": {"action": "redirect", "url": "javascript:x"}}, "expiry.url"),
        ({"mode": "evergreen", "minutes": 5, "expiry": {"action": "switch"}}, "expiry.next: give the id"),
        ({"mode": "evergreen", "minutes": 5, "expiry": {"action": "message"}}, "expiry.message: give the text"),
    ],
)
def test_bad_countdowns_are_refused_with_the_field_named(config: dict, error: str) -> None:
    with pytest.raises(CountdownInvalid) as info:
        validate(config, LA)
    assert any(e.startswith(error) for e in info.value.errors), info.value.errors


def test_a_sound_countdown_passes() -> None:
    validate(
        {
            "mode": "fixed",
            "deadline": "2026-12-01T18:00",
            "display": "bar-top",
            "cta": {"label": "Call me", "open": "callback"},
            "expiry": {"action": "switch", "next": "winter-sale"},
        },
        LA,
    )
