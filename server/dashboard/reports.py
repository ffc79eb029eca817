"""/app/analytics: what converts, for a site and a period, as bars a person reads at a glance
with the numbers beside them."""

from __future__ import annotations

import datetime as dt
import time

from starlette.requests import Request
from starlette.responses import Response

from server.analytics import report
from server.dashboard.views import Dashboard
from server.models import Role

PERIODS = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days"}


class ReportPages:
    def __init__(self, dashboard: Dashboard) -> None:
        self.dash = dashboard
        self.store = dashboard.store

    async def analytics(self, request: Request) -> Response:
        user = await self.dash.require_user(request)
        if isinstance(user, Response):
            return user
        if user.role not in (Role.OWNER, Role.ADMIN):
            return self.dash.render(request, "forbidden.html", {"what": "see the analytics"}, status_code=403)
        sites = await self.store.user_sites(user.id)
        if not sites:
            return self.dash.render(request, "analytics.html", {"sites": [], "site": None, "report": None})
        site = next((s for s in sites if s.key == request.query_params.get("site")), sites[0])
        period = request.query_params.get("days", "30")
        days = int(period) if period in PERIODS else 30
        end = time.time()
        start = end - days * 86400
        numbers = report(await self.store.analytics(site.id, start, end))
        context = {
            "sites": sites,
            "site": site,
            "days": str(days),
            "periods": PERIODS,
            "report": numbers,
            "since": dt.datetime.fromtimestamp(start, dt.UTC).strftime("%d %b %Y"),
        }
        return self.dash.render(request, "analytics.html", context)
