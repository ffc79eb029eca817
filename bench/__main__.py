"""``make bench`` / ``python -m bench``: measure Beckon's weight and speed on this machine, beside a
baseline and peers in the same run, and write one markdown table to bench/results.md.

Each figure is the median of several runs, with their min and max. Timings are only meaningful
with the machine they were taken on (named at the top) or as ratios. A missed budget is printed
and marked in the table; it never makes this command fail.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import httpx

from bench import alert_latency, chat_latency, connections, disk, host_page, ingest, weight
from bench.machine import describe, raise_open_files
from bench.server import SITE, start
from bench.stats import Figure, fmt

RESULTS = Path(__file__).resolve().parent / "results.md"
SECTIONS = ("weight", "host", "disk", "ingest", "alert", "chat", "connections")


def with_server(action: Callable[..., list[Figure]], *args: object, **server_args: object) -> list[Figure]:
    """A fresh server per section: one section's leads don't weigh on the next."""
    server = start(**server_args)  # type: ignore[arg-type]
    try:
        return action(server, *args)
    finally:
        server.stop()


def weight_and_host(runs: int) -> list[Figure]:
    def both(server: object) -> list[Figure]:
        figures = weight.measure(server)  # type: ignore[arg-type]
        config = httpx.get(f"{server.base}/api/v1/sites/{SITE}/config").json()  # type: ignore[attr-defined]
        return figures + host_page.measure(server, runs, len(config["chunks"]))  # type: ignore[arg-type]

    return with_server(both)


def table(figures: list[Figure], header: str) -> str:
    lines = [
        header,
        "",
        "| section | what | median | min | max | runs | budget | verdict | note |",
        "|---|---|---:|---:|---:|---:|---|---|---|",
    ]
    for f in figures:
        if f.runs:
            cells = [fmt(f.median, f.unit), fmt(min(f.runs), f.unit), fmt(max(f.runs), f.unit), str(len(f.runs))]
        else:
            cells = ["–", "–", "–", "0"]
        lines.append(f"| {f.section} | {f.what} | " + " | ".join(cells) + f" | {f.budget} | {f.verdict} | {f.note} |")
    return "\n".join(lines) + "\n"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument("--only", nargs="*", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--sockets", type=int, default=connections.SOCKETS, help="idle sockets to hold")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    chosen = set(args.only or SECTIONS)
    raise_open_files(args.sockets + 2000)
    machine = describe()
    started = time.monotonic()
    print(f"Beckon bench on {machine}", flush=True)

    plan: list[tuple[str, Callable[[], list[Figure]]]] = []
    if chosen & {"weight", "host"}:
        plan.append(("weight + host page", lambda: weight_and_host(args.runs)))
    if "disk" in chosen:
        plan.append(("disk", lambda: disk.measure(args.runs)))
    if "ingest" in chosen:
        plan.append(("ingest", lambda: with_server(ingest.measure, args.runs)))
    if "alert" in chosen:
        plan.append(("alert latency", lambda: with_server(alert_latency.measure, args.runs)))
    if "chat" in chosen:
        plan.append(("chat latency", lambda: with_server(chat_latency.measure, args.runs)))
    if "connections" in chosen:
        plan.append(("connections", lambda: connections.measure(args.runs, args.sockets)))

    figures: list[Figure] = []
    problems: list[str] = []
    for name, run in plan:
        began = time.monotonic()
        print(f"… {name}", flush=True)
        try:
            figures.extend(run())
        except Exception as exc:  # noqa: BLE001 - one broken section must not cost the others' numbers
            traceback.print_exc()
            problems.append(f"- {name}: could not be measured: {type(exc).__name__}: {exc}")
        print(f"  {name} took {time.monotonic() - began:.0f} s", flush=True)
    if not ({"weight"} <= chosen):
        figures = [f for f in figures if not f.section.startswith("Weight")]
    if not ({"host"} <= chosen):
        figures = [f for f in figures if not f.section.startswith("Host page")]

    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        "# Beckon bench results\n\n"
        f"Machine: {machine}.  \nCommit {git_commit()}, {when}, {args.runs} runs per figure, "
        f"took {time.monotonic() - started:.0f} s. Loopback only.  \n"
        "Timings hold for this machine only; compare across machines by the ratios."
    )
    text = table(figures, header)
    missed = [f for f in figures if f.verdict == "**MISSED**"]
    text += "\n" + (
        "Budgets missed:\n"
        + "\n".join(f"- {f.section}: {f.what} = {fmt(f.median, f.unit)} ({f.budget})" for f in missed)
        if missed
        else "Every budget measured here was met."
    )
    if problems:
        text += "\n\nNot measured:\n" + "\n".join(problems)
    text += "\n"
    args.output.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
