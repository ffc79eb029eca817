"""Weight: gzip size of the loader and of each widget chunk as the server serves them (minified at
start), beside peers' published widget bundles fetched from the npm registry with ``npm pack``."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import httpx

from bench.stats import Figure
from tests.support import BeckonServer

CACHE = Path(__file__).resolve().parent / ".cache" / "npm"
# package, file inside it, what it is
PEERS = [
    ("@typebot.io/js", "dist/web.js", "Typebot chat/bubble widget"),
    ("posthog-js", "dist/surveys.js", "PostHog surveys widget"),
]
LOADER_BUDGET, CHUNK_BUDGET, TOTAL_BUDGET = 2048, 8192, 30 * 1024


def gzip_size(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=9, mtime=0))


def served(server: BeckonServer) -> dict[str, bytes]:
    """The loader and every chunk, fetched over HTTP as a visitor's browser gets them."""
    bodies: dict[str, bytes] = {}
    with httpx.Client(base_url=server.base) as client:
        bodies["embed.js (loader)"] = client.get("/embed.js").raise_for_status().content
        for path in sorted((Path(__file__).resolve().parent.parent / "widgets").glob("*.js")):
            bodies[f"widgets/{path.name}"] = client.get(f"/widgets/{path.name}").raise_for_status().content
    return bodies


def measure(server: BeckonServer) -> list[Figure]:
    figures = []
    loader = widgets = 0
    for name, body in served(server).items():
        size = gzip_size(body)
        is_loader = name.startswith("embed")
        loader, widgets = (loader + size, widgets) if is_loader else (loader, widgets + size)
        budget = LOADER_BUDGET if is_loader else CHUNK_BUDGET
        figures.append(
            Figure(
                "Weight (gzip -9, as served)",
                name,
                "B",
                [size],
                f"≤ {budget // 1024} KB",
                lambda v, b=budget: v <= b,
                f"{len(body):,} B minified; measured once (the same bytes every run)",
            )
        )
    # DESIGN.md budgets the loader on its own row; "all widgets together" are the chunks it loads.
    figures.append(
        Figure(
            "Weight (gzip -9, as served)",
            "all widgets together: runtime + every widget chunk",
            "B",
            [widgets],
            "≤ 30 KB",
            lambda v: v <= TOTAL_BUDGET,
            "the loader has its own 2 KB budget above",
        )
    )
    figures.append(
        Figure(
            "Weight (gzip -9, as served)",
            "what a visitor downloads with every widget on: loader + all widgets",
            "B",
            [loader + widgets],
            note=f"no budget row in DESIGN.md; {loader + widgets - TOTAL_BUDGET:+,} B against 30 KB if the loader is counted in",
        )
    )
    figures.extend(peers())
    return figures


def peers() -> list[Figure]:
    figures = []
    npm = shutil.which("npm")
    for package, inner, what in PEERS:
        row = Figure("Weight (gzip -9, as served)", f"peer: {package} {inner}", "B", note=what)
        if npm is None:
            row.note = "skipped: npm is not installed"
        else:
            try:
                body, version = fetch(npm, package, inner)
                row.runs = [gzip_size(body)]
                row.what = f"peer: {package}@{version} {inner}"
                row.note = f"{what}; {len(body):,} B unpacked"
            except (OSError, subprocess.SubprocessError, tarfile.TarError, KeyError) as exc:
                row.note = f"skipped: the npm registry could not be reached ({str(exc).strip()[:80]})"
        figures.append(row)
    return figures


def fetch(npm: str, package: str, inner: str) -> tuple[bytes, str]:
    """``npm pack`` the package's latest release into the cache (once) and read one file of it."""
    folder = CACHE / package.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    tarballs = sorted(folder.glob("*.tgz"))
    if not tarballs:
        subprocess.run(
            [npm, "pack", package, "--silent", "--pack-destination", str(folder)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        tarballs = sorted(folder.glob("*.tgz"))
    with tarfile.open(tarballs[-1]) as tar:
        member = tar.extractfile(f"package/{inner}")
        if member is None:
            raise KeyError(inner)
        body = member.read()
        meta = tar.extractfile("package/package.json")
        version = json.loads(meta.read())["version"] if meta else "?"
    return body, version
