from server.routing import Strategy, first_offer, next_offer


def test_ring_all_alerts_everyone() -> None:
    assert first_offer(Strategy.RING_ALL, [3, 1, 2], preferred=None, last_first=None, load={}) == [3, 1, 2]


def test_a_returning_visitors_manager_goes_first_if_on_shift() -> None:
    for strategy in Strategy:
        assert first_offer(strategy, [1, 2, 3], preferred=2, last_first=None, load={}) == [2]
    assert first_offer(Strategy.RING_ALL, [1, 3], preferred=2, last_first=None, load={}) == [1, 3]


def test_round_robin_takes_turns_and_wraps() -> None:
    picks, last = [], None
    for _ in range(4):
        last = first_offer(Strategy.ROUND_ROBIN, [5, 1, 3], preferred=None, last_first=last, load={})[0]
        picks.append(last)
    assert picks == [1, 3, 5, 1]


def test_least_busy_prefers_fewer_open_claims() -> None:
    assert first_offer(Strategy.LEAST_BUSY, [1, 2, 3], preferred=None, last_first=None, load={1: 2, 2: 0, 3: 1}) == [2]


def test_escalation_goes_to_the_next_manager_then_everyone() -> None:
    assert next_offer([1, 2, 3], [1], {}) == [2]
    assert next_offer([1, 2, 3], [1, 2], {}) == [1, 2, 3]
    assert next_offer([1], [1], {}) == [1]


def test_nobody_on_shift_means_nobody_alerted() -> None:
    assert first_offer(Strategy.ROUND_ROBIN, [], preferred=4, last_first=None, load={}) == []


def test_a_sites_schedule_is_made_once_and_follows_a_changed_setting() -> None:
    """bench #10: schedule_of keeps a Schedule per (timezone, hours, holidays), so a new callback doesn't
    parse the hours again; an owner's change of any of them is a new schedule at once."""
    import dataclasses
    import datetime as dt

    from server.models import Site
    from server.routing import schedule_of

    monday_noon = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC).timestamp()
    site = Site(
        id=1,
        key="k",
        name="Shop",
        allowed_domains=[],
        timezone="UTC",
        working_hours={"mon": [["09:00", "17:00"]]},
        locale="en",
        settings={},
        created_at=0.0,
    )
    assert schedule_of(site) is schedule_of(dataclasses.replace(site, settings={"promise_seconds": 60}))
    assert schedule_of(site).is_open(monday_noon)
    evening = dataclasses.replace(site, working_hours={"mon": [["18:00", "20:00"]]})
    assert not schedule_of(evening).is_open(monday_noon)
    holiday = dataclasses.replace(site, settings={"holidays": ["2026-11-23"]})
    assert not schedule_of(holiday).is_open(monday_noon)
    elsewhere = dataclasses.replace(site, timezone="Asia/Tokyo")  # 21:00 there
    assert not schedule_of(elsewhere).is_open(monday_noon)
    assert schedule_of(site).is_open(monday_noon)
