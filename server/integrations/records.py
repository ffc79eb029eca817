"""Records of the integrations section, shared by the store backends, the API and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

WEBHOOK_EVENTS = ("lead.created", "lead.updated", "callback.missed", "chat.closed")


@dataclass(frozen=True)
class ApiToken:
    id: int
    site_id: int
    name: str
    hint: str
    created_by: int | None
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True)
class Webhook:
    id: int
    site_id: int
    url: str
    secret: str
    events: list[str]
    active: bool
    created_at: float

    def wants(self, event: str) -> bool:
        return self.active and (not self.events or event in self.events)


@dataclass(frozen=True)
class Delivery:
    id: int
    webhook_id: int
    event: str
    event_id: str
    subject: str
    body: str
    state: str
    attempts: int
    next_attempt_at: float
    created_at: float
    finished_at: float | None


@dataclass(frozen=True)
class Attempt:
    id: int
    delivery_id: int
    n: int
    at: float
    status_code: int | None
    error: str
    duration_ms: float
