from server.ratelimit import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_then_wait_then_allowed_again() -> None:
    clock = Clock()
    window = SlidingWindow(2, 60, clock)
    assert window.hit("ip") == 0
    assert window.hit("ip") == 0
    assert window.hit("ip") == 60
    assert window.hit("other") == 0
    clock.now += 30
    assert window.hit("ip") == 30
    clock.now += 30.1
    assert window.hit("ip") == 0


def test_idle_keys_are_forgotten() -> None:
    clock = Clock()
    window = SlidingWindow(1, 10, clock)
    for i in range(100):
        window.hit(f"k{i}")
    clock.now += 11
    window.prune()
    assert window._hits == {}
