"""How a claimed callback turns into a phone call.

``manual``: the manager dials from the tel: link and records the outcome.
``http``: classic callback services ring the manager first and bridge the visitor in;
Beckon asks such a provider to do it with a signed POST, and the provider reports
back through a signed status webhook (``/api/v1/telephony/status``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any, Protocol

import httpx

log = logging.getLogger("beckon.telephony")
SIGNATURE_HEADER = "X-Beckon-Signature"


class TelephonyError(Exception):
    pass


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    return bool(secret and header) and hmac.compare_digest(sign(secret, body), header or "")


class Telephony(Protocol):
    name: str

    async def start_call(self, *, lead_ref: str, manager_phone: str | None, visitor_phone: str) -> None: ...


class ManualTelephony:
    name = "manual"

    async def start_call(self, *, lead_ref: str, manager_phone: str | None, visitor_phone: str) -> None:
        return None


class HttpTelephony:
    name = "http"

    def __init__(self, url: str, secret: str, timeout: float = 5.0) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout

    async def start_call(self, *, lead_ref: str, manager_phone: str | None, visitor_phone: str) -> None:
        if not manager_phone:
            raise TelephonyError("the manager has no phone number to ring first")
        body = json.dumps(
            {"lead": lead_ref, "manager_phone": manager_phone, "visitor_phone": visitor_phone}, separators=(",", ":")
        ).encode()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.post(
                    self.url,
                    content=body,
                    headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)},
                )
        except httpx.HTTPError as exc:
            raise TelephonyError(f"the telephony provider could not be reached: {exc}") from exc
        if reply.status_code >= 300:
            raise TelephonyError(f"the telephony provider answered {reply.status_code}")


def telephony_for(settings: dict[str, Any]) -> Telephony:
    config = settings.get("telephony") or {}
    if config.get("adapter") == "http" and config.get("url"):
        return HttpTelephony(str(config["url"]), str(config.get("secret") or ""))
    return ManualTelephony()
