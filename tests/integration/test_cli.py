"""The beckon command, run as an owner would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from server.store.sqlite import SQLiteStore
from tests.support import run_async


def beckon(db: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args, "--database-url", f"sqlite:///{db}"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_create_site_and_user_then_they_are_in_the_store(tmp_path: Path) -> None:
    db = tmp_path / "b.sqlite3"
    site = beckon(
        db,
        "create-site",
        "--name",
        "My Shop",
        "--domains",
        "shop.example, www.shop.example",
        "--key",
        "my-shop",
        "--hours",
        '{"mon": [["09:00", "18:00"]]}',
        "--timezone",
        "Europe/London",
        "--routing",
        "least_busy",
        "--promise-seconds",
        "45",
    )
    assert site.returncode == 0, site.stderr
    user = beckon(
        db,
        "create-user",
        "--email",
        "Owner@Shop.example",
        "--role",
        "owner",
        "--site",
        "my-shop",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert user.returncode == 0, user.stderr

    async def check():  # type: ignore[no-untyped-def]
        store = SQLiteStore(db)
        await store.open()
        try:
            found = await store.get_site_by_key("my-shop")
            owner = await store.get_user_by_email("owner@shop.example")
            return found, owner, await store.user_sites(owner.id)
        finally:
            await store.close()

    found, owner, sites = run_async(check)
    assert found.allowed_domains == ["shop.example", "www.shop.example"]
    assert found.working_hours == {"mon": [["09:00", "18:00"]]} and found.timezone == "Europe/London"
    assert found.settings["routing"] == "least_busy" and found.settings["promise_seconds"] == 45
    assert owner.role.value == "owner" and [s.key for s in sites] == ["my-shop"]


def test_bad_input_is_refused_with_a_reason_and_nothing_written(tmp_path: Path) -> None:
    db = tmp_path / "b.sqlite3"
    hours = beckon(
        db, "create-site", "--name", "X", "--domains", "x.example", "--hours", '{"mon": [["19:00", "18:00"]]}'
    )
    assert hours.returncode == 2 and "ends before it starts" in hours.stderr
    short = beckon(db, "create-user", "--email", "a@x.example", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    assert beckon(db, "create-site", "--name", "X", "--domains", " ").returncode == 2
    migrate = beckon(db, "migrate")
    assert migrate.returncode == 0 and "up to date" in migrate.stdout
