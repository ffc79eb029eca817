"""A seeded world for hostile tests: site A (ours) and site B (someone else's), with real ids of B's things.

Site A is tests.conftest.SITE (Anna the manager, Adam the admin); site B is OTHER_SITE (Olga). B's
lead, conversation, token, webhook and invitation are made through the same paths a real user's are
where that is cheap (a visitor socket for the lead and the chat), else through the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from server.integrations.tokens import digest, new_token
from server.models import Role
from server.store import Store
from tests.conftest import MANAGER, ORIGIN, OTHER_SITE, OUTSIDER, SITE
from tests.support import BeckonServer, login, run_async

ADMIN = ("adam@example.test", "adam-password-1")
OWNER = ("otto@example.test", "otto-password-1")  # owner of site B: the CSRF victim
B_ORIGIN = "http://other.test"
# Strings that exist only in site B's data: none may ever show up in an answer to someone of site A.
B_MARKERS = (
    "Bertha Secretname",
    "bertha.secret@other.test",
    "7946 0111",
    "Other Shop",
    "b-hook-secret.test",
    "b-token-secretname",
    "B chat secret words",
)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class World:
    server: BeckonServer
    a_id: int = 0
    b_id: int = 0
    b_lead_ref: str = ""
    b_lead_id: int = 0
    b_lead_frame: str = ""
    b_visitor: str = ""
    b_conversation: str = ""
    b_token_id: int = 0
    b_webhook_id: int = 0
    b_invite_token: str = ""
    olga_id: int = 0
    anna_id: int = 0
    a_lead_ref: str = ""
    a_token_id: int = 0
    a_webhook_id: int = 0
    a_token: str = ""
    b_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.server.base

    def client(self, who: tuple[str, str] | None = None, **kwargs: Any) -> httpx.Client:
        """A browser-like client; signed in when ``who`` is given."""
        client = httpx.Client(base_url=self.base, timeout=15, **kwargs)
        if who:
            response = login(client, *who)
            assert response.status_code == 303, response.text
        return client

    def b_snapshot(self) -> dict[str, Any]:
        """Everything of site B that a refused request must leave exactly as it was."""

        async def action(store: Store) -> dict[str, Any]:
            site = await store.get_site(self.b_id)
            lead = await store.get_lead(self.b_lead_ref)
            # What people did to the lead; the router's own moves (a missed callback) are not theirs.
            events = await store.lead_events(lead.id) if lead else []
            people = [
                (e.type, e.actor_id, json.dumps(e.data, sort_keys=True)) for e in events if e.actor_type == "user"
            ]
            widgets = await store.site_widgets(self.b_id, "callback")
            tokens = await store.api_tokens([self.b_id])
            hooks = await store.webhooks([self.b_id])
            olga = await store.get_user(self.olga_id)
            team = await store.team([self.b_id])
            return {
                "site": repr(site),
                "lead": lead and (lead.name, lead.phone, lead.email, lead.temperature, lead.assignee_id, lead.answers),
                "lead_by_people": people,
                "widgets": [(w.version, w.enabled, json.dumps(w.config, sort_keys=True)) for w in widgets],
                "tokens": [repr(t) for t in tokens],
                "hooks": [repr(h) for h in hooks],
                "olga": (olga.role, olga.active, olga.name, olga.password_hash) if olga else None,
                "team": sorted((u.id, tuple(sorted(s))) for u, s in team),
            }

        return self.server.with_store(action)


async def _visitor_lead(server: BeckonServer, site: str, origin: str, visitor: str, frame: dict[str, Any]) -> dict:
    async with connect(f"{server.ws_base}/ws/visitor?site={site}", origin=origin) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "visitor": visitor}))
        replies: list[dict[str, Any]] = []
        await ws.send(json.dumps(frame))
        while True:
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            replies.append(reply)
            if reply.get("id") == frame["id"] and reply["type"] in ("ack", "error"):
                return reply


def seed_world(workdir: Path, **env: str) -> World:
    server = BeckonServer(workdir, env={"BECKON_DEMO_SITE_KEY": SITE, **env})
    a = server.add_site(SITE, ["localhost", "127.0.0.1"], name="Test Workshop", widgets={"callback": {}, "chat": {}})
    b = server.add_site(OTHER_SITE, ["other.test"], name="Other Shop", widgets={"callback": {}, "chat": {}})
    anna = server.add_user(MANAGER[0], MANAGER[1], sites=[SITE], name="Anna")
    server.add_user(OWNER[0], OWNER[1], sites=[OTHER_SITE], name="Otto", role=Role.OWNER)
    server.add_user(ADMIN[0], ADMIN[1], sites=[SITE], name="Adam", role=Role.ADMIN)
    olga = server.add_user(OUTSIDER[0], OUTSIDER[1], sites=[OTHER_SITE], name="Olga")
    server.start()
    world = World(server=server, a_id=a.id, b_id=b.id, olga_id=olga.id, anna_id=anna.id)

    # B's lead and conversation, sent by B's visitor from B's own page.
    world.b_visitor = new_id()
    world.b_lead_frame = new_id()
    lead_frame = {
        "type": "lead",
        "id": world.b_lead_frame,
        "kind": "callback",
        "phone": "020 7946 0111",
        "name": "Bertha Secretname",
        "email": "bertha.secret@other.test",
        "context": {"url": "http://other.test/", "title": "Other"},
    }
    ack = run_async(lambda: _visitor_lead(server, OTHER_SITE, B_ORIGIN, world.b_visitor, lead_frame))
    assert ack["type"] == "ack", ack
    world.b_lead_ref = ack["lead"]
    a_frame = dict(lead_frame, id=new_id(), name="Alice Ourlead", email="alice@localhost.test", phone="020 7946 0222")
    a_ack = run_async(lambda: _visitor_lead(server, SITE, ORIGIN, new_id(), a_frame))
    assert a_ack["type"] == "ack", a_ack
    world.a_lead_ref = a_ack["lead"]
    chat = {"type": "chat_message", "id": new_id(), "text": "B chat secret words"}
    chat_ack = run_async(lambda: _visitor_lead(server, OTHER_SITE, B_ORIGIN, world.b_visitor, chat))
    assert chat_ack["type"] == "ack", chat_ack
    world.b_conversation = chat_ack["conversation"]

    async def more(store: Store) -> None:
        lead = await store.get_lead(world.b_lead_ref)
        assert lead is not None
        world.b_lead_id = lead.id
        token, token_hash, hint = new_token()
        world.b_token = token
        world.b_token_id = await store.create_api_token(world.b_id, "b-token-secretname", token_hash, hint, None)
        a_token, a_hash, a_hint = new_token()
        world.a_token = a_token
        world.a_token_id = await store.create_api_token(world.a_id, "a-token", a_hash, a_hint, None)
        world.a_webhook_id = await store.create_webhook(
            world.a_id, "http://a-hook.test/hook", "whsec_a", ["lead.created"], None
        )
        world.b_webhook_id = await store.create_webhook(
            world.b_id, "http://b-hook-secret.test/hook", "whsec_b", ["lead.created"], None
        )
        world.b_invite_token = secrets.token_urlsafe(24)
        await store.create_invitation(
            token_hash=hashlib.sha256(world.b_invite_token.encode()).hexdigest(),
            email="new-b@other.test",
            role=Role.MANAGER,
            site_ids=[world.b_id],
            invited_by=world.olga_id,
            expires_at=time.time() + 3600,
        )

    server.with_store(more)
    assert digest(world.b_token)  # the token is real: its digest is what the store keeps
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = seed_world(tmp_path_factory.mktemp("hostile"))
    yield w
    w.server.stop()


__all__ = ["ADMIN", "OWNER", "B_MARKERS", "B_ORIGIN", "MANAGER", "ORIGIN", "OUTSIDER", "World", "new_id", "seed_world"]
