"""In-process rate limits. A sliding count per key, enough for one process."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit`` hits per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        cutoff = self._clock() - self.window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if not hits:
            # Forget idle keys so a flood of distinct keys can't grow memory forever.
            del self._hits[key]
        return hits

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may act again; 0 when it may act now."""
        hits = self._recent(key)
        if len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window - self._clock())

    def hit(self, key: str) -> float:
        """Record an attempt; returns 0 when allowed, else seconds to wait (nothing recorded)."""
        wait = self.retry_after(key)
        if wait == 0:
            self._hits.setdefault(key, deque()).append(self._clock())
        return wait

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def prune(self) -> None:
        for key in list(self._hits):
            self._recent(key)
