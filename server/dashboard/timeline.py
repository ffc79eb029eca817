"""Lead timeline lines in words a manager reads at a glance, and the lead card's one timeline of
everything: the visitor's pages, popups and greetings, quiz answers, chats, the callback's every
step and the team's own changes, oldest first, each with who and when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from server.models import Actor, Conversation, Lead, LeadEvent, Message, Visitor


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
        case "follow_up_due":
            return f"Follow-up due: reminded {_names(d.get('to'))}"
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


# -- the lead card's one timeline ---------------------------------------------------------------

VISITOR_EVENTS = {
    "popup_shown": "Saw the popup",
    "popup_closed": "Closed the popup",
    "popup_converted": "Took the popup's offer",
    "chat_greeting_shown": "Saw the chat greeting",
    "chat_greeting_replied": "Replied to the chat greeting",
}


@dataclass(frozen=True)
class Line:
    """One line of the timeline; ``block`` holds the lines of a chat or the quiz answers, shown
    folded under it."""

    at: float
    kind: str  # page | visitor | event | quiz | chat (a CSS class and a data attribute)
    who: str
    text: str
    event: str = ""
    block: list[tuple[float | None, str, str]] = field(default_factory=list)  # (when, who, text)
    open: bool = False


def _who(event: LeadEvent) -> str:
    if event.actor_type is Actor.USER:
        return event.actor_name or "a team member"
    if event.actor_type is Actor.VISITOR or event.type in ("created", "quiz_started", "quiz_completed"):
        return "visitor"
    return "Beckon"


def _quiz_block(lead: Lead) -> list[tuple[float | None, str, str]]:
    steps = lead.answers.get("steps")
    if lead.kind != "quiz" or not isinstance(steps, list):
        return []
    lines: list[tuple[float | None, str, str]] = []
    for step in steps:
        if isinstance(step, dict):
            lines.append((None, str(step.get("question") or step.get("id") or "?"), str(step.get("text") or "")))
    for item in lead.answers.get("shown") or []:
        if isinstance(item, dict):
            lines.append((None, str(item.get("label", "")), str(item.get("value", ""))))
    return lines


def _chat_lines(conversation: Conversation, messages: list[Message]) -> Line:
    said = [
        (
            m.created_at,
            m.author_name or ("visitor" if m.author == "visitor" else "Beckon" if m.author == "system" else "manager"),
            m.body,
        )
        for m in messages
    ]
    facts = [f"{len(messages)} message{'' if len(messages) == 1 else 's'}"]
    if conversation.state.value == "closed":
        facts.append("closed")
    if conversation.rating:
        facts.append(f"rated {conversation.rating}/5")
    return Line(
        at=conversation.created_at,
        kind="chat",
        who="visitor",
        text=f"Chat ({', '.join(facts)})",
        block=said,
        open=len(said) <= 12,
    )


def build_timeline(
    lead: Lead,
    events: list[LeadEvent],
    visitor: Visitor | None,
    visitor_events: list[dict[str, Any]],
    chats: list[tuple[Conversation, list[Message]]],
) -> list[Line]:
    """Everything known about the lead and its visitor, oldest first (ties keep this order:
    pages, then the lead's own events, then the visitor's clicks, then chats)."""
    lines: list[Line] = []
    trail = (visitor.page_trail if visitor and visitor.page_trail else None) or lead.context.get("trail") or []
    for page in trail:
        if isinstance(page, dict):
            at = page.get("at") if isinstance(page.get("at"), int | float) else 0
            url = str(page.get("url") or "")
            lines.append(Line(at / 1000 if at > 1e11 else at, "page", "visitor", f"Viewed {page.get('title') or url}"))
    quiz = _quiz_block(lead)
    for event in events:
        text = describe(event)
        if event.data.get("page"):
            text += f" on {event.data['page']}"
        lines.append(Line(event.at, "event", _who(event), text, event=event.type))
        if quiz and event.type == "quiz_completed":
            lines.append(Line(event.at, "quiz", "visitor", "Quiz answers", block=quiz, open=True))
            quiz = []
    if quiz:  # a quiz left halfway has no completion line: its answers go with the lead's arrival
        lines.append(Line(lead.created_at, "quiz", "visitor", "Quiz answers so far", block=quiz, open=True))
    for item in visitor_events:
        name = str(item.get("name", ""))
        props = item.get("props") if isinstance(item.get("props"), dict) else {}
        text = VISITOR_EVENTS.get(name, f"Did “{name.replace('_', ' ')}”")
        what = props.get("popup") or props.get("offer") or props.get("slug")
        lines.append(
            Line(float(item.get("at") or 0), "visitor", "visitor", text + (f" “{what}”" if what else ""), event=name)
        )
    for conversation, messages in chats:
        lines.append(_chat_lines(conversation, messages))
    lines.sort(key=lambda line: line.at)  # stable: equal times keep the order above
    return lines
