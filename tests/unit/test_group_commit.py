"""Group commit in the SQLite writer: concurrent writes share one COMMIT, yet each caller
returns only once its own work is durable, and a failing caller fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from server.store import StoreUnavailable
from server.store.sqlite import SQLiteStore
from tests.unit.test_store import new_lead


async def count_commits(store: SQLiteStore) -> list[str]:
    """Every COMMIT the writer connection runs from now on."""
    commits: list[str] = []
    assert store._writer is not None
    await store._writer.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    return commits


def stored_frames(path: Path) -> set[str]:
    """What a fresh connection (another process, after a crash) finds on disk."""
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT client_frame_id FROM leads")}


async def test_concurrent_leads_share_commits_and_all_are_stored(store: SQLiteStore, tmp_path: Path) -> None:
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    commits = await count_commits(store)
    frames = [f"frame-{i:04d}" for i in range(40)]
    results = await asyncio.gather(
        *(store.create_lead(new_lead(site.id, f, visitor_key=f"visitor-{f}")) for f in frames)
    )
    assert all(created for _, created in results)
    assert len({lead.ref for lead, _ in results}) == 40
    # The first caller commits alone; the 39 that queued behind it share the next COMMIT.
    assert 1 <= len(commits) <= 3, commits
    assert stored_frames(tmp_path / "db.sqlite3") == set(frames)


async def test_a_failing_caller_undoes_only_its_own_work(store: SQLiteStore, tmp_path: Path) -> None:
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    commits = await count_commits(store)

    async def broken() -> None:
        async with store._tx() as db:
            await db.execute(
                "INSERT INTO visitors (site_id, visitor_key, first_seen, last_seen, user_agent, referrer,"
                " landing_page, utm, page_trail) VALUES (?, 'half-done', 0, 0, '', '', '', '{}', '[]')",
                (site.id,),
            )
            raise ValueError("the caller changed its mind")

    outcomes = await asyncio.gather(
        store.create_lead(new_lead(site.id, "frame-a", visitor_key="visitor-a")),
        broken(),
        store.create_lead(new_lead(site.id, "frame-b", visitor_key="visitor-b")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], ValueError)
    assert outcomes[0][1] and outcomes[2][1]  # type: ignore[index]
    assert len(commits) == 1  # all three were in one batch
    assert stored_frames(tmp_path / "db.sqlite3") == {"frame-a", "frame-b"}
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        keys = {row[0] for row in db.execute("SELECT visitor_key FROM visitors")}
    assert keys == {"visitor-a", "visitor-b"}


async def test_a_constraint_error_fails_its_caller_and_the_batch_goes_on(store: SQLiteStore, tmp_path: Path) -> None:
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    outcomes = await asyncio.gather(
        store.create_lead(new_lead(site.id, "frame-a", visitor_key="visitor-a")),
        store.create_lead(new_lead(site.id + 999, "frame-x", visitor_key="visitor-x")),  # no such site
        store.create_lead(new_lead(site.id, "frame-b", visitor_key="visitor-b")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert stored_frames(tmp_path / "db.sqlite3") == {"frame-a", "frame-b"}


async def test_whoever_returns_was_stored_when_the_disk_fills(store: SQLiteStore, tmp_path: Path) -> None:
    """A full disk fails writes mid-batch; every caller that returned normally is on disk,
    every caller that isn't was told so."""
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    assert store._writer is not None
    async with store._writer.execute("PRAGMA page_count") as cur:
        row = await cur.fetchone()
    assert row is not None
    # Room for a few leads, not for a hundred.
    await store._writer.execute(f"PRAGMA max_page_count = {row[0] + 4}")
    frames = [f"frame-{i:04d}" for i in range(100)]
    outcomes = await asyncio.gather(
        *(store.create_lead(new_lead(site.id, f, visitor_key=f"visitor-{f}", name="x" * 3000)) for f in frames),
        return_exceptions=True,
    )
    returned = {f for f, outcome in zip(frames, outcomes, strict=True) if not isinstance(outcome, BaseException)}
    refused = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    assert refused, "the disk never filled: the test proves nothing"
    assert all(isinstance(error, StoreUnavailable | sqlite3.Error) for error in refused), refused
    assert returned <= stored_frames(tmp_path / "db.sqlite3")
    # The writer is usable again once there is room.
    await store._writer.execute("PRAGMA max_page_count = 1073741823")
    _, created = await store.create_lead(new_lead(site.id, "frame-after", visitor_key="visitor-after"))
    assert created and "frame-after" in stored_frames(tmp_path / "db.sqlite3")


