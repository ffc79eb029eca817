"""Every routing decision for callbacks lives here.

Who is alerted (candidates and strategy), when an unclaimed callback escalates,
when a promise is missed, when a scheduled callback rings, who may claim and
record outcomes. The store persists each step with its timeline event; the hub
carries the new state to managers (``callback`` frames) and to the visitor
(``callback_status`` frames).

A callback moves through ``CallbackState``::

    ringing --claim--> claimed --connected|wrong_number|spam|no_answer--> done
       |                  |--reschedule|no_answer with a time--> scheduled
       |--promise runs out--> missed --claim--> claimed
    scheduled --its time comes--> ringing
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.feed import lead_summary
from server.hours import Schedule
from server.hub import Hub, Subscription, site_channel
from server.mailer import Mailer
from server.models import (
    Actor,
    Callback,
    CallbackState,
    EventRecord,
    Lead,
    LeadStatus,
    Outcome,
    Site,
    User,
)
from server.phones import format_phone
from server.store import Store
from server.telephony import TelephonyError, telephony_for

log = logging.getLogger("beckon.routing")

OPEN = (CallbackState.RINGING, CallbackState.MISSED, CallbackState.SCHEDULED)
RECENT_SECONDS = 600  # a visitor still sees a settled callback's outcome this long


class Strategy(enum.StrEnum):
    RING_ALL = "ring_all"
    ROUND_ROBIN = "round_robin"
    LEAST_BUSY = "least_busy"


class RoutingError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Policy:
    promise_seconds: int = 30
    ring_seconds: int = 15
    busy_seconds: int = 900  # the honest promise when no manager is on shift and online
    missed_grace_seconds: int = 300  # the new time given when a promise is missed
    reschedule_window: int = 1800
    strategy: Strategy = Strategy.RING_ALL

    @classmethod
    def for_site(cls, site: Site) -> Policy:
        s = site.settings

        def seconds(name: str, default: int) -> int:
            value = s.get(name, default)
            return value if isinstance(value, int) and value > 0 else default

        try:
            strategy = Strategy(s.get("routing", Strategy.RING_ALL))
        except ValueError:
            strategy = Strategy.RING_ALL
        return cls(
            promise_seconds=seconds("promise_seconds", cls.promise_seconds),
            ring_seconds=seconds("ring_seconds", cls.ring_seconds),
            busy_seconds=seconds("busy_seconds", cls.busy_seconds),
            missed_grace_seconds=seconds("missed_grace_seconds", cls.missed_grace_seconds),
            strategy=strategy,
        )


# -- bench (#10): a site's Schedule by what it is made of. Building one parses the hours and the holidays
# (~16 us for a five-day week); a new callback asked for it twice. A changed setting is a new key. --
_SCHEDULES: dict[tuple[str, str, str], Schedule] = {}
_SCHEDULES_KEPT = 1000


def schedule_of(site: Site) -> Schedule:
    holidays = site.settings.get("holidays") or ()
    key = (site.timezone, repr(site.working_hours), repr(holidays))
    found = _SCHEDULES.get(key)
    if found is None:
        found = Schedule(site.working_hours, site.timezone, holidays)
        if len(_SCHEDULES) >= _SCHEDULES_KEPT:
            _SCHEDULES.clear()
        _SCHEDULES[key] = found
    return found


# -- pure decisions ---------------------------------------------------------------


def first_offer(
    strategy: Strategy, candidates: list[int], *, preferred: int | None, last_first: int | None, load: dict[int, int]
) -> list[int]:
    """Who is alerted first. A returning visitor's manager goes first whatever the strategy."""
    if not candidates:
        return []
    if preferred in candidates:
        return [preferred]  # type: ignore[list-item]
    if strategy is Strategy.RING_ALL:
        return list(candidates)
    if strategy is Strategy.LEAST_BUSY:
        return [min(candidates, key=lambda uid: (load.get(uid, 0), uid))]
    ordered = sorted(candidates)
    after = [uid for uid in ordered if last_first is not None and uid > last_first]
    return [(after or ordered)[0]]


