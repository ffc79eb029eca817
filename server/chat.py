"""Live chat: what visitor and manager chat frames do, and who is told.

Who is offered or assigned a new conversation is a routing decision
(``Router.chat_offer``); this module stores messages with their per-conversation
``seq`` and fans them out: to every tab of the visitor (their hub channel) and to
the managers of the site.
"""

from __future__ import annotations

import time
from typing import Any

from server.feed import lead_summary
from server.hub import Hub, site_channel
from server.models import Conversation, ConversationState, Message, NewLead, Site, User
from server.protocol import ErrorCode, FrameError, clean_text
from server.quiz.scoring import quiz_answers
from server.ratelimit import SlidingWindow
from server.routing import Router, visitor_channel
from server.settings import Settings
from server.store import Store

MAX_MESSAGE = 4000
TOO_FAST = "You're sending messages too quickly. Please wait a moment."
RESEND_LOOKBACK = 200  # how far back a re-sent message is looked for when the visitor is at the limit


class ChatError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def message_frame(conversation: Conversation, message: Message, *, seconds: bool) -> dict[str, Any]:
    name = message.author_name if message.author == "manager" else ""
    frame = {
        "type": "chat_message",
        "conversation": conversation.ref,
        "seq": message.seq,
        "author": message.author,
        "name": name.split()[0] if name else "",
        "text": message.body,
        "at": message.created_at if seconds else int(message.created_at * 1000),
    }
    if seconds:  # managers' side: who exactly wrote it
        frame["author_id"] = message.user_id
    return frame


