"""Every route of the app, read from the app itself, and who may use each.

A route that is not in ``MATRIX`` fails the suite: whoever adds a route says here who may use it
and which of site B's ids fill its parameters, and the permission and CSRF tests then cover it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from starlette.routing import Mount, Route, WebSocketRoute

from server.app import create_app
from server.settings import Settings
from tests.conftest import OTHER_SITE, SITE
from tests.hostile.conftest import World


class Access(enum.Enum):
    PUBLIC = "public"  # anyone: no site data behind it
    VISITOR = "visitor"  # widget endpoints: a site key plus an allowed Origin (test_visitor_input)
    SIGNED = "signed"  # the telephony provider: an HMAC-signed body
    SETUP = "setup"  # first run only; closed once anyone exists
    SECRET_LINK = "secret link"  # an unguessable token in the path is the key (invitation, preview)
    SIGNED_IN = "signed in"  # any dashboard user, on their own sites only
    EDITOR = "owner/admin"  # owners and admins only, on their own sites only
    TOKEN = "api token"  # a bearer token, on its own site only


@dataclass(frozen=True)
class Rule:
    access: Access
    # Path parameter -> World attribute holding the value of site B (or a literal for fixed parts).
    params: dict[str, str] = field(default_factory=dict)
    # For pages that pick the site from the query or the form: site B there.
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    # Same parameters for site A (the manager-on-editor-pages check uses A's own things).
    own: dict[str, str] = field(default_factory=dict)


B_WIDGET = {"site": "=" + OTHER_SITE, "kind": "=callback", "slug": "=main"}
A_WIDGET = {"site": "=" + SITE, "kind": "=callback", "slug": "=main"}

MATRIX: dict[tuple[str, str], Rule] = {
    ("GET", "/"): Rule(Access.PUBLIC),
    ("GET", "/healthz"): Rule(Access.PUBLIC),
    ("GET", "/embed.js"): Rule(Access.PUBLIC),
    ("GET", "/widgets/{filename}"): Rule(Access.PUBLIC, {"filename": "=runtime.js"}),
    ("GET", "/api/v1/sites/{key}/config"): Rule(Access.VISITOR, {"key": "=" + OTHER_SITE}),
    ("POST", "/api/v1/collect"): Rule(Access.VISITOR, query={"site": "=" + OTHER_SITE}),
    ("OPTIONS", "/api/v1/collect"): Rule(Access.VISITOR, query={"site": "=" + OTHER_SITE}),
    ("POST", "/api/v1/telephony/status"): Rule(Access.SIGNED),
    ("GET", "/api/v1/leads"): Rule(Access.TOKEN),
    ("GET", "/api/v1/leads.csv"): Rule(Access.TOKEN),
    ("GET", "/api/v1/leads/{ref}"): Rule(Access.TOKEN, {"ref": "b_lead_ref"}),
    ("PATCH", "/api/v1/leads/{ref}"): Rule(Access.TOKEN, {"ref": "b_lead_ref"}),
    ("GET", "/app/integrations"): Rule(Access.EDITOR, query={"site": "b_id"}),
    ("POST", "/app/integrations/tokens"): Rule(Access.EDITOR, form={"site": "b_id"}),
    ("POST", "/app/integrations/tokens/{token_id}/revoke"): Rule(
        Access.EDITOR, {"token_id": "b_token_id"}, own={"token_id": "a_token_id"}
    ),
    ("POST", "/app/integrations/webhooks"): Rule(Access.EDITOR, form={"site": "b_id"}),
    ("POST", "/app/integrations/webhooks/{webhook_id}/toggle"): Rule(
        Access.EDITOR, {"webhook_id": "b_webhook_id"}, own={"webhook_id": "a_webhook_id"}
    ),
    ("WS", "/ws/visitor"): Rule(Access.VISITOR),
    ("WS", "/ws/manager"): Rule(Access.SIGNED_IN),
    ("GET", "/app"): Rule(Access.SIGNED_IN),
    ("GET", "/app/"): Rule(Access.SIGNED_IN),
    ("GET", "/app/login"): Rule(Access.PUBLIC),
    ("POST", "/app/login"): Rule(Access.PUBLIC),
    ("POST", "/app/logout"): Rule(Access.SIGNED_IN),
    ("GET", "/app/inbox"): Rule(Access.SIGNED_IN),
    ("GET", "/app/leads"): Rule(Access.SIGNED_IN, query={"site": "b_id", "q": "=Bertha"}),
    ("GET", "/app/leads/{ref}"): Rule(Access.SIGNED_IN, {"ref": "b_lead_ref"}),
    ("GET", "/app/leads.csv"): Rule(Access.SIGNED_IN, query={"site": "b_id"}),
    ("POST", "/app/leads/{ref}"): Rule(Access.SIGNED_IN, {"ref": "b_lead_ref"}),
    ("POST", "/app/leads/{ref}/anonymise"): Rule(Access.EDITOR, {"ref": "b_lead_ref"}, own={"ref": "a_lead_ref"}),
    ("POST", "/app/leads/{ref}/delete"): Rule(Access.EDITOR, {"ref": "b_lead_ref"}, own={"ref": "a_lead_ref"}),
    ("GET", "/app/audit"): Rule(Access.EDITOR, query={"site": "b_id"}),
    ("POST", "/app/me/photo"): Rule(Access.SIGNED_IN),
    ("GET", "/media/people/{name}"): Rule(Access.PUBLIC, {"name": "=1-0123456789abcdef.png"}),
    ("GET", "/app/analytics"): Rule(Access.EDITOR, query={"site": "=" + OTHER_SITE}),
    ("GET", "/app/team"): Rule(Access.EDITOR),
    ("POST", "/app/team/invite"): Rule(Access.EDITOR, form={"sites": "b_id"}),
    ("POST", "/app/team/{user_id:int}"): Rule(Access.EDITOR, {"user_id": "olga_id"}, own={"user_id": "anna_id"}),
    ("GET", "/app/invite/{token}"): Rule(Access.SECRET_LINK, {"token": "b_invite_token"}),
    ("POST", "/app/invite/{token}"): Rule(Access.SECRET_LINK, {"token": "b_invite_token"}),
    ("GET", "/app/me"): Rule(Access.SIGNED_IN),
    ("POST", "/app/me"): Rule(Access.SIGNED_IN),
    ("GET", "/app/setup"): Rule(Access.SETUP),
    ("POST", "/app/setup"): Rule(Access.SETUP),
    ("GET", "/app/sites"): Rule(Access.EDITOR),
    ("POST", "/app/sites"): Rule(Access.EDITOR),
    ("GET", "/app/sites/{key}"): Rule(Access.EDITOR, {"key": "=" + OTHER_SITE}, own={"key": "=" + SITE}),
    ("POST", "/app/sites/{key}"): Rule(Access.EDITOR, {"key": "=" + OTHER_SITE}, own={"key": "=" + SITE}),
    ("GET", "/app/widgets"): Rule(Access.EDITOR),
    ("POST", "/app/widgets/new"): Rule(Access.EDITOR, form={"site": "b_id"}),
    ("GET", "/app/widgets/{site}/{kind}/{slug}"): Rule(Access.EDITOR, B_WIDGET, own=A_WIDGET),
    ("POST", "/app/widgets/{site}/{kind}/{slug}"): Rule(Access.EDITOR, B_WIDGET, own=A_WIDGET),
    ("POST", "/app/widgets/{site}/{kind}/{slug}/restore/{version:int}"): Rule(
        Access.EDITOR, B_WIDGET | {"version": "=1"}, own=A_WIDGET | {"version": "=1"}
    ),
    ("GET", "/app/preview/{site}/{kind}/{slug}"): Rule(Access.EDITOR, B_WIDGET, own=A_WIDGET),
    ("POST", "/app/preview/{site}/{kind}/{slug}"): Rule(Access.EDITOR, B_WIDGET, own=A_WIDGET),
    ("GET", "/app/preview-config/{token}"): Rule(Access.SECRET_LINK, {"token": "=not-a-real-preview-token"}),
    ("GET", "/app/static/{path}"): Rule(Access.PUBLIC, {"path": "=app.css"}),
    ("GET", "/demo/"): Rule(Access.PUBLIC),
    ("GET", "/demo/{path:path}"): Rule(Access.PUBLIC, {"path": "=index.html"}),
}


def app_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, read from the app's own route table."""
    app = create_app(Settings(database_url="sqlite:////nonexistent/beckon.sqlite3", secret_key="routes-only"))
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Route):
            found += [(method, route.path) for method in sorted(route.methods or {"GET"}) if method != "HEAD"]
        elif isinstance(route, WebSocketRoute):
            found.append(("WS", route.path))
        elif isinstance(route, Mount):
            found.append(("GET", route.path + "/{path}"))
    return found


_PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")


def value_of(world: World, ref: str) -> str:
    return ref[1:] if ref.startswith("=") else str(getattr(world, ref))


def fill(world: World, path: str, params: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise KeyError(f"{path}: no value for {{{name}}} in the matrix (tests/hostile/routes.py)")
        return value_of(world, params[name])

    return _PARAM.sub(one, path)


def rule_for(method: str, path: str) -> Rule:
    try:
        return MATRIX[(method, path)]
    except KeyError:
        raise AssertionError(
            f"{method} {path} has no entry in tests/hostile/routes.py MATRIX: say who may use it and "
            "which ids of site B fill its parameters, so the permission and CSRF tests cover it"
        ) from None
