"""Run the Streamlit app in a subprocess and drive it with Debian's Chromium via Playwright.

Never calls ``playwright install``: the browser is ``/usr/bin/chromium``.
:func:`measure_map_timings` is the reusable timing of the map (also called by ``bench/run.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
MAP_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
POLYGON = "path.leaflet-interactive"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "LOOPBACK",
    "MAP_IFRAME",
    "POLYGON",
    "SCRIPT_IDLE",
    "BrowserSession",
    "ByteCounter",
    "NetworkGuard",
    "app_in_browser",
    "choose_group",
    "choose_layer",
    "firerisk_script",
    "free_port",
    "launch_browser",
    "map_frame",
    "measure_map_timings",
    "polygon_fills",
    "run_app",
    "settle",
    "wait_for_fills",
    "wait_for_polygons",
]


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def firerisk_script() -> Path:
    """The ``firerisk`` console script of this interpreter's environment."""
    return Path(sys.executable).with_name("firerisk")


@contextlib.contextmanager
def run_app(results: Path | None, *, timeout: float = 60.0, log: Path | None = None,
            env: Mapping[str, str] | None = None, cache_dir: Path | None = None,
            command: Path | None = None, cwd: Path | None = None,
            base_env: Mapping[str, str] | None = None,
            extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Start ``firerisk app`` on a free loopback port; yield its base URL once it answers.

    Parameters
    ----------
    results : Path or None
        ``--results`` (None: the London sample, built by the app on first start).
    cache_dir : Path, optional
        ``--cache-dir`` (default: a temporary folder, removed on exit).
    command : Path, optional
        The ``firerisk`` script to run (default: this environment's).
    cwd, base_env : optional
        The server's working folder (default: a temporary folder) and environment
        (default: this process's); *env* adds variables to it (for example
        ``FIRERISK_OVERVIEW_MIN_AREAS``).

    The server runs in its own process group, which is always killed on exit (also when the
    test fails).
    """
    with contextlib.ExitStack() as stack:
        if cache_dir is None:
            cache_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="firerisk-cache-")))
        if cwd is None:
            cwd = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="firerisk-cwd-")))
        port = free_port()
        full_env = {**(os.environ if base_env is None else base_env), **(env or {})}
        cmd = [str(command or firerisk_script()), "app", "--port", str(port),
               "--address", "127.0.0.1", "--cache-dir", str(cache_dir), *extra_args]
        if results is not None:
            cmd += ["--results", str(results)]
        out = stack.enter_context(open(log, "wb")) if log else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        stack.callback(_stop, proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while not _healthy(f"{base}/_stcore/health"):
            if proc.poll() is not None:
                raise RuntimeError(f"firerisk app exited with code {proc.returncode} before "
                                   f"answering /_stcore/health (log: {log})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"firerisk app did not answer {base}/_stcore/health in "
                                   f"{timeout:.0f} s")
            time.sleep(0.2)  # polling the health endpoint: the server is not up yet
        yield base


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class NetworkGuard:
    """Route handler that lets loopback requests through and aborts (and records) the rest."""

    blocked: list[str] = field(default_factory=list)
    allowed: int = 0

    def __call__(self, route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
            self.allowed += 1
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


def launch_browser(playwright: Any, user_data_dir: Path, *, width: int = 1400,
                   height: int = 1000) -> Any:
    """A fresh headless Chromium context from /usr/bin/chromium (fails if it is missing)."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
            "never `playwright install`.")
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=str(CHROMIUM), headless=True,
        args=list(CHROMIUM_ARGS), viewport={"width": width, "height": height},
        service_workers="block")


#: JavaScript run in the map's frame: the polygons' fill colours (lower-case hex).
_FILLS_JS = ("() => Array.from(document.querySelectorAll('" + POLYGON + "'))"
             ".map(e => (e.getAttribute('fill') || '').toLowerCase())")


def _wait_in_map(page: Any, predicate: str, arg: Any, timeout: float,
                 describe: Any) -> float:
    """Wait until *predicate* (JavaScript, given *arg*) holds in the map's frame; return the
    seconds waited. The frame may be replaced during a rerun: then the wait goes on in the
    new one. On time-out, fails with ``describe()`` (what the map shows instead)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    start = time.monotonic()
    deadline = start + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise PlaywrightTimeout("deadline passed")
            frame = map_frame(page, timeout=left)
            frame.wait_for_function(predicate, arg=arg, polling="raf",
                                    timeout=max(left * 1000, 1))
            return time.monotonic() - start
        except PlaywrightTimeout:
            raise AssertionError(f"after {timeout:.0f} s {describe()}") from None
        except PlaywrightError:  # the iframe was replaced during a rerun: wait in the new one
            continue


def _map_fills(page: Any) -> list[str]:
    try:
        return [str(f) for f in map_frame(page, timeout=5).evaluate(_FILLS_JS)]
    except PlaywrightError:
        return []


def wait_for_polygons(page: Any, expected: int, *, timeout: float = 90.0) -> float:
    """Wait until the map iframe holds exactly *expected* polygons; return seconds waited."""
    return _wait_in_map(
        page, f"(n) => document.querySelectorAll('{POLYGON}').length === n", expected,
        timeout, lambda: f"the map showed {len(_map_fills(page))} polygons; expected "
                         f"{expected}")


def polygon_fills(page: Any) -> set[str]:
    """Distinct fill colours (lower-case hex) of the map's polygons."""
    return set(_map_fills(page))


