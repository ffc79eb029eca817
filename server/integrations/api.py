"""The REST API for integrations: /api/v1/leads with per-site bearer tokens.

Every answer is JSON (errors as ``{"error": {"code", "message"}}``) except the CSV export. A token
sees its own site only; another site's lead is answered exactly like a lead that does not exist.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from server.dashboard.crm import TransitionRefused, check_transition
from server.feed import lead_summary
from server.hub import Hub, site_channel
from server.integrations.records import ApiToken
from server.integrations.tokens import digest
from server.models import Actor, EventRecord, Lead
from server.store import Store

PAGE_DEFAULT, PAGE_MAX = 50, 200
API_STATUSES = ("new", "in_progress", "won", "lost", "spam")
ALL_STATUSES = (*API_STATUSES, "missed", "partial")
TEMPERATURES = ("hot", "warm", "cold")
CSV_COLUMNS = ("ref", "created_at", "kind", "status", "temperature", "name", "phone", "email", "source", "page")
TOUCH_EVERY = 60.0


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z") if ts else None


def lead_json(lead: Lead) -> dict[str, Any]:
    return {
        "ref": lead.ref,
        "kind": lead.kind,
        "status": lead.status.value,
        "temperature": lead.temperature,
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "source": lead.source,
        "page": lead.context.get("url", ""),
        "offer": lead.context.get("offer", ""),
        "utm": lead.context.get("utm") or {},
        "answers": lead.answers,
        "assignee_id": lead.assignee_id,
        "created_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
    }


class BadQuery(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _since(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadQuery("invalid_since", "since is unix seconds or an ISO 8601 time") from exc
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


def _filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    status, kind = q.get("status") or None, q.get("kind") or None
    if status is not None and status not in ALL_STATUSES:
        raise BadQuery("invalid_status", f"status is one of {', '.join(ALL_STATUSES)}")
    return {"status": status, "kind": kind, "since": _since(q.get("since"))}


class LeadsAPI:
    def __init__(self, store: Store, hub: Hub) -> None:
        self.store = store
        self.hub = hub

    async def _token(self, request: Request) -> ApiToken | Response:
        scheme, _, raw = request.headers.get("authorization", "").partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="beckon"'}
        if scheme.lower() != "bearer" or not raw.strip():
            return error(401, "unauthorized", "Send an API token as 'Authorization: Bearer <token>'.", challenge)
        token = await self.store.api_token_by_hash(digest(raw.strip()))
        if token is None:
            return error(401, "unauthorized", "This API token is unknown or has been revoked.", challenge)
        now = time.time()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            await self.store.touch_api_token(token.id, now)
        return token

    async def _lead(self, request: Request, token: ApiToken) -> Lead | Response:
        lead = await self.store.get_lead(request.path_params["ref"])
        if lead is None or lead.site_id != token.site_id:
            return error(404, "not_found", "No such lead.")
        return lead

    async def list(self, request: Request) -> Response:
        token = await self._token(request)
        if isinstance(token, Response):
            return token
        try:
            filters = _filters(request)
            limit = int(request.query_params.get("limit") or PAGE_DEFAULT)
            cursor = request.query_params.get("cursor")
            before = int(cursor) if cursor else None
        except BadQuery as exc:
            return error(400, exc.code, exc.message)
        except ValueError:
            return error(400, "invalid_query", "limit and cursor are whole numbers")
        if not 1 <= limit <= PAGE_MAX:
            return error(400, "invalid_query", f"limit is between 1 and {PAGE_MAX}")
        leads = await self.store.api_leads(token.site_id, **filters, before_id=before, limit=limit + 1)
        more = len(leads) > limit
        leads = leads[:limit]
        return JSONResponse(
            {"leads": [lead_json(x) for x in leads], "next": str(leads[-1].id) if more and leads else None}
        )

    async def get(self, request: Request) -> Response:
        token = await self._token(request)
        if isinstance(token, Response):
            return token
        lead = await self._lead(request, token)
        if isinstance(lead, Response):
            return lead
        return JSONResponse({"lead": lead_json(lead)})

    async def patch(self, request: Request) -> Response:
        token = await self._token(request)
        if isinstance(token, Response):
            return token
        lead = await self._lead(request, token)
        if isinstance(lead, Response):
            return lead
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return error(400, "invalid_json", "The body must be a JSON object.")
        if not isinstance(body, dict) or not body:
            return error(400, "invalid_json", "The body must be a JSON object with status and/or temperature.")
        unknown = sorted(set(body) - {"status", "temperature"})
        if unknown:
            return error(400, "invalid_field", f"Only status and temperature can be changed, not {', '.join(unknown)}.")
        if "status" in body and body["status"] not in API_STATUSES:
            return error(400, "invalid_status", f"status is one of {', '.join(API_STATUSES)}")
        if "temperature" in body and body["temperature"] is not None and body["temperature"] not in TEMPERATURES:
            return error(400, "invalid_temperature", "temperature is hot, warm, cold or null")
        before = {"status": lead.status.value, "temperature": lead.temperature}
        changes = {k: v for k, v in body.items() if before[k] != v}
        if not changes:
            return JSONResponse({"lead": lead_json(lead)})
        if "status" in changes:  # the dashboard's state machine: a refused move changes nothing
            try:
                check_transition(lead.status, changes["status"])
            except TransitionRefused as refused:
                return error(409, "invalid_transition", refused.message)
        event = EventRecord(
            type="api_update",
            actor_type=Actor.SYSTEM,
            data={
                "by": f"API token {token.name}",
                "token_id": token.id,
                "changes": {k: [before[k], v] for k, v in changes.items()},
            },
        )
        updated = await self.store.api_update_lead(lead.id, changes, event)
        # Dashboards see the change live; webhooks hear of it as lead.updated.
        self.hub.publish(site_channel(updated.site_id), lead_summary(updated))
        return JSONResponse({"lead": lead_json(updated)})

    async def csv(self, request: Request) -> Response:
        token = await self._token(request)
        if isinstance(token, Response):
            return token
        try:
            filters = _filters(request)
        except BadQuery as exc:
            return error(400, exc.code, exc.message)
        site_id = token.site_id

        async def rows() -> AsyncIterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            before: int | None = None
            while True:
                page = await self.store.api_leads(site_id, **filters, before_id=before, limit=500)
                for lead in page:
                    item = lead_json(lead)
                    writer.writerow([_cell(item[c], c) for c in CSV_COLUMNS])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                if len(page) < 500:
                    return
                before = page[-1].id

        return StreamingResponse(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
        )


def _cell(value: Any, column: str) -> str:
    text = "" if value is None else str(value)
    # A cell a spreadsheet would run as a formula is written as text; phones keep their leading +.
    if column != "phone" and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
