"""Host-page cost: the same page with and without the snippet, in Chromium through Playwright.

Per load: the longest main-thread task (PerformanceObserver 'longtask', which only reports tasks
over 50 ms: 0 means none), the time from DOMContentLoaded to the first widget on screen, and the
requests and bytes the page fetched before the visitor did anything (until the network is idle).
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Request, sync_playwright

from bench.server import ORIGIN, SITE
from bench.stats import Figure
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support import BeckonServer

PROBE = """
window.__bench = {longest: 0, tasks: 0, visibleAt: null};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) { __bench.longest = Math.max(__bench.longest, e.duration); __bench.tasks += 1; }
}).observe({type: 'longtask', buffered: true});
(function look() {
  for (const host of document.querySelectorAll('[data-beckon-widget]')) {
    const root = host.shadowRoot;
    const shown = root && [...root.querySelectorAll('*')].some((n) => {
      const box = n.getBoundingClientRect();
      return box.width > 0 && box.height > 0 && getComputedStyle(n).visibility !== 'hidden';
    });
    if (shown) { __bench.visibleAt = performance.now(); return; }
  }
  requestAnimationFrame(look);
})();
"""
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">{snippet}</head>
<body><h1>Kitchens made to measure</h1><p>{text}</p></body></html>"""


def snippet(server: BeckonServer) -> str:
    return (
        "<script>(function(w,d,u,k){w.Beckon=w.Beckon||function(){(w.Beckon.q=w.Beckon.q||[]).push(arguments)};"
        "var s=d.createElement('script');s.async=1;s.src=u;s.dataset.site=k;d.head.appendChild(s)})"
        f"(window,document,'{server.base}/embed.js','{SITE}');</script>"
    )


def load(browser: Any, server: BeckonServer, with_snippet: bool) -> dict[str, Any]:
    ctx = browser.new_context()  # a fresh profile each time: nothing cached
    body = PAGE.format(snippet=snippet(server) if with_snippet else "", text="We build kitchens. " * 200)
    ctx.route(f"{ORIGIN}/", lambda route: route.fulfill(status=200, content_type="text/html", body=body))
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.add_init_script(PROBE)
    fetched: list[Request] = []
    page.on("requestfinished", lambda r: fetched.append(r))
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(f"{ORIGIN}/")
    if with_snippet:
        page.wait_for_function("window.__bench.visibleAt !== null", timeout=15_000)
    page.wait_for_load_state("networkidle")
    probe = page.evaluate(
        "({...window.__bench, dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventStart})"
    )
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    beckon = [r for r in fetched if r.url.startswith(server.base)]
    sizes = [r.sizes() for r in fetched]
    ctx.close()
    return {
        "longest": probe["longest"],
        "script": metrics.get("ScriptDuration", 0.0) * 1000,
        "tasks": metrics.get("TaskDuration", 0.0) * 1000,
        "visible": (probe["visibleAt"] - probe["dcl"]) if probe["visibleAt"] is not None else None,
        "requests": len(beckon),
        "paths": sorted(r.url.removeprefix(server.base).split("?")[0] for r in beckon),
        "bytes": sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes),
        "beckon_bytes": sum(
            s["responseBodySize"] + s["responseHeadersSize"] for r, s in zip(fetched, sizes, strict=True) if r in beckon
        ),
        "sockets": len(sockets),
    }


def measure(server: BeckonServer, runs: int, expected_chunks: int) -> list[Figure]:
    section = "Host page (Chromium, cold cache, callback + chat on)"
    longest = Figure(section, "longest main-thread task with the snippet", "ms", budget="no task > 50 ms")
    longest.check = lambda v: v <= 50
    longest.note = "longtask entries only exist over 50 ms: 0 means none"
    baseline = Figure(section, "longest main-thread task, same page without the snippet", "ms")
    script = Figure(section, "main-thread script time with the snippet (CDP ScriptDuration)", "ms")
    script_baseline = Figure(section, "main-thread script time without the snippet", "ms")
    tasks = Figure(section, "main-thread busy time with the snippet (CDP TaskDuration)", "ms")
    tasks_baseline = Figure(section, "main-thread busy time without the snippet", "ms")
    visible = Figure(section, "DOMContentLoaded → first widget visible", "ms", note="polled every animation frame")
    requests = Figure(section, "requests to Beckon before the visitor interacts", "")
    requests.budget = f"loader + config + enabled chunks only ({2 + expected_chunks})"
    requests.check = lambda v: v <= 2 + expected_chunks
    beckon_bytes = Figure(section, "bytes from Beckon before the visitor interacts", "B")
    beckon_bytes.note = "bodies as sent (scripts gzip -9, made once at start) plus headers, as Chromium counts them"
    page_bytes = Figure(section, "all bytes of the page with the snippet", "B")
    page_baseline = Figure(section, "all bytes of the page without the snippet", "B")
    sockets = Figure(section, "WebSockets opened before the visitor interacts", "", budget="0 (opened lazily)")
    sockets.check = lambda v: v == 0
    seen_paths: set[str] = set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            load(browser, server, True)  # warm the server (first chunk reads), not measured
            for _ in range(runs):
                on = load(browser, server, True)
                off = load(browser, server, False)
                longest.runs.append(on["longest"])
                baseline.runs.append(off["longest"])
                script.runs.append(on["script"])
                script_baseline.runs.append(off["script"])
                tasks.runs.append(on["tasks"])
                tasks_baseline.runs.append(off["tasks"])
                if on["visible"] is not None:
                    visible.runs.append(on["visible"])
                requests.runs.append(on["requests"])
                beckon_bytes.runs.append(on["beckon_bytes"])
                page_bytes.runs.append(on["bytes"])
                page_baseline.runs.append(off["bytes"])
                sockets.runs.append(on["sockets"])
                seen_paths.update(on["paths"])
        finally:
            browser.close()
    requests.note = "fetched: " + ", ".join(
        p.rsplit(".", 2)[0] if p.startswith("/widgets/") else p for p in sorted(seen_paths)
    )
    return [
        longest,
        baseline,
        script,
        script_baseline,
        tasks,
        tasks_baseline,
        visible,
        requests,
        sockets,
        beckon_bytes,
        page_bytes,
        page_baseline,
    ]
