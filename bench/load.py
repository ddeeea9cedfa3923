"""Concurrent users: several browser sessions on one app server at once.

Usage (from the repository root)::

    python -m bench.load --results PATH [--sessions 10]

One Streamlit server, one headless Chromium, *sessions* separate browser contexts (separate
Streamlit sessions). All pages are opened, then each picks its own borough (a different one
per session), then each switches the map layer. Playwright's sync API is single-threaded, so
every change is triggered on all pages first and the pages are then polled round-robin; a
session's time is taken at the first poll that sees its condition (so it may be late by one
polling round, a few hundred milliseconds with 10 sessions).

Figures: each session's time from opening the page to its borough drawn in the new layer,
the slowest of those, and the server's peak memory (psutil if installed, else the kernel's
``VmHWM`` of the server process and its children from ``/proc``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import OUTPUT

__all__ = [
    "Session",
    "drive_sessions",
    "main",
    "pick_groups",
    "run_load",
    "server_memory",
]


@dataclass
class Session:
    """What one browser session did and saw (times in seconds from opening its page)."""

    group: str
    expected: int
    opened_s: float = float("nan")
    group_s: float = float("nan")
    layer_s: float = float("nan")
    count_before_layer: int = -1
    fills_before_layer: set[str] = field(default_factory=set)
    count: int = -1
    fills: set[str] = field(default_factory=set)
    page_errors: list[str] = field(default_factory=list)
    exception_blocks: int = -1
    traceback_in_page: bool = True
    positions: set[int] = field(default_factory=set)


def pick_groups(results_path: Path, *, sessions: int) -> tuple[str, list[tuple[str, int]], int]:
    """The group column's select box label, *sessions* different groups (value, number of
    areas) spread from the smallest to the largest, and the total number of areas."""
    from firerisk.geo.results import read_results

    results = read_results(results_path)
    areas = results.areas
    if not results.group_columns:
        raise ValueError(f"{results_path}: the results have no group column; the load test "
                         "needs one (for example 'borough') to give each session its own group")
    column = results.group_columns[0]
    counts = areas[column].dropna().astype(str).value_counts().sort_values(kind="stable")
    if len(counts) < sessions:
        raise ValueError(f"{results_path}: only {len(counts)} values of {column!r} for "
                         f"{sessions} sessions; use --sessions {len(counts)} or fewer")
    picks = sorted({round(i * (len(counts) - 1) / max(sessions - 1, 1))
                    for i in range(sessions)})
    chosen = [(str(counts.index[i]), int(counts.iloc[i])) for i in picks]
    return column.replace("_", " ").capitalize(), chosen, len(areas)


def _map_state(page: Any) -> tuple[int, set[str]]:
    """(number of polygons, their distinct fill colours) on *page*'s map; (-1, {}) while the
    map frame is being replaced."""
    from playwright.sync_api import Error as PlaywrightError

    from tests.browser_helpers import MAP_IFRAME, POLYGON

    try:
        count, fills = page.frame_locator(MAP_IFRAME).first.locator(POLYGON).evaluate_all(
            "els => [els.length, [...new Set(els.map("
            "e => (e.getAttribute('fill') || '').toLowerCase()))]]")
    except PlaywrightError:
        return -1, set()
    return int(count), {str(f) for f in fills}


def _recorder(errors: list[str]) -> Callable[[Any], None]:
    """A ``pageerror`` handler that appends the error's text to *errors*."""
    def record(exc: Any) -> None:
        errors.append(str(exc))
    return record


def _drawn_positions(page: Any) -> set[int]:
    """Positions (rows of the results file) of the small areas drawn on *page*'s map."""
    from playwright.sync_api import Error as PlaywrightError

    from tests.browser_helpers import map_frame

    try:
        ks = map_frame(page).evaluate(
            "() => window.FireRiskMap.state.areas.getLayers()"
            ".map(l => l.feature.properties.k)")
    except PlaywrightError:
        return set()
    return {int(k) for k in ks}


