"""SQLite backend (aiosqlite, WAL). All SQL of the embedded default lives here."""

from __future__ import annotations

import asyncio
import enum
import json
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from server.integrations.records import ApiToken, Attempt, Delivery, Webhook  # -- integrations --
from server.models import (
    Actor,
    AuditEntry,
    Callback,
    CallbackState,
    Conversation,
    ConversationState,
    EventRecord,
    Lead,
    LeadEvent,
    LeadFilter,
    LeadStatus,
    Message,
    NewLead,
    Outcome,
    QuizSave,
    Role,
    Site,
    User,
    Visitor,
    Widget,
)
from server.store import FrameTaken, StoreUnavailable, new_ref

T = TypeVar("T")
TRAIL_LIMIT = 50
HOOKS_MAX_AGE = 5.0  # seconds a cached list of a site's active webhooks is trusted
_WRITE_FAILURES = ("disk is full", "readonly", "read-only", "disk i/o error", "database is locked", "unable to open")


def _is_refusal(exc: sqlite3.OperationalError) -> bool:
    """The database can't take writes now (full, read-only, locked): the client should retry later."""
    return any(marker in str(exc).lower() for marker in _WRITE_FAILURES)


def _fail(batch: list[asyncio.Future[None]], why: str) -> None:
    """Tell every caller of a batch that its work was not stored."""
    for durable in batch:
        if not durable.done():
            durable.set_exception(StoreUnavailable(why))


# -- bench (#10): statements run together on the writer's thread, one trip per caller --


def _open_caller(conn: sqlite3.Connection) -> None:
    """Open the shared transaction if none is open, and this caller's savepoint in it."""
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    conn.execute("SAVEPOINT caller")