def next_offer(candidates: list[int], offered_so_far: list[int], load: dict[int, int]) -> list[int]:
    """After a ring time: the next manager not yet tried; once all were tried, everyone."""
    untried = [uid for uid in candidates if uid not in offered_so_far]
    if untried and len(offered_so_far) < 2:
        return [min(untried, key=lambda uid: (load.get(uid, 0), uid))]
    return list(candidates)


# -- the engine -----------------------------------------------------------------


def visitor_channel(site_id: int, visitor_key: str) -> str:
    return f"visitor:{site_id}:{visitor_key}"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


def _ms(ts: float | None) -> int | None:
    return int(ts * 1000) if ts else None


class Router:
    def __init__(
        self, store: Store, hub: Hub, mailer: Mailer | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.hub = hub
        self.mailer = mailer
        self.clock = clock
        self.presence: dict[int, int] = {}
        self._active: dict[int, Callback] = {}
        self._tried: dict[int, list[int]] = {}
        self._round_robin: dict[int, int] = {}
        self._hold: dict[int, float] = {}
        # -- bench (#10): when each active callback next needs a step, as a heap; an entry whose time no
        # longer matches its callback is stale and skipped. A full scan per new lead cost 16 ms at 5,000.
        self._timeline: list[tuple[float, int]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        for callback in await self.store.active_callbacks():
            self._active[callback.lead_id] = callback
            self._plan_step(callback.lead_id)
        self._task = asyncio.create_task(self._run(), name="beckon-router")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._background):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- candidates --------------------------------------------------------------

    async def candidates(self, site: Site, now: float) -> list[User]:
        """Managers of the site who are online in the dashboard, available, and on shift."""
        if not schedule_of(site).is_open(now):
            return []
        return await self._online_members(site)

    async def _online_members(self, site: Site) -> list[User]:
        """Managers of the site who are online in the dashboard and available (shift not checked)."""
        members = await self.store.site_members(site.id)
        return [u for u in members if u.available and self.presence.get(u.id)]

    # -- a new callback request ------------------------------------------------

    async def plan(
        self, site: Site, visitor_key: str, schedule: tuple[float, float] | None
    ) -> tuple[dict[str, Any], list[EventRecord]]:
        """The promise to make for a new request: column values and timeline events."""
        now = self.clock()
        policy = Policy.for_site(site)
        hours = schedule_of(site)
        base = {"promise_seconds": policy.promise_seconds}
        if schedule is None and not hours.is_open(now):
            slots = hours.slots(now, count=1)
            start, end = (slots[0].start, slots[0].end) if slots else (now + 86400, now + 86400 + 3600)
            schedule = (start, end)
        if schedule is not None:
            start, end = schedule
            return (
                base
                | {
                    "state": CallbackState.SCHEDULED,
                    "scheduled_for": start,
                    "window_end": end,
                    "due_at": end,
                    "promised_by": end,
                },
                [EventRecord("scheduled", Actor.VISITOR, data={"for": start, "until": end})],
            )
        people = await self._online_members(site)  # on shift: the hours were open a few lines up
        ids = [u.id for u in people]
        if not ids:
            due = now + policy.busy_seconds
            return (
                base | {"state": CallbackState.RINGING, "due_at": due, "promised_by": due, "offered_to": []},
                [EventRecord("routed", Actor.SYSTEM, data={"to": [], "why": "no manager online and available"})],
            )
        offered = first_offer(
            policy.strategy,
            ids,
            preferred=await self.store.last_handler(site.id, visitor_key),
            last_first=self._round_robin.get(site.id),
            # -- bench (#10): first_offer weighs load only for least_busy; don't ask for it otherwise --
            load=await self.store.open_claims(site.id) if policy.strategy is Strategy.LEAST_BUSY else {},
        )
        if policy.strategy is Strategy.ROUND_ROBIN:
            self._round_robin[site.id] = offered[0]
        due = now + policy.promise_seconds
        names = [u.name for u in people if u.id in offered]
        return (
            base
            | {
                "state": CallbackState.RINGING,
                "due_at": due,
                "promised_by": due,
                "offered_to": offered,
                "stage_until": now + policy.ring_seconds,
            },
            [EventRecord("routed", Actor.SYSTEM, data={"strategy": policy.strategy.value, "to": names})],
        )

    async def chat_offer(self, site: Site, visitor_key: str) -> tuple[list[int], int | None]:
        """Who a new conversation goes to: (offered to, assigned to). ring_all offers it to everyone
        and the first reply takes it; the other strategies (and a returning visitor) assign it."""
        people = [u.id for u in await self.candidates(site, self.clock())]
        policy = Policy.for_site(site)
        offered = first_offer(
            policy.strategy,
            people,
            preferred=await self.store.last_handler(site.id, visitor_key),
            last_first=self._round_robin.get(site.id),
            load=await self.store.open_claims(site.id) if policy.strategy is Strategy.LEAST_BUSY else {},
        )
        if policy.strategy is Strategy.ROUND_ROBIN and offered:
            self._round_robin[site.id] = offered[0]
        if len(offered) == 1 and (policy.strategy is not Strategy.RING_ALL or len(people) > 1):
            return offered, offered[0]
        return offered, None

    def validate_schedule(self, site: Site, start: float, end: float) -> bool:
        now = self.clock()
        return start >= now - 60 and end > start and schedule_of(site).contains_window(start, end)

    async def created(
        self,
        lead: Lead,
        site: Site | None = None,
        visitor_key: str | None = None,
        told: Subscription | None = None,
        callback: Callback | None = None,
    ) -> dict[str, Any] | None:
        """A new lead is stored: remember its callback, tell everyone. Returns the visitor's status.

        Ingest passes the site and visitor key it holds, so they are not read again per lead, and
        ``told``: the visitor socket's own feed, whose ack carries the status (it is not pushed there too),
        and the ``callback`` the store just wrote, if it returned it (bench #10: not read back)."""
        callback = callback or await self.store.get_callback(lead.id)
        if callback is None:
            return None
        self._active[lead.id] = callback
        self._tried[lead.id] = list(callback.offered_to)
        self._plan_step(lead.id)
        self._wake.set()
        return await self._publish(callback, lead, site, visitor_key, told)

    # -- presence ----------------------------------------------------------------

    async def manager_online(self, user: User) -> None:
        self.presence[user.id] = self.presence.get(user.id, 0) + 1
        await self._reoffer()

    async def manager_offline(self, user: User) -> None:
        left = self.presence.get(user.id, 0) - 1
        if left > 0:
            self.presence[user.id] = left
        else:
            self.presence.pop(user.id, None)
        await self._reoffer()

    async def set_available(self, user: User, on: bool) -> None:
        await self.store.set_available(user.id, on)
        self.hub.publish(user_channel(user.id), {"type": "me", "available": on})
        await self._reoffer()

    async def _reoffer(self) -> None:
        """Candidates changed: callbacks waiting for everyone, or for nobody, get the new set."""
        now = self.clock()
        # Each site's candidates are read once, however many of its callbacks wait.
        sites: dict[int, tuple[Site, list[User]] | None] = {}
        for callback in list(self._active.values()):
            if callback.state not in (CallbackState.RINGING, CallbackState.MISSED):
                continue
            if callback.site_id not in sites:
                site = await self.store.get_site(callback.site_id)
                sites[callback.site_id] = (site, await self.candidates(site, now)) if site else None
            found = sites[callback.site_id]
            if found is None:
                continue
            site, people = found
            ids = [u.id for u in people]
            policy = Policy.for_site(site)
            everyone = (
                callback.state is CallbackState.MISSED
                or callback.stage >= 2
                or (policy.strategy is Strategy.RING_ALL and callback.stage > 0)
            )
            if not callback.offered_to and ids:
                new = first_offer(
                    policy.strategy,
                    ids,
                    preferred=None,
                    last_first=self._round_robin.get(site.id),
                    load=await self.store.open_claims(site.id),
                )
                changes: dict[str, Any] = {"offered_to": new, "stage_until": now + policy.ring_seconds}
            elif everyone and sorted(ids) != sorted(callback.offered_to):
                changes = {"offered_to": ids}
            else:
                continue
            names = [u.name for u in people if u.id in changes["offered_to"]]
            await self._move(callback, changes, [EventRecord("alerted", Actor.SYSTEM, data={"to": names})])

    # -- time ----------------------------------------------------------------------

    @staticmethod
    def _next_time(callback: Callback) -> float | None:
        if callback.state is CallbackState.SCHEDULED:
            return callback.scheduled_for
        if callback.state is CallbackState.RINGING:
            return min(t for t in (callback.due_at, callback.stage_until) if t is not None)
        if callback.state is CallbackState.MISSED:
            return callback.stage_until
        return None

    def _due(self, callback: Callback) -> float | None:
        at = self._next_time(callback)
        hold = self._hold.get(callback.lead_id)
        return max(at, hold) if at is not None and hold is not None else at

    def _plan_step(self, lead_id: int) -> None:
        callback = self._active.get(lead_id)
        at = self._due(callback) if callback is not None else None
        if at is not None:
            heapq.heappush(self._timeline, (at, lead_id))
        if len(self._timeline) > 2 * len(self._active) + 1000:  # drop stale entries now and then
            current = {(self._due(c), i) for i, c in self._active.items()}
            self._timeline = [entry for entry in set(self._timeline) if entry in current]
            heapq.heapify(self._timeline)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = self.clock()
            while self._timeline and self._timeline[0][0] <= now:
                at, lead_id = heapq.heappop(self._timeline)
                callback = self._active.get(lead_id)
                if callback is None or self._due(callback) != at:
                    continue  # stale: the callback moved on, and its new time has its own entry
                try:
                    await self._tick(callback, now)
                    current = self._active.get(callback.lead_id)
                    if current is not None and (self._next_time(current) or now + 1) <= now:
                        # Nothing could move it (a person holds it): look again shortly, don't spin.
                        self._hold[callback.lead_id] = now + 1
                    else:
                        self._hold.pop(callback.lead_id, None)
                except Exception:
                    log.exception("routing step failed for lead %s; retrying in 5 s", callback.lead_id)
                    self._hold[callback.lead_id] = now + 5
                self._plan_step(callback.lead_id)
            timeout = max(0.0, self._timeline[0][0] - self.clock()) if self._timeline else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _tick(self, callback: Callback, now: float) -> None:
        site = await self.store.get_site(callback.site_id)
        if site is None:
            self._active.pop(callback.lead_id, None)
            return
        policy = Policy.for_site(site)
        people = await self.candidates(site, now)
        ids = [u.id for u in people]
        names = {u.id: u.name for u in people}

        if callback.state is CallbackState.SCHEDULED:
            due = callback.window_end or now + policy.promise_seconds
            lead = await self.store.get_lead_by_id(callback.lead_id)
            offered = first_offer(
                policy.strategy,
                ids,
                preferred=lead.assignee_id if lead else None,
                last_first=None,
                load=await self.store.open_claims(site.id),
            )
            self._tried[callback.lead_id] = list(offered)
            await self._move(
                callback,
                {
                    "state": CallbackState.RINGING,
                    "due_at": due,
                    "promised_by": due,
                    "offered_to": offered,
                    "stage": 0,
                    "stage_until": now + policy.ring_seconds,
                    "claimed_by": None,
                    "claimed_at": None,
                },
                [EventRecord("alerted", Actor.SYSTEM, data={"to": [names[i] for i in offered], "scheduled": True})],
            )
        elif callback.state is CallbackState.RINGING and now >= callback.due_at:
            moved = await self._move(
                callback,
                {
                    "state": CallbackState.MISSED,
                    "missed_at": now,
                    "due_at": now + policy.missed_grace_seconds,
                    "offered_to": ids,
                    "stage": max(callback.stage, 2),
                    "stage_until": None,
                    "promise_kept": False,
                },
                [EventRecord("missed", Actor.SYSTEM, data={"promised_by": callback.due_at})],
            )
            if moved is not None:
                self._spawn(self._tell_owners(site, moved))
        elif callback.stage_until is not None and now >= callback.stage_until:
            tried = self._tried.setdefault(callback.lead_id, list(callback.offered_to))
            offered = next_offer(ids, tried, await self.store.open_claims(site.id))
            tried.extend(uid for uid in offered if uid not in tried)
            changes: dict[str, Any] = {"stage": callback.stage + 1, "stage_until": now + policy.ring_seconds}
            events = []
            if sorted(offered) != sorted(callback.offered_to):
                changes["offered_to"] = offered
                events.append(EventRecord("escalated", Actor.SYSTEM, data={"to": [names[i] for i in offered]}))
            await self._move(callback, changes, events)

    async def _move(self, callback: Callback, changes: dict[str, Any], events: list[EventRecord]) -> Callback | None:
        """A timed or presence-driven step; skipped if a person acted on the callback meanwhile."""
        moved = await self.store.transition_callback(
            callback.lead_id, from_states=(callback.state,), changes=changes, events=events, unclaimed=True
        )
        if moved is None:
            fresh = await self.store.get_callback(callback.lead_id)
            self._remember(fresh) if fresh else self._active.pop(callback.lead_id, None)
            return None
        self._remember(moved)
        await self._publish(moved)
        return moved

    def _remember(self, callback: Callback) -> None:
        if callback.state is CallbackState.DONE:
            self._active.pop(callback.lead_id, None)
            self._tried.pop(callback.lead_id, None)
        else:
            self._active[callback.lead_id] = callback
            self._plan_step(callback.lead_id)
        self._wake.set()

    async def _tell_owners(self, site: Site, callback: Callback) -> None:
        lead = await self.store.get_lead_by_id(callback.lead_id)
        if lead is None:
            return
        text = (
            f"A callback promise was missed on {site.name}: {lead.name or 'a visitor'} "
            f"({format_phone(lead.phone or '')}) waited {callback.promise_seconds} s and nobody claimed the call."
        )
        self.hub.publish(site_channel(site.id), {"type": "notice", "level": "warning", "lead": lead.ref, "text": text})
        if self.mailer is None:
            return
        owners = [u.email for u in await self.store.site_members(site.id) if u.role.value in ("owner", "admin")]
        sent = await self.mailer.send(
            owners, f"Missed callback on {site.name}", text + "\n\nThe lead stays at the top of the queue."
        )
        if sent:
            await self.store.add_lead_event(lead.id, EventRecord("owner_notified", Actor.SYSTEM, data={"to": owners}))

    # -- what managers do ----------------------------------------------------------

    async def _lead_for(self, user: User, ref: str) -> tuple[Lead, Callback]:
        lead = await self.store.get_lead(ref)
        site_ids = {s.id for s in await self.store.user_sites(user.id)}
        callback = await self.store.get_callback(lead.id) if lead else None
        if lead is None or lead.site_id not in site_ids or callback is None:
            raise RoutingError("not_found", "There is no such callback among your sites.")
        return lead, callback

    async def _taken_error(self, lead_id: int) -> RoutingError:
        current = await self.store.get_callback(lead_id)
        if current is None:
            return RoutingError("not_found", "There is no such callback.")
        if current.state is CallbackState.DONE:
            return RoutingError("already_recorded", "This callback is finished already.")
        holder = await self.store.get_user(current.claimed_by) if current.claimed_by else None
        if holder is not None:
            when = time.strftime("%H:%M:%S", time.localtime(current.claimed_at or 0))
            return RoutingError("taken", f"{holder.name} took this callback at {when}.")
        return RoutingError("taken", "Someone else acted on this callback first.")

    async def claim(self, user: User, ref: str) -> Callback:
        lead, callback = await self._lead_for(user, ref)
        now = self.clock()
        promised = callback.promised_by or callback.due_at
        claimed = await self.store.transition_callback(
            lead.id,
            from_states=OPEN,
            unclaimed=True,
            changes={
                "state": CallbackState.CLAIMED,
                "claimed_by": user.id,
                "claimed_at": now,
                "offered_to": [],
                "stage_until": None,
                "promise_kept": callback.promise_kept is not False and now <= promised,
            },
            events=[EventRecord("claimed", Actor.USER, user.id, {"after_seconds": round(now - lead.created_at, 1)})],
            lead_changes={"assignee_id": user.id}
            | ({"status": LeadStatus.IN_PROGRESS} if lead.status is LeadStatus.NEW else {}),
        )
        if claimed is None:
            current = await self.store.get_callback(lead.id)
            # Sent again after its answer was lost (a restart, a dropped socket): it is this manager's already.
            if current is not None and current.state is CallbackState.CLAIMED and current.claimed_by == user.id:
                return current
            raise await self._taken_error(lead.id)
        self._remember(claimed)
        await self._publish(claimed, lead)
        site = await self.store.get_site(lead.site_id)
        telephony = telephony_for(site.settings if site else {})
        if telephony.name != "manual" and lead.phone:
            self._spawn(self._bridge(telephony, lead, user))
        return claimed

    async def _bridge(self, telephony: Any, lead: Lead, user: User) -> None:
        try:
            await telephony.start_call(lead_ref=lead.ref, manager_phone=user.phone, visitor_phone=lead.phone)
        except TelephonyError as exc:
            await self.store.add_lead_event(lead.id, EventRecord("call_failed", Actor.SYSTEM, data={"why": str(exc)}))
            return
        await self.store.add_lead_event(
            lead.id, EventRecord("call_requested", Actor.SYSTEM, data={"via": telephony.name})
        )

    async def dialed(self, user: User, ref: str) -> Callback:
        lead, callback = await self._lead_for(user, ref)
        if callback.state is not CallbackState.CLAIMED or callback.claimed_by != user.id:
            raise RoutingError("forbidden", "Claim the callback before calling.")
        now = self.clock()
        changes = {} if callback.called_at else {"called_at": now}
        moved = await self.store.transition_callback(
            lead.id,
            from_states=(CallbackState.CLAIMED,),
            claimed_by=user.id,
            changes=changes,
            events=[EventRecord("called", Actor.USER, user.id, {"after_seconds": round(now - lead.created_at, 1)})],
        )
        if moved is None:
            raise await self._taken_error(lead.id)
        self._remember(moved)
        return moved

    async def record_outcome(self, user: User, ref: str, outcome: Outcome, at: float | None = None) -> Callback:
        lead, callback = await self._lead_for(user, ref)
        if callback.state is CallbackState.CLAIMED and callback.claimed_by == user.id:
            return await self._settle(lead, callback, outcome, at, Actor.USER, user.id)
        if await self._recorded_already(lead, user, outcome, at):
            return callback
        if callback.state is CallbackState.DONE:
            raise RoutingError("already_recorded", "The outcome of this callback is recorded already.")
        raise RoutingError("forbidden", "Only the manager who claimed this callback can record its outcome.")

    async def _recorded_already(self, lead: Lead, user: User, outcome: Outcome, at: float | None) -> bool:
        """An outcome sent again after its answer was lost finds itself the last step, by this same
        manager: it is answered as the first time was and recorded once. A different one stays refused."""
        steps = [e for e in await self.store.lead_events(lead.id) if e.type in ("claimed", "outcome")]
        last = steps[-1] if steps else None
        return (
            last is not None
            and last.type == "outcome"
            and last.actor_type is Actor.USER
            and last.actor_id == user.id
            and last.data.get("outcome") == outcome.value
            and last.data.get("retry_at") == at
        )

    async def _settle(
        self, lead: Lead, callback: Callback, outcome: Outcome, at: float | None, actor: Actor, actor_id: int | None
    ) -> Callback:
        now = self.clock()
        retry = outcome is Outcome.RESCHEDULE or (outcome is Outcome.NO_ANSWER and at is not None)
        if outcome is Outcome.RESCHEDULE and at is None:
            raise RoutingError("bad_time", "Pick when to call back.")
        if at is not None and (at <= now or at > now + 90 * 86400):
            raise RoutingError("bad_time", "The new time must be in the future, within 90 days.")
        attempts = callback.attempts + (outcome is not Outcome.RESCHEDULE)
        data: dict[str, Any] = {"outcome": outcome.value}
        if retry:
            assert at is not None
            data["retry_at"] = at
            window = Policy.reschedule_window
            changes: dict[str, Any] = {
                "state": CallbackState.SCHEDULED,
                "scheduled_for": at,
                "window_end": at + window,
                "due_at": at + window,
                "promised_by": at + window,
                "stage": 0,
                "stage_until": None,
                "attempts": attempts,
                "outcome": None,
                "claimed_by": None,
                "claimed_at": None,
            }
        else:
            changes = {"state": CallbackState.DONE, "outcome": outcome, "outcome_at": now, "attempts": attempts}
        lead_changes = {"status": LeadStatus.SPAM} if outcome is Outcome.SPAM else None
        moved = await self.store.transition_callback(
            lead.id,
            from_states=(CallbackState.CLAIMED,),
            changes=changes,
            events=[EventRecord("outcome", actor, actor_id, data)],
            lead_changes=lead_changes,
        )
        if moved is None:
            raise await self._taken_error(lead.id)
        self._remember(moved)
        await self._publish(moved, lead)
        return moved

    async def telephony_status(self, ref: str, status: str) -> Callback:
        """The provider reports how the bridged call went."""
        lead = await self.store.get_lead(ref)
        callback = await self.store.get_callback(lead.id) if lead else None
        if lead is None or callback is None:
            raise RoutingError("not_found", "No such callback.")
        if status == "answered":
            return await self._settle(lead, callback, Outcome.CONNECTED, None, Actor.SYSTEM, None)
        if status == "no_answer":
            return await self._settle(lead, callback, Outcome.NO_ANSWER, None, Actor.SYSTEM, None)
        raise RoutingError("bad_frame", "status must be answered or no_answer")

    # -- what people are shown -------------------------------------------------

    async def visitor_status(self, ref: str, callback: Callback) -> dict[str, Any]:
        manager = None
        if callback.claimed_by and callback.state is CallbackState.CLAIMED:
            user = await self.store.get_user(callback.claimed_by)
            manager = user.name.split()[0] if user and user.name else None
        return {
            "type": "callback_status",
            "lead": ref,
            "state": callback.state.value,
            "server_time": _ms(self.clock()),
            "due_at": _ms(callback.due_at),
            "promise_seconds": callback.promise_seconds,
            "manager": manager,
            "scheduled_for": _ms(callback.scheduled_for),
            "window_end": _ms(callback.window_end),
            "outcome": callback.outcome.value if callback.outcome else None,
        }

    async def card(
        self, callback: Callback, lead: Lead | None = None, site: Site | None = None
    ) -> dict[str, Any] | None:
        lead = lead or await self.store.get_lead_by_id(callback.lead_id)
        if lead is None:
            return None
        holder = await self.store.get_user(callback.claimed_by) if callback.claimed_by else None
        if site is None or site.id != lead.site_id:
            site = await self.store.get_site(lead.site_id)
        return lead_summary(lead) | {
            "type": "callback",
            "lead": lead.ref,
            "state": callback.state.value,
            "utm": lead.context.get("utm") or {},
            "due_at": callback.due_at,
            "ring_until": callback.stage_until,
            "offered_to": callback.offered_to,
            "stage": callback.stage,
            "claimed_by": {"id": holder.id, "name": holder.name} if holder else None,
            "scheduled_for": callback.scheduled_for,
            "window_end": callback.window_end,
            "outcome": callback.outcome.value if callback.outcome else None,
            "telephony": telephony_for(site.settings if site else {}).name,
            "previous": await self.store.previous_leads(lead),
            "server_time": self.clock(),
        }

    async def queue(self, site_ids: list[int]) -> list[dict[str, Any]]:
        cards = []
        for callback in await self.store.active_callbacks(site_ids):
            card = await self.card(callback)
            if card:
                cards.append(card)
        return cards

    async def statuses_for_visitor(self, site_id: int, visitor_key: str) -> list[dict[str, Any]]:
        found = await self.store.visitor_callbacks(site_id, visitor_key, self.clock() - RECENT_SECONDS)
        return [await self.visitor_status(ref, callback) for ref, callback in found]

    async def _publish(
        self,
        callback: Callback,
        lead: Lead | None = None,
        site: Site | None = None,
        visitor_key: str | None = None,
        told: Subscription | None = None,
    ) -> dict[str, Any] | None:
        """Send a callback's card to the site's managers and its status to the visitor. ``site`` and
        ``visitor_key`` are the caller's copies, if it has them, to spare re-reading them."""
        lead = lead or await self.store.get_lead_by_id(callback.lead_id)
        if lead is None:
            return None
        card = await self.card(callback, lead, site)
        if card:
            self.hub.publish(site_channel(lead.site_id), card)
        status = await self.visitor_status(lead.ref, callback)
        if visitor_key is None and lead.visitor_id is not None:
            visitor = await self.store.get_visitor(lead.visitor_id)
            visitor_key = visitor.visitor_key if visitor is not None else None
        if visitor_key is not None:
            self.hub.publish(visitor_channel(lead.site_id, visitor_key), status, told=told)
        return status
