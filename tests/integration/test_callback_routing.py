"""Callbacks routed live to managers: real server, real sockets on both sides, short timings."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from server.models import Role
from server.telephony import SIGNATURE_HEADER, sign
from tests.integration.test_visitor_socket import lead, send
from tests.support import BeckonServer, login

ANNA = ("anna.cb@example.test", "anna-password-1")
BEN = ("ben.cb@example.test", "ben-password-1")
OWNER = ("olivia.cb@example.test", "olivia-password-1")
ORIGIN = "http://shop.test"

Frame = dict[str, Any]


def callback_site(server: BeckonServer, key: str, **settings: Any) -> str:
    hours = settings.pop("working_hours", None)
    site = server.add_site(
        key, ["shop.test"], name=f"Shop {key}", settings={"phone_region": "GB", "ring_seconds": 1, **settings}
    )
    if hours is not None:

        async def set_hours(store):  # type: ignore[no-untyped-def]
            await store.update_site(site.id, working_hours=hours, timezone="Europe/London")

        server.with_store(set_hours)
    for email, password in (ANNA, BEN, OWNER):
        role = Role.OWNER if email == OWNER[0] else Role.MANAGER

        async def member(store, email=email, password=password, role=role):  # type: ignore[no-untyped-def]
            user = await store.get_user_by_email(email)
            if user is None:
                return None
            await store.add_member(site.id, user.id)
            return user

        if server.with_store(member) is None:
            server.add_user(email, password, sites=[key], name=email.split(".")[0].title(), role=role)
    return key


class Manager:
    def __init__(self, ws: ClientConnection, me: int) -> None:
        self.ws = ws
        self.id = me
        self.unread: list[Frame] = []

    async def next(self, match: Callable[[Frame], bool], timeout: float = 6) -> Frame:
        """The first frame, received or still to come, that matches; others are kept for later."""
        for i, frame in enumerate(self.unread):
            if match(frame):
                return self.unread.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), max(left, 0.01)))
            if match(frame):
                return frame
            self.unread.append(frame)

    async def card(self, ref: str, state: str | None = None, timeout: float = 6, **where: Any) -> Frame:
        return await self.next(
            lambda f: (
                f["type"] == "callback"
                and f["lead"] == ref
                and (state is None or f["state"] == state)
                and all(f.get(k) == v for k, v in where.items())
            ),
            timeout,
        )

    async def command(self, kind: str, **fields: Any) -> Frame:
        frame_id = uuid.uuid4().hex
        await self.ws.send(json.dumps({"type": kind, "id": frame_id, **fields}))
        return await self.next(lambda f: f.get("id") == frame_id and f["type"] in ("ack", "error"))


async def manager(server: BeckonServer, creds: tuple[str, str]) -> Manager:
    with httpx.Client(base_url=server.base) as c:
        login(c, *creds)
        cookie = f"beckon_session={c.cookies.get('beckon_session')}"
    ws = await connect(f"{server.ws_base}/ws/manager", origin=server.base, additional_headers={"Cookie": cookie})
    await ws.send(json.dumps({"type": "hello", "since": 10**9}))
    m = Manager(ws, 0)
    welcome = await m.next(lambda f: f["type"] == "welcome")
    m.id = welcome["user_id"]
    return m


async def visitor_socket(server: BeckonServer, site: str, visitor_id: str | None = None) -> ClientConnection:
    ws = await connect(f"{server.ws_base}/ws/visitor?site={site}", origin=ORIGIN)
    assert (await send(ws, {"type": "hello", "visitor": visitor_id or uuid.uuid4().hex}))["type"] == "welcome"
    return ws


async def status(ws: ClientConnection, state: str, timeout: float = 8) -> Frame:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(deadline - time.monotonic(), 0.01)))
        if frame["type"] == "callback_status" and frame["state"] == state:
            return frame


def events(server: BeckonServer, ref: str) -> list[tuple[str, dict[str, Any]]]:
    async def action(store):  # type: ignore[no-untyped-def]
        found = await store.get_lead(ref)
        return [(e.type, e.data) for e in await store.lead_events(found.id)]

    return server.with_store(action)


def callback_row(server: BeckonServer, ref: str):  # type: ignore[no-untyped-def]
    async def action(store):  # type: ignore[no-untyped-def]
        found = await store.get_lead(ref)
        return await store.get_callback(found.id)

    return server.with_store(action)


@pytest.fixture
def server(fresh_beckon) -> BeckonServer:  # type: ignore[no-untyped-def]
    return fresh_beckon()


async def test_ring_all_alerts_everyone_and_exactly_one_claim_wins(server: BeckonServer) -> None:
    site = callback_site(server, "race", promise_seconds=30, ring_seconds=15)
    anna, ben = await manager(server, ANNA), await manager(server, BEN)
    v = await visitor_socket(server, site)
    ack = await send(v, lead(name="Racer", phone="020 7946 0101"))
    ref = ack["lead"]
    assert ack["callback"]["state"] == "ringing"
    assert 29_000 <= ack["callback"]["due_at"] - ack["callback"]["server_time"] <= 30_000
    card_a, card_b = await anna.card(ref, "ringing"), await ben.card(ref, "ringing")
    assert sorted(card_a["offered_to"]) == sorted([anna.id, ben.id]) == sorted(card_b["offered_to"])
    assert card_a["phone"] == "+442079460101" and card_a["name"] == "Racer"

    results = await asyncio.gather(anna.command("claim", lead=ref), ben.command("claim", lead=ref))
    assert sorted(r["type"] for r in results) == ["ack", "error"]
    loser = next(r for r in results if r["type"] == "error")
    winner_name = "Anna" if results[0]["type"] == "ack" else "Ben"
    assert loser["code"] == "taken" and loser["message"].startswith(f"{winner_name} took this callback")
    claimed = await status(v, "claimed")
    assert claimed["manager"] == winner_name
    taken = await (ben if winner_name == "Anna" else anna).card(ref, "claimed")
    assert taken["claimed_by"]["name"] == winner_name
    row = callback_row(server, ref)
    assert row.promise_kept is True and row.claimed_at is not None
    assert [e for e, _ in events(server, ref)].count("claimed") == 1
    for ws in (anna.ws, ben.ws, v):
        await ws.close()


async def test_round_robin_escalates_to_the_next_manager_then_everyone(server: BeckonServer) -> None:
    site = callback_site(server, "rr", routing="round_robin", promise_seconds=20, ring_seconds=1)
    anna, ben = await manager(server, ANNA), await manager(server, BEN)
    v = await visitor_socket(server, site)
    ref = (await send(v, lead(name="Robin")))["lead"]
    first = await anna.card(ref, "ringing", stage=0)
    assert len(first["offered_to"]) == 1
    second = await anna.card(ref, "ringing", stage=1)
    assert len(second["offered_to"]) == 1 and second["offered_to"] != first["offered_to"]
    everyone = await anna.card(ref, "ringing", stage=2)
    assert sorted(everyone["offered_to"]) == sorted([anna.id, ben.id])
    kinds = [e for e, _ in events(server, ref)]
    assert kinds[:2] == ["created", "routed"] and kinds.count("escalated") == 2
    for ws in (anna.ws, ben.ws, v):
        await ws.close()


async def test_a_missed_promise_is_told_to_the_visitor_and_the_owner(fresh_beckon, smtp_inbox) -> None:  # type: ignore[no-untyped-def]
    server = fresh_beckon(BECKON_SMTP_URL=f"smtp://127.0.0.1:{smtp_inbox.port}", BECKON_MAIL_FROM="beckon@shop.test")
    site = callback_site(server, "slow", promise_seconds=2, ring_seconds=1, missed_grace_seconds=300)
    anna = await manager(server, ANNA)
    v = await visitor_socket(server, site)
    ack = await send(v, lead(name="Waiting Walter"))
    ref = ack["lead"]
    missed = await status(v, "missed")
    # The new time is honest: five more minutes from now, by the server's clock.
    assert 299_000 <= missed["due_at"] - missed["server_time"] <= 300_500
    card = await anna.card(ref, "missed")
    assert anna.id in card["offered_to"]
    message = await smtp_inbox.wait_for(lambda m: "Waiting Walter" in m["body"])
    assert OWNER[0] in message["to"] and "Missed callback on Shop slow" == message["subject"]
    kinds = [e for e, _ in events(server, ref)]
    assert "missed" in kinds
    # Claiming a missed callback still works and the visitor hears who calls.
    assert (await anna.command("claim", lead=ref))["type"] == "ack"
    assert (await status(v, "claimed"))["manager"] == "Anna"
    assert callback_row(server, ref).promise_kept is False
    for ws in (anna.ws, v):
        await ws.close()


def opening_soon(seconds: float) -> tuple[dict[str, list[list[str]]], float]:
    """Working hours (London time) that open ``seconds`` from now and last the rest of the day."""
    tz = zoneinfo.ZoneInfo("Europe/London")
    opens = dt.datetime.now(tz).replace(microsecond=0) + dt.timedelta(seconds=seconds + 1)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[opens.weekday()]
    return {day: [[opens.strftime("%H:%M:%S"), "24:00"]]}, opens.timestamp()


async def test_off_hours_visitor_books_a_slot_and_it_rings_at_its_time(server: BeckonServer) -> None:
    hours, opens_at = opening_soon(2)
    site = callback_site(server, "night", promise_seconds=30, working_hours=hours)
    anna = await manager(server, ANNA)
    config = httpx.get(f"{server.base}/api/v1/sites/{site}/config", headers={"Origin": ORIGIN}).json()
    facts = config["widgets"]["callback"]["hours"]
    assert facts["open"] is False and facts["next_open"] == int(opens_at * 1000)
    slot = facts["slots"][0]
    assert slot["start"] == int(opens_at * 1000)

    v = await visitor_socket(server, site)
    wrong = await send(v, lead(schedule={"start": slot["start"] - 3_600_000, "end": slot["start"]}))
    assert (wrong["code"], wrong["field"]) == ("invalid_field", "schedule")
    ack = await send(v, lead(name="Night Owl", schedule=slot))
    ref = ack["lead"]
    booked = ack["callback"]
    assert booked["state"] == "scheduled" and booked["scheduled_for"] == slot["start"]
    assert booked["window_end"] == slot["end"]
    # Nobody is rung before the slot; at its start the managers are.
    card = await anna.card(ref, "ringing", timeout=10)
    assert time.time() >= opens_at - 0.05
    assert anna.id in card["offered_to"]
    ringing = await status(v, "ringing")
    assert ringing["due_at"] == slot["end"]
    assert [e for e, _ in events(server, ref)][:3] == ["created", "scheduled", "alerted"]
    for ws in (anna.ws, v):
        await ws.close()


async def test_outcomes_are_recorded_once_by_the_manager_who_claimed(server: BeckonServer) -> None:
    site = callback_site(server, "out", promise_seconds=30, ring_seconds=15)
    anna, ben = await manager(server, ANNA), await manager(server, BEN)
    v = await visitor_socket(server, site)
    ref = (await send(v, lead(name="Outcome Olga")))["lead"]
    await anna.card(ref, "ringing")
    assert (await anna.command("claim", lead=ref))["type"] == "ack"
    assert (await ben.command("outcome", lead=ref, outcome="connected"))["code"] == "forbidden"
    assert (await anna.command("outcome", lead=ref, outcome="maybe"))["code"] == "bad_frame"
    assert (await anna.command("dialed", lead=ref))["type"] == "ack"
    assert (await anna.command("outcome", lead=ref, outcome="connected"))["type"] == "ack"
    done = await status(v, "done")
    assert done["outcome"] == "connected"
    again = await anna.command("outcome", lead=ref, outcome="spam")
    assert again["code"] == "already_recorded"
    row = callback_row(server, ref)
    assert row.called_at is not None and row.outcome.value == "connected" and row.attempts == 1
    timeline = events(server, ref)
    assert [e for e, _ in timeline] == ["created", "routed", "claimed", "called", "outcome"]
    assert timeline[-1][1] == {"outcome": "connected"}
    for ws in (anna.ws, ben.ws, v):
        await ws.close()


async def test_a_rescheduled_callback_rings_again_at_the_new_time(server: BeckonServer) -> None:
    site = callback_site(server, "later", promise_seconds=30, ring_seconds=15)
    anna = await manager(server, ANNA)
    v = await visitor_socket(server, site)
    ref = (await send(v, lead(name="Later Larry")))["lead"]
    await anna.command("claim", lead=ref)
    assert (await anna.command("outcome", lead=ref, outcome="reschedule", at=time.time() - 5))["code"] == "bad_time"
    at = time.time() + 1.5
    assert (await anna.command("outcome", lead=ref, outcome="reschedule", at=at))["type"] == "ack"
    scheduled = await status(v, "scheduled")
    assert abs(scheduled["scheduled_for"] / 1000 - at) < 0.01
    await anna.card(ref, "scheduled")
    anna.unread.clear()  # the first ringing card is history now
    card = await anna.card(ref, "ringing", timeout=8)
    assert time.time() >= at - 0.05
    # The manager who talked to them before is asked first.
    assert card["offered_to"] == [anna.id]
    for ws in (anna.ws, v):
        await ws.close()


async def test_a_returning_visitor_goes_first_to_their_manager(server: BeckonServer) -> None:
    site = callback_site(server, "again", promise_seconds=30, ring_seconds=15)
    anna, ben = await manager(server, ANNA), await manager(server, BEN)
    visitor_id = uuid.uuid4().hex
    v = await visitor_socket(server, site, visitor_id)
    first = (await send(v, lead(name="Regular Rita")))["lead"]
    await ben.card(first, "ringing")
    assert (await ben.command("claim", lead=first))["type"] == "ack"
    await ben.command("outcome", lead=first, outcome="connected")
    second = (await send(v, lead(name="Regular Rita", phone="020 7946 0999")))["lead"]
    card = await anna.card(second, "ringing")
    assert card["offered_to"] == [ben.id]
    assert [p["ref"] for p in card["previous"]] == [first] and card["previous"][0]["claimed_by"] == "Ben"
    for ws in (anna.ws, ben.ws, v):
        await ws.close()


async def test_least_busy_offers_the_manager_with_fewer_calls_in_hand(server: BeckonServer) -> None:
    site = callback_site(server, "busy", routing="least_busy", promise_seconds=30, ring_seconds=15)
    anna, ben = await manager(server, ANNA), await manager(server, BEN)
    v = await visitor_socket(server, site)
    first = (await send(v, lead(name="One")))["lead"]
    offered = (await anna.card(first, "ringing"))["offered_to"]
    holder = anna if offered == [anna.id] else ben
    other = ben if holder is anna else anna
    assert (await holder.command("claim", lead=first))["type"] == "ack"
    v2 = await visitor_socket(server, site)
    second = (await send(v2, lead(name="Two", phone="020 7946 0777")))["lead"]
    assert (await other.card(second, "ringing"))["offered_to"] == [other.id]
    for ws in (anna.ws, ben.ws, v, v2):
        await ws.close()


async def test_with_nobody_available_the_promise_is_honest_and_the_first_to_arrive_is_alerted(
    server: BeckonServer,
) -> None:
    site = callback_site(server, "empty", promise_seconds=30, busy_seconds=900)
    v = await visitor_socket(server, site)
    ack = await send(v, lead(name="Early Eve"))
    promise = ack["callback"]
    assert 899_000 <= promise["due_at"] - promise["server_time"] <= 900_000
    anna = await manager(server, ANNA)
    card = await anna.card(ack["lead"], "ringing")
    assert card["offered_to"] == [anna.id]
    # Going away takes her off the offer list for new requests.
    assert (await anna.command("available", on=False))["type"] == "ack"
    assert (await anna.next(lambda f: f["type"] == "me"))["available"] is False
    late = await send(v, lead(name="Late Leo", phone="020 7946 0888"))
    assert (await anna.card(late["lead"], "ringing"))["offered_to"] == []
    for ws in (anna.ws, v):
        await ws.close()


async def test_claims_on_another_sites_callback_are_refused(server: BeckonServer) -> None:
    site = callback_site(server, "mine", promise_seconds=30)
    server.add_user("stranger@example.test", "stranger-pass-1", sites=["other-site"])
    stranger = await manager(server, ("stranger@example.test", "stranger-pass-1"))
    v = await visitor_socket(server, site)
    ref = (await send(v, lead()))["lead"]
    refused = await stranger.command("claim", lead=ref)
    assert refused["code"] == "not_found"
    assert callback_row(server, ref).state.value == "ringing"
    for ws in (stranger.ws, v):
        await ws.close()


async def test_status_is_replayed_to_a_visitor_who_comes_back(server: BeckonServer) -> None:
    site = callback_site(server, "back", promise_seconds=30, ring_seconds=15)
    anna = await manager(server, ANNA)
    visitor_id = uuid.uuid4().hex
    v = await visitor_socket(server, site, visitor_id)
    ref = (await send(v, lead()))["lead"]
    await v.close()
    await anna.card(ref, "ringing")
    await anna.command("claim", lead=ref)
    # The visitor reloads the page: a new socket learns the current state at once.
    again = await connect(f"{server.ws_base}/ws/visitor?site={site}", origin=ORIGIN)
    await again.send(json.dumps({"type": "hello", "visitor": visitor_id}))
    current = await status(again, "claimed")
    assert current["lead"] == ref and current["manager"] == "Anna"
    for ws in (anna.ws, again):
        await ws.close()


async def test_http_telephony_bridges_the_call_and_the_signed_webhook_settles_it(
    server: BeckonServer, provider
) -> None:  # type: ignore[no-untyped-def]
    secret = "provider-shared-secret"
    site = callback_site(
        server, "tel", promise_seconds=30, telephony={"adapter": "http", "url": provider.url, "secret": secret}
    )

    async def give_phone(store):  # type: ignore[no-untyped-def]
        user = await store.get_user_by_email(ANNA[0])
        await store._writer.execute("UPDATE users SET phone = ? WHERE id = ?", ("+442079460000", user.id))

    server.with_store(give_phone)
    anna = await manager(server, ANNA)
    v = await visitor_socket(server, site)
    ref = (await send(v, lead(phone="020 7946 0123")))["lead"]
    assert (await anna.card(ref, "ringing"))["telephony"] == "http"
    await anna.command("claim", lead=ref)
    headers, body = await provider.next_request()
    assert (body["lead"], body["manager_phone"], body["visitor_phone"]) == (ref, "+442079460000", "+442079460123")
    assert headers[SIGNATURE_HEADER.lower()] == sign(secret, body["raw"])

    url = f"{server.base}/api/v1/telephony/status"
    report = json.dumps({"lead": ref, "status": "answered"}).encode()
    forged = httpx.post(url, content=report, headers={SIGNATURE_HEADER: sign("wrong", report)})
    assert forged.status_code == 403
    assert callback_row(server, ref).state.value == "claimed"
    real = httpx.post(url, content=report, headers={SIGNATURE_HEADER: sign(secret, report)})
    assert real.status_code == 200 and real.json() == {"state": "done"}
    assert (await status(v, "done"))["outcome"] == "connected"
    assert httpx.post(url, content=report, headers={SIGNATURE_HEADER: sign(secret, report)}).status_code == 409
    for ws in (anna.ws, v):
        await ws.close()
