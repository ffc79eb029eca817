"""A real, tiny filesystem for the database, and a way to fill it up and give the space back."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import MANAGER, OTHER_SITE, OUTSIDER, SITE
from tests.support import BeckonServer


@dataclass
class TinyDisk:
    mount: Path

    @property
    def filler(self) -> Path:
        return self.mount / "filler"

    def fill(self) -> int:
        """Take every free byte (tmpfs allocates by page: the last 4 KB chunk is the last there is)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        taken = 0
        try:
            for size in (1 << 20, 1 << 16, 1 << 12, 1 << 9):
                block = b"\0" * size
                while True:
                    try:
                        taken += os.write(fd, block)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        return taken

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def free_bytes(self) -> int:
        st = os.statvfs(self.mount)
        return st.f_bavail * st.f_frsize


@contextlib.contextmanager
def tiny_disk(path: Path, size: str = "8m") -> Iterator[TinyDisk]:
    """A tmpfs of its own: a full disk here is a real ENOSPC, not a simulation. Needs root (CI is root)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield TinyDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@dataclass
class ServerOnDisk(BeckonServer):
    """A Beckon server whose database lives on another filesystem; its log stays on the normal one."""

    db_dir: Path | None = None

    @property
    def db_path(self) -> Path:
        assert self.db_dir is not None
        return self.db_dir / "beckon.sqlite3"


def seeded_server_on(disk: TinyDisk, workdir: Path, **env: str) -> ServerOnDisk:
    workdir.mkdir(parents=True, exist_ok=True)
    server = ServerOnDisk(workdir, env={"BECKON_DEMO_SITE_KEY": SITE, **env}, db_dir=disk.mount)
    server.add_site(SITE, ["localhost", "127.0.0.1"], name="Test Workshop")
    server.add_site(OTHER_SITE, ["other.test"], name="Other Shop")
    server.add_user(MANAGER[0], MANAGER[1], sites=[SITE], name="Anna")
    server.add_user(OUTSIDER[0], OUTSIDER[1], sites=[OTHER_SITE], name="Olga")
    return server.start()
