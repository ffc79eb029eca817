"""API tokens: shown once when made, kept only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "bk_"


def new_token() -> tuple[str, str, str]:
    """A fresh token, its digest (what is stored) and a hint that identifies it in lists."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, digest(token), token[: len(PREFIX) + 4] + "…"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)