class _TransactionLost(Exception):
    """A caller failed and SQLite had already dropped the whole shared transaction with it."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _as_caller(conn: sqlite3.Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """``fn(conn, *args)`` in the caller's savepoint of the shared transaction; on failure only that
    savepoint is undone, unless SQLite dropped the whole transaction (_TransactionLost)."""
    _open_caller(conn)
    try:
        result = fn(conn, *args)
        conn.execute("RELEASE caller")
        return result
    except BaseException as exc:
        undone = False
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO caller")
                conn.execute("RELEASE caller")
                undone = True
        except sqlite3.Error:
            with suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        if undone:
            raise
        raise _TransactionLost(exc) from exc


def _upsert_visitor_now(
    conn: sqlite3.Connection, site_id: int, visitor_key: str, context: dict[str, Any], user_agent: str
) -> int:
    now = time.time()
    trail = context.get("trail") or []
    conn.execute(
        "INSERT INTO visitors (site_id, visitor_key, first_seen, last_seen, user_agent, referrer,"
        " landing_page, utm, page_trail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (site_id, visitor_key) DO UPDATE SET last_seen = excluded.last_seen,"
        " user_agent = excluded.user_agent",
        (
            site_id,
            visitor_key,
            now,
            now,
            user_agent,
            context.get("referrer", ""),
            context.get("landing", ""),
            _dumps(context.get("utm") or {}),
            _dumps(trail[-TRAIL_LIMIT:]),
        ),
    )
    row = conn.execute(
        "SELECT id, page_trail FROM visitors WHERE site_id = ? AND visitor_key = ?", (site_id, visitor_key)
    ).fetchone()
    assert row is not None
    if trail:
        merged = json.loads(row["page_trail"])
        seen = {(p.get("url"), p.get("at")) for p in merged}
        merged.extend(p for p in trail if (p.get("url"), p.get("at")) not in seen)
        merged.sort(key=lambda p: p.get("at") or 0)
        conn.execute("UPDATE visitors SET page_trail = ? WHERE id = ?", (_dumps(merged[-TRAIL_LIMIT:]), row["id"]))
    return int(row["id"])


_INSERT_LEAD = (
    "INSERT INTO leads (ref, site_id, visitor_id, kind, status, phone, email, name, answers, source, context,"
    " client_frame_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _lead_values(
    new: NewLead, visitor_id: int, kind: str, status: LeadStatus, answers: dict[str, Any], now: float
) -> tuple[Any, ...]:
    """The parameters of _INSERT_LEAD: a new lead with a fresh ref."""
    return (
        new_ref(),
        new.site_id,
        visitor_id,
        kind,
        status.value,
        new.phone,
        new.email,
        new.name,
        _dumps(answers),
        new.source,
        _dumps(new.context),
        new.client_frame_id,
        now,
        now,
    )


def _create_lead_now(
    conn: sqlite3.Connection,
    new: NewLead,
    callback: dict[str, Any] | None,
    events: list[EventRecord],
    now: float,
) -> tuple[sqlite3.Row, bool, sqlite3.Row | None]:
    """create_lead's statements, all in one go (inside the caller's savepoint): the lead's row, whether
    it is new, and its new callback's row (read here, in the open transaction: ~16 us less than asking
    the lookup connection for it afterwards)."""
    existing = conn.execute(
        "SELECT * FROM leads WHERE site_id = ? AND client_frame_id = ?", (new.site_id, new.client_frame_id)
    ).fetchone()
    if existing is not None:
        return existing, False, None
    visitor_id = _upsert_visitor_now(conn, new.site_id, new.visitor_key, new.context, new.user_agent)
    cur = conn.execute(_INSERT_LEAD, _lead_values(new, visitor_id, new.kind, LeadStatus.NEW, new.answers, now))
    lead_id = int(cur.lastrowid or 0)
    rows = [(lead_id, now, "created", Actor.VISITOR.value, None, _dumps({"page": new.context.get("url", "")}))]
    rows += [(lead_id, now, e.type, e.actor_type.value, e.actor_id, _dumps(e.data)) for e in events]
    promise = None
    if callback is not None:
        fields = {"lead_id": lead_id, "site_id": new.site_id, "updated_at": now, **callback}
        _, params = _assignments(fields, _CALLBACK_FIELDS | {"lead_id", "site_id", "updated_at"})
        conn.execute(f"INSERT INTO callbacks ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})", params)
        promise = conn.execute("SELECT * FROM callbacks WHERE lead_id = ?", (lead_id,)).fetchone()
    conn.executemany(
        "INSERT INTO lead_events (lead_id, at, type, actor_type, actor_id, data) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
    row = conn.execute(
        "SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id WHERE l.id = ?", (lead_id,)
    ).fetchone()
    assert row is not None
    return row, True, promise


# -- bench (#10): one encoder made once; json.dumps with options builds a new one per call (~5 per lead) --
_dumps: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("server.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _site(row: sqlite3.Row) -> Site:
    return Site(
        id=row["id"],
        key=row["key"],
        name=row["name"],
        allowed_domains=json.loads(row["allowed_domains"]),
        timezone=row["timezone"],
        working_hours=json.loads(row["working_hours"]),
        locale=row["locale"],
        settings=json.loads(row["settings"]),
        created_at=row["created_at"],
    )


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        active=bool(row["active"]),
        created_at=row["created_at"],
        available=bool(row["available"]),
        phone=row["phone"],
        photo=row["photo"],
    )


def _widget(row: sqlite3.Row) -> Widget:
    return Widget(
        id=row["id"],
        site_id=row["site_id"],
        kind=row["kind"],
        slug=row["slug"],
        config=json.loads(row["config"]),
        enabled=bool(row["enabled"]),
        version=row["version"],
        updated_at=row["updated_at"],
    )


def _lead(row: sqlite3.Row) -> Lead:
    keys = row.keys()
    return Lead(
        id=row["id"],
        ref=row["ref"],
        site_id=row["site_id"],
        visitor_id=row["visitor_id"],
        kind=row["kind"],
        status=LeadStatus(row["status"]),
        temperature=row["temperature"],
        assignee_id=row["assignee_id"],
        phone=row["phone"],
        email=row["email"],
        name=row["name"],
        answers=json.loads(row["answers"]),
        source=row["source"],
        context=json.loads(row["context"]),
        client_frame_id=row["client_frame_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        site_name=row["site_name"] if "site_name" in keys else "",
        follow_up_at=row["follow_up_at"] if "follow_up_at" in keys else None,  # leads CRM
    )


def _callback(row: sqlite3.Row) -> Callback:
    return Callback(
        lead_id=row["lead_id"],
        site_id=row["site_id"],
        state=CallbackState(row["state"]),
        promise_seconds=row["promise_seconds"],
        promised_by=row["promised_by"],
        due_at=row["due_at"],
        stage=row["stage"],
        stage_until=row["stage_until"],
        offered_to=json.loads(row["offered_to"]),
        scheduled_for=row["scheduled_for"],
        window_end=row["window_end"],
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        called_at=row["called_at"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None,
        outcome_at=row["outcome_at"],
        attempts=row["attempts"],
        promise_kept=None if row["promise_kept"] is None else bool(row["promise_kept"]),
        missed_at=row["missed_at"],
        updated_at=row["updated_at"],
    )


_CALLBACK_FIELDS = {
    "state",
    "promise_seconds",
    "promised_by",
    "due_at",
    "stage",
    "stage_until",
    "offered_to",
    "scheduled_for",
    "window_end",
    "claimed_by",
    "claimed_at",
    "called_at",
    "outcome",
    "outcome_at",
    "attempts",
    "promise_kept",
    "missed_at",
}
_LEAD_FIELDS = {"status", "assignee_id", "temperature"}


def _assignments(changes: dict[str, Any], allowed: set[str]) -> tuple[str, list[Any]]:
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    params = [
        _dumps(v) if isinstance(v, list | dict) else (v.value if isinstance(v, enum.Enum) else v)
        for v in changes.values()
    ]
    return ", ".join(f"{k} = ?" for k in changes), params


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        ref=row["ref"],
        site_id=row["site_id"],
        visitor_id=row["visitor_id"],
        lead_id=row["lead_id"],
        state=ConversationState(row["state"]),
        assignee_id=row["assignee_id"],
        offered_to=json.loads(row["offered_to"]),
        last_seq=row["last_seq"],
        visitor_read_seq=row["visitor_read_seq"],
        manager_read_seq=row["manager_read_seq"],
        visitor_name=row["visitor_name"],
        visitor_email=row["visitor_email"],
        visitor_phone=row["visitor_phone"],
        current_page=json.loads(row["current_page"]),
        rating=row["rating"],
        rating_comment=row["rating_comment"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
    )


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        author=row["author"],
        user_id=row["user_id"],
        body=row["body"],
        client_frame_id=row["client_frame_id"],
        created_at=row["created_at"],
        author_name=row["author_name"] or "" if "author_name" in row.keys() else "",
    )


_CONVERSATION_FIELDS = {
    "state",
    "assignee_id",
    "offered_to",
    "visitor_read_seq",
    "manager_read_seq",
    "visitor_name",
    "visitor_email",
    "visitor_phone",
    "current_page",
    "rating",
    "rating_comment",
    "closed_at",
    "lead_id",
}
_MESSAGE_SELECT = "SELECT m.*, u.name AS author_name FROM messages m LEFT JOIN users u ON u.id = m.user_id"


def _visitor(row: sqlite3.Row) -> Visitor:
    return Visitor(
        id=row["id"],
        site_id=row["site_id"],
        visitor_key=row["visitor_key"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        user_agent=row["user_agent"],
        referrer=row["referrer"],
        landing_page=row["landing_page"],
        utm=json.loads(row["utm"]),
        page_trail=json.loads(row["page_trail"]),
    )


class SQLiteStore:
    """Two connections: a writer whose transactions are group-committed, and a reader that sees only committed rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        # Point lookups (_one) run right on the event loop: ~20 µs each, where a trip to the reader's
        # thread costs ~80 µs and a lead's path makes several.
        self._lookup: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        # Group commit: callers whose work is in the open transaction, each waiting for the COMMIT
        # (one fsync) that makes it durable; and the task that will run that COMMIT.
        self._batch: list[asyncio.Future[None]] = []
        self._flusher: asyncio.Task[None] | None = None
        # -- bench (#10): each site's active webhooks, asked for on every hub publish (up to 3 per lead).
        # Dropped when this store changes a webhook; kept at most HOOKS_MAX_AGE for other processes' changes.
        self._hooks: dict[int, tuple[float, list[Webhook]]] = {}
        self._hooks_generation = 0

    async def _connect(self) -> aiosqlite.Connection:
        # -- bench (#10): check_same_thread off: a lead's statements run on the event loop in the open
        # transaction (_write), always under the write lock, never at the same time as the thread's work. --
        db = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.row_factory = sqlite3.Row
            await db.execute("PRAGMA journal_mode=WAL")
            # FULL: an ack promises the row survives a power cut, not just a crash.
            await db.execute("PRAGMA synchronous=FULL")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute("PRAGMA busy_timeout=5000")
        except BaseException:
            # -- fault suite (#9): e.g. a read-only database; the connection's thread would keep the process alive --
            await db.close()
            raise
        return db

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        # -- bench (#10): each caller's savepoint journals every page it touches (~19 per lead) so that it
        # alone can be undone; in a temp file that was ~39 pwrite calls per lead. In memory it is a copy.
        # Only the uncommitted transaction's undo is kept there: a crash loses nothing that was acked.
        await self._writer.execute("PRAGMA temp_store=MEMORY")
        self._reader = await self._connect()
        self._lookup = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lookup.row_factory = sqlite3.Row
        self._lookup.execute("PRAGMA query_only=ON")
        # Never hold the event loop waiting for a lock: a busy lookup goes to the reader's thread instead.
        self._lookup.execute("PRAGMA busy_timeout=0")

    async def close(self) -> None:
        if self._flusher is not None:
            await self._flusher  # whoever waits for the last commit gets it
        for db in (self._reader, self._writer):
            if db is not None:
                await db.close()
        if self._lookup is not None:
            self._lookup.close()
        self._reader = self._writer = self._lookup = None

    @property
    def _r(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("store is not open: call open() first")
        return self._reader

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """One caller's write transaction, returning only once its work is durably committed.

        Group commit: callers run one at a time on the writer, each inside a savepoint of a shared
        transaction; those that queue while a COMMIT is running share the next COMMIT, so a burst
        of writes costs one fsync instead of one each. A caller that fails rolls back only its own
        savepoint; a COMMIT that fails fails everyone in it (none of them was stored).
        """
        if self._writer is None:
            raise RuntimeError("store is not open: call open() first")
        db = self._writer
        durable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with self._write_lock:
            try:
                await db._execute(_open_caller, db._conn)  # -- bench (#10): one trip, not two --
                try:
                    yield db
                    await db.execute("RELEASE caller")
                except BaseException:
                    await self._undo_caller(db)
                    raise
                self._batch.append(durable)
            except sqlite3.OperationalError as exc:
                if _is_refusal(exc):
                    raise StoreUnavailable(f"the database refused the write: {exc}") from exc
                raise
            finally:
                await self._after_caller(db)
        await durable

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """-- bench (#10): _tx for work written as one function ``fn(conn, *args)``: the savepoint,
        the work and its release run in one go instead of one trip per statement. The same group
        commit: it returns ``fn``'s result only once that work is durably committed.

        Once the batch's transaction is open, the work runs right on the event loop: the file's write
        lock is ours, so no statement waits for another process, and a lead's ~10 statements cost less
        than handing them to the thread (each statement gave the GIL to the loop and back: ~65 µs of
        CPU per lead). What may wait goes to the thread: BEGIN IMMEDIATE (another process's lock) and
        the COMMIT (the fsync). --"""
        if self._writer is None:
            raise RuntimeError("store is not open: call open() first")
        db = self._writer
        durable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with self._write_lock:
            try:
                try:
                    if db.in_transaction:
                        result: T = _as_caller(db._conn, fn, args)
                    else:
                        result = await db._execute(_as_caller, db._conn, fn, args)
                except _TransactionLost as lost:
                    batch, self._batch = self._batch, []
                    _fail(batch, "the database rolled back the whole transaction")
                    raise lost.cause from None
                self._batch.append(durable)
            except sqlite3.OperationalError as exc:
                if _is_refusal(exc):
                    raise StoreUnavailable(f"the database refused the write: {exc}") from exc
                raise
            finally:
                await self._after_caller(db)
        await durable
        return result

    async def _after_caller(self, db: aiosqlite.Connection) -> None:
        """With the write lock held, after a caller: unlock the file if nothing is left to commit, or
        make sure a COMMIT is coming for the batch."""
        if not self._batch and db.in_transaction:
            # A lone caller failed: nothing to commit, and the file must not stay locked.
            with suppress(sqlite3.Error):
                await db.execute("ROLLBACK")
        elif self._batch and self._flusher is None:
            # Queued behind the writers already waiting for the lock: they join this commit.
            self._flusher = asyncio.create_task(self._flush(), name="beckon-group-commit")

    async def _undo_caller(self, db: aiosqlite.Connection) -> None:
        """Undo one caller's savepoint; if SQLite already dropped the whole transaction, fail the batch too."""
        try:
            if db.in_transaction:
                await db.execute("ROLLBACK TO caller")
                await db.execute("RELEASE caller")
                return
        except sqlite3.Error:
            with suppress(sqlite3.Error):
                if db.in_transaction:
                    await db.execute("ROLLBACK")
        batch, self._batch = self._batch, []
        _fail(batch, "the database rolled back the whole transaction")

    async def _flush(self) -> None:
        """COMMIT the shared transaction (one fsync) and release everyone whose work it holds."""
        async with self._write_lock:
            self._flusher = None
            batch, self._batch = self._batch, []
            db = self._writer
            try:
                if db is not None and db.in_transaction:
                    await db.execute("COMMIT")
            except sqlite3.Error as exc:
                with suppress(sqlite3.Error):
                    if db is not None and db.in_transaction:
                        await db.execute("ROLLBACK")
                _fail(batch, f"the database refused the write: {exc}")
                return
            except asyncio.CancelledError:
                # Cancelled mid-commit (shutdown): nobody may take that for an ack.
                _fail(batch, "the store closed during a commit")
                raise
            for durable in batch:
                if not durable.done():
                    durable.set_result(None)

    # One trip to the reader's thread per query, not three (execute, fetch, close): each trip
    # costs a thread handoff, and a lead's path makes a dozen reads.
    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        """The first row of a query by key, LIMIT 1 or an aggregate (it runs on the event loop)."""
        if self._lookup is not None:
            try:
                return next(iter(self._lookup.execute(sql, params).fetchall()), None)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
        rows = await self._r.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return list(await self._r.execute_fetchall(sql, params))

    async def _few(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """-- bench (#10): like _one, on the event loop, for a query known to return a few rows. --"""
        if self._lookup is not None:
            try:
                return self._lookup.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
        return await self._all(sql, params)

    # -- schema ---------------------------------------------------------

    async def migrate(self) -> list[int]:
        """Apply pending migrations in order; returns the versions applied now."""
        applied_now: list[int] = []
        async with self._tx() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            async with db.execute("SELECT version FROM schema_migrations") as cur:
                done = {row[0] for row in await cur.fetchall()}
            for version, sql in _migrations():
                if version in done:
                    continue
                for statement in sql.split(";\n"):
                    if statement.strip() and not all(
                        line.strip().startswith("--") or not line.strip() for line in statement.splitlines()
                    ):
                        await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, time.time())
                )
                applied_now.append(version)
        return applied_now

    # -- sites and widgets ----------------------------------------------

    async def create_site(
        self,
        *,
        key: str,
        name: str,
        allowed_domains: list[str],
        timezone: str = "UTC",
        locale: str = "",
        settings: dict[str, Any] | None = None,
    ) -> Site:
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO sites (key, name, allowed_domains, timezone, locale, settings, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, name, _dumps(allowed_domains), timezone, locale, _dumps(settings or {}), time.time()),
            )
            site_id = cur.lastrowid
        site = await self.get_site(int(site_id or 0))
        assert site is not None
        return site

    async def get_site(self, site_id: int) -> Site | None:
        row = await self._one("SELECT * FROM sites WHERE id = ?", (site_id,))
        return _site(row) if row else None

    async def get_site_by_key(self, key: str) -> Site | None:
        row = await self._one("SELECT * FROM sites WHERE key = ?", (key,))
        return _site(row) if row else None

    async def update_site(self, site_id: int, **fields: Any) -> None:
        allowed = {"name", "allowed_domains", "timezone", "working_hours", "locale", "settings"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update site fields {sorted(unknown)}")
        sets, params = [], []
        for name, value in fields.items():
            sets.append(f"{name} = ?")
            params.append(_dumps(value) if isinstance(value, dict | list) else value)
        if not sets:
            return
        async with self._tx() as db:
            await db.execute(f"UPDATE sites SET {', '.join(sets)} WHERE id = ?", (*params, site_id))

    async def put_widget(
        self,
        site_id: int,
        kind: str,
        config: dict[str, Any],
        *,
        enabled: bool = True,
        slug: str = "",
        actor_id: int | None = None,
    ) -> Widget:
        """Save a widget's config as its next version; every version is kept with who saved it."""
        now = time.time()
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO widgets (site_id, kind, slug, config, enabled, version, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 1, ?)"
                " ON CONFLICT (site_id, kind, slug) DO UPDATE SET config = excluded.config,"
                " enabled = excluded.enabled, version = widgets.version + 1, updated_at = excluded.updated_at",
                (site_id, kind, slug, _dumps(config), int(enabled), now),
            )
            await db.execute(
                "INSERT INTO widget_history (widget_id, version, config, enabled, actor_id, at)"
                " SELECT id, version, config, enabled, ?, ? FROM widgets WHERE site_id = ? AND kind = ? AND slug = ?",
                (actor_id, now, site_id, kind, slug),
            )
        widget = await self.get_widget(site_id, kind, slug)
        assert widget is not None
        return widget

    async def enabled_widgets(self, site_id: int) -> list[Widget]:
        rows = await self._all(
            "SELECT * FROM widgets WHERE site_id = ? AND enabled = 1 ORDER BY kind, slug", (site_id,)
        )
        return [_widget(r) for r in rows]

    async def get_widget(self, site_id: int, kind: str, slug: str = "") -> Widget | None:
        row = await self._one(
            "SELECT * FROM widgets WHERE site_id = ? AND kind = ? AND slug = ?", (site_id, kind, slug)
        )
        return _widget(row) if row else None

    async def widget_enabled(self, site_id: int, kind: str, slug: str = "") -> bool | None:
        """-- bench (#10): whether the widget is switched on (None: no such widget), asked per lead and
        per chat message; without decoding its config as get_widget does. --"""
        row = await self._one(
            "SELECT enabled FROM widgets WHERE site_id = ? AND kind = ? AND slug = ?", (site_id, kind, slug)
        )
        return bool(row["enabled"]) if row else None

    async def widget_history(self, widget_id: int, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT h.version, h.config, h.enabled, h.at, u.name AS actor FROM widget_history h"
            " LEFT JOIN users u ON u.id = h.actor_id WHERE h.widget_id = ? ORDER BY h.version DESC LIMIT ?",
            (widget_id, limit),
        )
        return [
            {
                "version": r["version"],
                "config": json.loads(r["config"]),
                "enabled": bool(r["enabled"]),
                "at": r["at"],
                "actor": r["actor"],
            }
            for r in rows
        ]

    async def evergreen_deadline(self, site_id: int, visitor_key: str, slug: str, now: float, seconds: float) -> float:
        """The visitor's deadline for an evergreen countdown: set on the first ask, the same ever after."""
        async with self._tx() as db:
            visitor_id = await self._upsert_visitor(db, site_id, visitor_key, {}, "")
            await db.execute(
                "INSERT OR IGNORE INTO countdown_starts (site_id, visitor_id, slug, started_at, deadline)"
                " VALUES (?, ?, ?, ?, ?)",
                (site_id, visitor_id, slug, now, now + seconds),
            )
            async with db.execute(
                "SELECT deadline FROM countdown_starts WHERE site_id = ? AND visitor_id = ? AND slug = ?",
                (site_id, visitor_id, slug),
            ) as cur:
                row = await cur.fetchone()
        assert row is not None
        return float(row["deadline"])

    async def site_widgets(self, site_id: int, kind: str) -> list[Widget]:
        rows = await self._all("SELECT * FROM widgets WHERE site_id = ? AND kind = ? ORDER BY slug", (site_id, kind))
        return [_widget(r) for r in rows]

    # -- sites and setup --

    async def all_sites(self) -> list[Site]:
        return [_site(r) for r in await self._all("SELECT * FROM sites ORDER BY id")]

    async def count_users(self) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM users")
        return int(row["n"]) if row else 0

    async def record_install(self, site_id: int, domain: str, at: float) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO site_installs (site_id, domain, last_seen) VALUES (?, ?, ?)"
                " ON CONFLICT (site_id, domain) DO UPDATE SET last_seen = excluded.last_seen",
                (site_id, domain, at),
            )

    async def site_installs(self, site_id: int) -> dict[str, float]:
        rows = await self._all("SELECT domain, last_seen FROM site_installs WHERE site_id = ?", (site_id,))
        return {r["domain"]: float(r["last_seen"]) for r in rows}

    # -- widget counters (issue #8: impressions of always-on widgets; no visitor id, no cookie) --

    async def count_widget_views(self, site_id: int, widgets: list[str], at: float) -> None:
        """One more page view that loaded these widgets' config, on the UTC day of ``at``."""
        if not widgets:
            return
        day = int(at // 86400)
        async with self._tx() as db:
            await db.executemany(
                "INSERT INTO widget_counters (site_id, day, widget, counter, n) VALUES (?, ?, ?, 'impressions', 1)"
                " ON CONFLICT (site_id, day, widget, counter) DO UPDATE SET n = n + 1",
                [(site_id, day, w) for w in widgets],
            )

    # -- analytics --

    async def analytics(self, site_id: int, start: float, end: float) -> dict[str, list[dict[str, Any]]]:
        """The raw numbers of a period; server/analytics.py turns them into the report."""
        span = (site_id, start, end)
        queries = {
            "leads": "SELECT kind, status, COUNT(*) AS n FROM leads WHERE site_id = ? AND created_at >= ?"
            " AND created_at < ? GROUP BY kind, status",
            "events": "SELECT name, COUNT(*) AS n FROM visitor_events WHERE site_id = ? AND at >= ? AND at < ?"
            " GROUP BY name",
            # widget_counters: whole UTC days that overlap the period (impressions of always-on widgets)
            "counters": "SELECT widget, counter, SUM(n) AS n FROM widget_counters WHERE site_id = ?"
            " AND day >= CAST(? / 86400 AS INTEGER) AND day <= CAST(? / 86400 AS INTEGER) GROUP BY widget, counter",
            "sources": "SELECT source, COUNT(*) AS n, SUM(status = 'won') AS won FROM leads WHERE site_id = ?"
            " AND created_at >= ? AND created_at < ? AND status != 'partial' GROUP BY source ORDER BY n DESC LIMIT 15",
            "callbacks": "SELECT c.claimed_by AS user_id, c.claimed_at - l.created_at AS to_claim, c.promise_kept,"
            " c.missed_at IS NOT NULL AS missed, c.outcome FROM callbacks c JOIN leads l ON l.id = c.lead_id"
            " WHERE c.site_id = ? AND l.created_at >= ? AND l.created_at < ?",
            "chats": "SELECT c.id, c.rating, (SELECT MIN(created_at) FROM messages m WHERE m.conversation_id = c.id"
            " AND m.author = 'visitor') AS asked, (SELECT created_at FROM messages m WHERE m.conversation_id = c.id"
            " AND m.author = 'manager' ORDER BY m.seq LIMIT 1) AS answered, (SELECT user_id FROM messages m"
            " WHERE m.conversation_id = c.id AND m.author = 'manager' ORDER BY m.seq LIMIT 1) AS user_id,"
            " c.assignee_id FROM conversations c WHERE c.site_id = ? AND c.created_at >= ? AND c.created_at < ?",
        }
        out = {name: [dict(r) for r in await self._all(sql, span)] for name, sql in queries.items()}
        out["people"] = [
            dict(r)
            for r in await self._all(
                "SELECT u.id, u.name FROM users u JOIN site_members m ON m.user_id = u.id WHERE m.site_id = ?"
                " ORDER BY u.name",
                (site_id,),
            )
        ]
        return out

    # -- team --

    async def create_invitation(
        self, *, token_hash: str, email: str, role: Role, site_ids: list[int], invited_by: int, expires_at: float
    ) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO invitations (token_hash, email, role, site_ids, invited_by, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_hash, email, role.value, _dumps(site_ids), invited_by, time.time(), expires_at),
            )

    async def open_invitations(self, site_ids: list[int], now: float) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT i.*, u.name AS inviter FROM invitations i LEFT JOIN users u ON u.id = i.invited_by"
            " WHERE i.accepted_at IS NULL AND i.expires_at > ? ORDER BY i.id DESC",
            (now,),
        )
        wanted = set(site_ids)
        return [
            dict(r) | {"site_ids": json.loads(r["site_ids"])} for r in rows if wanted & set(json.loads(r["site_ids"]))
        ]

    async def accept_invitation(self, token_hash: str, now: float, *, name: str, password_hash: str) -> User | None:
        """Create the invited person's account and memberships once; None if the link is used or expired."""
        async with self._tx() as db:
            async with db.execute(
                "SELECT * FROM invitations WHERE token_hash = ? AND accepted_at IS NULL AND expires_at > ?",
                (token_hash, now),
            ) as cur:
                invite = await cur.fetchone()
            if invite is None:
                return None
            async with db.execute("SELECT id FROM users WHERE email = ?", (invite["email"],)) as cur:
                if await cur.fetchone() is not None:
                    return None
            cur = await db.execute(
                "INSERT INTO users (email, name, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?)",
                (invite["email"], name, password_hash, invite["role"], now),
            )
            user_id = int(cur.lastrowid or 0)
            for site_id in json.loads(invite["site_ids"]):
                await db.execute(
                    "INSERT OR IGNORE INTO site_members (site_id, user_id) VALUES (?, ?)", (site_id, user_id)
                )
            await db.execute("UPDATE invitations SET accepted_at = ? WHERE id = ?", (now, invite["id"]))
            async with db.execute("SELECT * FROM users WHERE id = ?", (user_id,)) as cur:
                row = await cur.fetchone()
        assert row is not None
        return _user(row)

    async def invitation(self, token_hash: str) -> dict[str, Any] | None:
        row = await self._one("SELECT * FROM invitations WHERE token_hash = ?", (token_hash,))
        return dict(row) if row else None

    async def team(self, site_ids: list[int]) -> list[tuple[User, list[int]]]:
        """Everyone who belongs to any of these sites, with the ids of the sites they belong to."""
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT u.*, group_concat(m.site_id) AS site_list FROM users u JOIN site_members m ON m.user_id = u.id"
            f" WHERE m.site_id IN ({marks}) GROUP BY u.id ORDER BY u.name",
            tuple(site_ids),
        )
        return [(_user(r), [int(x) for x in str(r["site_list"]).split(",")]) for r in rows]

    async def update_user(self, user_id: int, **changes: Any) -> None:
        """name, role, active, photo: a deactivated person's sessions end in the same transaction."""
        allowed = {"name", "role", "active", "photo"}
        if not changes or not set(changes) <= allowed:
            raise ValueError(f"only {', '.join(sorted(allowed))} can change")
        values = [v.value if isinstance(v, enum.Enum) else v for v in changes.values()]
        async with self._tx() as db:
            sets = ", ".join(f"{k} = ?" for k in changes)
            await db.execute(f"UPDATE users SET {sets} WHERE id = ?", (*values, user_id))
            if changes.get("active") in (0, False):
                await db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    async def set_memberships(self, user_id: int, site_ids: list[int], keep: list[int]) -> None:
        """Membership of ``user_id`` among the sites ``site_ids`` becomes exactly ``keep``."""
        async with self._tx() as db:
            for site_id in site_ids:
                if site_id in keep:
                    await db.execute(
                        "INSERT OR IGNORE INTO site_members (site_id, user_id) VALUES (?, ?)", (site_id, user_id)
                    )
                else:
                    await db.execute("DELETE FROM site_members WHERE site_id = ? AND user_id = ?", (site_id, user_id))

    # -- users, membership, sessions ------------------------------------

    async def create_user(self, *, email: str, name: str, password_hash: str, role: Role) -> User:
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO users (email, name, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?)",
                (email.strip().lower(), name, password_hash, role.value, time.time()),
            )
            user_id = cur.lastrowid
        user = await self.get_user(int(user_id or 0))
        assert user is not None
        return user

    async def get_user(self, user_id: int) -> User | None:
        row = await self._one("SELECT * FROM users WHERE id = ?", (user_id,))
        return _user(row) if row else None

    async def get_user_by_email(self, email: str) -> User | None:
        row = await self._one("SELECT * FROM users WHERE email = ?", (email.strip().lower(),))
        return _user(row) if row else None

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))

    async def add_member(self, site_id: int, user_id: int) -> None:
        async with self._tx() as db:
            await db.execute("INSERT OR IGNORE INTO site_members (site_id, user_id) VALUES (?, ?)", (site_id, user_id))

    async def user_sites(self, user_id: int) -> list[Site]:
        rows = await self._all(
            "SELECT s.* FROM sites s JOIN site_members m ON m.site_id = s.id WHERE m.user_id = ? ORDER BY s.name",
            (user_id,),
        )
        return [_site(r) for r in rows]

    async def create_session(self, token_hash: str, user_id: int, expires_at: float) -> None:
        now = time.time()
        async with self._tx() as db:
            await db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            await db.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash, user_id, now, expires_at),
            )

    async def session_user(self, token_hash: str, now: float) -> User | None:
        row = await self._one(
            "SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = ? AND s.expires_at > ? AND u.active = 1",
            (token_hash, now),
        )
        return _user(row) if row else None

    async def delete_session(self, token_hash: str) -> None:
        async with self._tx() as db:
            await db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    # -- hostile input / healthz -------------------------------------------

    async def health_check(self) -> None:
        """Take the write lock and write a row inside a transaction that is rolled back, then read."""

        class _Probe(Exception):
            pass

        try:
            async with self._tx() as db:
                await db.execute("DELETE FROM sessions WHERE token_hash = ''")
                await db.execute(
                    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)"
                    " SELECT '', id, 0, 0 FROM users LIMIT 1"
                )
                raise _Probe  # rolled back by _tx: the probe leaves nothing behind
        except _Probe:
            pass
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the database refused the health check: {exc}") from exc
        try:
            await self._one("SELECT count(*) FROM schema_migrations")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the database can't be read: {exc}") from exc

    # -- visitors and leads ---------------------------------------------

    async def _upsert_visitor(
        self, db: aiosqlite.Connection, site_id: int, visitor_key: str, context: dict[str, Any], user_agent: str
    ) -> int:
        return int(await db._execute(_upsert_visitor_now, db._conn, site_id, visitor_key, context, user_agent))

    async def lead_by_frame(self, site_id: int, client_frame_id: str) -> Lead | None:
        row = await self._one(
            "SELECT * FROM leads WHERE site_id = ? AND client_frame_id = ?", (site_id, client_frame_id)
        )
        return _lead(row) if row else None

    # -- hostile input (#9): the visitor key of the lead stored under a client frame id --
    async def frame_owner(self, site_id: int, client_frame_id: str) -> str | None:
        row = await self._one(
            "SELECT v.visitor_key FROM leads l JOIN visitors v ON v.id = l.visitor_id"
            " WHERE l.site_id = ? AND l.client_frame_id = ?",
            (site_id, client_frame_id),
        )
        return str(row["visitor_key"]) if row else None

    async def create_lead(
        self, new: NewLead, callback: dict[str, Any] | None = None, events: list[EventRecord] | None = None
    ) -> tuple[Lead, bool]:
        """Store a lead once per client frame id; a re-sent frame returns the first lead.

        ``callback`` (column values) and ``events`` are written in the same transaction, so a
        lead never exists without the promise made for it.
        """
        lead, created, _ = await self.create_lead_and_callback(new, callback, events)
        return lead, created

    async def create_lead_and_callback(
        self, new: NewLead, callback: dict[str, Any] | None = None, events: list[EventRecord] | None = None
    ) -> tuple[Lead, bool, Callback | None]:
        """-- bench (#10): create_lead, also returning the callback it stored (None for a re-sent frame),
        so that routing need not read it back. --"""
        now = time.time()
        # -- bench (#10): one trip to the writer's thread for all of it, not one per statement --
        row, created, promise = await self._write(_create_lead_now, new, callback, events or [], now)
        return _lead(row), created, _callback(promise) if promise is not None else None

    async def _insert_callback(
        self, db: aiosqlite.Connection, lead_id: int, site_id: int, callback: dict[str, Any], now: float
    ) -> None:
        fields = {"lead_id": lead_id, "site_id": site_id, "updated_at": now, **callback}
        marks, params = _assignments(fields, _CALLBACK_FIELDS | {"lead_id", "site_id", "updated_at"})
        await db.execute(f"INSERT INTO callbacks ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})", params)

    async def _lead_row(self, db: aiosqlite.Connection, lead_id: int) -> Lead:
        found = await db.execute_fetchall(
            "SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id WHERE l.id = ?", (lead_id,)
        )
        row = next(iter(found), None)
        assert row is not None
        return _lead(row)

    async def save_quiz_run(
        self,
        new: NewLead,
        *,
        n: int,
        callback: dict[str, Any] | None = None,
        events: list[EventRecord] | None = None,
    ) -> tuple[Lead, QuizSave]:
        """Store one step of a quiz run (the lead keyed by its run id in ``client_frame_id``).

        The run's answers are replaced only by a frame with a higher ``n``, so a late or re-sent
        frame never undoes newer answers. A run becomes a ``new`` lead once it carries a contact
        (``new.phone`` or ``new.email``); that step and ``callback``/``events`` share one transaction.
        """
        now = time.time()
        contact = bool(new.phone or new.email)
        answers = {**new.answers, "n": n}
        async with self._tx() as db:
            async with db.execute(
                # -- hostile input (#9): with its visitor, so another visitor's run is refused, not overwritten --
                "SELECT l.id, l.status, l.answers, v.visitor_key FROM leads l LEFT JOIN visitors v"
                " ON v.id = l.visitor_id WHERE l.site_id = ? AND l.client_frame_id = ? AND l.kind = 'quiz'",
                (new.site_id, new.client_frame_id),
            ) as cur:
                existing = await cur.fetchone()
            if existing is not None and existing["visitor_key"] != new.visitor_key:
                raise FrameTaken(f"quiz run {new.client_frame_id!r} belongs to another visitor")
            if existing is None:
                visitor_id = await self._upsert_visitor(db, new.site_id, new.visitor_key, new.context, new.user_agent)
                status = LeadStatus.NEW if contact else LeadStatus.PARTIAL
                cur = await db.execute(_INSERT_LEAD, _lead_values(new, visitor_id, "quiz", status, answers, now))
                lead_id = int(cur.lastrowid or 0)
                await self._add_event(
                    db,
                    lead_id,
                    EventRecord("quiz_started", Actor.VISITOR, data={"page": new.context.get("url", "")}),
                    now,
                )
                outcome = QuizSave.COMPLETED if contact else QuizSave.CREATED
            else:
                lead_id = int(existing["id"])
                if json.loads(existing["answers"]).get("n", 0) >= n:
                    return await self._lead_row(db, lead_id), QuizSave.STALE
                completing = contact and existing["status"] == LeadStatus.PARTIAL.value
                sets, params = "answers = ?, updated_at = ?", [_dumps(answers), now]
                if completing:
                    sets += ", status = 'new', phone = ?, email = ?, name = ?"
                    params += [new.phone, new.email, new.name]
                    if new.context:
                        sets += ", context = ?, source = ?"
                        params += [_dumps(new.context), new.source]
                await db.execute(f"UPDATE leads SET {sets} WHERE id = ?", (*params, lead_id))
                outcome = QuizSave.COMPLETED if completing else QuizSave.UPDATED
            if outcome is QuizSave.COMPLETED:
                if callback is not None:
                    await self._insert_callback(db, lead_id, new.site_id, callback, now)
                for event in events or []:
                    await self._add_event(db, lead_id, event, now)
            return await self._lead_row(db, lead_id), outcome

    async def record_visitor_event(
        self, *, site_id: int, visitor_key: str, client_frame_id: str, name: str, props: dict[str, Any]
    ) -> bool:
        async with self._tx() as db:
            visitor_id = await self._upsert_visitor(db, site_id, visitor_key, {}, "")
            cur = await db.execute(
                "INSERT OR IGNORE INTO visitor_events (site_id, visitor_id, client_frame_id, name, props, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (site_id, visitor_id, client_frame_id, name, _dumps(props), time.time()),
            )
            return cur.rowcount == 1

    async def list_leads(self, site_ids: list[int], *, limit: int = 50, after_id: int = 0) -> list[Lead]:
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id"
            f" WHERE l.site_id IN ({marks}) AND l.id > ? ORDER BY l.id DESC LIMIT ?",
            (*site_ids, after_id, limit),
        )
        return [_lead(r) for r in rows]

    async def get_lead(self, ref: str) -> Lead | None:
        row = await self._one(
            "SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id WHERE l.ref = ?", (ref,)
        )
        return _lead(row) if row else None

    async def lead_events(self, lead_id: int) -> list[LeadEvent]:
        rows = await self._all(
            "SELECT e.*, u.name AS actor_name FROM lead_events e LEFT JOIN users u"
            " ON e.actor_type = 'user' AND u.id = e.actor_id WHERE e.lead_id = ? ORDER BY e.id",
            (lead_id,),
        )
        return [
            LeadEvent(
                id=r["id"],
                lead_id=r["lead_id"],
                at=r["at"],
                type=r["type"],
                actor_type=Actor(r["actor_type"]),
                actor_id=r["actor_id"],
                data=json.loads(r["data"]),
                actor_name=r["actor_name"] or "",
            )
            for r in rows
        ]

    async def get_visitor(self, visitor_id: int) -> Visitor | None:
        row = await self._one("SELECT * FROM visitors WHERE id = ?", (visitor_id,))
        return _visitor(row) if row else None

    # -- callbacks ------------------------------------------------------

    async def _add_event(self, db: aiosqlite.Connection, lead_id: int, event: EventRecord, now: float) -> None:
        await db.execute(
            "INSERT INTO lead_events (lead_id, at, type, actor_type, actor_id, data) VALUES (?, ?, ?, ?, ?, ?)",
            (lead_id, now, event.type, event.actor_type.value, event.actor_id, _dumps(event.data)),
        )

    async def add_lead_event(self, lead_id: int, event: EventRecord) -> None:
        async with self._tx() as db:
            await self._add_event(db, lead_id, event, time.time())

    async def get_callback(self, lead_id: int) -> Callback | None:
        row = await self._one("SELECT * FROM callbacks WHERE lead_id = ?", (lead_id,))
        return _callback(row) if row else None

    async def active_callbacks(self, site_ids: list[int] | None = None) -> list[Callback]:
        sql = "SELECT * FROM callbacks WHERE state != 'done'"
        params: tuple[Any, ...] = ()
        if site_ids is not None:
            if not site_ids:
                return []
            sql += f" AND site_id IN ({','.join('?' * len(site_ids))})"
            params = tuple(site_ids)
        return [_callback(r) for r in await self._all(sql + " ORDER BY lead_id", params)]

    async def visitor_callbacks(self, site_id: int, visitor_key: str, since: float) -> list[tuple[str, Callback]]:
        """The visitor's callbacks still open or settled after ``since``, with their lead refs."""
        rows = await self._all(
            "SELECT l.ref AS ref, c.* FROM callbacks c JOIN leads l ON l.id = c.lead_id"
            " JOIN visitors v ON v.id = l.visitor_id"
            " WHERE v.site_id = ? AND v.visitor_key = ? AND (c.state != 'done' OR c.updated_at > ?)"
            " ORDER BY c.lead_id",
            (site_id, visitor_key, since),
        )
        return [(r["ref"], _callback(r)) for r in rows]

    async def transition_callback(
        self,
        lead_id: int,
        *,
        from_states: tuple[CallbackState, ...],
        changes: dict[str, Any],
        events: list[EventRecord] = (),  # type: ignore[assignment]
        lead_changes: dict[str, Any] | None = None,
        unclaimed: bool = False,
        claimed_by: int | None = None,
    ) -> Callback | None:
        """Apply ``changes`` only if the callback is still in one of ``from_states`` (and, if asked,
        unclaimed or claimed by a given user). Returns the new row, or None when it had moved on:
        this is what makes two simultaneous claims end with exactly one winner."""
        now = time.time()
        sets, params = _assignments({**changes, "updated_at": now}, _CALLBACK_FIELDS | {"updated_at"})
        where = f"lead_id = ? AND state IN ({','.join('?' * len(from_states))})"
        where_params: list[Any] = [lead_id, *(s.value for s in from_states)]
        if unclaimed:
            where += " AND claimed_by IS NULL"
        if claimed_by is not None:
            where += " AND claimed_by = ?"
            where_params.append(claimed_by)
        async with self._tx() as db:
            cur = await db.execute(f"UPDATE callbacks SET {sets} WHERE {where}", (*params, *where_params))
            if cur.rowcount != 1:
                return None
            if lead_changes:
                lead_sets, lead_params = _assignments(lead_changes, _LEAD_FIELDS)
                await db.execute(
                    f"UPDATE leads SET {lead_sets}, updated_at = ? WHERE id = ?", (*lead_params, now, lead_id)
                )
            for event in events:
                await self._add_event(db, lead_id, event, now)
            async with db.execute("SELECT * FROM callbacks WHERE lead_id = ?", (lead_id,)) as c:
                row = await c.fetchone()
        assert row is not None
        return _callback(row)

    async def get_lead_by_id(self, lead_id: int) -> Lead | None:
        row = await self._one(
            "SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id WHERE l.id = ?", (lead_id,)
        )
        return _lead(row) if row else None

    async def previous_leads(self, lead: Lead, limit: int = 10) -> list[dict[str, Any]]:
        """Earlier leads of the same visitor as the callback card lists them, each with the name of whoever
        handled it. -- bench (#10): only these columns, so no answers or context are decoded per new card --"""
        if lead.visitor_id is None:
            return []
        rows = await self._few(  # every new callback's card asks: on the loop, LIMIT-bounded
            "SELECT l.ref, l.kind, l.created_at, l.status, COALESCE(u.name, '') AS claimed_by FROM leads l"
            " LEFT JOIN callbacks c ON c.lead_id = l.id"
            " LEFT JOIN users u ON u.id = COALESCE(c.claimed_by, l.assignee_id)"
            " WHERE l.visitor_id = ? AND l.id < ? ORDER BY l.id DESC LIMIT ?",
            (lead.visitor_id, lead.id, limit),
        )
        return [dict(r) for r in rows]

    async def last_handler(self, site_id: int, visitor_key: str) -> int | None:
        row = await self._one(
            "SELECT COALESCE(c.claimed_by, l.assignee_id) AS handler FROM leads l"
            " JOIN visitors v ON v.id = l.visitor_id LEFT JOIN callbacks c ON c.lead_id = l.id"
            " WHERE v.site_id = ? AND v.visitor_key = ? AND COALESCE(c.claimed_by, l.assignee_id) IS NOT NULL"
            " ORDER BY l.id DESC LIMIT 1",
            (site_id, visitor_key),
        )
        return row["handler"] if row else None

    async def open_claims(self, site_id: int) -> dict[int, int]:
        """Callbacks each manager has claimed and not finished: how busy they are."""
        rows = await self._all(
            "SELECT claimed_by, COUNT(*) AS n FROM callbacks WHERE site_id = ? AND state = 'claimed'"
            " GROUP BY claimed_by",
            (site_id,),
        )
        return {r["claimed_by"]: r["n"] for r in rows}

    async def site_members(self, site_id: int) -> list[User]:
        rows = await self._few(  # -- bench (#10): a site's team is a handful of rows, asked for per new callback --
            "SELECT u.* FROM users u JOIN site_members m ON m.user_id = u.id WHERE m.site_id = ? AND u.active = 1"
            " ORDER BY u.id",
            (site_id,),
        )
        return [_user(r) for r in rows]

    async def set_available(self, user_id: int, available: bool) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE users SET available = ? WHERE id = ?", (int(available), user_id))

    # -- chat ---------------------------------------------------------------

    async def _append_message(
        self,
        db: aiosqlite.Connection,
        conversation_id: int,
        site_id: int,
        author: str,
        user_id: int | None,
        body: str,
        frame_id: str | None,
        now: float,
    ) -> Message:
        await db.execute(
            "UPDATE conversations SET last_seq = last_seq + 1, updated_at = ? WHERE id = ?", (now, conversation_id)
        )
        cur = await db.execute(
            "INSERT INTO messages (conversation_id, site_id, seq, author, user_id, body, client_frame_id, created_at)"
            " SELECT id, site_id, last_seq, ?, ?, ?, ?, ? FROM conversations WHERE id = ?",
            (author, user_id, body, frame_id, now, conversation_id),
        )
        async with db.execute(f"{_MESSAGE_SELECT} WHERE m.id = ?", (cur.lastrowid,)) as c:
            row = await c.fetchone()
        assert row is not None
        return _message(row)

    async def _message_by_frame(self, db: aiosqlite.Connection, site_id: int, frame_id: str) -> Message | None:
        async with db.execute(
            f"{_MESSAGE_SELECT} WHERE m.site_id = ? AND m.client_frame_id = ?", (site_id, frame_id)
        ) as c:
            row = await c.fetchone()
        return _message(row) if row else None

    async def _conversation_row(self, db: aiosqlite.Connection, conversation_id: int) -> Conversation:
        async with db.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)) as c:
            row = await c.fetchone()
        assert row is not None
        return _conversation(row)

    async def add_visitor_message(
        self,
        *,
        site_id: int,
        visitor_key: str,
        frame_id: str,
        text: str,
        contact: dict[str, str | None],
        offered_to: list[int],
        assignee_id: int | None,
        user_agent: str,
        context: dict[str, Any],
    ) -> tuple[Conversation, Message, bool]:
        """Store a visitor's message once per frame id, in their open conversation or a new one.

        Returns (conversation, message, created) — created is False for a re-sent frame."""
        now = time.time()
        async with self._tx() as db:
            known = await self._message_by_frame(db, site_id, frame_id)
            if known is not None:
                return await self._conversation_row(db, known.conversation_id), known, False
            visitor_id = await self._upsert_visitor(db, site_id, visitor_key, context, user_agent)
            async with db.execute(
                "SELECT id FROM conversations WHERE visitor_id = ? AND state = 'open' ORDER BY id DESC LIMIT 1",
                (visitor_id,),
            ) as c:
                row = await c.fetchone()
            if row is None:
                cur = await db.execute(
                    "INSERT INTO conversations (ref, site_id, visitor_id, assignee_id, offered_to, current_page,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        new_ref(),
                        site_id,
                        visitor_id,
                        assignee_id,
                        _dumps(offered_to),
                        _dumps({"url": context.get("url", ""), "title": context.get("title", "")}),
                        now,
                        now,
                    ),
                )
                conversation_id = int(cur.lastrowid or 0)
            else:
                conversation_id = int(row["id"])
            for field_name in ("name", "email", "phone"):
                if contact.get(field_name):
                    await db.execute(
                        f"UPDATE conversations SET visitor_{field_name} = ? WHERE id = ?",
                        (contact[field_name], conversation_id),
                    )
            message = await self._append_message(db, conversation_id, site_id, "visitor", None, text, frame_id, now)
            conversation = await self._conversation_row(db, conversation_id)
        return conversation, message, True

    async def add_manager_message(
        self, conversation_id: int, user_id: int, text: str, frame_id: str
    ) -> tuple[Conversation, Message, bool]:
        """A manager's reply; the first reply takes an unassigned conversation."""
        now = time.time()
        async with self._tx() as db:
            conversation = await self._conversation_row(db, conversation_id)
            known = await self._message_by_frame(db, conversation.site_id, frame_id)
            if known is not None:
                return conversation, known, False
            await db.execute(
                "UPDATE conversations SET assignee_id = COALESCE(assignee_id, ?), state = 'open', closed_at = NULL,"
                " manager_read_seq = last_seq + 1 WHERE id = ?",
                (user_id, conversation_id),
            )
            message = await self._append_message(
                db, conversation_id, conversation.site_id, "manager", user_id, text, frame_id, now
            )
            conversation = await self._conversation_row(db, conversation_id)
        return conversation, message, True

    async def add_system_message(self, conversation_id: int, text: str) -> Message:
        async with self._tx() as db:
            conversation = await self._conversation_row(db, conversation_id)
            return await self._append_message(
                db, conversation_id, conversation.site_id, "system", None, text, None, time.time()
            )

    async def messages_since(self, conversation_id: int, since: int, limit: int = 500) -> list[Message]:
        rows = await self._all(
            f"{_MESSAGE_SELECT} WHERE m.conversation_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?",
            (conversation_id, since, limit),
        )
        return [_message(r) for r in rows]

    async def get_conversation(self, ref: str) -> Conversation | None:
        row = await self._one("SELECT * FROM conversations WHERE ref = ?", (ref,))
        return _conversation(row) if row else None

    async def visitor_conversation(self, site_id: int, visitor_key: str) -> Conversation | None:
        """The visitor's latest conversation, open or closed."""
        row = await self._one(
            "SELECT c.* FROM conversations c JOIN visitors v ON v.id = c.visitor_id"
            " WHERE v.site_id = ? AND v.visitor_key = ? ORDER BY c.id DESC LIMIT 1",
            (site_id, visitor_key),
        )
        return _conversation(row) if row else None

    async def conversations(
        self, site_ids: list[int], *, open_only: bool = True, limit: int = 200
    ) -> list[Conversation]:
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        state = " AND state = 'open'" if open_only else ""
        rows = await self._all(
            f"SELECT * FROM conversations WHERE site_id IN ({marks}){state} ORDER BY updated_at DESC LIMIT ?",
            (*site_ids, limit),
        )
        return [_conversation(r) for r in rows]

    async def update_conversation(self, conversation_id: int, **changes: Any) -> Conversation:
        sets, params = _assignments({**changes, "updated_at": time.time()}, _CONVERSATION_FIELDS | {"updated_at"})
        async with self._tx() as db:
            await db.execute(f"UPDATE conversations SET {sets} WHERE id = ?", (*params, conversation_id))
            return await self._conversation_row(db, conversation_id)

    async def mark_read(self, conversation_id: int, reader: str, seq: int) -> bool:
        """Move a read mark forward (never back, never past the last message)."""
        column = {"visitor": "visitor_read_seq", "manager": "manager_read_seq"}[reader]
        async with self._tx() as db:
            cur = await db.execute(
                f"UPDATE conversations SET {column} = MIN(?, last_seq) WHERE id = ? AND {column} < MIN(?, last_seq)",
                (seq, conversation_id, seq),
            )
            return cur.rowcount == 1

    async def visitor_leads(self, visitor_id: int, limit: int = 20) -> list[Lead]:
        rows = await self._all(
            "SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id"
            " WHERE l.visitor_id = ? ORDER BY l.id DESC LIMIT ?",
            (visitor_id, limit),
        )
        return [_lead(r) for r in rows]

    async def widget_counts(self, site_id: int) -> dict[tuple[str, str], dict[str, int]]:
        """Per (kind, slug): what visitors did with each quiz, popup and countdown offer."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        rows = await self._all(
            "SELECT json_extract(answers, '$.quiz') AS slug, COUNT(*) AS started,"
            " SUM(status != 'partial') AS contacts FROM leads WHERE site_id = ? AND kind = 'quiz' GROUP BY slug",
            (site_id,),
        )
        for r in rows:
            out[("quiz", r["slug"])] = {"started": int(r["started"]), "leads": int(r["contacts"] or 0)}
        rows = await self._all(
            "SELECT json_extract(props, '$.popup') AS slug, name, COUNT(*) AS n FROM visitor_events"
            " WHERE site_id = ? AND name IN ('popup_shown', 'popup_closed', 'popup_converted') GROUP BY slug, name",
            (site_id,),
        )
        for r in rows:
            out.setdefault(("popup", r["slug"]), {})[r["name"].removeprefix("popup_")] = int(r["n"])
        rows = await self._all(
            "SELECT json_extract(answers, '$.popup') AS slug, COUNT(*) AS n FROM leads"
            " WHERE site_id = ? AND kind = 'popup' GROUP BY slug",
            (site_id,),
        )
        for r in rows:
            out.setdefault(("popup", r["slug"]), {})["leads"] = int(r["n"])
        rows = await self._all(
            "SELECT json_extract(context, '$.offer') AS slug, COUNT(*) AS n FROM leads"
            " WHERE site_id = ? AND json_extract(context, '$.offer') IS NOT NULL GROUP BY slug",
            (site_id,),
        )
        for r in rows:
            out.setdefault(("countdown", r["slug"]), {})["leads"] = int(r["n"])
        return out

    async def visitor_event_counts(self, site_id: int) -> dict[str, int]:
        """How often each tracked event happened on a site (greetings shown and replied, and the like)."""
        rows = await self._all(
            "SELECT name, COUNT(*) AS n FROM visitor_events WHERE site_id = ? GROUP BY name", (site_id,)
        )
        return {r["name"]: r["n"] for r in rows}

    # -- integrations: API tokens, webhooks and their deliveries ---------------

    async def create_api_token(self, site_id: int, name: str, token_hash: str, hint: str, user_id: int | None) -> int:
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO api_tokens (site_id, name, token_hash, hint, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (site_id, name, token_hash, hint, user_id, time.time()),
            )
            return int(cur.lastrowid or 0)

    async def api_tokens(self, site_ids: list[int]) -> list[ApiToken]:
        if not site_ids:
            return []
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(f"SELECT * FROM api_tokens WHERE site_id IN ({marks}) ORDER BY id DESC", tuple(site_ids))
        return [_api_token(r) for r in rows]

    async def api_token_by_hash(self, token_hash: str) -> ApiToken | None:
        row = await self._one("SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL", (token_hash,))
        return _api_token(row) if row else None

    async def get_api_token(self, token_id: int) -> ApiToken | None:
        row = await self._one("SELECT * FROM api_tokens WHERE id = ?", (token_id,))
        return _api_token(row) if row else None

    async def touch_api_token(self, token_id: int, now: float) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))

    async def revoke_api_token(self, token_id: int) -> None:
        async with self._tx() as db:
            await db.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (time.time(), token_id)
            )

    async def api_leads(
        self,
        site_id: int,
        *,
        status: str | None = None,
        kind: str | None = None,
        since: float | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[Lead]:
        where, params = ["l.site_id = ?"], [site_id]
        for column, value in (("l.status = ?", status), ("l.kind = ?", kind), ("l.created_at >= ?", since)):
            if value is not None:
                where.append(column)
                params.append(value)  # type: ignore[arg-type]
        if before_id is not None:
            where.append("l.id < ?")
            params.append(before_id)
        rows = await self._all(
            "SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id"
            f" WHERE {' AND '.join(where)} ORDER BY l.id DESC LIMIT ?",
            (*params, limit),
        )
        return [_lead(r) for r in rows]

    async def api_update_lead(self, lead_id: int, changes: dict[str, Any], event: EventRecord) -> Lead:
        """Change a lead's status or temperature and record who did it, in one transaction."""
        now = time.time()
        sets, values = _assignments(changes, {"status", "temperature"})
        async with self._tx() as db:
            await db.execute(f"UPDATE leads SET {sets}, updated_at = ? WHERE id = ?", (*values, now, lead_id))
            await self._add_event(db, lead_id, event, now)
            return await self._lead_row(db, lead_id)

    async def create_webhook(self, site_id: int, url: str, secret: str, events: list[str], user_id: int | None) -> int:
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO webhooks (site_id, url, secret, events, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (site_id, url, secret, _dumps(events), user_id, time.time()),
            )
            made = int(cur.lastrowid or 0)
        self._hooks_changed()
        return made

    def _hooks_changed(self) -> None:
        self._hooks.clear()
        self._hooks_generation += 1

    async def webhooks(self, site_ids: list[int], *, active_only: bool = False) -> list[Webhook]:
        if not site_ids:
            return []
        if active_only and len(site_ids) == 1:  # the webhook sender's question, once per publish: cached
            now = time.monotonic()
            cached = self._hooks.get(site_ids[0])
            if cached is not None and now - cached[0] < HOOKS_MAX_AGE:
                return list(cached[1])
            generation = self._hooks_generation
            rows = await self._all(
                "SELECT * FROM webhooks WHERE site_id = ? AND active = 1 ORDER BY id DESC", (site_ids[0],)
            )
            hooks = [_webhook(r) for r in rows]
            if generation == self._hooks_generation:  # not changed while we read: safe to keep
                self._hooks[site_ids[0]] = (now, hooks)
            return list(hooks)
        marks = ",".join("?" * len(site_ids))
        extra = " AND active = 1" if active_only else ""
        rows = await self._all(
            f"SELECT * FROM webhooks WHERE site_id IN ({marks}){extra} ORDER BY id DESC", tuple(site_ids)
        )
        return [_webhook(r) for r in rows]

    async def get_webhook(self, webhook_id: int) -> Webhook | None:
        row = await self._one("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        return _webhook(row) if row else None

    async def set_webhook_active(self, webhook_id: int, active: bool) -> None:
        async with self._tx() as db:
            await db.execute("UPDATE webhooks SET active = ? WHERE id = ?", (int(active), webhook_id))
        self._hooks_changed()

    async def event_sent_before(self, site_id: int, event: str, subject: str) -> bool:
        row = await self._one(
            "SELECT 1 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
            " WHERE w.site_id = ? AND d.event = ? AND d.subject = ? LIMIT 1",
            (site_id, event, subject),
        )
        return row is not None

    async def queue_deliveries(self, rows: list[tuple[int, str, str, str, str]], now: float) -> list[int]:
        """Store (webhook id, event, event id, subject, body) rows as pending, due now; returns their ids."""
        ids = []
        async with self._tx() as db:
            for webhook_id, event, event_id, subject, body in rows:
                cur = await db.execute(
                    "INSERT INTO webhook_deliveries (webhook_id, event, event_id, subject, body, state,"
                    " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                    (webhook_id, event, event_id, subject, body, now, now),
                )
                ids.append(int(cur.lastrowid or 0))
        return ids

    async def pending_deliveries(self, limit: int = 100) -> list[Delivery]:
        rows = await self._all(
            "SELECT * FROM webhook_deliveries WHERE state = 'pending' ORDER BY next_attempt_at, id LIMIT ?", (limit,)
        )
        return [_delivery(r) for r in rows]

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        row = await self._one("SELECT * FROM webhook_deliveries WHERE id = ?", (delivery_id,))
        return _delivery(row) if row else None

    async def record_attempt(
        self,
        delivery_id: int,
        *,
        at: float,
        status_code: int | None,
        error: str,
        duration_ms: float,
        state: str,
        next_attempt_at: float,
    ) -> None:
        async with self._tx() as db:
            await db.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?, next_attempt_at = ?,"
                " finished_at = CASE WHEN ? = 'pending' THEN NULL ELSE ? END WHERE id = ?",
                (state, next_attempt_at, state, at, delivery_id),
            )
            await db.execute(
                "INSERT INTO webhook_attempts (delivery_id, n, at, status_code, error, duration_ms)"
                " SELECT ?, attempts, ?, ?, ?, ? FROM webhook_deliveries WHERE id = ?",
                (delivery_id, at, status_code, error, duration_ms, delivery_id),
            )

    async def deliveries(self, webhook_id: int, limit: int = 50) -> list[tuple[Delivery, list[Attempt]]]:
        rows = await self._all(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?", (webhook_id, limit)
        )
        found = [_delivery(r) for r in rows]
        if not found:
            return []
        marks = ",".join("?" * len(found))
        attempts: dict[int, list[Attempt]] = {d.id: [] for d in found}
        for r in await self._all(
            f"SELECT * FROM webhook_attempts WHERE delivery_id IN ({marks}) ORDER BY n", tuple(d.id for d in found)
        ):
            attempts[r["delivery_id"]].append(
                Attempt(
                    id=r["id"],
                    delivery_id=r["delivery_id"],
                    n=r["n"],
                    at=r["at"],
                    status_code=r["status_code"],
                    error=r["error"],
                    duration_ms=r["duration_ms"],
                )
            )
        return [(d, attempts[d.id]) for d in found]

    # -- leads CRM --------------------------------------------------------------------------

    async def search_leads(
        self,
        site_ids: list[int],
        where: LeadFilter,
        *,
        before_id: int = 0,
        limit: int = 50,
        due_by: float | None = None,
    ) -> list[Lead]:
        """Leads of ``site_ids`` matching ``where``, newest first, older than ``before_id`` if given;
        with ``due_by``, only those whose follow-up time is at or before it.

        Keyset paging by id: every page costs the same however deep it is. Each site's newest matches
        come from an ordered walk of that site's index (site_id, <filter>, id), the walks merged by a
        UNION ALL: an IN over several sites would otherwise sort every match of every site."""
        query = _search_query(site_ids, where, before_id=before_id, limit=limit, due_by=due_by)
        if query is None:
            return []
        rows = await self._all(*query)
        return [_lead(r) for r in rows]

    async def newest_lead_id(self, site_ids: list[int]) -> int:
        if not site_ids:
            return 0
        row = await self._one(
            f"SELECT MAX(id) AS n FROM leads WHERE site_id IN ({','.join('?' * len(site_ids))})", tuple(site_ids)
        )
        return int(row["n"] or 0) if row else 0

    async def lead_sources(self, site_ids: list[int]) -> list[str]:
        if not site_ids:
            return []
        rows = await self._all(
            f"SELECT DISTINCT source FROM leads WHERE site_id IN ({','.join('?' * len(site_ids))})"
            " AND source != '' ORDER BY source LIMIT 200",
            tuple(site_ids),
        )
        return [r["source"] for r in rows]

    async def update_lead(self, lead_id: int, changes: dict[str, Any], events: list[EventRecord]) -> Lead:
        """Change a lead's CRM fields and tell its timeline, in one transaction."""
        now = time.time()
        if "follow_up_at" in changes:  # a new follow-up time gets its own reminder
            changes = {**changes, "follow_up_fired_at": None}
        sets, params = _assignments(changes, _CRM_FIELDS) if changes else ("", [])
        assignments = ", ".join(part for part in (sets, "updated_at = ?") if part)  # a note changes no field
        async with self._tx() as db:
            await db.execute(f"UPDATE leads SET {assignments} WHERE id = ?", (*params, now, lead_id))
            for event in events:
                await self._add_event(db, lead_id, event, now)
            return await self._lead_row(db, lead_id)

    async def _forget_visitor(self, db: aiosqlite.Connection, visitor_id: int) -> None:
        """Blank what identifies a visitor: their trail, device, UTM, chat contact details and words."""
        await db.execute(
            "UPDATE visitors SET user_agent = '', referrer = '', landing_page = '', utm = '{}', page_trail = '[]',"
            " visitor_key = ? WHERE id = ?",
            (f"erased-{secrets.token_urlsafe(12)}", visitor_id),
        )
        await db.execute(
            "UPDATE conversations SET visitor_name = NULL, visitor_email = NULL, visitor_phone = NULL,"
            " current_page = '{}', rating_comment = NULL WHERE visitor_id = ?",
            (visitor_id,),
        )
        await db.execute(
            "UPDATE messages SET body = '(removed)' WHERE author = 'visitor'"
            " AND conversation_id IN (SELECT id FROM conversations WHERE visitor_id = ?)",
            (visitor_id,),
        )

    async def anonymise_lead(self, lead_id: int, event: EventRecord) -> Lead:
        """Blank the lead's contact data, answers and context and its visitor's trail; the row stays,
        so counts (per kind, status, source, quiz, popup, offer) are unchanged."""
        now = time.time()
        async with self._tx() as db:
            async with db.execute("SELECT answers, context, visitor_id FROM leads WHERE id = ?", (lead_id,)) as cur:
                row = await cur.fetchone()
            assert row is not None
            answers = json.loads(row["answers"])
            context = json.loads(row["context"])
            kept_answers = {k: answers[k] for k in ("quiz", "popup") if k in answers}
            kept_context = {k: context[k] for k in ("offer",) if k in context}
            await db.execute(
                "UPDATE leads SET phone = NULL, email = NULL, name = NULL, answers = ?, context = ?,"
                " updated_at = ? WHERE id = ?",
                (_dumps({**kept_answers, "anonymised": True}), _dumps(kept_context), now, lead_id),
            )
            await db.execute("UPDATE lead_events SET data = json_remove(data, '$.page') WHERE lead_id = ?", (lead_id,))
            await db.execute(
                "UPDATE lead_events SET data = json_set(data, '$.text', '(removed)')"
                " WHERE lead_id = ? AND type = 'note'",
                (lead_id,),
            )
            if row["visitor_id"] is not None:
                await self._forget_visitor(db, int(row["visitor_id"]))
            await self._add_event(db, lead_id, event, now)
            return await self._lead_row(db, lead_id)

    async def delete_lead(self, lead_id: int) -> None:
        """Remove the lead with its timeline and callback; the visitor's trail and chat words are blanked."""
        async with self._tx() as db:
            async with db.execute("SELECT visitor_id FROM leads WHERE id = ?", (lead_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                return
            await db.execute("DELETE FROM leads WHERE id = ?", (lead_id,))
            if row["visitor_id"] is not None:
                await self._forget_visitor(db, int(row["visitor_id"]))

    async def add_audit(
        self, *, user_id: int | None, action: str, site_id: int | None, detail: dict[str, Any], rows: int = 0
    ) -> None:
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO lead_audit (at, user_id, action, site_id, detail, rows) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), user_id, action, site_id, _dumps(detail), rows),
            )

    async def audit_log(
        self, site_ids: list[int] | None = None, limit: int = 100, *, site_id: int | None = None
    ) -> list[AuditEntry]:
        """Newest first. ``site_ids``: what a person may see (site-less entries, such as an export of
        every site, are shown to them too); ``site_id``: only that site's entries."""
        sql = "SELECT a.*, COALESCE(u.name, '') AS user_name FROM lead_audit a LEFT JOIN users u ON u.id = a.user_id"
        clauses: list[str] = []
        params: list[Any] = []
        if site_ids is not None:
            clauses.append(f"(a.site_id IS NULL OR a.site_id IN ({','.join('?' * len(site_ids)) or 'NULL'}))")
            params += site_ids
        if site_id is not None:
            clauses.append("a.site_id = ?")
            params.append(site_id)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        rows = await self._all(sql + " ORDER BY a.id DESC LIMIT ?", (*params, limit))
        return [
            AuditEntry(
                id=r["id"],
                at=r["at"],
                user_id=r["user_id"],
                user_name=r["user_name"],
                action=r["action"],
                site_id=r["site_id"],
                detail=json.loads(r["detail"]),
                rows=r["rows"],
            )
            for r in rows
        ]

    # -- leads CRM: follow-up reminders --

    async def due_follow_ups(self, now: float, limit: int = 100) -> list[Lead]:
        """Leads whose follow-up time has come and whose reminder has not fired yet."""
        rows = await self._all(
            "SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id"
            " WHERE l.follow_up_at IS NOT NULL AND l.follow_up_at <= ? AND l.follow_up_fired_at IS NULL"
            " ORDER BY l.follow_up_at LIMIT ?",
            (now, limit),
        )
        return [_lead(r) for r in rows]

    async def fire_follow_up(self, lead_id: int, follow_up_at: float, event: EventRecord) -> Lead | None:
        """Mark the reminder of that follow-up time as fired, with a timeline line; None when it had
        fired already or the time was changed meanwhile (exactly one firing per time)."""
        now = time.time()
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE leads SET follow_up_fired_at = ? WHERE id = ? AND follow_up_at = ?"
                " AND follow_up_fired_at IS NULL",
                (now, lead_id, follow_up_at),
            )
            if cur.rowcount != 1:
                return None
            await self._add_event(db, lead_id, event, now)
            return await self._lead_row(db, lead_id)

    async def fired_follow_ups(self, site_ids: list[int], now: float, limit: int = 50) -> list[Lead]:
        """Leads of these sites whose reminder has fired and whose follow-up time is still set
        (told again to a dashboard that connects later)."""
        if not site_ids:
            return []
        rows = await self._all(
            "SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id"
            f" WHERE l.site_id IN ({','.join('?' * len(site_ids))}) AND l.follow_up_at IS NOT NULL"
            " AND l.follow_up_at <= ? AND l.follow_up_fired_at IS NOT NULL ORDER BY l.follow_up_at LIMIT ?",
            (*site_ids, now, limit),
        )
        return [_lead(r) for r in rows]

    # -- leads CRM: what the lead card's timeline shows beside the lead's own events --

    async def visitor_events(self, visitor_id: int, limit: int = 500) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT name, props, at FROM visitor_events WHERE visitor_id = ? ORDER BY at LIMIT ?", (visitor_id, limit)
        )
        return [{"name": r["name"], "props": json.loads(r["props"]), "at": r["at"]} for r in rows]

    async def visitor_conversations(self, visitor_id: int, limit: int = 20) -> list[Conversation]:
        rows = await self._all(
            "SELECT * FROM conversations WHERE visitor_id = ? ORDER BY id LIMIT ?", (visitor_id, limit)
        )
        return [_conversation(r) for r in rows]

    # -- setup: the first owner --

    async def create_first_owner(self, *, email: str, name: str, password_hash: str) -> User | None:
        """The owner of a fresh install, or None when somebody was first (two setup forms sent at
        once): the check and the insert are one statement in one write transaction."""
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO users (email, name, password_hash, role, created_at) SELECT ?, ?, ?, 'owner', ?"
                " WHERE NOT EXISTS (SELECT 1 FROM users)",
                (email.strip().lower(), name, password_hash, time.time()),
            )
            if cur.rowcount != 1:
                return None
            user_id = cur.lastrowid
        return await self.get_user(int(user_id or 0))

    # -- leads CRM: people's own photos --

    async def save_photo(self, user_id: int, mime: str, digest: str, body: bytes, url: str) -> None:
        """Keep the picture and point the person's photo at the address it is served from."""
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO user_photos (user_id, mime, digest, body, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET mime = excluded.mime, digest = excluded.digest,"
                " body = excluded.body, updated_at = excluded.updated_at",
                (user_id, mime, digest, body, time.time()),
            )
            await db.execute("UPDATE users SET photo = ? WHERE id = ?", (url, user_id))

    async def get_photo(self, user_id: int) -> tuple[str, str, bytes] | None:
        """(mime, digest, bytes) of the person's uploaded photo."""
        row = await self._one("SELECT mime, digest, body FROM user_photos WHERE user_id = ?", (user_id,))
        return (row["mime"], row["digest"], bytes(row["body"])) if row else None

    async def delete_photo(self, user_id: int) -> None:
        async with self._tx() as db:
            await db.execute("DELETE FROM user_photos WHERE user_id = ?", (user_id,))
            await db.execute("UPDATE users SET photo = NULL WHERE id = ?", (user_id,))


