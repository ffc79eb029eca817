"""The application factory: wires the store, hub and endpoints together."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders  # -- reliability (session 4) --
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send  # -- reliability (session 4) --

from server.assets import Assets, accepts_gzip
from server.chat import ChatService
from server.dashboard.crm import LeadPages  # -- leads CRM --
from server.dashboard.live import FollowUpReminders, ManagerFeed  # -- leads CRM: reminders --
from server.dashboard.reports import ReportPages
from server.dashboard.sessions import LoginThrottle, Sessions
from server.dashboard.sites import SitePages
from server.dashboard.team import TeamPages
from server.dashboard.views import Dashboard
from server.dashboard.widgets import WidgetPages
from server.demo import DemoSite
from server.digest import Digest
from server.hub import Hub
from server.ingest import Ingest
from server.integrations.api import LeadsAPI  # -- integrations --
from server.integrations.pages import IntegrationPages  # -- integrations --
from server.integrations.webhooks import Webhooks  # -- integrations --
from server.logs import RequestLog, install_logs  # -- hostile input: structured logs --
from server.mailer import Mailer
from server.request_limits import BodyLimits  # -- hostile input --
from server.routing import Router
from server.security import SecurityHeaders, headers_for, request_is_tls
from server.settings import Settings
from server.store import Store, StoreUnavailable, open_store
from server.telephony_api import TelephonyWebhook
from server.visitor_api import VisitorAPI

log = logging.getLogger("beckon")


# -- reliability (session 4): content coding -------------------------------------------------------
class NegotiatedGZip(GZipMiddleware):
    """Starlette's GZipMiddleware, but choosing gzip by the q-values, as the script endpoints do
    (server/assets.py): it gzipped for any Accept-Encoding containing "gzip", even ``gzip;q=0``,
    which refuses it. And each Vary name once: it added ``Accept-Encoding`` again to the pre-gzipped
    scripts' own ``Vary: Accept-Encoding``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        responder: ASGIApp
        if accepts_gzip(Headers(scope=scope).get("accept-encoding", "")):
            responder = GZipResponder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=self.exclude_content_types,
            )
        else:
            responder = IdentityResponder(self.app, self.minimum_size, exclude_content_types=self.exclude_content_types)

        async def send_one_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message["headers"])
                named = [v.strip() for line in headers.getlist("vary") for v in line.split(",") if v.strip()]
                once: dict[str, str] = {}
                for name in named:
                    once.setdefault(name.lower(), name)
                if len(once) < len(named):
                    headers["Vary"] = ", ".join(once.values())
            await send(message)

        await responder(scope, receive, send_one_vary)


