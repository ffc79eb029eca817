"""Test support: a real Beckon server in a subprocess on loopback, and direct store access for setup and checks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from server.models import Role, Site, User
from server.passwords import hash_password
from server.store import Store
from server.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from sync code, even inside Playwright's sync API (which owns this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(fn())).result()  # type: ignore[arg-type]


@dataclass
class BeckonServer:
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def db_path(self) -> Path:
        return self.workdir / "beckon.sqlite3"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def start(self) -> BeckonServer:
        env = {
            **os.environ,
            "BECKON_DATABASE_URL": f"sqlite:///{self.db_path}",
            "BECKON_SECRET_KEY": "test-secret-key-not-used-anywhere-else",
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)  # polling for readiness, not standing in for an event
        raise RuntimeError(f"server did not become healthy:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- direct store access (same SQLite file; WAL lets both sides work) -----------

    def with_store(self, action: Callable[[Store], Awaitable[T]]) -> T:
        async def run() -> T:
            store = SQLiteStore(self.db_path)
            await store.open()
            try:
                await store.migrate()
                return await action(store)
            finally:
                await store.close()

        return run_async(run)

    def add_site(
        self,
        key: str,
        domains: list[str],
        *,
        name: str | None = None,
        widgets: dict[str, dict[str, Any]] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Site:
        async def action(store: Store) -> Site:
            site = await store.create_site(
                key=key, name=name or key.title(), allowed_domains=domains, settings=settings or {"phone_region": "GB"}
            )
            for widget, config in (widgets if widgets is not None else {"callback": {}}).items():
                kind, _, slug = widget.partition(":")  # "quiz:kitchen-cost": a quiz with its slug
                await store.put_widget(site.id, kind, config, slug=slug)
            return site

        return self.with_store(action)

    def add_user(
        self, email: str, password: str, *, sites: list[str], name: str = "", role: Role = Role.MANAGER
    ) -> User:
        async def action(store: Store) -> User:
            user = await store.create_user(
                email=email, name=name or email.split("@")[0].title(), password_hash=hash_password(password), role=role
            )
            for key in sites:
                site = await store.get_site_by_key(key)
                assert site is not None, key
                await store.add_member(site.id, user.id)
            return user

        return self.with_store(action)

    def leads(self, site_key: str) -> list[Any]:
        async def action(store: Store) -> list[Any]:
            site = await store.get_site_by_key(site_key)
            assert site is not None
            return await store.list_leads([site.id], limit=10_000)

        return self.with_store(action)


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """Sign in the way the form does: fetch it for the CSRF token, then post."""
    page = client.get("/app/login")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return client.post("/app/login", data={"email": email, "password": password, "csrf": token})


def csrf_from(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]
