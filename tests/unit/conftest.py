from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.store.sqlite import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """A real SQLite store, migrated, in this test's own folder."""
    store = SQLiteStore(tmp_path / "db.sqlite3")
    await store.open()
    await store.migrate()
    yield store
    await store.close()
