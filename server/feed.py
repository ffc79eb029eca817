"""What manager dashboards are told about leads, live and on replay."""

from __future__ import annotations

from typing import Any

from server.models import Lead
from server.phones import format_phone


def lead_summary(lead: Lead) -> dict[str, Any]:
    return {
        "type": "lead",
        "seq": lead.id,
        "ref": lead.ref,
        "kind": lead.kind,
        "status": lead.status.value,
        "phone": lead.phone,
        "phone_display": format_phone(lead.phone) if lead.phone else "",
        "name": lead.name or "",
        "email": lead.email or "",
        "site_id": lead.site_id,
        "site": lead.site_name,
        "page": lead.context.get("url", ""),
        "source": lead.source,
        "offer": lead.context.get("offer", ""),
        "about": about(lead),
        "created_at": lead.created_at,
    }


def about(lead: Lead) -> str:
    """One line on what the visitor asked through: the quiz and its results, or the popup's offer."""
    answers = lead.answers
    if lead.kind == "quiz" and answers.get("title"):
        shown = " · ".join(f"{s['label']} {s['value']}" for s in answers.get("shown") or [])
        return f"{answers['title']}" + (f": {shown}" if shown else "")
    if lead.kind == "popup":
        return str(answers.get("title", ""))
    return ""
