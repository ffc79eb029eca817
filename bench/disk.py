"""The disk under the store: how long one durable SQLite COMMIT takes here (WAL, synchronous=FULL,
as the server runs). Every ack and every alert waits for one, so its tail bounds theirs."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from bench.stats import Figure, pct

COMMITS = 200


def commit_times(folder: Path, commits: int = COMMITS) -> list[float]:
    db = sqlite3.connect(folder / "fsync.sqlite3", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE t (x INTEGER)")
        times = []
        for i in range(commits):
            began = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (?)", (i,))
            db.execute("COMMIT")
            times.append((time.perf_counter() - began) * 1000)
        return times
    finally:
        db.close()


def measure(runs: int) -> list[Figure]:
    section = "Disk (one durable SQLite COMMIT, WAL + synchronous=FULL, in the system temp folder)"
    rows = {p: Figure(section, f"COMMIT p{p}", "ms", note=f"{COMMITS} one-row commits a run") for p in (50, 99)}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="beckon-bench-disk-") as folder:
            values = commit_times(Path(folder))
        for p, row in rows.items():
            row.runs.append(pct(values, p))
    rows[99].note += "; every ack and alert waits for one commit (shared by a batch), so this bounds their tail"
    return list(rows.values())
