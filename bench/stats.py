"""Numbers from several runs: a figure is the median of its runs, shown with their min and max."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank on the sorted samples)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Figure:
    """One row of the results table."""

    section: str
    what: str
    unit: str
    runs: list[float] = field(default_factory=list)
    budget: str = ""
    # True when the median meets the budget, False when it misses, None when there is no budget.
    check: object = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def verdict(self) -> str:
        if not self.runs:
            return "skipped"
        if not callable(self.check):
            return ""
        return "met" if self.check(self.median) else "**MISSED**"


def fmt(value: float, unit: str) -> str:
    if unit == "B":
        return f"{value:,.0f} B"
    if unit == "KB":
        return f"{value:.1f} KB"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "x":
        return f"{value:.2f}×"
    if unit == "":
        return f"{value:g}"
    return f"{value:g} {unit}"