def _poll_all(pages: Sequence[Any], done: Callable[[int, int, set[str]], bool],
              starts: Sequence[float], *, timeout: float, what: str) -> list[float]:
    """Poll every page in turn until ``done(i, count, fills)`` holds for each; return each
    page's seconds since ``starts[i]`` when first seen done."""
    out: list[float | None] = [None] * len(pages)
    deadline = time.monotonic() + timeout
    last: list[tuple[int, set[str]]] = [(-1, set())] * len(pages)
    while any(t is None for t in out):
        if time.monotonic() > deadline:
            late = [f"session {i}: {last[i][0]} polygons, colours {sorted(last[i][1])[:4]}"
                    for i, t in enumerate(out) if t is None]
            raise AssertionError(f"after {timeout:.0f} s, {what} was not reached by "
                                 f"{len(late)} session(s): " + "; ".join(late))
        for i, page in enumerate(pages):
            if out[i] is None:
                last[i] = _map_state(page)
                if done(i, *last[i]):
                    out[i] = time.monotonic() - starts[i]
        pages[0].wait_for_timeout(250)
    return [float(t) for t in out if t is not None]


def drive_sessions(base: str, *, label: str, groups: Sequence[tuple[str, int]],
                   n_areas: int, layer_label: str, guard: Any,
                   expected_fills: Mapping[str, set[str]] | None = None,
                   timeout: float = 90.0) -> list[Session]:
    """Open one browser context per group on the app at *base*, all at once, pick each
    session's group, then switch every session's layer to *layer_label*.

    *guard* (a :class:`tests.browser_helpers.NetworkGuard`) routes every request of every
    context. If *expected_fills* (group -> colours) is given, the layer change is waited for
    until each map shows exactly those colours; otherwise until the colours differ from
    those before the change. Each wait is bounded by *timeout* seconds.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS, choose_group, choose_layer

    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
            "never `playwright install`.")
    sessions = [Session(group=g, expected=n) for g, n in groups]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=list(CHROMIUM_ARGS))
        try:
            pages = []
            for s in sessions:
                context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                              service_workers="block")
                context.set_default_timeout(timeout * 1000)
                context.route("**/*", guard)
                page = context.new_page()
                page.on("pageerror", _recorder(s.page_errors))
                pages.append(page)
            starts = []
            for page in pages:  # open all pages without waiting for each to load
                starts.append(time.monotonic())
                page.goto(base, wait_until="commit")
            opened = _poll_all(pages, lambda i, n, f: n == n_areas, starts, timeout=timeout,
                               what=f"the full map ({n_areas} polygons)")

            for page, s in zip(pages, sessions, strict=True):
                choose_group(page, label, s.group).click()
            grouped = _poll_all(pages, lambda i, n, f: n == sessions[i].expected, starts,
                                timeout=timeout, what="each session's own group")
            for page, s in zip(pages, sessions, strict=True):
                s.count_before_layer, s.fills_before_layer = _map_state(page)

            for page in pages:
                choose_layer(page, layer_label)

            def recoloured(i: int, n: int, fills: set[str]) -> bool:
                s = sessions[i]
                if n != s.expected or not fills:
                    return False
                if expected_fills is not None:
                    return fills == expected_fills[s.group]
                return fills != s.fills_before_layer

            layered = _poll_all(pages, recoloured, starts, timeout=timeout,
                                what=f"the layer {layer_label!r} on each session's group")
            for page, s, t0, t1, t2 in zip(pages, sessions, opened, grouped, layered,
                                           strict=True):
                s.opened_s, s.group_s, s.layer_s = t0, t1, t2
                s.count, s.fills = _map_state(page)
                s.exception_blocks = page.get_by_test_id("stException").count()
                s.traceback_in_page = "Traceback" in page.locator("body").inner_text()
                s.positions = _drawn_positions(page)
        finally:
            browser.close()
    return sessions


def _proc_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _server_pids(port: int) -> list[int]:
    """The Streamlit server listening on *port* and every process in its process group."""
    leader = None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(argv) and str(port).encode() in argv:
            leader = int(entry.name)
            break
    if leader is None:
        return []
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if int(entry.name) == leader or (len(fields) > 2 and int(fields[2]) == leader):
            pids.append(int(entry.name))
    return pids


def server_memory(base: str) -> dict[str, Any]:
    """Peak and current resident memory (bytes) of the app server at *base* and its children.

    The peak is the kernel's high-water mark (``VmHWM``), summed over the processes; the
    current figure uses psutil when it is installed, else ``VmRSS``.
    """
    port = urlsplit(base).port or 0
    pids = _server_pids(port)
    peak = sum(_proc_kib(p, "VmHWM") for p in pids) * 1024
    try:
        import psutil  # optional

        rss = 0
        for p in pids:
            with contextlib.suppress(psutil.Error):
                rss += int(psutil.Process(p).memory_info().rss)
        source = "psutil + /proc VmHWM"
    except ImportError:
        rss = sum(_proc_kib(p, "VmRSS") for p in pids) * 1024
        source = "/proc VmHWM"
    return {"pids": pids, "peak_bytes": peak, "rss_bytes": rss, "source": source}


def run_load(results: Path, *, sessions: int = 10, work_dir: Path,
             timeout: float = 90.0) -> dict[str, Any]:
    """Run *sessions* concurrent browser sessions on one app server showing *results*.

    Returns ``slowest_s`` (the slowest session, from opening its page to its own group drawn
    in the new layer), ``sessions`` (per session: group, areas, ``opened_s`` (full map drawn),
    ``group_s``, ``layer_s``, all from opening), ``server_peak_bytes`` and
    ``server_rss_bytes`` (server process and children), ``blocked`` (requests to anything but
    the loopback server: should be empty) and ``log`` (path of the server log).

    Parameters
    ----------
    results : Path
        Results GeoPackage with at least one group column.
    sessions : int
        Number of concurrent browser sessions (each gets a different group).
    work_dir : Path
        Folder for the server log.
    timeout : float
        Bound on each wait (all sessions together), seconds.
    """
    from firerisk.ui.mapview import LAYERS
    from tests.browser_helpers import NetworkGuard, run_app

    work_dir.mkdir(parents=True, exist_ok=True)
    label, groups, n_areas = pick_groups(results, sessions=sessions)
    log = work_dir / "app.log"
    guard = NetworkGuard()
    start = time.monotonic()
    with run_app(results, log=log) as base:
        done = drive_sessions(base, label=label, groups=groups, n_areas=n_areas,
                              layer_label=LAYERS["imd"], guard=guard, timeout=timeout)
        memory = server_memory(base)
    return {
        "sessions_n": len(done),
        "areas": n_areas,
        "slowest_s": max(s.layer_s for s in done),
        "sessions": [{"group": s.group, "areas": s.expected, "opened_s": s.opened_s,
                      "group_s": s.group_s, "layer_s": s.layer_s, "polygons": s.count}
                     for s in done],
        "server_peak_bytes": memory["peak_bytes"],
        "server_rss_bytes": memory["rss_bytes"],
        "memory_source": memory["source"],
        "wall_s": time.monotonic() - start,
        "blocked": list(guard.blocked),
        "log": str(log),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bench.load --results PATH [--sessions N]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--results", type=Path, required=True, help="results GeoPackage")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--work-dir", type=Path, default=OUTPUT / "load")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    out = run_load(args.results, sessions=args.sessions, work_dir=args.work_dir)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['sessions_n']} concurrent sessions, one server, {out['areas']:,} areas "
          f"(wall {out['wall_s']:.1f} s)")
    print(f"{'group':<28}{'areas':>6}{'full map':>10}{'group':>8}{'layer':>8}")
    for s in out["sessions"]:
        print(f"{s['group']:<28}{s['areas']:>6}{s['opened_s']:>9.1f}s{s['group_s']:>7.1f}s"
              f"{s['layer_s']:>7.1f}s")
    print(f"slowest session (open -> own group drawn after layer change): "
          f"{out['slowest_s']:.1f} s")
    print(f"server peak memory: {out['server_peak_bytes'] / 2**20:,.0f} MiB "
          f"(now {out['server_rss_bytes'] / 2**20:,.0f} MiB; {out['memory_source']})")
    if out["blocked"]:
        print(f"WARNING: off-machine requests were blocked: {out['blocked'][:5]}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    raise SystemExit(main())
