"""Leads CRM in the dashboard: the filtered leads table with keyset paging, the lead card and its
changes (status, temperature, assignee, notes, follow-up), the streamed CSV export, erasure on a
visitor's request, and the audit log page. Exports and erasures are written to the audit log.

Statuses move by a state machine (``TRANSITIONS``), the same for the dashboard and the REST API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from server.dashboard.timeline import build_timeline
from server.models import Actor, EventRecord, Lead, LeadFilter, LeadStatus, Role, Site, User

if TYPE_CHECKING:
    from server.dashboard.views import Dashboard
from server.feed import lead_summary
from server.hub import Hub, site_channel

PAGE_SIZE = 50
EXPORT_BATCH = 500
KINDS = ("callback", "chat", "quiz", "popup", "countdown")
TEMPERATURES = ("hot", "warm", "cold")
ERASERS = (Role.OWNER, Role.ADMIN)
NOTE_LIMIT = 4000
FILTER_KEYS = ("site", "kind", "status", "temperature", "assignee", "source", "from", "to", "q")
AUDITORS = (Role.OWNER, Role.ADMIN)
AUDIT_LIMIT = 200

# -- the status state machine ----------------------------------------------------------------------
# Where a person may move a lead from each status. new -> in_progress -> won | lost is the usual
# path; a manager who settles a lead on the first call may close it straight from new (one click,
# not two). A closed lead (won, lost) reopens only to in_progress, so won -> lost and lost -> won go
# through a reopening the timeline shows. Spam is reachable from anywhere; a lead marked spam by
# mistake goes back to new. missed (a broken callback promise) and partial (a quiz left halfway) are
# set by Beckon itself and are worked on like new leads. Nothing goes back to new otherwise.
S = LeadStatus
_WORK = frozenset({S.IN_PROGRESS, S.WON, S.LOST, S.SPAM})
TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    S.NEW: _WORK,
    S.MISSED: _WORK,
    S.PARTIAL: _WORK,
    S.IN_PROGRESS: frozenset({S.WON, S.LOST, S.SPAM}),
    S.WON: frozenset({S.IN_PROGRESS, S.SPAM}),
    S.LOST: frozenset({S.IN_PROGRESS, S.SPAM}),
    S.SPAM: frozenset({S.NEW}),
}


class TransitionRefused(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _words(status: LeadStatus | str) -> str:
    return str(status).replace("_", " ")


def next_statuses(current: LeadStatus) -> list[LeadStatus]:
    """Where a lead may go from ``current``, in the order of the usual path."""
    allowed = TRANSITIONS.get(current, frozenset())
    return [s for s in LeadStatus if s in allowed]


def check_transition(current: LeadStatus, wanted: str) -> LeadStatus:
    """The status to move to, or TransitionRefused saying why not and what is possible."""
    try:
        to = LeadStatus(wanted)
    except ValueError:
        raise TransitionRefused(f"Unknown status {wanted!r}.") from None
    if to not in TRANSITIONS.get(current, frozenset()):
        choices = ", ".join(_words(s) for s in next_statuses(current)) or "nothing"
        hint = " Reopen it (in progress) first." if current in (S.WON, S.LOST) and to in (S.WON, S.LOST) else ""
        raise TransitionRefused(
            f"A lead that is {_words(current)} can't become {_words(to)}.{hint} From {_words(current)} it can go to: {choices}."
        )
    return to


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "ref",
    "created_at",
    "site",
    "kind",
    "status",
    "temperature",
    "assignee",
    "name",
    "phone",
    "email",
    "source",
    "page",
    "follow_up_at",
)


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _day(value: str) -> float | None:
    if not DATE.match(value):
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


def parse_filter(params: Any, sites: list[Site]) -> tuple[LeadFilter, dict[str, str]]:
    """The filter in a query string, and the values understood (to refill the form and build links).
    Values that mean nothing are dropped rather than refused: the table shows what it filtered by."""
    raw = {k: str(params.get(k) or "").strip() for k in FILTER_KEYS}
    used: dict[str, str] = {}
    site_id = _int(raw["site"])
    if site_id is not None and any(s.id == site_id for s in sites):
        used["site"] = raw["site"]
    else:
        site_id = None
    kind = raw["kind"] if raw["kind"] in KINDS else ""
    status = raw["status"] if raw["status"] in {s.value for s in LeadStatus} else ""
    temperature = raw["temperature"] if raw["temperature"] in TEMPERATURES else ""
    assignee_id = 0 if raw["assignee"] == "none" else _int(raw["assignee"])
    source = raw["source"][:200]
    since = _day(raw["from"])
    until = _day(raw["to"])
    if until is not None:
        until += 86400  # "to" is inclusive: up to the end of that day (UTC)
    search = raw["q"][:100]
    for key, ok in (
        ("kind", kind),
        ("status", status),
        ("temperature", temperature),
        ("assignee", assignee_id is not None),
        ("source", source),
        ("from", since is not None),
        ("to", until is not None),
        ("q", search),
    ):
        if ok:
            used[key] = raw[key][:200]
    where = LeadFilter(
        site_id=site_id,
        kind=kind,
        status=status,
        temperature=temperature,
        assignee_id=assignee_id,
        source=source,
        since=since,
        until=until,
        search=search,
    )
    return where, used


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: no formula injection (=, +, -, @, tab, CR at the start)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _iso(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds") if ts else ""


def _zone(site: Site | None) -> dt.tzinfo:
    try:
        return ZoneInfo(site.timezone) if site and site.timezone else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


class LeadPages:
    def __init__(self, dashboard: Dashboard, hub: Hub) -> None:
        self.d = dashboard
        self.store = dashboard.store
        self.hub = hub

    # -- helpers ------------------------------------------------------------------------------

    async def _members_by_id(self, sites: list[Site]) -> dict[int, User]:
        people: dict[int, User] = {}
        for site in sites:
            for member in await self.store.site_members(site.id):
                people[member.id] = member
        return people

    async def _own_lead(self, request: Request) -> tuple[User, Lead, Site] | Response:
        """The signed-in user and the lead of the path, or the answer to give instead: sign in, or
        404 for a lead that is missing or on a site the user is not a member of (no probing)."""
        user = await self.d.require_user(request)
        if isinstance(user, Response):
            return user
        lead = await self.store.get_lead(request.path_params["ref"])
        sites = {s.id: s for s in await self.store.user_sites(user.id)}
        if lead is None or lead.site_id not in sites:
            return self.d.render(request, "not_found.html", {}, status_code=404)
        return user, lead, sites[lead.site_id]

    # -- the table --------------------------------------------------------------------------------

    async def leads(self, request: Request) -> Response:
        user = await self.d.require_user(request)
        if isinstance(user, Response):
            return user
        sites = await self.store.user_sites(user.id)
        site_ids = [s.id for s in sites]
        where, used = parse_filter(request.query_params, sites)
        due_by = _due(request, used)
        before = _int(request.query_params.get("before")) or 0
        page = await self.store.search_leads(site_ids, where, before_id=before, limit=PAGE_SIZE + 1, due_by=due_by)
        more = len(page) > PAGE_SIZE
        page = page[:PAGE_SIZE]
        people = await self._members_by_id(sites)
        older = f"/app/leads?{urlencode({**used, 'before': page[-1].id})}" if more and page else ""
        newest = f"/app/leads?{urlencode(used)}" if used else "/app/leads"
        return self.d.render(
            request,
            "leads.html",
            {
                "sites": sites,
                "leads": page,
                "people": people,
                "used": used,
                "filtered": where.active or due_by is not None,
                "now": time.time(),
                "paged": bool(before),
                "live": not where.active and due_by is None and not before,
                "since": await self.store.newest_lead_id(site_ids),
                "older": older,
                "newest": newest,
                "export": "/app/leads.csv" + (f"?{urlencode(used)}" if used else ""),
                "kinds": KINDS,
                "statuses": [s.value for s in LeadStatus],
                "temperatures": TEMPERATURES,
                "sources": await self.store.lead_sources(site_ids),
            },
        )

    async def export(self, request: Request) -> Response:
        user = await self.d.require_user(request)
        if isinstance(user, Response):
            return user
        sites = await self.store.user_sites(user.id)
        site_ids = [s.id for s in sites]
        where, used = parse_filter(request.query_params, sites)
        due_by = _due(request, used)
        people = await self._members_by_id(sites)
        store = self.store

        async def body() -> AsyncIterator[str]:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(CSV_COLUMNS)
            yield out.getvalue()
            rows, before = 0, 0
            while True:
                batch = await store.search_leads(site_ids, where, before_id=before, limit=EXPORT_BATCH, due_by=due_by)
                out.seek(0)
                out.truncate()
                for lead in batch:
                    assignee = people.get(lead.assignee_id) if lead.assignee_id else None
                    writer.writerow(
                        csv_cell(v)
                        for v in (
                            lead.ref,
                            _iso(lead.created_at),
                            lead.site_name,
                            lead.kind,
                            lead.status.value,
                            lead.temperature,
                            assignee.name if assignee else "",
                            lead.name,
                            lead.phone,
                            lead.email,
                            lead.source,
                            lead.context.get("url", ""),
                            _iso(lead.follow_up_at),
                        )
                    )
                rows += len(batch)
                if batch:
                    yield out.getvalue()
                if len(batch) < EXPORT_BATCH:
                    break
                before = batch[-1].id
            # Written before the last chunk ends the response: whoever got the whole file is on record.
            await store.add_audit(
                user_id=user.id,
                action="export",
                site_id=where.site_id,
                detail={"filter": used, "sites": [where.site_id] if where.site_id else site_ids},
                rows=rows,
            )

        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="leads-{stamp}.csv"', "Cache-Control": "no-store"},
        )

    # -- the card ----------------------------------------------------------------------------------

    async def lead(self, request: Request, error: str = "", status_code: int = 200) -> Response:
        found = await self._own_lead(request)
        if isinstance(found, Response):
            return found
        user, lead, site = found
        events = await self.store.lead_events(lead.id)
        visitor = await self.store.get_visitor(lead.visitor_id) if lead.visitor_id else None
        callback = await self.store.get_callback(lead.id)
        visitor_events, chats = [], []
        if visitor is not None:
            visitor_events = await self.store.visitor_events(visitor.id)
            for conversation in await self.store.visitor_conversations(visitor.id):
                chats.append((conversation, await self.store.messages_since(conversation.id, 0)))
        members = await self.store.site_members(lead.site_id)
        follow_up_local = ""
        if lead.follow_up_at:
            follow_up_local = dt.datetime.fromtimestamp(lead.follow_up_at, _zone(site)).strftime("%Y-%m-%dT%H:%M")
        return self.d.render(
            request,
            "lead.html",
            {
                "lead": lead,
                "timeline": build_timeline(lead, events, visitor, visitor_events, chats),
                "visitor": visitor,
                "callback": callback,
                "members": members,
                "assignee": next((m for m in members if m.id == lead.assignee_id), None),
                "statuses": [s.value for s in next_statuses(lead.status)],
                "due": bool(lead.follow_up_at and lead.follow_up_at <= time.time()),
                "temperatures": TEMPERATURES,
                "can_erase": user.role in ERASERS,
                "site_timezone": site.timezone or "UTC",
                "follow_up_local": follow_up_local,
                "error": error,
            },
            status_code=status_code,
        )

    async def change(self, request: Request) -> Response:
        found = await self._own_lead(request)
        if isinstance(found, Response):
            return found
        user, lead, site = found
        form = await self.d.checked_form(request)
        if isinstance(form, Response):
            return form
        what = str(form.get("change") or "")
        value = str(form.get("value") or "").strip()
        me = {"actor_type": Actor.USER, "actor_id": user.id}
        changes: dict[str, Any] = {}
        event: EventRecord
        if what == "status":
            if value not in {st.value for st in LeadStatus}:
                return await self.lead(request, "Choose one of the statuses shown.", 400)
            if value == lead.status.value:
                return self._back(lead)
            try:
                changes["status"] = check_transition(lead.status, value)
            except TransitionRefused as refused:
                return await self.lead(request, refused.message, 409)
            event = EventRecord("status", data={"from": lead.status.value, "to": changes["status"].value}, **me)
        elif what == "temperature":
            if value and value not in TEMPERATURES:
                return await self.lead(request, "Temperature is hot, warm or cold.", 400)
            changes["temperature"] = value or None
            event = EventRecord("temperature", data={"from": lead.temperature, "to": value or None}, **me)
        elif what == "assignee":
            members = {m.id: m for m in await self.store.site_members(lead.site_id)}
            to = _int(value) if value else None
            if value and (to is None or to not in members):
                return await self.lead(request, f"Choose a member of {site.name}.", 400)
            changes["assignee_id"] = to
            event = EventRecord(
                "assigned", data={"from": lead.assignee_id, "to": to, "name": members[to].name if to else ""}, **me
            )
        elif what == "note":
            if not value:
                return await self.lead(request, "Write the note first.", 400)
            if len(value) > NOTE_LIMIT:
                return await self.lead(request, f"A note holds at most {NOTE_LIMIT} characters.", 400)
            event = EventRecord("note", data={"text": value}, **me)
        elif what == "follow_up":
            at: float | None = None
            if value:
                try:
                    local = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M")
                except ValueError:
                    return await self.lead(request, "Give the follow-up as a date and a time.", 400)
                at = local.replace(tzinfo=_zone(site)).timestamp()
            changes["follow_up_at"] = at
            event = EventRecord("follow_up", data={"at": at}, **me)
        else:
            return await self.lead(request, "Unknown change.", 400)
        changed = await self.store.update_lead(lead.id, changes, [event])
        if changes:  # open dashboards and webhooks (lead.updated) hear of it; a note alone is not news
            self.hub.publish(site_channel(changed.site_id), lead_summary(changed))
        return self._back(lead)

    def _back(self, lead: Lead) -> Response:
        return RedirectResponse(f"/app/leads/{lead.ref}", status_code=303)

    # -- erasure on a visitor's request -------------------------------------------------------------

    async def _eraser(self, request: Request) -> tuple[User, Lead, Site] | Response:
        found = await self._own_lead(request)
        if isinstance(found, Response):
            return found
        form = await self.d.checked_form(request)
        if isinstance(form, Response):
            return form
        if found[0].role not in ERASERS:
            return self.d.render(request, "forbidden.html", {"what": "erase a lead's personal data"}, status_code=403)
        return found

    async def anonymise(self, request: Request) -> Response:
        found = await self._eraser(request)
        if isinstance(found, Response):
            return found
        user, lead, site = found
        await self.store.anonymise_lead(lead.id, EventRecord("anonymised", Actor.USER, user.id))
        await self.store.add_audit(
            user_id=user.id, action="anonymise", site_id=site.id, detail={"lead": lead.ref}, rows=1
        )
        return self._back(lead)

    async def delete(self, request: Request) -> Response:
        found = await self._eraser(request)
        if isinstance(found, Response):
            return found
        user, lead, site = found
        await self.store.delete_lead(lead.id)
        await self.store.add_audit(user_id=user.id, action="delete", site_id=site.id, detail={"lead": lead.ref}, rows=1)
        return RedirectResponse("/app/leads", status_code=303)

    # -- the audit log ---------------------------------------------------------------------------

    async def audit(self, request: Request) -> Response:
        """Exports, erasures and whatever else is logged, for owners and admins, of their sites only."""
        user = await self.d.require_user(request)
        if isinstance(user, Response):
            return user
        if user.role not in AUDITORS:
            return self.d.render(request, "forbidden.html", {"what": "read the audit log"}, status_code=403)
        sites = await self.store.user_sites(user.id)
        names = {s.id: s.name for s in sites}
        chosen = _int(request.query_params.get("site"))
        chosen = chosen if chosen in names else None
        entries = [
            e
            for e in await self.store.audit_log(list(names), AUDIT_LIMIT, site_id=chosen)
            # An entry of several sites (an export of all of them) is shown to people of any of them.
            if e.site_id is not None
            or not isinstance(e.detail.get("sites"), list)
            or set(e.detail["sites"]) & set(names)
        ]
        return self.d.render(
            request,
            "audit.html",
            {"entries": entries, "sites": sites, "names": names, "chosen": chosen, "limit": AUDIT_LIMIT},
        )


def _due(request: Request, used: dict[str, str]) -> float | None:
    """The "follow-up due" filter: leads whose follow-up time has come (now, on the server's clock)."""
    if request.query_params.get("due") != "1":
        return None
    used["due"] = "1"
    return time.time()
