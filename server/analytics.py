"""The owner's numbers for a period: a funnel per widget, leads by source, each manager's speed
and promises kept, missed callbacks. Pure functions over the store's raw rows."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    label: str
    n: int


@dataclass
class Funnel:
    widget: str
    steps: list[Step]


@dataclass
class Person:
    name: str
    claimed: int = 0
    median_claim: float | None = None
    kept_pct: int | None = None
    chats: int = 0
    median_reply: float | None = None
    rating: float | None = None


@dataclass
class Report:
    funnels: list[Funnel] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    missed: int = 0
    callbacks: int = 0


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def report(raw: dict[str, list[dict[str, Any]]]) -> Report:
    leads: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in raw["leads"]:
        leads[row["kind"]][row["status"]] += row["n"]
    events = {row["name"]: row["n"] for row in raw["events"]}
    # Page views that loaded an always-on widget (callback button, chat launcher), counted by the server.
    impressions = {r["widget"]: r["n"] for r in raw.get("counters", []) if r["counter"] == "impressions"}

    def total(kind: str, *, partial: bool = False) -> int:
        return sum(n for status, n in leads[kind].items() if partial or status != "partial")

    def won(kind: str) -> int:
        return leads[kind].get("won", 0)

    calls = raw["callbacks"]
    chats = raw["chats"]
    out = Report(missed=sum(1 for c in calls if c["missed"]), callbacks=len(calls))
    out.funnels = [
        Funnel(
            "Callback",
            [
                Step("Impressions", impressions.get("callback", 0)),
                Step("Opened", events.get("callback_opened", 0)),
                Step("Requests", total("callback")),
                Step("Claimed by a manager", sum(1 for c in calls if c["user_id"] is not None)),
                Step("Talked", sum(1 for c in calls if c["outcome"] == "connected")),
                Step("Won", won("callback")),
            ],
        ),
        Funnel(
            "Quiz",
            [
                Step("Opened", events.get("quiz_opened", 0)),
                Step("Started", total("quiz", partial=True)),
                Step("Left contact details", total("quiz")),
                Step("Won", won("quiz")),
            ],
        ),
        Funnel(
            "Popup",
            [
                Step("Shown", events.get("popup_shown", 0)),
                Step("Converted", total("popup") + events.get("popup_converted", 0)),
                Step("Won", won("popup")),
            ],
        ),
        Funnel(
            "Chat",
            [
                Step("Impressions", impressions.get("chat", 0)),
                Step("Opened", events.get("chat_opened", 0)),
                Step("Conversations", len(chats)),
                Step("Answered", sum(1 for c in chats if c["answered"] is not None)),
                Step("Won", won("chat")),
            ],
        ),
        Funnel("Countdown", [Step("Offer button clicked", events.get("countdown_cta_clicked", 0))]),
    ]
    out.sources = [{"source": r["source"] or "direct", "n": r["n"], "won": r["won"] or 0} for r in raw["sources"]]
    for person in raw["people"]:
        mine = [c for c in calls if c["user_id"] == person["id"]]
        kept = [c["promise_kept"] for c in mine if c["promise_kept"] is not None]
        answered = [c for c in chats if c["user_id"] == person["id"] and c["asked"] and c["answered"]]
        ratings = [c["rating"] for c in chats if c["rating"] and (c["assignee_id"] or c["user_id"]) == person["id"]]
        out.people.append(
            Person(
                name=person["name"],
                claimed=len(mine),
                median_claim=_median([c["to_claim"] for c in mine if c["to_claim"] is not None]),
                kept_pct=round(100 * sum(kept) / len(kept)) if kept else None,
                chats=len(answered),
                median_reply=_median([max(0.0, c["answered"] - c["asked"]) for c in answered]),
                rating=round(statistics.fmean(ratings), 1) if ratings else None,
            )
        )
    return out