_CRM_FIELDS = {"status", "temperature", "assignee_id", "follow_up_at", "follow_up_fired_at"}


def _api_token(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        id=row["id"],
        site_id=row["site_id"],
        name=row["name"],
        hint=row["hint"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def _webhook(row: sqlite3.Row) -> Webhook:
    return Webhook(
        id=row["id"],
        site_id=row["site_id"],
        url=row["url"],
        secret=row["secret"],
        events=json.loads(row["events"]),
        active=bool(row["active"]),
        created_at=row["created_at"],
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        event=row["event"],
        event_id=row["event_id"],
        subject=row["subject"],
        body=row["body"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search_query(
    site_ids: list[int], where: LeadFilter, *, before_id: int, limit: int, due_by: float | None
) -> tuple[str, tuple[Any, ...]] | None:
    """The SQL of ``search_leads``, newest first, in the cheapest of three shapes (see the bench):

    - the follow-up due filter reads the partial index of the few leads that have a follow-up;
    - a search for part of a name, email or phone (no index helps a substring) walks the table
      backwards once, stopping at the page's end;
    - otherwise each site's matches come from an ordered walk of that site's index, limited to the
      page, and the walks are merged: an IN over several sites would sort every match instead."""
    ids = [i for i in site_ids if where.site_id is None or i == where.site_id]
    if not ids:
        return None
    select = "SELECT l.*, s.name AS site_name FROM leads l{hint} JOIN sites s ON s.id = l.site_id"
    extra, extra_params = "", []
    if before_id:
        extra += " AND l.id < ?"
        extra_params.append(before_id)
    if due_by is not None or where.search.strip():
        sql, params = _crm_where(ids, where)
        if sql is None:
            return None
        if due_by is not None:
            extra += " AND l.follow_up_at <= ?"
            extra_params.append(due_by)
        hint = " INDEXED BY leads_follow_up" if due_by is not None else " NOT INDEXED"
        return (
            select.format(hint=hint) + f" WHERE {sql}{extra} ORDER BY l.id DESC LIMIT ?",
            (*params, *extra_params, limit),
        )
    parts: list[str] = []
    params = []
    for site_id in ids:
        sql, found = _crm_where([site_id], where)
        assert sql is not None
        parts.append(f"SELECT id FROM (SELECT l.id FROM leads l WHERE {sql}{extra} ORDER BY l.id DESC LIMIT ?)")
        params += [*found, *extra_params, limit]
    return select.format(hint="") + f" WHERE l.id IN ({' UNION ALL '.join(parts)}) ORDER BY l.id DESC LIMIT ?", (
        *params,
        limit,
    )


def _crm_where(site_ids: list[int], where: LeadFilter) -> tuple[str | None, list[Any]]:
    """The WHERE clause of a leads filter, or None when it can match nothing the user may see."""
    ids = list(site_ids)
    if where.site_id is not None:
        ids = [i for i in ids if i == where.site_id]
    if not ids:
        return None, []
    clauses = [f"l.site_id IN ({','.join('?' * len(ids))})"]
    params: list[Any] = list(ids)
    for column, value in (
        ("kind", where.kind),
        ("status", where.status),
        ("temperature", where.temperature),
        ("source", where.source),
    ):
        if value:
            clauses.append(f"l.{column} = ?")
            params.append(value)
    if where.assignee_id is not None:
        if where.assignee_id == 0:
            clauses.append("l.assignee_id IS NULL")
        else:
            clauses.append("l.assignee_id = ?")
            params.append(where.assignee_id)
    if where.since is not None:
        clauses.append("l.created_at >= ?")
        params.append(where.since)
    if where.until is not None:
        clauses.append("l.created_at < ?")
        params.append(where.until)
    search = where.search.strip()
    if search:
        digits = "".join(ch for ch in search if ch.isdigit())
        phone_like = digits and all(ch.isdigit() or ch in " +-()." for ch in search)
        if phone_like:
            clauses.append("l.phone LIKE ? ESCAPE '\\'")
            params.append(_like(digits.lstrip("0") or digits))  # a national 0 (trunk prefix) isn't in E.164
        else:
            clauses.append("(l.name LIKE ? ESCAPE '\\' OR l.email LIKE ? ESCAPE '\\')")
            params += [_like(search), _like(search)]
    return " AND ".join(clauses), params
