"""Settings from ``BECKON_*`` environment variables; CLI flags override them."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/beckon.sqlite3"
    secret_key: str = ""
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    demo_site_key: str = "demo"
    max_frame_bytes: int = 16 * 1024
    # Shorter windows make the abuse limits testable without long waits.
    lead_limit_per_ip: int = 20
    lead_limit_window: int = 600
    lead_limit_per_visitor: int = 5
    chat_per_minute: int = 30
    login_max_failures: int = 5
    login_window: int = 900
    smtp_url: str = ""
    mail_from: str = "Beckon <beckon@localhost>"
    digest_seconds: int = 86400  # how often owners get the new-lead digest by email
    # -- hostile input / headers: believe X-Forwarded-Proto and X-Request-ID only from a proxy we run --
    trust_proxy: bool = False
    body_timeout: int = 30  # seconds for a whole request body to arrive (slow-body clients)
    root: Path = field(default=ROOT)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        base = cls(
            database_url=os.environ.get("BECKON_DATABASE_URL", cls.database_url),
            secret_key=os.environ.get("BECKON_SECRET_KEY", ""),
            public_url=os.environ.get("BECKON_PUBLIC_URL", ""),
            host=os.environ.get("BECKON_HOST", cls.host),
            port=_env_int("BECKON_PORT", cls.port),
            demo_site_key=os.environ.get("BECKON_DEMO_SITE_KEY", cls.demo_site_key),
            lead_limit_per_ip=_env_int("BECKON_LEAD_LIMIT_PER_IP", cls.lead_limit_per_ip),
            lead_limit_window=_env_int("BECKON_LEAD_LIMIT_WINDOW", cls.lead_limit_window),
            lead_limit_per_visitor=_env_int("BECKON_LEAD_LIMIT_PER_VISITOR", cls.lead_limit_per_visitor),
            chat_per_minute=_env_int("BECKON_CHAT_PER_MINUTE", cls.chat_per_minute),
            login_max_failures=_env_int("BECKON_LOGIN_MAX_FAILURES", cls.login_max_failures),
            login_window=_env_int("BECKON_LOGIN_WINDOW", cls.login_window),
            smtp_url=os.environ.get("BECKON_SMTP_URL", ""),
            mail_from=os.environ.get("BECKON_MAIL_FROM", cls.mail_from),
            digest_seconds=_env_int("BECKON_DIGEST_SECONDS", cls.digest_seconds),
            # -- hostile input / headers --
            trust_proxy=os.environ.get("BECKON_TRUST_PROXY", "").lower() in ("1", "true", "yes"),
            body_timeout=_env_int("BECKON_BODY_TIMEOUT", cls.body_timeout),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        return replace(base, **clean)  # type: ignore[arg-type]

    @property
    def sqlite_path(self) -> Path:
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            raise SystemExit(
                f"BECKON_DATABASE_URL must look like sqlite:///path/to/file.sqlite3, got {self.database_url!r}"
            )
        path = Path(self.database_url[len(prefix) :])
        return path if path.is_absolute() else self.root / path

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def with_secret(self) -> Settings:
        """Use BECKON_SECRET_KEY, or a key generated once and kept beside the database."""
        if self.secret_key:
            return self
        key_file = self.sqlite_path.parent / "secret_key"
        if key_file.exists():
            return replace(self, secret_key=key_file.read_text().strip())
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return replace(self, secret_key=key)
