"""What a visitor frame does: validate, store durably, tell managers, answer.

Shared by the WebSocket endpoint and the HTTP fallback so both behave alike.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from server.chat import ChatService
from server.countdown import CountdownInvalid, Mode, deadline
from server.feed import lead_summary
from server.hub import Hub, Subscription, site_channel
from server.models import Actor, EventRecord, Lead, LeadStatus, NewLead, QuizSave, Site, Widget
from server.phones import InvalidPhone, normalise_phone
from server.protocol import (
    _EMAIL,
    ChatFrame,
    CountdownFrame,
    ErrorCode,
    Frame,
    FrameError,
    Hello,
    LeadFrame,
    Ping,
    QuizFrame,
    ReportFrame,
    TrackFrame,
    clean_text,
)
from server.quiz.definition import bonus_of, contact_step
from server.quiz.scoring import AnswerInvalid, Outcome, quiz_view, score, summary
from server.ratelimit import SlidingWindow
from server.routing import Router
from server.settings import Settings
from server.store import FrameTaken, Store, StoreUnavailable

log = logging.getLogger("beckon.ingest")

TOO_FAST = "You're sending requests too quickly. Please wait a little and try again."
STORE_DOWN = "We couldn't save that just now. It will be sent again automatically."
TAKEN = "This request id was already used. Please send your request again."
SWITCHED_OFF = {
    "callback": "Call requests are switched off on this site right now.",
    "chat": "Chat is switched off on this site right now.",
}
PREVIEW_ONLY = "This is the dashboard's preview: nothing sent from it is stored or reaches the managers."
PREVIEW_LEAD = "preview"  # the lead ref a previewed quiz gets: there is no lead


@dataclass
class VisitorSession:
    site: Site
    ip: str
    user_agent: str
    visitor: str | None = None
    # The dashboard's countdown preview (key preview-<token>): answered from this draft, nothing stored.
    draft: Widget | None = None
    # -- bench (#10): the socket's live feed (set by its status pump): a new lead's ack already carries
    # the callback's status, so the same status isn't pushed to this socket as well. --
    feed: Subscription | None = None


def lead_source(context: dict[str, Any]) -> str:
    utm = context.get("utm") or {}
    if utm.get("utm_source"):
        return utm["utm_source"]
    referrer = context.get("referrer") or ""
    ref_host = urlsplit(referrer).hostname or ""
    page_host = urlsplit(context.get("landing") or context.get("url") or "").hostname or ""
    if ref_host and ref_host != page_host:
        return ref_host
    return "direct"


class Ingest:
    def __init__(self, store: Store, hub: Hub, router: Router, chat: ChatService, settings: Settings) -> None:
        self.store = store
        self.hub = hub
        self.router = router
        self.chat = chat
        self.leads_per_ip = SlidingWindow(settings.lead_limit_per_ip, settings.lead_limit_window)
        self.leads_per_visitor = SlidingWindow(settings.lead_limit_per_visitor, settings.lead_limit_window)

    async def handle(self, session: VisitorSession, frame: Frame) -> dict[str, Any] | list[dict[str, Any]] | None:
        """Apply one parsed frame; returns the reply frame, if any. Raises FrameError for the client."""
        if isinstance(frame, Ping):
            return {"type": "pong"}
        if isinstance(frame, Hello):
            session.visitor = frame.visitor
            return None
        if isinstance(frame, ReportFrame):
            log.warning("widget %r broke on site %s: %s", frame.widget, session.site.key, frame.message)
            return None
        if session.visitor is None:
            raise FrameError(
                ErrorCode.HELLO_REQUIRED,
                "Send hello with your visitor id first.",
                frame_id=getattr(frame, "id", None),
            )
        if session.draft is not None:
            if isinstance(frame, CountdownFrame):
                return await self._countdown(session, frame)
            if isinstance(frame, QuizFrame) and session.draft.kind == "quiz" and frame.quiz == session.draft.slug:
                # The editor's preview of a quiz draft: the result the draft gives, and nothing stored.
                *_, results = await self._scored(session.site, session.draft.config, frame)
                return {"type": "ack", "id": frame.id, "lead": PREVIEW_LEAD, "quiz": quiz_view(results)}
            raise FrameError(ErrorCode.BAD_FRAME, PREVIEW_ONLY, frame_id=getattr(frame, "id", None))
        try:
            if isinstance(frame, LeadFrame):
                return await self._lead(session, frame)
            if isinstance(frame, QuizFrame):
                return await self._quiz(session, frame)
            if isinstance(frame, CountdownFrame):
                return await self._countdown(session, frame)
            if isinstance(frame, ChatFrame):
                return await self._chat(session, frame)
            if isinstance(frame, TrackFrame):
                await self.store.record_visitor_event(
                    site_id=session.site.id,
                    visitor_key=session.visitor,
                    client_frame_id=frame.id,
                    name=frame.name,
                    props=frame.props,
                )
                return {"type": "ack", "id": frame.id}
        except StoreUnavailable as exc:
            log.error("refused frame %s on site %s: %s", frame.id, session.site.key, exc)
            raise FrameError(ErrorCode.UNAVAILABLE, STORE_DOWN, frame_id=frame.id, retry_after=5) from exc
        except FrameTaken as exc:  # the store's own check, when two visitors raced with one id
            raise FrameError(ErrorCode.DUPLICATE_ID, TAKEN, frame_id=frame.id) from exc
        raise FrameError(ErrorCode.UNKNOWN_TYPE, "Unknown frame type.")

    async def _chat(self, session: VisitorSession, frame: ChatFrame) -> dict[str, Any] | list[dict[str, Any]] | None:
        assert session.visitor is not None
        site, data = session.site, frame.data
        if frame.type == "chat_message":
            assert frame.id is not None
            await self._switched_on(site, "chat", frame.id)
            contact = await self._contact(site, frame.id, data)
            return await self.chat.visitor_message(
                site, session.visitor, frame.id, data.get("text"), contact, session.user_agent[:400]
            )
        if frame.type == "chat_sync":
            return await self.chat.visitor_sync(site, session.visitor, data.get("conversation"), data.get("since"))
        if frame.type == "chat_typing":
            await self.chat.visitor_typing(site, session.visitor, data.get("on") is True)
        elif frame.type == "chat_read":
            await self.chat.visitor_read(site, session.visitor, data.get("conversation"), data.get("seq"))
        elif frame.type == "page":
            url = clean_text(data.get("url"), limit=2048, field_name="url", frame_id=None) or ""
            title = clean_text(data.get("title"), limit=300, field_name="title", frame_id=None) or ""
            await self.chat.visitor_page(site, session.visitor, url, title)
        elif frame.type == "chat_rating":
            assert frame.id is not None
            return await self.chat.visitor_rating(
                site, session.visitor, frame.id, data.get("conversation"), data.get("score"), data.get("comment")
            )
        return None

    async def _contact(self, site: Site, frame_id: str, data: dict[str, Any]) -> dict[str, str | None]:
        """Pre-chat form fields, checked like a lead's."""
        name = clean_text(data.get("name"), limit=100, field_name="name", frame_id=frame_id)
        email = clean_text(data.get("email"), limit=254, field_name="email", frame_id=frame_id)
        if email is not None and not _EMAIL.match(email):
            raise FrameError(
                ErrorCode.INVALID_FIELD, "That email address doesn't look right.", frame_id=frame_id, field="email"
            )
        raw_phone = clean_text(data.get("phone"), limit=40, field_name="phone", frame_id=frame_id)
        phone = None
        if raw_phone:
            try:
                phone = normalise_phone(raw_phone, site.settings.get("phone_region", "US"))
            except InvalidPhone as exc:
                raise FrameError(ErrorCode.INVALID_PHONE, str(exc), frame_id=frame_id, field="phone") from exc
        return {"name": name, "email": email, "phone": phone}

    async def _lead(self, session: VisitorSession, frame: LeadFrame) -> dict[str, Any]:
        assert session.visitor is not None
        site = session.site
        # A re-sent frame is answered with its first ack, before any limit applies; only to its own visitor.
        known = await self.store.lead_by_frame(site.id, frame.id)
        if known is not None:
            await self._own_frame(session, frame.id)
            return await self._ack(frame.id, known)
        if frame.kind in SWITCHED_OFF:
            await self._switched_on(site, frame.kind, frame.id)
        popup = await self._popup(site, frame) if frame.kind == "popup" else None
        if frame.kind == "callback" and site.settings.get("require_consent") and not frame.consent:
            raise FrameError(
                ErrorCode.INVALID_FIELD,
                "Please agree to be contacted about your request.",
                frame_id=frame.id,
                field="consent",
            )
        if frame.schedule is not None and not self.router.validate_schedule(site, *frame.schedule):
            raise FrameError(
                ErrorCode.INVALID_FIELD,
                "That time is no longer available. Please pick another one.",
                frame_id=frame.id,
                field="schedule",
            )

        phone = None
        if frame.phone is not None:
            try:
                phone = normalise_phone(frame.phone, site.settings.get("phone_region", "US"))
            except InvalidPhone as exc:
                raise FrameError(ErrorCode.INVALID_PHONE, str(exc), frame_id=frame.id, field="phone") from exc
        elif frame.kind == "callback":
            raise FrameError(
                ErrorCode.INVALID_PHONE, "Please enter your phone number.", frame_id=frame.id, field="phone"
            )
        if popup is not None and site.settings.get("require_consent") and not frame.consent:
            raise FrameError(
                ErrorCode.INVALID_FIELD,
                "Please agree to be contacted about your request.",
                frame_id=frame.id,
                field="consent",
            )
        if phone is None and frame.email is None and frame.kind in ("callback", "popup"):
            raise FrameError(ErrorCode.INVALID_FIELD, "Please leave a phone number or an email.", frame_id=frame.id)

        self._limit(session, frame.id)

        plan, events = (
            await self.router.plan(site, session.visitor, frame.schedule) if frame.kind == "callback" else (None, [])
        )
        lead, created, callback = await self.store.create_lead_and_callback(
            NewLead(
                site_id=site.id,
                visitor_key=session.visitor,
                kind=frame.kind,
                client_frame_id=frame.id,
                phone=phone,
                name=frame.name,
                email=frame.email,
                answers=popup or frame.answers,
                context=frame.context,
                user_agent=session.user_agent[:400],
                source=lead_source(frame.context),
            ),
            callback=plan,
            events=events,
        )
        if created:
            self.hub.publish(site_channel(site.id), lead_summary(lead))
            # What the caller holds already is passed on, not read again.
            status = await self.router.created(lead, site, session.visitor, session.feed, callback)
            ack = {"type": "ack", "id": frame.id, "lead": lead.ref} | ({"callback": status} if status else {})
            return ack | ({"bonus": lead.answers["bonus"]} if lead.answers.get("bonus") else {})
        await self._own_frame(session, frame.id)  # another visitor stored this id a moment ago
        return await self._ack(frame.id, lead)

    async def _switched_on(self, site: Site, kind: str, frame_id: str) -> None:
        """Refuse a callback or chat that the owner switched off (a site without the widget's row takes them)."""
        if await self.store.widget_enabled(site.id, kind) is False:
            raise FrameError(ErrorCode.WIDGET_OFF, SWITCHED_OFF[kind], frame_id=frame_id)

    async def _own_frame(self, session: VisitorSession, frame_id: str, run: str | None = None) -> None:
        """Refuse a client frame id (or quiz run id) that another visitor of the site stored: its ack
        would tell them the other's lead and callback. Ids are unique per site, so it can't be stored anew."""
        owner = await self.store.frame_owner(session.site.id, run or frame_id)
        if owner is not None and owner != session.visitor:
            raise FrameError(ErrorCode.DUPLICATE_ID, TAKEN, frame_id=frame_id)

    async def _popup(self, site: Site, frame: LeadFrame) -> dict[str, Any]:
        """The popup a submit came from: its title and its bonus are kept on the lead."""
        widget = await self.store.get_widget(site.id, "popup", frame.widget) if frame.widget else None
        if widget is None or not widget.enabled:
            raise FrameError(
                ErrorCode.INVALID_FIELD, "This offer is no longer available.", frame_id=frame.id, field="widget"
            )
        return {
            "popup": widget.slug,
            "title": str(widget.config.get("title", ""))[:200],
            "bonus": bonus_of(widget.config),
        }

    async def _countdown(self, session: VisitorSession, frame: CountdownFrame) -> dict[str, Any]:
        """The deadline this visitor sees, by the server's clock; an evergreen one is fixed on first ask."""
        assert session.visitor is not None
        site, draft = session.site, session.draft
        if draft is not None:
            widget = draft if draft.slug == frame.countdown else None
        else:
            widget = await self.store.get_widget(site.id, "countdown", frame.countdown)
        if widget is None or not widget.enabled:
            raise FrameError(
                ErrorCode.INVALID_FIELD, "This offer is no longer available.", frame_id=frame.id, field="countdown"
            )
        config, now = widget.config, time.time()
        try:
            started = None
            if config.get("mode") == Mode.EVERGREEN:
                seconds = float(config["minutes"]) * 60
                if draft is None:
                    started = await self.store.evergreen_deadline(site.id, session.visitor, widget.slug, now, seconds)
                    started -= seconds
                else:  # a preview: as a visitor who first sees it now; no start is stored
                    started = now
            due = deadline(config, site.timezone, now, started)
        except (CountdownInvalid, KeyError, ValueError, TypeError) as exc:
            log.error("countdown %s on site %s is broken: %s", widget.slug, site.key, exc)
            raise FrameError(
                ErrorCode.INVALID_FIELD, "This offer is no longer available.", frame_id=frame.id, field="countdown"
            ) from exc
        info: dict[str, Any] = {
            "slug": widget.slug,
            "mode": config["mode"],
            "deadline": int(due.at * 1000),
            "server_time": int(now * 1000),
            "expired": due.at <= now,
        }
        if due.following is not None:
            info["next_deadline"] = int(due.following * 1000)
        return {"type": "ack", "id": frame.id, "countdown": info}

    async def _quiz(self, session: VisitorSession, frame: QuizFrame) -> dict[str, Any]:
        """A step through a quiz: the run's lead is stored partial from the first answer, and
        routed like a callback once the contact arrives. Results are the server's own."""
        assert session.visitor is not None
        site = session.site
        widget = await self.store.get_widget(site.id, "quiz", frame.quiz)
        if widget is None or not widget.enabled:
            raise FrameError(
                ErrorCode.INVALID_FIELD, "This quiz is no longer available.", frame_id=frame.id, field="quiz"
            )
        quiz = widget.config
        contact, outcome, results = await self._scored(site, quiz, frame)
        known = await self.store.lead_by_frame(site.id, frame.run)
        if known is not None:
            await self._own_frame(session, frame.id, run=frame.run)  # a run belongs to its visitor
        if known is None:
            self._limit(session, frame.id)
        phone = contact["phone"] if contact else None
        completing = contact is not None and (known is None or known.status is LeadStatus.PARTIAL)
        # Only the frame that completes the run is routed: planning has effects (round-robin turn).
        plan, events = await self.router.plan(site, session.visitor, None) if completing and phone else (None, [])
        done = EventRecord("quiz_completed", Actor.VISITOR, data={"quiz": results["title"], "all": outcome.complete})
        events = [done, *events]
        lead, change = await self.store.save_quiz_run(
            NewLead(
                site_id=site.id,
                visitor_key=session.visitor,
                kind="quiz",
                client_frame_id=frame.run,
                phone=phone,
                name=contact["name"] if contact else None,
                email=contact["email"] if contact else None,
                answers=results,
                context=frame.context,
                user_agent=session.user_agent[:400],
                source=lead_source(frame.context),
            ),
            n=frame.n,
            callback=plan,
            events=events,
        )
        if change is QuizSave.CREATED or change is QuizSave.COMPLETED:
            self.hub.publish(site_channel(site.id), lead_summary(lead))
        if change is QuizSave.COMPLETED:
            await self.router.created(lead)
        return await self._ack(frame.id, lead)

    async def _scored(
        self, site: Site, quiz: dict[str, Any], frame: QuizFrame
    ) -> tuple[dict[str, Any] | None, Outcome, dict[str, Any]]:
        """The run's contact (checked), the server's own outcome of its answers, and their summary."""
        contact = None
        if frame.contact is not None:
            contact = await self._contact(site, frame.id, frame.contact)
            self._check_quiz_contact(site, quiz, frame, contact)
        try:
            outcome = score(quiz, frame.answers, contact=contact is not None)
        except AnswerInvalid as exc:
            message = exc.message[:1].upper() + exc.message[1:] + "."
            raise FrameError(ErrorCode.INVALID_FIELD, message, frame_id=frame.id, field=exc.step) from exc
        if contact is not None and not outcome.contact_reached:
            missing = next(s for s in quiz["steps"] if s["id"] == outcome.next_step)
            raise FrameError(
                ErrorCode.INVALID_FIELD,
                f"Please answer “{missing.get('question', missing['id'])}” first.",
                frame_id=frame.id,
                field=outcome.next_step,
            )
        return contact, outcome, summary(quiz, frame.quiz, frame.answers, outcome, site.locale)

    @staticmethod
    def _check_quiz_contact(site: Site, quiz: dict[str, Any], frame: QuizFrame, contact: dict[str, Any]) -> None:
        step = contact_step(quiz)
        needed = step.get("required", [f for f in ("phone", "email") if f in step.get("fields", ["phone"])][:1])
        for name in needed:
            if not contact.get(name):
                what = {"phone": "your phone number", "email": "your email", "name": "your name"}[name]
                raise FrameError(ErrorCode.INVALID_FIELD, f"Please enter {what}.", frame_id=frame.id, field=name)
        if not (contact["phone"] or contact["email"]):
            raise FrameError(ErrorCode.INVALID_FIELD, "Please leave a phone number or an email.", frame_id=frame.id)
        if site.settings.get("require_consent") and frame.contact and frame.contact.get("consent") is not True:
            raise FrameError(
                ErrorCode.INVALID_FIELD,
                "Please agree to be contacted about your request.",
                frame_id=frame.id,
                field="consent",
            )

    def _limit(self, session: VisitorSession, frame_id: str) -> None:
        assert session.visitor is not None
        for limiter, key in (
            (self.leads_per_ip, f"{session.site.id}:{session.ip}"),
            (self.leads_per_visitor, session.visitor),
        ):
            wait = limiter.hit(key)
            if wait:
                raise FrameError(ErrorCode.RATE_LIMITED, TOO_FAST, frame_id=frame_id, retry_after=wait)

    async def _ack(self, frame_id: str, lead: Lead) -> dict[str, Any]:
        ack: dict[str, Any] = {"type": "ack", "id": frame_id, "lead": lead.ref}
        if lead.kind == "quiz":
            ack["quiz"] = quiz_view(lead.answers)
        elif lead.answers.get("bonus"):
            ack["bonus"] = lead.answers["bonus"]
        callback = await self.store.get_callback(lead.id)
        if callback is not None:
            ack["callback"] = await self.router.visitor_status(lead.ref, callback)
        return ack