def map_frame(page: Any, *, timeout: float = 90.0) -> Any:
    """The map's iframe (a Playwright ``Frame``), waiting up to *timeout* s for it."""
    locator = page.locator(MAP_IFRAME).first
    locator.wait_for(state="attached", timeout=timeout * 1000)
    handle = locator.element_handle(timeout=timeout * 1000)
    frame = handle.content_frame() if handle is not None else None
    if frame is None:
        raise PlaywrightError("the map iframe has no document yet")
    return frame


def wait_for_fills(page: Any, *, expected: set[str] | None = None,
                   differs_from: set[str] | None = None, count: int | None = None,
                   timeout: float = 60.0) -> float:
    """Wait until the polygons' fill colours equal *expected* (or differ from
    *differs_from*), and their number is *count* if given; return seconds waited."""
    predicate = "(want) => { const fills = (" + _FILLS_JS + ")();" + """
      const seen = Array.from(new Set(fills)).sort();
      const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
      const coloursOk = want.expected !== null ? same(seen, want.expected)
        : seen.length > 0 && !same(seen, want.differs);
      return coloursOk && (want.count === null || fills.length === want.count);
    }"""
    arg = {"expected": sorted(expected) if expected is not None else None,
           "differs": sorted(differs_from or ()), "count": count}

    def describe() -> str:
        fills = _map_fills(page)
        return (f"the map showed {len(fills)} polygons with colours {sorted(set(fills))}; "
                f"expected {count} polygons with "
                f"{sorted(expected) if expected is not None else 'new colours'}")

    return _wait_in_map(page, predicate, arg, timeout, describe)


def choose_layer(page: Any, label: str) -> None:
    """Click the sidebar's map layer option *label* (see ``ui.mapview.LAYERS``)."""
    page.get_by_test_id("stSidebar").get_by_text(label, exact=True).click()


def choose_group(page: Any, column_label: str, value: str) -> Any:
    """Open the sidebar's group select box labelled *column_label* and type *value*; return
    the matching option (``.click()`` it to pick the group)."""
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").filter(has_text=column_label).click()
    page.keyboard.type(value)
    option = page.get_by_role("option", name=value, exact=True)
    option.wait_for(state="visible")
    return option


@dataclass
class ByteCounter:
    """Bytes the page receives: Streamlit's websocket frames (payload after decompression)
    and HTTP response bodies (as sent, so gzip-compressed where the server compressed).

    ``counter.mark()`` returns a snapshot; ``counter.since(mark)`` the bytes received after
    it, by kind, plus the URLs fetched. Response sizes are asked of the browser only in
    ``since`` (asking in the event handler would slow the page being timed).
    """

    websocket: int = 0
    frames: int = 0
    requests: list[Any] = field(default_factory=list)
    _sizes: dict[int, int] = field(default_factory=dict)

    def attach(self, page: Any) -> ByteCounter:
        page.on("websocket", self._on_websocket)
        page.on("requestfinished", self._on_request)
        return self

    def _on_request(self, request: Any) -> None:
        self.requests.append(request)

    def _on_websocket(self, ws: Any) -> None:
        ws.on("framereceived", self._on_frame)

    def _on_frame(self, payload: Any) -> None:
        self.frames += 1
        self.websocket += len(payload.encode("utf-8") if isinstance(payload, str) else payload)

    def _size(self, i: int) -> int:
        if i not in self._sizes:
            try:
                size = int(self.requests[i].sizes().get("responseBodySize", 0))
            except PlaywrightError:
                size = 0
            self._sizes[i] = max(size, 0)
        return self._sizes[i]

    @property
    def responses(self) -> list[tuple[str, int]]:
        """(URL, body bytes) of every finished request so far."""
        return [(str(r.url), self._size(i)) for i, r in enumerate(self.requests)]

    def mark(self) -> tuple[int, int]:
        return self.websocket, len(self.requests)

    def since(self, mark: tuple[int, int]) -> dict[str, Any]:
        ws, n = mark
        rows = [(str(self.requests[i].url), self._size(i)) for i in range(n, len(self.requests))]
        http = sum(b for _, b in rows)
        return {"websocket": self.websocket - ws, "http": http,
                "total": self.websocket - ws + http, "urls": [u for u, _ in rows],
                "geometry_http": sum(b for u, b in rows
                                     if urlsplit(u).path.endswith(".geojson"))}


#: Streamlit marks its app element with the state of the script run.
SCRIPT_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def settle(page: Any, *, timeout: float = 60.0) -> None:
    """Wait until the script run has finished (Streamlit says so) and then the map's script
    is idle: its last table drawn, no file being fetched (``FireRiskMap.idle()``)."""
    page.locator(SCRIPT_IDLE).wait_for(timeout=timeout * 1000)
    _wait_in_map(page, "() => !!window.FireRiskMap && window.FireRiskMap.idle()", None,
                 timeout, lambda: "the map's script was still drawing or fetching")


