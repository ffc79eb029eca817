"""The ``beckon`` command: serve, demo, create-site, create-user, migrate."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import re
import socket
import sys
from collections.abc import Sequence

import uvicorn

from server.drain import Drain
from server.hours import InvalidHours, Schedule
from server.models import Role
from server.passwords import hash_password
from server.request_limits import HeaderDeadline
from server.routing import Strategy
from server.settings import Settings
from server.store import Store, new_ref, open_store

WS_MAX_BYTES = 64 * 1024  # frames over 16 KB get a clear error; far larger ones end the socket
DRAIN_SECONDS = 5.0  # SIGTERM: time for in-flight frames to be stored and acked, within uvicorn's 10 s


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="e.g. sqlite:///var/beckon.sqlite3 (env BECKON_DATABASE_URL)")
    parser.add_argument("--public-url", help="the URL visitors reach this server at (env BECKON_PUBLIC_URL)")


def _add_serve(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    parser.add_argument("--host", help="address to listen on (env BECKON_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (env BECKON_PORT, default 8000)")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        database_url=getattr(args, "database_url", None),
        public_url=getattr(args, "public_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
    )


async def _with_store(settings: Settings, action):  # type: ignore[no-untyped-def]
    store = open_store(settings)
    await store.open()
    try:
        await store.migrate()
        return await action(store)
    finally:
        await store.close()


class DrainingServer(uvicorn.Server):
    """uvicorn, whose shutdown first stops accepting and lets every visitor and manager socket
    finish (and answer) the frame it is storing before closing it with 1012; then uvicorn's own."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the open ones drain
        await self.drain.run(DRAIN_SECONDS)
        await super().shutdown(sockets)


def _serve(settings: Settings) -> int:
    from server.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws_max_size=WS_MAX_BYTES,
        # -- bench (#10): frames are small JSON; per-socket zlib state would double an idle socket's memory --
        ws_per_message_deflate=False,
        proxy_headers=False,
        server_header=False,
        log_level="info",
        timeout_graceful_shutdown=10,
        # -- hostile suite: a request's headers must arrive within 10 s (slowloris), see request_limits --
        http=HeaderDeadline,
    )
    server = DrainingServer(config, app.state.drain)
    server.run()
    return 0 if server.started else 3


def cmd_serve(args: argparse.Namespace) -> int:
    return _serve(_settings(args))


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run(store: Store) -> None:
        return None

    asyncio.run(_with_store(settings, run))
    print(f"database {settings.sqlite_path} is up to date")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from server.demo import seed_demo

    settings = _settings(args)
    site, logins = asyncio.run(_with_store(settings, lambda store: seed_demo(store, settings)))
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    print()
    print("  Beckon demo is starting.")
    print(f"  Demo site (the visitor's side):  {base}/demo/")
    print(f"  Dashboard (the manager's side):  {base}/app/")
    print("  Logins (new passwords on every start):")
    for login in logins:
        print(f"    {login.name:<14} {login.role.value:<8} {login.email:<24} {login.password}")
    print(f"  Site key: {site.key}")
    print()
    sys.stdout.flush()
    return _serve(settings)


def cmd_create_site(args: argparse.Namespace) -> int:
    settings = _settings(args)
    key = args.key or new_ref(16)
    if not re.fullmatch(r"[A-Za-z0-9_-]{3,64}", key):
        print("error: a site key is 3-64 letters, digits, '-' or '_'", file=sys.stderr)
        return 2
    domains = [d.strip().lower() for d in args.domains.split(",") if d.strip()]
    try:
        hours = json.loads(args.hours) if args.hours else {}
        Schedule(hours, args.timezone)
    except (ValueError, InvalidHours) as exc:
        print(f"error: --hours: {exc}", file=sys.stderr)
        return 2
    site_settings = {
        "promise_seconds": args.promise_seconds,
        "ring_seconds": args.ring_seconds,
        "routing": args.routing,
        "require_consent": args.require_consent,
        "phone_region": args.phone_region.upper(),
    }
    if not domains:
        print("error: give at least one allowed domain with --domains example.com,www.example.com", file=sys.stderr)
        return 2

    async def run(store: Store) -> int:
        if await store.get_site_by_key(key):
            print(f"error: a site with key {key!r} exists already", file=sys.stderr)
            return 1
        site = await store.create_site(
            key=key,
            name=args.name,
            allowed_domains=domains,
            timezone=args.timezone,
            locale=args.locale,
            settings=site_settings,
        )
        if hours:
            await store.update_site(site.id, working_hours=hours)
        await store.put_widget(site.id, "callback", {"position": "right"})
        for email in args.member or []:
            user = await store.get_user_by_email(email)
            if user is None:
                print(f"error: no user {email!r}; create it first", file=sys.stderr)
                return 1
            await store.add_member(site.id, user.id)
        print(f"created site {site.name!r} with key {site.key}")
        return 0

    return asyncio.run(_with_store(settings, run))


def cmd_create_user(args: argparse.Namespace) -> int:
    settings = _settings(args)
    password = os.environ.get("BECKON_PASSWORD") or ""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not password:
        password = getpass.getpass("Password (at least 8 characters): ")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def run(store: Store) -> int:
        if await store.get_user_by_email(args.email):
            print(f"error: a user with email {args.email!r} exists already", file=sys.stderr)
            return 1
        user = await store.create_user(
            email=args.email,
            name=args.name or args.email.split("@")[0],
            password_hash=password_hash,
            role=Role(args.role),
        )
        for key in args.site or []:
            site = await store.get_site_by_key(key)
            if site is None:
                print(f"error: no site with key {key!r}", file=sys.stderr)
                return 1
            await store.add_member(site.id, user.id)
        print(f"created {user.role.value} {user.email}")
        return 0

    return asyncio.run(_with_store(settings, run))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beckon", description="Self-hosted lead-capture widgets and dashboard.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the server")
    _add_serve(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="seed the demo site and managers, print the logins, run the server")
    _add_serve(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("migrate", help="apply database migrations")
    _add_common(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-site", help="add a site and print its key")
    _add_common(p)
    p.add_argument("--name", required=True)
    p.add_argument("--domains", required=True, help="comma-separated allowed domains")
    p.add_argument("--key", help="site key (default: random)")
    p.add_argument("--timezone", default="UTC")
    p.add_argument("--locale", default="", help="en or ru (default: the visitor's browser language)")
    p.add_argument("--member", action="append", help="email of a user to add to the site (repeatable)")
    p.add_argument(
        "--hours",
        help='working hours as JSON, e.g. \'{"mon": [["09:00", "18:00"]], "sat": [["10:00", "15:00"]]}\' (default: always open)',
    )
    p.add_argument("--promise-seconds", type=int, default=30, help="the callback promise shown to visitors")
    p.add_argument("--ring-seconds", type=int, default=15, help="how long a manager is rung before escalation")
    p.add_argument("--routing", choices=[s.value for s in Strategy], default=Strategy.RING_ALL.value)
    p.add_argument("--require-consent", action="store_true", help="visitors must tick a consent box")
    p.add_argument("--phone-region", default="US", help="region for numbers typed without a country code")
    p.set_defaults(func=cmd_create_site)

    p = sub.add_parser("create-user", help="add a dashboard user (password from a prompt, stdin or BECKON_PASSWORD)")
    _add_common(p)
    p.add_argument("--email", required=True)
    p.add_argument("--name")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.MANAGER.value)
    p.add_argument("--site", action="append", help="site key the user belongs to (repeatable)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.set_defaults(func=cmd_create_user)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
