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


def _label(status: Any) -> str:
    return str(status or "?").replace("_", " ")


def _by(who: str) -> str:
    return f" (by {who})" if who else ""


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
        # -- leads CRM: changes a person made on the lead card --
        case "status":
            return f"Status: {_label(d.get('from'))} → {_label(d.get('to'))}" + _by(who)
        case "temperature":
            return (f"Temperature: {d['to']}" if d.get("to") else "Temperature cleared") + _by(who)
        case "assigned":
            return (f"Assigned to {d.get('name') or 'someone'}" if d.get("to") else "Unassigned") + _by(who)
        case "note":
            return f"Note by {who or 'someone'}: {d.get('text', '')}"
        case "follow_up":
            return (f"Follow-up set for {_when(d['at'])}" if d.get("at") else "Follow-up cleared") + _by(who)
        case "anonymised":
            return "Personal data erased on the visitor's request" + _by(who)
        case "outcome":
            text = f"Outcome: {str(d.get('outcome', '')).replace('_', ' ')}"
            if d.get("retry_at"):
                text += f", call again {_when(d['retry_at'])}"
            return text + (f" (by {who})" if who else "")
    # -- integrations: a change made through the REST API --
    if event.type == "api_update":
        changes = d.get("changes") if isinstance(d.get("changes"), dict) else {}
        said = "; ".join(
            f"{k} {str(v[0] or '–').replace('_', ' ')} → {str(v[1] or '–').replace('_', ' ')}"
            for k, v in changes.items()
            if isinstance(v, list) and len(v) == 2
        )
        return f"Changed through the API: {said} (by {d.get('by', 'an API token')})"
    return event.type.replace("_", " ")
