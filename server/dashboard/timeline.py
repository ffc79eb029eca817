"""Lead timeline lines in words a manager reads at a glance."""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.models import Actor, LeadEvent


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "?"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%a %d %b %H:%M UTC")


def _names(names: Any) -> str:
    return ", ".join(names) if isinstance(names, list) and names else "nobody"


def describe(event: LeadEvent) -> str:
    d = event.data
    who = event.actor_name if event.actor_type is Actor.USER else ""
    match event.type:
        case "created":
            return "Request left by the visitor"
        case "quiz_started":
            return "Started the quiz (answers saved as given)"
        case "quiz_completed":
            verb = "Finished" if d.get("all", True) else "Left contact details in"
            return f"{verb} the quiz “{d.get('quiz', '')}”"
        case "routed":
            why = f" ({d['why']})" if d.get("why") else (f" ({d['strategy']})" if d.get("strategy") else "")
            return f"Routed to {_names(d.get('to'))}{why}"
        case "alerted":
            return f"Alerted {_names(d.get('to'))}" + (" at the booked time" if d.get("scheduled") else "")
        case "escalated":
            return f"Escalated to {_names(d.get('to'))}"
        case "scheduled":
            return f"Call booked for {_when(d.get('for'))} – {_when(d.get('until'))}"
        case "missed":
            return "Promise missed: nobody claimed the call in time"
        case "owner_notified":
            return f"Owner notified by email ({_names(d.get('to'))})"
        case "claimed":
            return f"Claimed by {who} after {d.get('after_seconds', '?')} s"
        case "called":
            return f"Call started by {who or 'the telephony provider'} after {d.get('after_seconds', '?')} s"
        case "call_requested":
            return f"Call requested from the {d.get('via', '')} telephony provider"
        case "call_failed":
            return f"Telephony failed: {d.get('why', '')}"
        case "outcome":
            text = f"Outcome: {str(d.get('outcome', '')).replace('_', ' ')}"
            if d.get("retry_at"):
                text += f", call again {_when(d['retry_at'])}"
            return text + (f" (by {who})" if who else "")
    return event.type.replace("_", " ")
