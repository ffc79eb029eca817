"""The visitor-side scripts: the loader at /embed.js and the widget chunks.

Chunks are served under a content hash so browsers may cache them forever;
the loader itself keeps a short cache so a new release reaches visitors soon.
The sources stay readable in the repository; visitors get what `make widgets` built
from them with terser (local names renamed; committed beside them in dist/, so
serving needs no Node). A build is served only if it was made from the source as it
is now (the source's hash is in its first line); otherwise the source is served
minified by rjsmin (comments and spaces out, nothing renamed), and the server says so.

Each body is gzipped (-9) once at start and sent as is to a browser that accepts gzip,
rather than compressed again on every request; its ETag differs from the plain body's.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import rjsmin
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger("beckon.assets")

JS = "text/javascript; charset=utf-8"
BUILT = re.compile(r"// built by make widgets from \S+ ([0-9a-f]{16})\n")
LOADER_CACHE = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    digest: str
    built: bool  # terser's build of the current source, not the rjsmin fallback
    gzipped: bytes = b""  # gzip -9 of body, made once (mtime 0: the same bytes every start)

    @classmethod
    def of(cls, name: str, body: bytes, built: bool) -> Asset:
        digest = hashlib.sha256(body).hexdigest()[:12]
        return cls(name=name, body=body, digest=digest, built=built, gzipped=gzip.compress(body, 9, mtime=0))

    @property
    def hashed_name(self) -> str:
        return f"{self.name}.{self.digest}.js"


class Assets:
    def __init__(self, root: Path) -> None:
        self.loader = self._read(root / "embed" / "embed.js")
        self.chunks: dict[str, Asset] = {}
        for path in sorted((root / "widgets").glob("*.js")):
            asset = self._read(path)
            self.chunks[asset.name] = asset

    @staticmethod
    def _read(path: Path) -> Asset:
        source = path.read_bytes()
        build = path.parent / "dist" / path.name
        text = build.read_text(encoding="utf-8") if build.is_file() else ""
        made = BUILT.match(text)
        if made and made.group(1) == hashlib.sha256(source).hexdigest()[:16]:
            body, built = text[made.end() :].encode(), True
        else:
            log.warning("%s is missing or older than %s: serving it unrenamed; run `make widgets`", build, path.name)
            body, built = rjsmin.jsmin(source.decode("utf-8")).encode(), False
        return Asset.of(path.stem, body, built)

    def chunk_url(self, base: str, name: str) -> str:
        return f"{base}/widgets/{self.chunks[name].hashed_name}"

    async def embed_js(self, request: Request) -> Response:
        return self._respond(request, self.loader, LOADER_CACHE)

    async def widget_chunk(self, request: Request) -> Response:
        filename: str = request.path_params["filename"]
        stem = filename.removesuffix(".js")
        name, _, digest = stem.partition(".")
        asset = self.chunks.get(name)
        if asset is None or not filename.endswith(".js") or (digest and digest != asset.digest):
            return Response("No such widget chunk.\n", status_code=404, media_type="text/plain")
        return self._respond(request, asset, IMMUTABLE if digest else LOADER_CACHE)

    @staticmethod
    def _respond(request: Request, asset: Asset, cache: str) -> Response:
        zipped = accepts_gzip(request.headers.get("accept-encoding", ""))
        # One ETag per encoding: a cache must never answer a plain request with the gzip bytes.
        etag = f'"{asset.digest}-gz"' if zipped else f'"{asset.digest}"'
        headers = {
            "ETag": etag,
            "Cache-Control": cache,
            "Vary": "Accept-Encoding",
            # Chunks are ES modules imported cross-origin by the host page.
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        }
        if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
            return Response(status_code=304, headers=headers)
        if zipped:
            return Response(asset.gzipped, media_type=JS, headers=headers | {"Content-Encoding": "gzip"})
        return Response(asset.body, media_type=JS, headers=headers)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header takes gzip: named (or ``*``) without ``q=0``."""
    chosen: dict[str, bool] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.partition(";")
        q = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
        try:
            chosen[name.strip()] = float(q) > 0
        except ValueError:
            chosen[name.strip()] = False
    return chosen.get("gzip", chosen.get("x-gzip", chosen.get("*", False)))
