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
