"""Which page origins may talk to a site's widget endpoints."""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_host(origin: str | None) -> str | None:
    if not origin or origin == "null":
        return None
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower().rstrip(".")


def origin_allowed(origin: str | None, allowed_domains: list[str]) -> bool:
    """``example.com`` admits example.com and www.example.com; ``*.example.com`` admits any subdomain.

    Ports are ignored: a domain owner controls every port of it.
    """
    host = origin_host(origin)
    if host is None:
        return False
    for raw in allowed_domains:
        domain = raw.strip().lower().rstrip(".")
        if not domain:
            continue
        if domain.startswith("*."):
            if host.endswith(domain[1:]):
                return True
        elif host == domain or host == "www." + domain:
            return True
    return False
