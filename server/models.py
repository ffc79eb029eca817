"""Domain records shared by every store backend, the endpoints and the templates."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"


class LeadStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WON = "won"
    LOST = "lost"
    SPAM = "spam"
    MISSED = "missed"
    PARTIAL = "partial"


class QuizSave(enum.StrEnum):
    """What storing one quiz frame did to its run's lead."""

    CREATED = "created"  # the first answer: a partial lead
    UPDATED = "updated"
    COMPLETED = "completed"  # the contact arrived: a lead to route
    STALE = "stale"  # an older or re-sent frame: nothing changed


class Actor(enum.StrEnum):
    VISITOR = "visitor"
    USER = "user"
    SYSTEM = "system"


@dataclass(frozen=True)
class Site:
    id: int
    key: str
    name: str
    allowed_domains: list[str]
    timezone: str
    working_hours: dict[str, Any]
    locale: str
    settings: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    password_hash: str
    role: Role
    active: bool
    created_at: float
    available: bool = True
    phone: str | None = None
    photo: str | None = None


@dataclass(frozen=True)
class Widget:
    id: int
    site_id: int
    kind: str
    slug: str
    config: dict[str, Any]
    enabled: bool
    version: int
    updated_at: float


@dataclass(frozen=True)
class Visitor:
    id: int
    site_id: int
    visitor_key: str
    first_seen: float
    last_seen: float
    user_agent: str
    referrer: str
    landing_page: str
    utm: dict[str, str]
    page_trail: list[dict[str, Any]]


@dataclass(frozen=True)
class Lead:
    id: int
    ref: str
    site_id: int
    visitor_id: int | None
    kind: str
    status: LeadStatus
    temperature: str | None
    assignee_id: int | None
    phone: str | None
    email: str | None
    name: str | None
    answers: dict[str, Any]
    source: str
    context: dict[str, Any]
    client_frame_id: str
    created_at: float
    updated_at: float
    site_name: str = ""
    follow_up_at: float | None = None  # leads CRM: when a manager means to get back to the visitor


@dataclass(frozen=True)
class LeadEvent:
    id: int
    lead_id: int
    at: float
    type: str
    actor_type: Actor
    actor_id: int | None
    data: dict[str, Any] = field(default_factory=dict)
    actor_name: str = ""


@dataclass(frozen=True)
class NewLead:
    """What a visitor submitted, already validated and normalised."""

    site_id: int
    visitor_key: str
    kind: str
    client_frame_id: str
    phone: str | None
    name: str | None
    email: str | None
    answers: dict[str, Any]
    context: dict[str, Any]
    user_agent: str
    source: str


class CallbackState(enum.StrEnum):
    RINGING = "ringing"
    CLAIMED = "claimed"
    MISSED = "missed"
    SCHEDULED = "scheduled"
    DONE = "done"


ACTIVE_CALLBACK_STATES = (CallbackState.RINGING, CallbackState.MISSED, CallbackState.SCHEDULED, CallbackState.CLAIMED)


class Outcome(enum.StrEnum):
    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    SPAM = "spam"
    RESCHEDULE = "reschedule"


@dataclass(frozen=True)
class Callback:
    lead_id: int
    site_id: int
    state: CallbackState
    promise_seconds: int
    promised_by: float | None
    due_at: float
    stage: int
    stage_until: float | None
    offered_to: list[int]
    scheduled_for: float | None
    window_end: float | None
    claimed_by: int | None
    claimed_at: float | None
    called_at: float | None
    outcome: Outcome | None
    outcome_at: float | None
    attempts: int
    promise_kept: bool | None
    missed_at: float | None
    updated_at: float


@dataclass(frozen=True)
class EventRecord:
    """One line for a lead's timeline, written in the same transaction as the change it tells of."""

    type: str
    actor_type: Actor
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


class ConversationState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Conversation:
    id: int
    ref: str
    site_id: int
    visitor_id: int
    lead_id: int | None
    state: ConversationState
    assignee_id: int | None
    offered_to: list[int]
    last_seq: int
    visitor_read_seq: int
    manager_read_seq: int
    visitor_name: str | None
    visitor_email: str | None
    visitor_phone: str | None
    current_page: dict[str, Any]
    rating: int | None
    rating_comment: str | None
    created_at: float
    updated_at: float
    closed_at: float | None


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    seq: int
    author: str
    user_id: int | None
    body: str
    client_frame_id: str | None
    created_at: float
    author_name: str = ""


# -- leads CRM ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadFilter:
    """What the leads table, its CSV export and paging select by; empty means "any"."""

    site_id: int | None = None
    kind: str = ""
    status: str = ""
    temperature: str = ""
    assignee_id: int | None = None  # 0: nobody assigned
    source: str = ""
    since: float | None = None  # created_at >= since
    until: float | None = None  # created_at < until
    search: str = ""  # part of a phone number, a name or an email

    @property
    def active(self) -> bool:
        return any(
            (
                self.site_id is not None,
                self.kind,
                self.status,
                self.temperature,
                self.assignee_id is not None,
                self.source,
                self.since is not None,
                self.until is not None,
                self.search,
            )
        )


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    user_id: int | None
    user_name: str
    action: str
    site_id: int | None
    detail: dict[str, Any]
    rows: int
