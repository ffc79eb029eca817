"""Outgoing webhooks: events observed on the hub, stored as deliveries, POSTed signed, retried with backoff.

Every publish on a site's manager channel passes through :meth:`Webhooks.observe` (a hub tap) and is
queued in memory; one task turns frames into events and stores one pending delivery per webhook
*before* anything is sent, so a restart resumes them. A second task sends what is due, records every
attempt and schedules the next one (base, 4×base, 16×base …) until ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from collections import OrderedDict
from typing import Any

import httpx

from server.hub import Hub, Message
from server.integrations.api import lead_json
from server.integrations.records import Delivery
from server.store import Store

log = logging.getLogger("beckon.webhooks")

MAX_ATTEMPTS = 5
TIMEOUT = 10.0
IDLE_CHECK = 60.0
FRESH_LEAD = 600.0
SEEN_LEADS = 20_000


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_base() -> float:
    """Seconds before the first retry (then ×4 each time); BECKON_WEBHOOK_RETRY_BASE makes tests quick."""
    raw = os.environ.get("BECKON_WEBHOOK_RETRY_BASE", "")
    try:
        return float(raw) if raw else 1.0
    except ValueError as exc:
        raise SystemExit(f"BECKON_WEBHOOK_RETRY_BASE must be a number of seconds, got {raw!r}") from exc


class Webhooks:
    def __init__(self, store: Store, hub: Hub, base_delay: float | None = None) -> None:
        self.store = store
        self.hub = hub
        self.base_delay = retry_base() if base_delay is None else base_delay
        self._frames: asyncio.Queue[tuple[int, Message]] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._inflight: set[int] = set()
        self._held: dict[int, float] = {}  # deliveries whose last try broke inside Beckon, until when
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        hub.tap(self.observe)

    def _remember(self, ref: str) -> None:
        self._seen[ref] = None
        self._seen.move_to_end(ref)
        while len(self._seen) > SEEN_LEADS:
            self._seen.popitem(last=False)

    # -- hub side: cheap, never blocks a publish ---------------------------------

    def observe(self, channel: str, message: Message) -> None:
        if not channel.startswith("site:") or message.get("type") not in ("lead", "callback", "conversation"):
            return
        with contextlib.suppress(ValueError):
            self._frames.put_nowait((int(channel[5:]), message))

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
        self._tasks = [asyncio.create_task(self._events()), asyncio.create_task(self._sender())]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._sending]:
            task.cancel()
        for task in [*self._tasks, *self._sending]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.aclose()

    # -- frames → events → stored deliveries --------------------------------------

    async def _events(self) -> None:
        while True:
            site_id, message = await self._frames.get()
            try:
                await self._enqueue(site_id, message)
            except Exception:
                log.exception("could not queue a webhook event for site %s", site_id)

    async def _event_for(self, site_id: int, message: Message) -> tuple[str, str, dict[str, Any]] | None:
        kind = message.get("type")
        if kind == "lead":
            ref = str(message.get("ref") or "")
            lead = await self.store.get_lead(ref)
            if lead is None:
                return None
            # Created: the first frame about a lead made in the last few minutes (a quiz's later answers,
            # a PATCH, a reopened old lead are updates). Seen refs are remembered, and stored deliveries
            # answer for them after a restart.
            seen = ref in self._seen
            self._remember(ref)
            created = (
                not seen
                and time.time() - lead.created_at < FRESH_LEAD
                and not await self.store.event_sent_before(site_id, "lead.created", ref)
            )
            return ("lead.created" if created else "lead.updated"), ref, {"lead": lead_json(lead)}
        if kind == "callback" and message.get("state") == "missed":
            ref = str(message.get("lead") or "")
            lead = await self.store.get_lead(ref)
            if lead is None or await self.store.event_sent_before(site_id, "callback.missed", ref):
                return None
            row = await self.store.get_callback(lead.id)
            callback = {
                "state": "missed",
                "promise_seconds": row.promise_seconds if row else None,
                "promised_by": _iso(row.promised_by) if row else None,
                "missed_at": _iso(row.missed_at) if row else None,
                "due_at": _iso(message.get("due_at")),
            }
            return "callback.missed", ref, {"lead": lead_json(lead), "callback": callback}
        if kind == "conversation" and message.get("state") == "closed":
            ref = str(message.get("conversation") or "")
            if not ref or await self.store.event_sent_before(site_id, "chat.closed", ref):
                return None
            lead = await self.store.get_lead(message["lead"]) if message.get("lead") else None
            conversation = {
                "ref": ref,
                "visitor": message.get("visitor") or {},
                "assignee": message.get("assignee"),
                "messages": message.get("last_seq"),
                "rating": message.get("rating"),
            }
            return "chat.closed", ref, {"conversation": conversation, "lead": lead_json(lead) if lead else None}
        return None

    async def _enqueue(self, site_id: int, message: Message) -> None:
        hooks = await self.store.webhooks([site_id], active_only=True)
        if not hooks:
            if message.get("type") == "lead":
                self._remember(str(message.get("ref") or ""))
            return
        found = await self._event_for(site_id, message)
        if found is None:
            return
        event, subject, data = found
        hooks = [h for h in hooks if h.wants(event)]
        if not hooks:
            return
        site = await self.store.get_site(site_id)
        now = time.time()
        event_id = "evt_" + uuid.uuid4().hex
        body = json.dumps(
            {
                "id": event_id,
                "type": event,
                "created_at": _iso(now),
                "site": {"key": site.key, "name": site.name} if site else None,
                "data": data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        await self.store.queue_deliveries([(h.id, event, event_id, subject, body) for h in hooks], now)
        self._wake.set()

    # -- sending ----------------------------------------------------------------

    async def _sender(self) -> None:
        while True:
            self._wake.clear()
            wait = IDLE_CHECK
            try:
                now = time.time()
                for delivery in await self.store.pending_deliveries():
                    if delivery.id in self._inflight:
                        continue
                    held = self._held.get(delivery.id, 0.0)
                    if held > now:
                        wait = min(wait, held - now)
                        continue
                    self._held.pop(delivery.id, None)
                    if delivery.next_attempt_at <= now:
                        self._inflight.add(delivery.id)
                        task = asyncio.create_task(self._attempt(delivery))
                        self._sending.add(task)
                        task.add_done_callback(self._sending.discard)
                    else:
                        wait = min(wait, delivery.next_attempt_at - now)
            except Exception:
                log.exception("could not read pending webhook deliveries")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.01))

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            hook = await self.store.get_webhook(delivery.webhook_id)
            if hook is None:
                return
            if not hook.active:
                await self.store.record_attempt(
                    delivery.id,
                    at=time.time(),
                    status_code=None,
                    error="not sent: the webhook is turned off",
                    duration_ms=0,
                    state="failed",
                    next_attempt_at=0,
                )
                return
            body = delivery.body.encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Beckon-Webhooks/1",
                "X-Beckon-Event": delivery.event,
                "X-Beckon-Delivery": delivery.event_id,
                "X-Beckon-Timestamp": str(int(time.time())),
                "X-Beckon-Signature": signature(hook.secret, body),
            }
            started = time.monotonic()
            status: int | None = None
            problem = ""
            try:
                assert self._client is not None
                reply = await self._client.post(hook.url, content=body, headers=headers)
                status = reply.status_code
                if not 200 <= status < 300:
                    problem = f"HTTP {status}"
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
            took = (time.monotonic() - started) * 1000
            n = delivery.attempts + 1
            if not problem:
                state, next_at = "delivered", 0.0
            elif n >= MAX_ATTEMPTS:
                state, next_at = "failed", 0.0
            else:
                state, next_at = "pending", time.time() + self.base_delay * 4 ** (n - 1)
            await self.store.record_attempt(
                delivery.id,
                at=time.time(),
                status_code=status,
                error=problem,
                duration_ms=took,
                state=state,
                next_attempt_at=next_at,
            )
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery.id)
            # Not again at once: the next try waits as a failed attempt's would.
            self._held[delivery.id] = time.time() + self.base_delay * 4**delivery.attempts
        finally:
            self._inflight.discard(delivery.id)
            self._wake.set()


def _iso(ts: Any) -> str | None:
    if not isinstance(ts, int | float) or not ts:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")