async def test_a_lone_failing_caller_leaves_no_transaction_open(store: SQLiteStore, tmp_path: Path) -> None:
    """Like the health probe: write, then raise. Another process must be able to write right after."""
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    with pytest.raises(ValueError):
        async with store._tx() as db:
            await db.execute("UPDATE sites SET name = 'Probe' WHERE id = ?", (site.id,))
            raise ValueError("probe")
    other = sqlite3.connect(tmp_path / "db.sqlite3", timeout=2)
    try:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" if the writer still held it
        other.rollback()
        assert other.execute("SELECT name FROM sites").fetchone()[0] == "Shop"
    finally:
        other.close()


async def test_a_lone_failing_lead_leaves_no_transaction_open(store: SQLiteStore, tmp_path: Path) -> None:
    """create_lead runs as one function on the writer's thread (bench #10); failing alone, it too
    must leave the file unlocked and nothing of its work behind."""
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    with pytest.raises(sqlite3.IntegrityError):
        await store.create_lead(new_lead(site.id + 999, "frame-x", visitor_key="visitor-x"))  # no such site
    other = sqlite3.connect(tmp_path / "db.sqlite3", timeout=2)
    try:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" if the writer still held it
        other.rollback()
        assert other.execute("SELECT count(*) FROM visitors").fetchone()[0] == 0
    finally:
        other.close()
    _, created = await store.create_lead(new_lead(site.id, "frame-a", visitor_key="visitor-a"))
    assert created and stored_frames(tmp_path / "db.sqlite3") == {"frame-a"}


async def test_the_writers_savepoint_journal_stays_in_memory(store: SQLiteStore) -> None:
    """bench #10: each caller's savepoint journals the pages it touches; in a temp file that cost ~39
    pwrite calls per lead. The writer keeps it in memory (it only undoes uncommitted work)."""
    assert store._writer is not None
    async with store._writer.execute("PRAGMA temp_store") as cur:
        row = await cur.fetchone()
    assert row is not None and row[0] == 2  # MEMORY


async def test_leads_joining_an_open_batch_make_no_trip_to_the_writers_thread(
    store: SQLiteStore, tmp_path: Path
) -> None:
    """bench #10: a lead that joins a batch whose transaction is open runs its statements on the event
    loop; only BEGIN and COMMIT go to the writer's thread. Each caller is still acked after the COMMIT."""
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    assert store._writer is not None
    trips: list[str] = []
    to_thread = store._writer._execute

    async def counted(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await to_thread(fn, *args, **kwargs)

    store._writer._execute = counted  # type: ignore[method-assign]
    commits = await count_commits(store)
    frames = [f"frame-{i:04d}" for i in range(40)]
    results = await asyncio.gather(
        *(store.create_lead(new_lead(site.id, f, visitor_key=f"visitor-{f}")) for f in frames)
    )
    assert all(created for _, created in results)
    assert stored_frames(tmp_path / "db.sqlite3") == set(frames)
    # One trip per batch to open it, one per COMMIT; not one per lead.
    assert len(trips) <= 2 * len(commits) + 1, trips


async def test_a_new_lead_comes_back_with_the_callback_stored_for_it(store: SQLiteStore) -> None:
    """bench #10: create_lead_and_callback returns the callback row as stored, so routing doesn't read it
    back; a re-sent frame gets its first lead and no callback (routing then reads it if it needs it)."""
    site = await store.create_site(key="s1", name="Shop", allowed_domains=["shop.test"])
    plan = {"state": "ringing", "promise_seconds": 30, "due_at": 1000.0, "promised_by": 1000.0, "offered_to": [7]}
    lead, created, callback = await store.create_lead_and_callback(new_lead(site.id, "frame-a"), callback=plan)
    assert created and callback is not None
    assert callback == await store.get_callback(lead.id)
    assert (callback.state.value, callback.offered_to, callback.stage, callback.attempts) == ("ringing", [7], 0, 0)
    again, created, none = await store.create_lead_and_callback(new_lead(site.id, "frame-a"), callback=plan)
    assert (again.id, created, none) == (lead.id, False, None)
    plain, _, nothing = await store.create_lead_and_callback(new_lead(site.id, "frame-b", kind="popup"))
    assert nothing is None and await store.get_callback(plain.id) is None