def create_app(settings: Settings | None = None, store: Store | None = None) -> Starlette:
    settings = (settings or Settings.from_env()).with_secret()
    store = store or open_store(settings)
    hub = Hub()
    assets = Assets(settings.root)
    mailer = Mailer(settings.smtp_url, settings.mail_from) if settings.smtp_url else None
    router = Router(store, hub, mailer)
    digest = Digest(store, mailer, settings.digest_seconds, settings.public_url) if mailer else None
    chat = ChatService(store, hub, router, settings)
    ingest = Ingest(store, hub, router, chat, settings)
    visitor = VisitorAPI(store, ingest, router, assets, settings)
    sessions = Sessions(store, settings)
    dashboard = Dashboard(store, sessions, LoginThrottle(settings))
    widgets = WidgetPages(dashboard, visitor)
    crm = LeadPages(dashboard, hub)  # -- leads CRM --
    reminders = FollowUpReminders(store, hub)  # -- leads CRM: follow-up reminders --
    sites = SitePages(dashboard, settings)
    team = TeamPages(dashboard, hub)
    reports = ReportPages(dashboard)
    # -- reliability (session 4): SIGTERM drains manager sockets too, with the visitors' Drain --
    feed = ManagerFeed(store, hub, router, chat, sessions, visitor.drain)
    webhooks = TelephonyWebhook(store, router)
    demo = DemoSite(settings)
    # -- integrations --
    leads_api = LeadsAPI(store, hub)
    integrations = IntegrationPages(dashboard)
    outgoing = Webhooks(store, hub)

    trust = settings.trust_proxy  # -- hostile input --

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        install_logs()  # -- hostile input: here, after uvicorn has set up its own loggers --
        # -- fault suite: a database that can't be opened or written ends startup with one clear line,
        # and its half-opened connections are closed (their threads would keep the process alive) --
        try:
            await store.open()
            applied = await store.migrate()
        except Exception as exc:
            log.error("cannot use the database %s: %s", settings.database_url, exc)
            await store.close()
            raise
        if applied:
            log.info("applied migrations %s", applied)
        await router.start()
        await outgoing.start()  # -- integrations --
        await reminders.start()  # -- leads CRM: follow-ups that fell due while down fire now --
        if digest:
            digest.start()
        yield
        if digest:
            await digest.stop()
        await reminders.stop()  # -- leads CRM --
        await outgoing.stop()  # -- integrations --
        await router.stop()
        await store.close()

    # -- hostile input / healthz and errors --
    async def healthz(request: Request) -> Response:
        """Up only when the database takes a write and answers a read; a load balancer reads the status."""
        try:
            await store.health_check()
        except (StoreUnavailable, RuntimeError) as exc:
            log.warning("health check failed: %s", exc)
            return JSONResponse({"status": "down", "database": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    async def root(request: Request) -> Response:
        return RedirectResponse("/app/", status_code=303)

    async def server_error(request: Request, exc: Exception) -> Response:
        """No stack trace to the client: a plain answer carrying the request id that finds it in the log."""
        rid = getattr(request.state, "request_id", "")
        log.error("unhandled error on %s %s request_id=%s", request.method, request.url.path, rid, exc_info=exc)
        headers = {"X-Request-ID": rid} | {
            k.decode(): v.decode()
            for k, v in headers_for(request.url.path, settings.secure_cookies or request_is_tls(request.scope, trust))
        }
        message = "Something went wrong on our side. It has been logged"
        if request.url.path.startswith("/api/"):
            body = {"error": {"code": "internal", "message": message + ".", "request_id": rid}}
            return JSONResponse(body, status_code=500, headers=headers)
        return PlainTextResponse(f"{message} as request {rid}.", status_code=500, headers=headers)

    routes = [
        Route("/", root),
        Route("/healthz", healthz),
        Route("/embed.js", assets.embed_js),
        Route("/widgets/{filename}", assets.widget_chunk),
        Route("/api/v1/sites/{key}/config", visitor.site_config),
        Route("/api/v1/collect", visitor.collect, methods=["POST", "OPTIONS"]),
        Route("/api/v1/telephony/status", webhooks.status, methods=["POST"]),
        # -- integrations --
        Route("/api/v1/leads", leads_api.list, methods=["GET"]),
        Route("/api/v1/leads.csv", leads_api.csv, methods=["GET"]),
        Route("/api/v1/leads/{ref}", leads_api.get, methods=["GET"]),
        Route("/api/v1/leads/{ref}", leads_api.patch, methods=["PATCH"]),
        Route("/app/integrations", integrations.index, methods=["GET"]),
        Route("/app/integrations/tokens", integrations.create_token, methods=["POST"]),
        Route("/app/integrations/tokens/{token_id}/revoke", integrations.revoke_token, methods=["POST"]),
        Route("/app/integrations/webhooks", integrations.create_webhook, methods=["POST"]),
        Route("/app/integrations/webhooks/{webhook_id}/toggle", integrations.toggle_webhook, methods=["POST"]),
        WebSocketRoute("/ws/visitor", visitor.socket),
        WebSocketRoute("/ws/manager", feed.socket),
        Route("/app", dashboard.home),
        Route("/app/", dashboard.home),
        Route("/app/login", dashboard.login_page, methods=["GET"]),
        Route("/app/login", dashboard.login, methods=["POST"]),
        Route("/app/logout", dashboard.logout, methods=["POST"]),
        Route("/app/inbox", dashboard.inbox),
        # -- leads CRM --
        Route("/app/leads", crm.leads, methods=["GET"]),
        Route("/app/leads/{ref}", crm.lead, methods=["GET"]),
        Route("/app/leads.csv", crm.export, methods=["GET"]),
        Route("/app/leads/{ref}", crm.change, methods=["POST"]),
        Route("/app/leads/{ref}/anonymise", crm.anonymise, methods=["POST"]),
        Route("/app/leads/{ref}/delete", crm.delete, methods=["POST"]),
        Route("/app/audit", crm.audit, methods=["GET"]),  # -- leads CRM: audit log --
        Route("/app/analytics", reports.analytics),
        # -- team --
        Route("/app/team", team.index, methods=["GET"]),
        Route("/app/team/invite", team.invite, methods=["POST"]),
        Route("/app/team/{user_id:int}", team.change, methods=["POST"]),
        Route("/app/invite/{token}", team.invitation_page, methods=["GET"]),
        Route("/app/invite/{token}", team.accept, methods=["POST"]),
        Route("/app/me", team.me, methods=["GET"]),
        Route("/app/me", team.save_me, methods=["POST"]),
        Route("/app/me/photo", team.upload_photo, methods=["POST"]),  # -- team: uploaded photos --
        Route("/media/people/{name}", team.photo, methods=["GET"]),  # -- team: public, for the chat widget --
        # -- sites and setup --
        Route("/app/setup", sites.setup_page, methods=["GET"]),
        Route("/app/setup", sites.setup, methods=["POST"]),
        Route("/app/sites", sites.index, methods=["GET"]),
        Route("/app/sites", sites.create, methods=["POST"]),
        Route("/app/sites/{key}", sites.edit, methods=["GET"]),
        Route("/app/sites/{key}", sites.save, methods=["POST"]),
        Route("/app/widgets", widgets.index),
        Route("/app/widgets/new", widgets.create, methods=["POST"]),
        Route("/app/widgets/{site}/{kind}/{slug}", widgets.edit, methods=["GET"]),
        Route("/app/widgets/{site}/{kind}/{slug}", widgets.save, methods=["POST"]),
        Route("/app/widgets/{site}/{kind}/{slug}/restore/{version:int}", widgets.restore, methods=["POST"]),
        Route("/app/preview/{site}/{kind}/{slug}", widgets.preview, methods=["GET", "POST"]),
        Route("/app/preview-config/{token}", widgets.preview_config),
        Mount("/app/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        Route("/demo/", demo.page),
        Route("/demo/{path:path}", demo.page),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestLog, trust_proxy=trust),  # -- hostile input: request ids, access lines --
            Middleware(SecurityHeaders, trust_proxy=trust, public_https=settings.secure_cookies),
            Middleware(BodyLimits, seconds=settings.body_timeout),  # -- hostile input: slow or huge bodies --
            Middleware(NegotiatedGZip, minimum_size=600),  # -- reliability (session 4): q-values, one Vary --
        ],
        exception_handlers={500: server_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.hub = hub
    app.state.drain = visitor.drain  # -- fault suite: SIGTERM drains visitor and manager sockets (server/cli.py) --
    return app