class ChatService:
    def __init__(self, store: Store, hub: Hub, router: Router, settings: Settings) -> None:
        self.store = store
        self.hub = hub
        self.router = router
        self.per_visitor = SlidingWindow(settings.chat_per_minute, 60)

    # -- what the visitor is told ----------------------------------------------

    async def visitor_state(self, site: Site, visitor_key: str) -> dict[str, Any] | None:
        conversation = await self.store.visitor_conversation(site.id, visitor_key)
        available = bool(await self.router.candidates(site, time.time()))
        if conversation is None:
            return None
        manager = await self.store.get_user(conversation.assignee_id) if conversation.assignee_id else None
        return {
            "type": "chat_state",
            "conversation": conversation.ref,
            "state": conversation.state.value,
            "manager": {"name": manager.name.split()[0], "photo": manager.photo} if manager else None,
            "last_seq": conversation.last_seq,
            "read_seq": conversation.manager_read_seq,
            "available": available,
            "rating": conversation.rating,
        }

    async def _tell_visitor(self, conversation: Conversation, frame: dict[str, Any]) -> None:
        visitor = await self.store.get_visitor(conversation.visitor_id)
        if visitor is not None:
            self.hub.publish(visitor_channel(conversation.site_id, visitor.visitor_key), frame)

    async def _tell_managers(self, conversation: Conversation, frame: dict[str, Any]) -> None:
        self.hub.publish(site_channel(conversation.site_id), frame)

    async def card(self, conversation: Conversation) -> dict[str, Any]:
        """The conversation as the inbox shows it, with the visitor's context beside it."""
        assignee = await self.store.get_user(conversation.assignee_id) if conversation.assignee_id else None
        visitor = await self.store.get_visitor(conversation.visitor_id)
        site = await self.store.get_site(conversation.site_id)
        last = await self.store.messages_since(conversation.id, max(0, conversation.last_seq - 1), limit=1)
        previous = []
        answers: dict[str, str] = {}
        lead = await self.store.get_lead_by_id(conversation.lead_id) if conversation.lead_id else None
        if visitor is not None:
            for other in await self.store.visitor_leads(visitor.id):
                if other.kind == "quiz" and not answers:  # the newest quiz this visitor took
                    answers = quiz_answers(other.answers)
                if other.id != conversation.lead_id:
                    previous.append(
                        {
                            "ref": other.ref,
                            "kind": other.kind,
                            "created_at": other.created_at,
                            "status": other.status.value,
                        }
                    )
        members = await self.store.site_members(conversation.site_id) if site else []
        return {
            "type": "conversation",
            "conversation": conversation.ref,
            "state": conversation.state.value,
            "assignee": {"id": assignee.id, "name": assignee.name} if assignee else None,
            "offered_to": conversation.offered_to,
            "visitor": {
                "name": conversation.visitor_name or "",
                "email": conversation.visitor_email or "",
                "phone": conversation.visitor_phone or "",
            },
            "site": site.name if site else "",
            "site_id": conversation.site_id,
            "last_seq": conversation.last_seq,
            "unread": max(0, conversation.last_seq - conversation.manager_read_seq),
            "visitor_read_seq": conversation.visitor_read_seq,
            "preview": last[0].body[:140] if last else "",
            "updated_at": conversation.updated_at,
            "rating": conversation.rating,
            "lead": lead.ref if lead else None,
            "managers": [{"id": u.id, "name": u.name} for u in members],
            "context": {
                "page": conversation.current_page,
                "trail": visitor.page_trail if visitor else [],
                "source": lead.source if lead else "",
                "utm": visitor.utm if visitor else {},
                "device": visitor.user_agent if visitor else "",
                "previous": previous,
                "answers": answers,
            },
        }

    async def _changed(self, conversation: Conversation) -> None:
        await self._tell_managers(conversation, await self.card(conversation))

    # -- visitor frames ----------------------------------------------------------

    async def visitor_message(
        self,
        site: Site,
        visitor_key: str,
        frame_id: str,
        raw_text: object,
        contact: dict[str, str | None],
        user_agent: str,
    ) -> dict[str, Any]:
        text = clean_text(raw_text, limit=MAX_MESSAGE, field_name="text", frame_id=frame_id)
        if not text:
            raise FrameError(ErrorCode.BAD_FRAME, "A message needs some text.", frame_id=frame_id, field="text")
        wait = self.per_visitor.hit(f"{site.id}:{visitor_key}")
        if wait:
            # A re-sent frame (its ack lost with a dropped socket) stores nothing: it gets its ack, not a refusal.
            stored = await self._stored_ack(site, visitor_key, frame_id)
            if stored is not None:
                return stored
            raise FrameError(ErrorCode.RATE_LIMITED, TOO_FAST, frame_id=frame_id, retry_after=wait)
        existing = await self.store.visitor_conversation(site.id, visitor_key)
        offered, assignee = ([], None)
        if existing is None or existing.state is ConversationState.CLOSED:
            offered, assignee = await self.router.chat_offer(site, visitor_key)
        conversation, message, created = await self.store.add_visitor_message(
            site_id=site.id,
            visitor_key=visitor_key,
            frame_id=frame_id,
            text=text,
            contact=contact,
            offered_to=offered,
            assignee_id=assignee,
            user_agent=user_agent,
            context={},
        )
        # Also for a re-sent frame: a server killed between the message and its lead left no lead.
        if conversation.lead_id is None and (conversation.visitor_phone or conversation.visitor_email):
            conversation = await self._make_lead(site, visitor_key, conversation, frame_id, user_agent)
        if created:
            frame = message_frame(conversation, message, seconds=False)
            await self._tell_visitor(conversation, frame)
            await self._tell_managers(conversation, message_frame(conversation, message, seconds=True))
            await self._changed(conversation)
        return {"type": "ack", "id": frame_id, "conversation": conversation.ref, "seq": message.seq}

    async def _stored_ack(self, site: Site, visitor_key: str, frame_id: str) -> dict[str, Any] | None:
        """The ack of this visitor's message ``frame_id`` if it is already stored (recent messages only)."""
        conversation = await self.store.visitor_conversation(site.id, visitor_key)
        if conversation is None:
            return None
        since = max(0, conversation.last_seq - RESEND_LOOKBACK)
        for message in await self.store.messages_since(conversation.id, since, limit=RESEND_LOOKBACK):
            if message.client_frame_id == frame_id:
                return {"type": "ack", "id": frame_id, "conversation": conversation.ref, "seq": message.seq}
        return None

    async def _make_lead(
        self, site: Site, visitor_key: str, conversation: Conversation, frame_id: str, user_agent: str
    ) -> Conversation:
        """A chat with contact details is a lead, so it is in the CRM and never lost."""
        lead, created = await self.store.create_lead(
            NewLead(
                site_id=site.id,
                visitor_key=visitor_key,
                kind="chat",
                client_frame_id=f"chat-{frame_id}"[:64],
                phone=conversation.visitor_phone,
                name=conversation.visitor_name,
                email=conversation.visitor_email,
                answers={"conversation": conversation.ref},
                context=conversation.current_page,
                user_agent=user_agent,
                source="chat",
            )
        )
        if created:
            self.hub.publish(site_channel(site.id), lead_summary(lead))
        return await self.store.update_conversation(conversation.id, lead_id=lead.id)

    async def _visitor_conversation(self, site: Site, visitor_key: str, ref: object) -> Conversation:
        conversation = await self.store.get_conversation(str(ref)) if isinstance(ref, str) else None
        visitor = await self.store.get_visitor(conversation.visitor_id) if conversation else None
        if conversation is None or visitor is None or visitor.site_id != site.id or visitor.visitor_key != visitor_key:
            raise FrameError(ErrorCode.BAD_FRAME, "No such conversation.", field="conversation")
        return conversation

    async def visitor_sync(self, site: Site, visitor_key: str, ref: object, since: object) -> list[dict[str, Any]]:
        conversation = await self._visitor_conversation(site, visitor_key, ref)
        start = since if isinstance(since, int) and since >= 0 else 0
        frames = [
            message_frame(conversation, m, seconds=False)
            for m in await self.store.messages_since(conversation.id, start)
        ]
        state = await self.visitor_state(site, visitor_key)
        return frames + ([state] if state else [])

    async def visitor_typing(self, site: Site, visitor_key: str, on: bool) -> None:
        conversation = await self.store.visitor_conversation(site.id, visitor_key)
        if conversation is not None and conversation.state is ConversationState.OPEN:
            await self._tell_managers(conversation, {"type": "chat_typing", "conversation": conversation.ref, "on": on})

    async def visitor_read(self, site: Site, visitor_key: str, ref: object, seq: object) -> None:
        conversation = await self._visitor_conversation(site, visitor_key, ref)
        if isinstance(seq, int) and await self.store.mark_read(conversation.id, "visitor", seq):
            await self._tell_managers(
                conversation,
                {"type": "chat_read", "conversation": conversation.ref, "seq": min(seq, conversation.last_seq)},
            )

    async def visitor_page(self, site: Site, visitor_key: str, url: str, title: str) -> None:
        conversation = await self.store.visitor_conversation(site.id, visitor_key)
        if conversation is None or conversation.state is not ConversationState.OPEN:
            return
        await self.store.update_conversation(conversation.id, current_page={"url": url, "title": title})
        await self._tell_managers(
            conversation, {"type": "visitor_page", "conversation": conversation.ref, "url": url, "title": title}
        )

    async def visitor_rating(
        self, site: Site, visitor_key: str, frame_id: str, ref: object, score: object, comment: object
    ) -> dict[str, Any]:
        conversation = await self._visitor_conversation(site, visitor_key, ref)
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise FrameError(ErrorCode.INVALID_FIELD, "Pick one of the five faces.", frame_id=frame_id, field="score")
        note = clean_text(comment, limit=1000, field_name="comment", frame_id=frame_id)
        if conversation.rating is None:
            conversation = await self.store.update_conversation(conversation.id, rating=score, rating_comment=note)
            await self._changed(conversation)
        return {"type": "ack", "id": frame_id}

    # -- manager frames ------------------------------------------------------------

    async def _managed(self, user: User, ref: object) -> Conversation:
        conversation = await self.store.get_conversation(str(ref)) if isinstance(ref, str) else None
        site_ids = {s.id for s in await self.store.user_sites(user.id)}
        if conversation is None or conversation.site_id not in site_ids:
            raise ChatError("not_found", "There is no such conversation among your sites.")
        return conversation

    async def reply(self, user: User, ref: object, frame_id: str, raw_text: object) -> dict[str, Any]:
        conversation = await self._managed(user, ref)
        try:
            text = clean_text(raw_text, limit=MAX_MESSAGE, field_name="text", frame_id=frame_id)
        except FrameError as exc:
            raise ChatError("bad_frame", exc.message) from exc
        if not text:
            raise ChatError("bad_frame", "Write something first.")
        conversation, message, created = await self.store.add_manager_message(conversation.id, user.id, text, frame_id)
        if created:
            await self._tell_visitor(conversation, message_frame(conversation, message, seconds=False))
            await self._tell_managers(conversation, message_frame(conversation, message, seconds=True))
            await self._changed(conversation)
            await self._tell_visitor_state(conversation)
        return {"type": "ack", "id": frame_id, "seq": message.seq}

    async def _tell_visitor_state(self, conversation: Conversation) -> None:
        site = await self.store.get_site(conversation.site_id)
        visitor = await self.store.get_visitor(conversation.visitor_id)
        if site and visitor:
            state = await self.visitor_state(site, visitor.visitor_key)
            if state:
                await self._tell_visitor(conversation, state)

    async def manager_sync(self, user: User, ref: object, since: object) -> list[dict[str, Any]]:
        conversation = await self._managed(user, ref)
        start = since if isinstance(since, int) and since >= 0 else 0
        return [
            message_frame(conversation, m, seconds=True)
            for m in await self.store.messages_since(conversation.id, start)
        ]

    async def manager_typing(self, user: User, ref: object, on: bool) -> None:
        conversation = await self._managed(user, ref)
        await self._tell_visitor(
            conversation,
            {"type": "chat_typing", "conversation": conversation.ref, "on": on, "name": user.name.split()[0]},
        )

    async def manager_read(self, user: User, ref: object, seq: object) -> None:
        conversation = await self._managed(user, ref)
        if isinstance(seq, int) and await self.store.mark_read(conversation.id, "manager", seq):
            await self._tell_visitor(conversation, {"type": "chat_read", "conversation": conversation.ref, "seq": seq})
            await self._changed(await self._managed(user, ref))

    async def set_state(self, user: User, ref: object, state: ConversationState) -> None:
        conversation = await self._managed(user, ref)
        if conversation.state is state:
            return
        closed_at = time.time() if state is ConversationState.CLOSED else None
        conversation = await self.store.update_conversation(conversation.id, state=state, closed_at=closed_at)
        verb = "closed" if state is ConversationState.CLOSED else "reopened"
        message = await self.store.add_system_message(
            conversation.id, f"{user.name.split()[0]} {verb} the conversation"
        )
        conversation = await self.store.get_conversation(conversation.ref) or conversation
        await self._tell_visitor(conversation, message_frame(conversation, message, seconds=False))
        await self._tell_managers(conversation, message_frame(conversation, message, seconds=True))
        await self._changed(conversation)
        await self._tell_visitor_state(conversation)

    async def transfer(self, user: User, ref: object, to: object, note: object) -> None:
        conversation = await self._managed(user, ref)
        members = {u.id: u for u in await self.store.site_members(conversation.site_id)}
        if not isinstance(to, int) or to not in members:
            raise ChatError("bad_frame", "Transfer to a manager of this site.")
        text = clean_text(note, limit=500, field_name="note", frame_id=None) if isinstance(note, str) else None
        conversation = await self.store.update_conversation(conversation.id, assignee_id=to, offered_to=[to])
        line = f"{user.name.split()[0]} transferred the conversation to {members[to].name.split()[0]}"
        message = await self.store.add_system_message(conversation.id, line + (f": {text}" if text else ""))
        conversation = await self.store.get_conversation(conversation.ref) or conversation
        await self._tell_managers(conversation, message_frame(conversation, message, seconds=True))
        await self._changed(conversation)
        await self._tell_visitor_state(conversation)

    async def inbox(self, site_ids: list[int]) -> list[dict[str, Any]]:
        return [await self.card(c) for c in await self.store.conversations(site_ids)]
