"""Leads CRM at 100,000 leads: how long the leads table's queries and the CSV export take.

Seeds 100,000 leads over 3 sites into a temporary SQLite through the store (``create_lead``, the
ingest's own write), then times, each as the median of 5 runs: the first page, a deep page (keyset),
filtered pages (one site and all three), searches by phone and by name, the "follow-up due" filter,
and the whole CSV export as the dashboard streams it. For comparison it also times the multi-site
pages as they were queried before (one ``site_id IN (...)`` query ordered by id): SQLite stops
early when the index it picks is ordered by id, but with a date filter it sorts every match.

    .venv/bin/python -m bench.crm_paging [--leads 100000] [--db PATH]

With --db the seeded database is kept at PATH and reused by the next run (seeding through the
store takes minutes); without it a temporary one is made and removed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from server.dashboard.crm import CSV_COLUMNS, EXPORT_BATCH, PAGE_SIZE, csv_cell
from server.models import Actor, EventRecord, LeadFilter, LeadStatus, NewLead
from server.store.sqlite import SQLiteStore

RUNS = 5
KINDS = ("callback", "quiz", "popup", "chat")
STATUSES = ("new", "in_progress", "won", "lost", "spam")
SOURCES = ("direct", "google / cpc", "newsletter")


async def seed(store: SQLiteStore, total: int) -> list[int]:
    sites = [
        (await store.create_site(key=f"bench-{n}", name=f"Bench site {n}", allowed_domains=[f"s{n}.test"])).id
        for n in range(3)
    ]
    started = time.perf_counter()
    for i in range(total):
        lead, _ = await store.create_lead(
            NewLead(
                site_id=sites[i % 3],
                visitor_key=f"v{i}",
                kind=KINDS[i % 4],
                client_frame_id=f"f{i}",
                phone=f"+4420794{i:05d}",
                name=f"Name {i}",
                email=f"n{i}@mail.test" if i % 2 else None,
                answers={},
                context={"url": f"https://s{i % 3}.test/p/{i % 50}"},
                user_agent="bench",
                source=SOURCES[i % 3],
            ),
            events=[EventRecord("created", Actor.VISITOR)],
        )
        if i % 5:  # spread the statuses the way a working team leaves them
            await store.update_lead(lead.id, {"status": STATUSES[i % 5]}, [])
        if i % 997 == 0:
            await store.update_lead(lead.id, {"follow_up_at": time.time() - 60}, [])
        if i and i % 20_000 == 0:
            print(f"  seeded {i:,} leads ({i / (time.perf_counter() - started):,.0f}/s)", flush=True)
    print(f"  seeded {total:,} leads in {time.perf_counter() - started:.1f} s")
    return sites


async def median_ms(action: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    """Median wall and CPU milliseconds of RUNS runs (CPU time shows the work itself when the
    machine is shared: aiosqlite runs the query on its own thread of this process)."""
    wall, cpu = [], []
    result = await action()  # warm: the first run pays for reading pages into the cache
    for _ in range(RUNS):
        started, used = time.perf_counter(), time.process_time()
        result = await action()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return statistics.median(wall), statistics.median(cpu), result


async def export(store: SQLiteStore, sites: list[int], where: LeadFilter) -> int:
    """The dashboard's export loop (server/dashboard/crm.py), writing to memory instead of a socket."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows, before = 0, 0
    while True:
        batch = await store.search_leads(sites, where, before_id=before, limit=EXPORT_BATCH)
        for lead in batch:
            writer.writerow(
                csv_cell(v)
                for v in (
                    lead.ref,
                    lead.created_at,
                    lead.site_name,
                    lead.kind,
                    lead.status.value,
                    lead.temperature,
                    "",
                    lead.name,
                    lead.phone,
                    lead.email,
                    lead.source,
                    lead.context.get("url", ""),
                    lead.follow_up_at,
                )
            )
        rows += len(batch)
        if len(batch) < EXPORT_BATCH:
            return rows
        before = batch[-1].id


