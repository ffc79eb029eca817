"""A database on a read-only filesystem (a real read-only bind mount): the server says so in one
line and exits with an error instead of hanging with half-opened connections."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import SITE
from tests.fault.disk import ServerOnDisk


def test_a_read_only_database_stops_startup_with_a_clear_error(tmp_path: Path) -> None:
    writable, read_only = tmp_path / "rw", tmp_path / "ro"
    read_only.mkdir()
    ServerOnDisk(tmp_path, db_dir=writable).add_site(SITE, ["localhost"])  # a real database, made writable
    server = ServerOnDisk(tmp_path / "server", db_dir=read_only)
    server.workdir.mkdir()
    subprocess.run(["mount", "--bind", str(writable), str(read_only)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(read_only)], check=True)
        with pytest.raises(RuntimeError, match="server exited with 3"):
            server.start()
        assert f"cannot use the database sqlite:///{read_only}/beckon.sqlite3" in server.log_tail()
    finally:
        server.kill()
        subprocess.run(["umount", "-l", str(read_only)], check=False)
