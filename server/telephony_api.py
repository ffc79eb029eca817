"""POST /api/v1/telephony/status: the provider's signed report on a bridged call."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.routing import Router, RoutingError
from server.store import Store
from server.telephony import SIGNATURE_HEADER, signature_valid

MAX_BODY = 4096


class TelephonyWebhook:
    def __init__(self, store: Store, router: Router) -> None:
        self.store = store
        self.router = router

    async def status(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            data = json.loads(body)
            ref, status = str(data["lead"]), str(data["status"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"lead": REF, "status": "answered" | "no_answer"}'}, status_code=400)
        lead = await self.store.get_lead(ref)
        site = await self.store.get_site(lead.site_id) if lead else None
        secret = str(((site.settings.get("telephony") or {}).get("secret")) or "") if site else ""
        # The same answer for an unknown lead and a bad signature: nothing to learn by probing.
        if not signature_valid(secret, body, request.headers.get(SIGNATURE_HEADER)):
            return JSONResponse({"error": "bad signature"}, status_code=403)
        try:
            callback = await self.router.telephony_status(ref, status)
        except RoutingError as exc:
            return JSONResponse({"error": exc.message, "code": exc.code}, status_code=409)
        return JSONResponse({"state": callback.state.value})
