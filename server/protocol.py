"""The visitor wire protocol: parsing and validating frames.

Every frame is a JSON object ``{"type": ..., "id": ..., ...}``; ``id`` is a
client-generated unique id on every frame that changes state. Validation here
is structural; phone numbers and site rules are checked in ``ingest``.

Visitor -> server:
  hello  {visitor}                      first frame on a socket; answered by welcome
  lead   {id, kind, widget?, phone?, name?, email?, consent?, answers?, context?, schedule?: {start, end} (ms)}
                                        answered by ack {id, lead, callback?: callback_status, bonus?: {code, text}}
                                        (widget: the slug of a popup; see docs/popup.md)
  track  {id, name, props?}             answered by ack {id}
  quiz   {id, quiz, run, n, answers, contact?, context?}
                                        answered by ack {id, lead, quiz, callback?}: see docs/quiz.md
  countdown {id, countdown}             answered by ack {id, countdown: {deadline, server_time, ...}}:
                                        see docs/countdown.md
  report {widget, message}              a widget broke; logged, not answered
  ping   {}                             answered by pong
  chat_message, chat_sync, chat_typing, chat_read, chat_rating, page: see docs/chat-protocol.md
Idempotency is per visitor: the same visitor re-sending a frame id gets the first ack and no duplicate.
Ids are unique per site, so an id (or quiz run id) that another visitor of the site already stored is
answered error duplicate_id with a "send again" message: nothing is stored and nothing of the other
visitor's lead is told. Widgets make ids from crypto.randomUUID, so only a forged id meets this; the
widget drops the frame and shows the message, as for any refusal. A lead of kind callback or chat while that widget is switched off is
answered error widget_off with a message for the visitor.

A socket must say hello within 10 s of opening, or it is closed with 1008 (policy violation, reason
"hello expected"); after hello, 90 s of silence closes it with 4408 (widgets ping every 25 s).

The dashboard's countdown and quiz previews connect with site=preview-<token> (a draft the editor made)
from the dashboard's own origin: hello, ping, countdown frames and the draft quiz's frames are answered
from the draft (a quiz's ack carries its result and lead "preview"), storing no visitor, no evergreen
start and no lead; anything else is refused with bad_frame. Other previews' keys are unknown sites.

Server -> visitor: welcome, ack, error {id, code, message, field?, retry_after?}, pong, and
  callback_status {lead, state, server_time, due_at, promise_seconds, manager, scheduled_for, window_end, outcome}
  (times in ms) whenever a callback of this visitor changes, and for each open one right after welcome.
  A new callback's status is on the ack of the lead that made it; the visitor's other sockets are
  pushed it, the socket that sent the lead is not sent it twice.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_FRAME_BYTES = 16 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
LEAD_KINDS = ("callback", "chat", "popup", "countdown")  # a quiz's lead comes from its quiz frames


class ErrorCode(enum.StrEnum):
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    TOO_LARGE = "too_large"
    HELLO_REQUIRED = "hello_required"
    INVALID_PHONE = "invalid_phone"
    INVALID_FIELD = "invalid_field"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    UNKNOWN_SITE = "unknown_site"
    DUPLICATE_ID = "duplicate_id"  # the frame (or quiz run) id belongs to another visitor of the site
    WIDGET_OFF = "widget_off"  # the callback or chat widget is switched off for the site


class FrameError(Exception):
    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        frame_id: str | None = None,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id
        self.field = field
        self.retry_after = retry_after

    def to_frame(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "id": self.frame_id, "code": self.code.value, "message": self.message}
        if self.field:
            out["field"] = self.field
        if self.retry_after is not None:
            out["retry_after"] = round(self.retry_after)
        return out


@dataclass(frozen=True)
class Hello:
    visitor: str


@dataclass(frozen=True)
class LeadFrame:
    id: str
    kind: str
    phone: str | None
    name: str | None
    email: str | None
    consent: bool
    answers: dict[str, Any]
    context: dict[str, Any]
    schedule: tuple[float, float] | None = None
    widget: str | None = None


@dataclass(frozen=True)
class QuizFrame:
    """One step of a visitor through a quiz: every answer so far, and the contact once given."""

    id: str
    quiz: str
    run: str
    n: int
    answers: dict[str, Any]
    context: dict[str, Any]
    contact: dict[str, Any] | None = None


@dataclass(frozen=True)
class CountdownFrame:
    id: str
    countdown: str


@dataclass(frozen=True)
class TrackFrame:
    id: str
    name: str
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportFrame:
    widget: str
    message: str


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class ChatFrame:
    """A chat frame (see docs/chat-protocol.md); the chat service checks its fields."""

    type: str
    id: str | None
    data: dict[str, Any]


CHAT_TYPES = ("chat_message", "chat_sync", "chat_typing", "chat_read", "chat_rating", "page")
CHAT_NEEDS_ID = ("chat_message", "chat_rating")

Frame = Hello | LeadFrame | QuizFrame | CountdownFrame | TrackFrame | ReportFrame | Ping | ChatFrame


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def clean_text(value: object, *, limit: int, field_name: str, frame_id: str | None) -> str | None:
    """Plain text as typed, minus control characters. Markup stays text: it is escaped where shown."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FrameError(ErrorCode.INVALID_FIELD, f"{field_name} must be text.", frame_id=frame_id, field=field_name)
    text = _CONTROL.sub("", value).strip()
    if len(text) > limit:
        raise FrameError(
            ErrorCode.INVALID_FIELD,
            f"{field_name.capitalize()} is too long (at most {limit} characters).",
            frame_id=frame_id,
            field=field_name,
        )
    return text or None