async def main(total: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = keep or Path(tmp) / "crm.sqlite3"
        reuse = path.exists()
        store = SQLiteStore(path)
        await store.open()
        try:
            await store.migrate()
            if reuse:
                sites = [s.id for s in await store.all_sites() if s.key.startswith("bench-")]
                total = await store.newest_lead_id(sites)
                print(f"  reusing {path} ({total:,} leads)")
            else:
                # A throwaway database: no fsync per seeded lead (the timed queries only read).
                assert store._writer is not None
                await store._writer.execute("PRAGMA synchronous=OFF")
                sites = await seed(store, total)
            deep = total // 10  # 90 % of the way down the table
            page = PAGE_SIZE + 1
            won_quiz = LeadFilter(status=LeadStatus.WON.value, kind="quiz")
            since = LeadFilter(since=time.time() - 86400 * 365)  # "from" a year ago: every lead matches
            cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("first page, 3 sites", lambda: store.search_leads(sites, LeadFilter(), limit=page)),
                (
                    "deep page (keyset), 3 sites",
                    lambda: store.search_leads(sites, LeadFilter(), before_id=deep, limit=page),
                ),
                (
                    "status=won kind=quiz, 1 site",
                    lambda: store.search_leads(
                        sites, LeadFilter(site_id=sites[0], status="won", kind="quiz"), limit=page
                    ),
                ),
                ("status=won kind=quiz, 3 sites", lambda: store.search_leads(sites, won_quiz, limit=page)),
                (
                    "status=won kind=quiz, 3 sites, deep",
                    lambda: store.search_leads(sites, won_quiz, before_id=deep, limit=page),
                ),
                (
                    "source=newsletter, 3 sites",
                    lambda: store.search_leads(sites, LeadFilter(source="newsletter"), limit=page),
                ),
                (
                    "search phone '20794 12345'",
                    lambda: store.search_leads(sites, LeadFilter(search="20794 12345"), limit=page),
                ),
                (
                    "search name 'Name 4242'",
                    lambda: store.search_leads(sites, LeadFilter(search="Name 4242"), limit=page),
                ),
                (
                    "status=won + search 'Name 99'",
                    lambda: store.search_leads(sites, LeadFilter(status="won", search="Name 99"), limit=page),
                ),
                (
                    "follow-up due, 3 sites",
                    lambda: store.search_leads(sites, LeadFilter(), limit=page, due_by=time.time()),
                ),
                ("status=won, 3 sites", lambda: store.search_leads(sites, LeadFilter(status="won"), limit=page)),
                (
                    "status=won, 3 sites, deep",
                    lambda: store.search_leads(sites, LeadFilter(status="won"), before_id=deep, limit=page),
                ),
                ("from a date, 3 sites", lambda: store.search_leads(sites, since, limit=page)),
                ("from a date, 3 sites, deep", lambda: store.search_leads(sites, since, before_id=deep, limit=page)),
                ("before: won+quiz, 3 sites (one IN)", lambda: old_multi_site(store, sites, won_quiz, 0)),
                (
                    "before: status=won, 3 sites (one IN)",
                    lambda: old_multi_site(store, sites, LeadFilter(status="won"), 0),
                ),
                ("before: from a date, 3 sites (one IN)", lambda: old_multi_site(store, sites, since, 0)),
                ("before: from a date, deep (one IN)", lambda: old_multi_site(store, sites, since, deep)),
                (
                    "before: search 'Name 4242' (one IN)",
                    lambda: old_multi_site(store, sites, LeadFilter(search="Name 4242"), 0),
                ),
                ("CSV export, all leads", lambda: export(store, sites, LeadFilter())),
                ("CSV export, status=won", lambda: export(store, sites, LeadFilter(status="won"))),
            ]
            print(f"\n{'query':42} {'wall ms':>9} {'cpu ms':>9}  rows   (medians of {RUNS}; {total:,} leads, 3 sites)")
            for name, action in cases:
                wall, cpu, result = await median_ms(action)
                rows = result if isinstance(result, int) else len(result)
                print(f"{name:42} {wall:9.2f} {cpu:9.2f}  {rows}")
        finally:
            await store.close()


async def old_multi_site(store: SQLiteStore, sites: list[int], where: LeadFilter, before: int) -> list[Any]:
    """The query the leads table ran before the per-site merge (one IN over the sites, ordered by
    id), for comparison only."""
    from server.store.sqlite import _crm_where, _lead

    sql, params = _crm_where(sites, where)
    if before:
        sql = f"{sql} AND l.id < ?"
        params.append(before)
    rows = await store._all(
        "SELECT l.*, s.name AS site_name FROM leads l JOIN sites s ON s.id = l.site_id"
        f" WHERE {sql} ORDER BY l.id DESC LIMIT ?",
        (*params, PAGE_SIZE + 1),
    )
    return [_lead(r) for r in rows]  # the same work after the query as search_leads does


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None, help="keep the seeded database here and reuse it")
    args = parser.parse_args()
    asyncio.run(main(args.leads, args.db))
