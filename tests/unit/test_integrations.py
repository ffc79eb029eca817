"""Integrations pieces that need no server: the hub tap, signatures, tokens, the webhook event filter."""

from __future__ import annotations

import hashlib
import hmac

from server.hub import Hub, site_channel
from server.integrations.records import Webhook
from server.integrations.tokens import digest, new_token
from server.integrations.webhooks import signature


async def test_a_tap_sees_every_publish_subscribed_or_not() -> None:
    hub = Hub()
    seen: list[tuple[str, dict[str, object]]] = []
    hub.tap(lambda channel, message: seen.append((channel, message)))
    assert hub.publish(site_channel(1), {"type": "lead"}) == 0
    async with hub.subscribe([site_channel(2)]) as sub:
        assert hub.publish(site_channel(2), {"type": "callback"}) == 1
        assert await sub.get() == {"type": "callback"}
    assert seen == [("site:1", {"type": "lead"}), ("site:2", {"type": "callback"})]


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"type":"lead.created"}'
    assert signature("s3cret", body) == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature("other", body) != signature("s3cret", body)


def test_tokens_are_random_and_only_their_digest_is_kept() -> None:
    (a, hashed, hint), (b, _, _) = new_token(), new_token()
    assert a != b and a.startswith("bk_") and len(a) > 40
    assert hashed == digest(a) == hashlib.sha256(a.encode()).hexdigest() and a not in hashed
    assert a.startswith(hint.rstrip("…")) and len(hint) < 10


def test_a_webhook_wants_its_events_and_none_when_off() -> None:
    def hook(events: list[str], active: bool = True) -> Webhook:
        return Webhook(id=1, site_id=1, url="http://x", secret="s", events=events, active=active, created_at=0)

    assert hook([]).wants("chat.closed")
    assert hook(["lead.updated"]).wants("lead.updated") and not hook(["lead.updated"]).wants("lead.created")
    assert not hook([], active=False).wants("lead.created")