def _short(value: object, limit: int) -> str:
    return _CONTROL.sub("", value)[:limit] if isinstance(value, str) else ""


def _context(raw: object) -> dict[str, Any]:
    """Keep only the known keys of the page context, cut to size; unknown keys are dropped."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {
        "url": _short(raw.get("url"), 2048),
        "title": _short(raw.get("title"), 300),
        "referrer": _short(raw.get("referrer"), 2048),
        "landing": _short(raw.get("landing"), 2048),
    }
    utm = raw.get("utm")
    if isinstance(utm, dict):
        out["utm"] = {k: _short(utm[k], 200) for k in UTM_KEYS if isinstance(utm.get(k), str) and utm[k]}
    offer = raw.get("offer")
    if isinstance(offer, str) and _SLUG.match(offer):
        out["offer"] = offer  # the countdown offer the visitor acted on
    trail = raw.get("trail")
    if isinstance(trail, list):
        pages = []
        for page in trail[-50:]:
            if isinstance(page, dict) and isinstance(page.get("url"), str):
                at = page.get("at")
                pages.append(
                    {
                        "url": _short(page["url"], 2048),
                        "title": _short(page.get("title"), 300),
                        "at": float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None,
                    }
                )
        out["trail"] = pages
    return out


MAX_QUIZ_FRAMES = 500  # per run: far more than any real quiz needs


def _quiz(data: dict[str, Any], frame_id: str) -> QuizFrame:
    slug, run, n = data.get("quiz"), data.get("run"), data.get("n")
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise FrameError(ErrorCode.BAD_FRAME, "quiz needs the quiz's id.", frame_id=frame_id, field="quiz")
    if not is_valid_id(run):
        raise FrameError(
            ErrorCode.BAD_FRAME, "quiz needs a run id of 8-64 letters, digits, '-' or '_'.", frame_id=frame_id
        )
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_QUIZ_FRAMES:
        raise FrameError(
            ErrorCode.BAD_FRAME, f"quiz needs n, a frame counter from 1 to {MAX_QUIZ_FRAMES}.", frame_id=frame_id
        )
    answers = data.get("answers") or {}
    if not isinstance(answers, dict) or len(answers) > 60:
        raise FrameError(ErrorCode.BAD_FRAME, "answers must be an object of at most 60 answers.", frame_id=frame_id)
    contact = data.get("contact")
    if contact is not None and not isinstance(contact, dict):
        raise FrameError(ErrorCode.BAD_FRAME, "contact must be an object.", frame_id=frame_id, field="contact")
    return QuizFrame(
        id=frame_id,
        quiz=slug,
        run=str(run),
        n=n,
        answers=answers,
        context=_context(data.get("context")),
        contact=contact,
    )


# -- bench (#10): the text of an outgoing frame, as Starlette's send_json writes it, from one encoder made
# once (json.dumps with options builds a new encoder per call; a lead's answers are two frames). --
encode: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def decode(raw: str | bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any]:
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise FrameError(ErrorCode.TOO_LARGE, f"Frame is {size} bytes; the limit is {max_bytes}.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise FrameError(ErrorCode.BAD_JSON, "Frame is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise FrameError(ErrorCode.BAD_FRAME, "Frame must be a JSON object.")
    return data


def parse(data: dict[str, Any]) -> Frame:
    """Turn a decoded frame into a typed one, or raise :class:`FrameError` saying what is wrong."""
    kind = data.get("type")
    raw_id = data.get("id")
    frame_id = raw_id if is_valid_id(raw_id) else None
    if kind == "hello":
        visitor = data.get("visitor")
        if not is_valid_id(visitor):
            raise FrameError(ErrorCode.BAD_FRAME, "hello needs a visitor id of 8-64 letters, digits, '-' or '_'.")
        return Hello(visitor=str(visitor))
    if kind == "ping":
        return Ping()
    if kind == "report":
        return ReportFrame(widget=_short(data.get("widget"), 40), message=_short(data.get("message"), 500))
    if kind in CHAT_TYPES:
        if kind in CHAT_NEEDS_ID and frame_id is None:
            raise FrameError(ErrorCode.BAD_FRAME, f"A {kind} frame needs an id of 8-64 letters, digits, '-' or '_'.")
        return ChatFrame(type=str(kind), id=frame_id, data=data)
    if kind not in ("lead", "track", "quiz", "countdown"):
        raise FrameError(ErrorCode.UNKNOWN_TYPE, f"Unknown frame type {str(kind)[:40]!r}.", frame_id=frame_id)
    if frame_id is None:
        raise FrameError(ErrorCode.BAD_FRAME, f"A {kind} frame needs an id of 8-64 letters, digits, '-' or '_'.")
    if kind == "track":
        name = clean_text(data.get("name"), limit=100, field_name="name", frame_id=frame_id)
        if not name:
            raise FrameError(ErrorCode.BAD_FRAME, "track needs an event name.", frame_id=frame_id, field="name")
        props = data.get("props") or {}
        if not isinstance(props, dict):
            raise FrameError(ErrorCode.BAD_FRAME, "track props must be an object.", frame_id=frame_id, field="props")
        return TrackFrame(id=frame_id, name=name, props=props)
    if kind == "quiz":
        return _quiz(data, frame_id)
    if kind == "countdown":
        slug = data.get("countdown")
        if not isinstance(slug, str) or not _SLUG.match(slug):
            raise FrameError(ErrorCode.BAD_FRAME, "countdown needs the countdown's id.", frame_id=frame_id)
        return CountdownFrame(id=frame_id, countdown=slug)

    lead_kind = data.get("kind")
    if lead_kind not in LEAD_KINDS:
        raise FrameError(
            ErrorCode.BAD_FRAME, f"Lead kind must be one of {', '.join(LEAD_KINDS)}.", frame_id=frame_id, field="kind"
        )
    phone = clean_text(data.get("phone"), limit=40, field_name="phone", frame_id=frame_id)
    email = clean_text(data.get("email"), limit=254, field_name="email", frame_id=frame_id)
    if email is not None and not _EMAIL.match(email):
        raise FrameError(
            ErrorCode.INVALID_FIELD, "That email address doesn't look right.", frame_id=frame_id, field="email"
        )
    answers = data.get("answers") or {}
    if not isinstance(answers, dict):
        raise FrameError(ErrorCode.BAD_FRAME, "answers must be an object.", frame_id=frame_id, field="answers")
    schedule = None
    raw_schedule = data.get("schedule")
    if raw_schedule is not None:
        start = raw_schedule.get("start") if isinstance(raw_schedule, dict) else None
        end = raw_schedule.get("end") if isinstance(raw_schedule, dict) else None
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (start, end)):
            raise FrameError(
                ErrorCode.INVALID_FIELD, "Please pick a time for the call.", frame_id=frame_id, field="schedule"
            )
        schedule = (float(start) / 1000, float(end) / 1000)  # type: ignore[arg-type]
    widget = data.get("widget")
    if widget is not None and (not isinstance(widget, str) or not _SLUG.match(widget)):
        raise FrameError(ErrorCode.BAD_FRAME, "widget must be a widget's id.", frame_id=frame_id, field="widget")
    return LeadFrame(
        id=frame_id,
        widget=widget,
        schedule=schedule,
        kind=str(lead_kind),
        phone=phone,
        name=clean_text(data.get("name"), limit=100, field_name="name", frame_id=frame_id),
        email=email,
        consent=data.get("consent") is True,
        answers=answers,
        context=_context(data.get("context")),
    )
