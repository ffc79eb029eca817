"""The new-lead digest: owners and admins of each site get, every ``digest_seconds``, one email
listing the leads that arrived since the last one (nothing is sent when nothing arrived)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.mailer import Mailer
from server.models import Role, Site
from server.phones import format_phone
from server.store import Store, StoreUnavailable

log = logging.getLogger("beckon.digest")
MAX_LINES = 50


class Digest:
    def __init__(self, store: Store, mailer: Mailer, every: float, public_url: str = "") -> None:
        self.store = store
        self.mailer = mailer
        self.every = every
        self.public_url = public_url.rstrip("/")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            for site in await self.store.all_sites():
                try:
                    await self.send(site)
                except StoreUnavailable as exc:
                    log.error("digest for %s skipped: %s", site.key, exc)

    async def send(self, site: Site) -> bool:
        """Mail the leads after the last digest's; remember where this one ended only once it is sent."""
        after = int(site.settings.get("digest_after_id", 0))
        if not after:  # the first run starts from now: no flood of history
            latest = await self.store.list_leads([site.id], limit=1)
            await self.store.update_site(
                site.id, settings=site.settings | {"digest_after_id": latest[0].id if latest else -1}
            )
            return False
        leads = [lead for lead in await self.store.list_leads([site.id], limit=1000, after_id=max(after, 0))]
        fresh = [lead for lead in leads if lead.status.value != "partial"]
        if not fresh:
            return False
        owners = [u.email for u in await self.store.site_members(site.id) if u.role in (Role.OWNER, Role.ADMIN)]
        lines = [
            f"- {lead.kind}: {lead.name or '(no name)'} {format_phone(lead.phone) if lead.phone else lead.email or ''}"
            + (f"  {self.public_url}/app/leads/{lead.ref}" if self.public_url else "")
            for lead in reversed(fresh[:MAX_LINES])
        ]
        more = f"\n…and {len(fresh) - MAX_LINES} more." if len(fresh) > MAX_LINES else ""
        subject = f"{len(fresh)} new lead{'s' if len(fresh) != 1 else ''} on {site.name}"
        if not await self.mailer.send(owners, subject, "\n".join(lines) + more):
            return False
        await self.store.update_site(site.id, settings=site.settings | {"digest_after_id": leads[0].id})
        return True
