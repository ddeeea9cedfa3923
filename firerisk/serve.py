"""``firerisk app``: serve the dashboard from the installed package.

Streamlit serves the folder ``static/`` beside the app's *main script* at ``/app/static/``
(``server.enableStaticServing``), and the map needs Leaflet and its own files served from
there. An installed package must not write into site-packages, so the command writes a
two-line main script into the cache folder (:mod:`firerisk.paths`)::

    <cache>/app.py            from firerisk.ui.app import main; main()
    <cache>/static/vendor/    Leaflet, copied from its package at start
    <cache>/static/cache/     the map's script and geometry files
    <cache>/results/          the London sample's results, built on first start
    <cache>/matplotlib/       matplotlib's font cache (unless $MPLCONFIGDIR is set)
    <cache>/data/             $XDG_DATA_HOME unless set (libpysal makes a folder there on
                              import)

and runs Streamlit on it with the options of :data:`STREAMLIT_OPTIONS`, given as flags so that
no config file can switch them off. The pages and the map's script are package data of
``firerisk.ui``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firerisk import paths
from firerisk.errors import Problem, ResultsFileError

__all__ = ["MAIN_SCRIPT", "STREAMLIT_OPTIONS", "AppPlan", "plan_app", "serve", "write_main_script"]

#: The main script written into the cache folder.
MAIN_SCRIPT = ('"""The dashboard\'s main script, written by `firerisk app` (Streamlit serves '
               'static/ beside it)."""\n\nfrom firerisk.ui.app import main\n\nmain()\n')

#: Streamlit options the dashboard always runs with (``.streamlit/config.toml`` of the
#: repository holds the same for ``streamlit run app.py``; a test checks they agree).
STREAMLIT_OPTIONS: dict[str, Any] = {
    "server.headless": True,
    # serves static/ beside the main script at /app/static: Leaflet and the map files
    "server.enableStaticServing": True,
    # the file watcher walks the whole folder and overflows inotify
    "server.fileWatcherType": "none",
    "browser.gatherUsageStats": False,
    "client.toolbarMode": "minimal",
    # tables must not offer their own CSV download: it would carry no attribution, output
    # mode or disclosure report (every export goes through the app's own buttons)
    "client.disableDataExport": True,
}


@dataclass(frozen=True)
class AppPlan:
    """What ``firerisk app`` will serve, and how.

    Attributes
    ----------
    cache : Path
        The cache folder (main script, static files, built sample, matplotlib cache).
    results : Path or None
        The results file given; None serves the London sample, built on first start.
    address, port : str, int
        Where the server listens.
    public : bool
        The server is for the public: only a public-mode results file may be served.
    """

    cache: Path
    results: Path | None
    address: str
    port: int
    public: bool

    @property
    def main_script(self) -> Path:
        return self.cache / "app.py"

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """Variables to set for the server, given the current environment *base*: the
        cache folder, the results file (and the sample's profile), and the folders where
        matplotlib and libpysal write, inside the cache folder (unless *base* names them)."""
        env = {paths.CACHE_ENV: str(self.cache)}
        if not base.get("MPLCONFIGDIR"):
            env["MPLCONFIGDIR"] = str(self.cache / "matplotlib")
        if not base.get("XDG_DATA_HOME"):  # libpysal makes a data folder there on import
            env["XDG_DATA_HOME"] = str(self.cache / "data")
        if self.results is not None:
            env["FIRERISK_RESULTS"] = str(self.results)
        else:  # the London sample, built into the cache folder on first start
            env["FIRERISK_RESULTS"] = str(paths.sample_results(public=self.public,
                                                               cache=self.cache))
            env["FIRERISK_PROFILE"] = str(paths.sample_profile())
        return env

    def flags(self) -> list[str]:
        """Streamlit's command-line flags: :data:`STREAMLIT_OPTIONS`, address and port."""
        options = {**STREAMLIT_OPTIONS, "server.address": self.address,
                   "server.port": self.port}
        out = []
        for key, value in options.items():
            out += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
        return out


def _results_mode(path: Path) -> str:
    from firerisk.geo.results import read_results

    return read_results(path).mode


def plan_app(*, results: str | Path | None, port: int, public: bool,
             cache_dir: str | Path | None, address: str | None = None) -> AppPlan:
    """Check the request and settle what to serve.

    Raises
    ------
    ResultsFileError
        The results file is missing, unreadable, or (with *public*) not public output.
    """
    cache = Path(cache_dir).expanduser().resolve() if cache_dir else paths.cache_dir()
    path = Path(results).expanduser().resolve() if results else None
    fix = "build one with: firerisk build --config PROFILE.toml --out RESULTS.gpkg"
    if path is not None and not path.is_file():
        raise ResultsFileError([Problem(str(path), "the results file does not exist.", fix)])
    if public and path is not None and _results_mode(path) != "public":
        raise ResultsFileError([Problem(
            str(path), f"holds {_results_mode(path)} output; --public serves only results "
            "built for the public (bands and ranks, no counts or rates).",
            "build them with: firerisk build --config PROFILE.toml --mode public --out "
            "PUBLIC.gpkg, or leave out --public to serve this file on this machine only.")])
    host = address or ("0.0.0.0" if public else "127.0.0.1")
    return AppPlan(cache=cache, results=path, address=host, port=port, public=public)


def write_main_script(cache: Path) -> Path:
    """Write :data:`MAIN_SCRIPT` into *cache* (atomically, only when it differs)."""
    target = cache / "app.py"
    if target.is_file() and target.read_text(encoding="utf-8") == MAIN_SCRIPT:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".app-", suffix=".py")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(MAIN_SCRIPT)
    os.replace(tmp, target)
    return target


def _build_public_sample(plan: AppPlan, progress: Any) -> None:
    """--public without --results: build the public version of the London sample now
    (the app itself builds only what the profile asks for, which is internal output)."""
    target = paths.sample_results(public=True, cache=plan.cache)
    if target.is_file():
        return
    from firerisk.pipeline import build

    build(paths.sample_profile(), target, progress=progress, mode="public")


def serve(plan: AppPlan, *, progress: Any = None) -> int:
    """Run the dashboard until the server stops (Ctrl+C or SIGTERM); returns 0."""
    from streamlit.web import cli as streamlit_cli

    if plan.public and plan.results is None:
        _build_public_sample(plan, progress)
    script = write_main_script(plan.cache)
    (plan.cache / "static").mkdir(exist_ok=True)  # Streamlit looks for it at start
    os.environ.update(plan.environment(os.environ))
    if progress is not None:
        where = "every network interface" if plan.address in ("0.0.0.0", "::") else \
            plan.address
        progress(f"Serving {plan.results or 'the London sample'} on {where}, port "
                 f"{plan.port} (cache: {plan.cache})")
    streamlit_cli.main(args=["run", str(script), *plan.flags()], prog_name="streamlit",
                       standalone_mode=False)
    return 0
