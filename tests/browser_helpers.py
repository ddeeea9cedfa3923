"""Run the Streamlit app in a subprocess and drive it with Debian's Chromium via Playwright.

Never calls ``playwright install``: the browser is ``/usr/bin/chromium``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
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
    "NetworkGuard",
    "free_port",
    "launch_browser",
    "polygon_fills",
    "run_app",
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


@contextlib.contextmanager
def run_app(results: Path, *, timeout: float = 60.0, log: Path | None = None) -> Iterator[str]:
    """Start ``streamlit run app.py`` on a free loopback port; yield its base URL.

    The server runs in its own process group, which is always killed on exit (also when the
    test fails).
    """
    port = free_port()
    env = {**os.environ, "FIRERISK_RESULTS": str(results),
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(f"{base}/_stcore/health"):
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode} before "
                                   f"answering /_stcore/health (log: {log})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer {base}/_stcore/health in "
                                   f"{timeout:.0f} s")
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if log:
            out.close()  # type: ignore[union-attr]


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


def wait_for_polygons(page: Any, expected: int, *, timeout: float = 90.0) -> float:
    """Wait until the map iframe holds exactly *expected* polygons; return seconds waited."""
    start = time.monotonic()
    frame = page.frame_locator(MAP_IFRAME).first
    last = -1
    while time.monotonic() - start < timeout:
        try:
            last = frame.locator(POLYGON).count()
        except PlaywrightError:  # the iframe is being replaced during a rerun
            last = -1
        if last == expected:
            return time.monotonic() - start
        page.wait_for_timeout(100)
    raise AssertionError(f"the map showed {last} polygons after {timeout:.0f} s; "
                         f"expected {expected}")


def polygon_fills(page: Any) -> set[str]:
    """Distinct fill colours (lower-case hex) of the map's polygons."""
    frame = page.frame_locator(MAP_IFRAME).first
    fills = frame.locator(POLYGON).evaluate_all(
        "els => els.map(e => (e.getAttribute('fill') || '').toLowerCase())")
    return {str(f) for f in fills}