def _file_bytes(urls: list[str], static: Path) -> int:
    """Size on disk (uncompressed) of the GeoJSON files among *urls* (served from
    *static*)."""
    total = 0
    for path in {urlsplit(u).path for u in urls if urlsplit(u).path.endswith(".geojson")}:
        local = static / path.split("/app/static/", 1)[-1]
        total += local.stat().st_size if local.is_file() else 0
    return total


@dataclass
class BrowserSession:
    """One Chromium page on a running app: its base URL, the folder the app serves at
    ``/app/static/``, the network guard on every request and the page errors seen so far."""

    base: str
    page: Any
    guard: NetworkGuard
    static: Path
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def app_in_browser(results: Path | None, work_dir: Path, *,
                   env: Mapping[str, str] | None = None,
                   **app: Any) -> Iterator[BrowserSession]:
    """Start the app on *results* (:func:`run_app`, with *app* passed on) and open one
    guarded Chromium page on it; the app log, its cache folder (unless *app* names one) and
    the browser profile go to *work_dir*. Everything is closed on exit."""
    from playwright.sync_api import sync_playwright

    work_dir.mkdir(parents=True, exist_ok=True)
    cache = app.pop("cache_dir", None) or work_dir / "cache"
    with run_app(results, log=work_dir / "app.log", env=env, cache_dir=cache,
                 **app) as base, sync_playwright() as pw:
        context = launch_browser(pw, work_dir / "chromium-profile")
        try:
            guard = NetworkGuard()
            context.route("**/*", guard)
            session = BrowserSession(base=base, page=context.new_page(), guard=guard,
                                     static=cache / "static")
            session.page.on("pageerror", lambda exc: session.errors.append(str(exc)))
            yield session
        finally:
            context.close()


def measure_map_timings(results: Path, *, work_dir: Path, expected: int,
                        layer_label: str | None = "Deprivation (IMD decile)",
                        group: tuple[str, str, int] | None = None,
                        env: Mapping[str, str] | None = None,
                        timeout: float = 120.0) -> dict[str, Any]:
    """Time the map of *results* in the real app and headless Chromium, and count bytes.

    Starts the app on a fresh server, then measures: page load to *expected* polygons on the
    fresh server (``cold_s``) and after a reload (``warm_s``), with the bytes received
    (``cold_bytes``, ``warm_bytes``: everything, Streamlit's own scripts included) and the
    geometry's share (``*_geometry_bytes`` as sent, gzip; ``geometry_file_bytes``
    uncompressed); a layer change (click on *layer_label*) until the
    fill colours have changed (``layer_s``, ``layer_bytes``); and, if *group* = (select box
    label, value, number of areas) is given, picking that group (from the click on its option)
    until exactly that many polygons are drawn (``group_s``, ``group_bytes``). Seconds include
    Streamlit's rerun; ``*_geometry_bytes`` count only the GeoJSON files fetched.
    ``blocked`` lists requests to anything but the loopback server (should be empty).

    Parameters
    ----------
    results : Path
        Results GeoPackage.
    work_dir : Path
        Folder for the app log and the browser profile.
    expected : int
        Polygons of the first map (areas, or groups when the map starts as an overview).
    """
    out: dict[str, Any] = {}
    with app_in_browser(results, work_dir, env=env) as session:
        base, page, guard = session.base, session.page, session.guard
        counter = ByteCounter().attach(page)
        for key in ("cold", "warm"):
            mark = counter.mark()
            start = time.monotonic()
            if key == "cold":
                page.goto(base)
            else:
                page.reload()
            wait_for_polygons(page, expected, timeout=timeout)
            out[f"{key}_s"] = time.monotonic() - start
            settle(page)
            got = counter.since(mark)
            out[f"{key}_bytes"] = got["total"]
            out[f"{key}_geometry_bytes"] = got["geometry_http"]
            if key == "cold":
                out["geometry_file_bytes"] = _file_bytes(got["urls"], session.static)
        if layer_label:
            before = polygon_fills(page)
            mark = counter.mark()
            start = time.monotonic()
            choose_layer(page, layer_label)
            wait_for_fills(page, differs_from=before, count=expected, timeout=timeout)
            out["layer_s"] = time.monotonic() - start
            settle(page)
            got = counter.since(mark)
            out["layer_bytes"], out["layer_geometry_bytes"] = got["total"], got[
                "geometry_http"]
        if group:
            label, value, n = group
            option = choose_group(page, label, value)
            mark = counter.mark()
            start = time.monotonic()
            option.click()
            wait_for_polygons(page, n, timeout=timeout)
            out["group_s"] = time.monotonic() - start
            settle(page)
            got = counter.since(mark)
            out["group_bytes"], out["group_geometry_bytes"] = got["total"], got[
                "geometry_http"]
        out["blocked"] = list(guard.blocked)
    return out
