"""A real Beckon server on loopback, seeded with one site and one manager, for every benchmark."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx

from tests.support import BeckonServer, login

ORIGIN = "http://bench.test"
SITE = "bench"
EMAIL, PASSWORD = "bench@example.test", "bench-password-1"
# The benchmark's visitors all come from loopback and leave many leads: lift the per-IP and
# per-visitor lead limits (the per-socket frame limit stays, and the clients respect it).
UNLIMITED = {
    "BECKON_LEAD_LIMIT_PER_IP": "100000000",
    "BECKON_LEAD_LIMIT_PER_VISITOR": "100000000",
    "BECKON_CHAT_PER_MINUTE": "1000000",
}


def start(widgets: dict[str, dict[str, Any]] | None = None, env: dict[str, str] | None = None) -> BeckonServer:
    server = BeckonServer(Path(tempfile.mkdtemp(prefix="beckon-bench-")), env=UNLIMITED | (env or {}))
    server.add_site(
        SITE,
        ["bench.test"],
        widgets=widgets if widgets is not None else {"callback": {}, "chat": {}},
        # No working hours: always open. No promise expires while a run lasts.
        settings={"phone_region": "GB", "promise_seconds": 3600, "ring_seconds": 3600},
    )
    server.add_user(EMAIL, PASSWORD, sites=[SITE])
    return server.start()


def manager_cookie(server: BeckonServer) -> str:
    with httpx.Client(base_url=server.base) as client:
        login(client, EMAIL, PASSWORD)
        return f"beckon_session={client.cookies.get('beckon_session')}"
