"""Where the app finds its results, and the cached loaders shared by every session.

Every cache is keyed by the results file's SHA-256 (itself cached on path, size and
modification time), so all sessions share one copy and a rebuilt file is picked up at once.
Cached objects are shared: page code must treat them as read-only.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from firerisk import paths
from firerisk.columns import AREA_ID, RISK_PER_1000
from firerisk.errors import FireRiskError
from firerisk.geo.checksum import file_sha256
from firerisk.geo.results import Results, read_results
from firerisk.geo.simplify import (
    DEFAULT_PRECISION,
    DEFAULT_TOLERANCE_M,
    dissolve,
    simplify_coverage,
    web_geometries,
)
from firerisk.ui import mapview
from firerisk.ui.assets import install_vendor_assets, static_dir
from firerisk.ui.bands import AS_PUBLISHED, SCHEMES, Banding, classify_rates, published_banding

__all__ = [
    "ALL",
    "CACHE_FOLDER",
    "GROUP_FILES_DELAY_S",
    "MapFiles",
    "Selection",
    "band_schemes",
    "banding",
    "current_results",
    "ensure_results",
    "ensure_vendor_assets",
    "fingerprint",
    "forget_map_files",
    "group_file",
    "group_summary",
    "load_results",
    "map_files",
    "map_script",
    "profile_path",
    "results_path",
    "selection",
    "static_folder",
]

#: Filter value meaning "every area".
ALL = "All"
#: Folder the map's files are written to; ``None`` (the default) means the folder the running
#: app serves (:func:`ui.assets.static_dir`). Tests may point it elsewhere.
STATIC_DIR: Path | None = None


def static_folder() -> Path:
    """Where the map's static files go: :data:`STATIC_DIR`, else the served folder."""
    return STATIC_DIR if STATIC_DIR is not None else static_dir()


def results_path() -> Path:
    """The results file: ``$FIRERISK_RESULTS`` if set, else the London sample's results in
    the cache folder (``firerisk.paths.sample_results``)."""
    env = os.environ.get("FIRERISK_RESULTS")
    return Path(env) if env else paths.sample_results()


def profile_path() -> Path:
    """The dataset profile used to build missing results: ``$FIRERISK_PROFILE``, else the
    London sample's (package data)."""
    env = os.environ.get("FIRERISK_PROFILE")
    return Path(env) if env else paths.sample_profile()


@st.cache_resource(show_spinner=False)
def ensure_vendor_assets(folder: str) -> list[Path]:
    """Copy Leaflet into ``<folder>/vendor`` once per server process and served folder."""
    return install_vendor_assets(static_dir=Path(folder))


@st.cache_data(show_spinner=False, max_entries=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def fingerprint(path: Path) -> str:
    """SHA-256 of the file, recomputed only when its size or modification time changes."""
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@st.cache_resource(show_spinner="Reading the results file…", max_entries=4)
def load_results(path: str, sha256: str) -> Results:
    """Read a results GeoPackage once per checksum (shared, read-only)."""
    return read_results(path)


@st.cache_resource(show_spinner=False)
def _build_lock() -> threading.Lock:
    return threading.Lock()


def ensure_results() -> Path:
    """Return the results file, building it first (with a progress bar) if it is missing.

    Stops the script with a plain message when the file cannot be built.
    """
    path = results_path()
    if path.exists():
        return path
    with _build_lock():
        if path.exists():  # another session built it while we waited
            return path
        try:
            from firerisk.pipeline import build
        except ImportError as exc:
            st.error(f"No results file at {path}, and the build pipeline is not available "
                     f"({exc}). Build one with `firerisk build`, or set FIRERISK_RESULTS.")
            st.stop()
        profile = profile_path()
        box = st.empty()
        with box.container():
            st.info(f"First start: building the results from {profile.name} into {path.name}. "
                    "This happens once and takes a minute or less; the map opens when it is "
                    "done.")
            bar = st.progress(0.0, text="Starting…")
        state = {"fraction": 0.0}

        def progress(message: str, fraction: float | None = None) -> None:
            if fraction is not None:
                state["fraction"] = min(max(float(fraction), 0.0), 1.0)
            bar.progress(state["fraction"], text=str(message))

        try:
            build(profile, path, progress=progress)
        except FireRiskError as exc:
            box.empty()
            st.error("The results could not be built:")
            st.code(str(exc), language=None)
            st.stop()
        box.empty()
    return path


def current_results() -> Results:
    """The results for this session (built on first start if missing)."""
    path = ensure_results()
    try:
        return load_results(str(path.resolve()), fingerprint(path))
    except FireRiskError as exc:
        st.error("The results file cannot be read:")
        st.code(str(exc), language=None)
        st.stop()
        raise  # unreachable: st.stop() raises


# --------------------------------------------------------------------------------------------
# Static map files: geometry and constant tooltip values, written once per results checksum

#: Folder (below ``static/``) of the generated map files; Streamlit serves it at
#: ``/app/static/cache``. Safe to delete: files are rebuilt on demand.
CACHE_FOLDER = "cache"
#: Seconds the background writer of the per-group files waits, so the first map is drawn
#: before it competes for the CPU.
GROUP_FILES_DELAY_S = 3.0

_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


def _lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _write_once(target: Path, make: Callable[[], bytes]) -> None:
    """Write ``make()`` to *target* unless it exists; atomic (a browser never reads a
    half-written file), once even when several sessions ask together."""
    if target.exists():
        return
    with _lock_for(str(target)):
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(make())
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; the files are public app assets
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _short(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class MapFiles:
    """The static files of the map of one results file and group column.

    Paths are relative to ``static/`` (turn them into URLs with ``ui.assets.static_url``).

    Attributes
    ----------
    script : str
        The map script (``ui/js/areamap.js``, :func:`ui.mapview.area_map_js`).
    areas : str or None
        One file with every area and the group outlines (``None`` when *split*).
    overview : str or None
        The overview of the groups (only when *split*).
    groups : mapping of str to str
        File of each group's areas (only when *split*; see :func:`group_file`).
    split : bool
        More than ``mapview.OVERVIEW_MIN_AREAS`` areas and a group column: one file per
        group plus the overview, instead of one file.
    bounds : [[south, west], [north, east]]
        Extent of every area (WGS 84).
    group_in_tooltip : bool
        Whether the group column has more than one value (then the tooltip names it).
    """

    script: str
    areas: str | None
    overview: str | None
    groups: dict[str, str]
    split: bool
    bounds: tuple[tuple[float, float], tuple[float, float]]
    group_in_tooltip: bool


def _folder(sha256: str, tolerance: float) -> str:
    return (f"{CACHE_FOLDER}/{sha256[:16]}-v{mapview.FORMAT_VERSION}-t{tolerance:g}"
            f"-p{DEFAULT_PRECISION}")


@st.cache_resource(show_spinner=False)
def map_script() -> str:
    """Write the map script into ``static/cache`` once; its path below ``static/``."""
    relative = f"{CACHE_FOLDER}/{mapview.script_name()}"
    _write_once(static_folder() / relative, lambda: mapview.area_map_js().encode("utf-8"))
    return relative


def _group_keys(areas: pd.DataFrame, column: str | None) -> pd.Series | None:
    return None if column is None else areas[column].astype(str)


def _group_geometries(areas: gpd.GeoDataFrame, keys: pd.Series, tolerance: float
                      ) -> list[dict[str, Any]]:
    """Web geometry of *areas*, each group simplified on its own with its outline kept (so
    groups drawn side by side still fit together)."""
    simplified = np.empty(len(areas), dtype=object)
    values = keys.to_numpy()
    for value in pd.unique(values):
        rows = np.flatnonzero(values == value)
        part = simplify_coverage(areas.geometry.iloc[rows], tolerance=tolerance,
                                 simplify_boundary=False)
        simplified[rows] = np.asarray(part.values, dtype=object)
    return web_geometries(gpd.GeoSeries(simplified, crs=areas.crs), tolerance=0.0)


def _outlines(geometry: gpd.GeoSeries, keys: Any) -> list[dict[str, Any]]:
    """Boundary lines of each group of *geometry* (already simplified), WGS 84, rounded."""
    merged = dissolve(geometry, keys)
    return web_geometries(gpd.GeoSeries(merged.boundary.values, crs=geometry.crs),
                          tolerance=0.0)


def _group_document(results: Results, column: str, value: str, tolerance: float) -> bytes:
    areas = results.areas
    keys = areas[column].astype(str)
    rows = np.flatnonzero(keys.to_numpy() == value)
    part = areas.iloc[rows]
    geoms = _group_geometries(part, keys.iloc[rows], tolerance)
    props = mapview.area_properties(part.drop(columns="geometry"), positions=rows,
                                    group_column=column)
    outline = _outlines(part.geometry, np.full(len(part), value, dtype=object))
    return mapview.area_document(props, geoms, outlines=outline)


def _write_group_files(results: Results, column: str, tolerance: float, folder: str,
                       names: dict[str, str]) -> None:
    """Background: write every group's file that is missing, computing the geometry of all
    groups in one pass. A failure is logged; :func:`group_file` still writes a group's file
    when it is picked."""
    time.sleep(GROUP_FILES_DELAY_S)
    with contextlib.suppress(AttributeError, OSError):  # lower this thread's CPU priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    try:
        _write_missing_group_files(results, column, tolerance, folder, names)
    except Exception:  # a background thread has no caller to raise to
        logging.getLogger(__name__).exception("writing the map files of each %s failed",
                                              column)


def _write_missing_group_files(results: Results, column: str, tolerance: float, folder: str,
                               names: dict[str, str]) -> None:
    missing = {v: n for v, n in names.items() if not (static_folder() / folder / n).exists()}
    if not missing:
        return
    areas = results.areas
    keys = areas[column].astype(str)
    geoms = _group_geometries(areas, keys, tolerance)
    table = areas.drop(columns="geometry")
    props = mapview.area_properties(table, group_column=column)
    values = keys.to_numpy()
    for value, name in missing.items():
        rows = np.flatnonzero(values == value)
        part = areas.iloc[rows]

        def make(rows: np.ndarray = rows, part: gpd.GeoDataFrame = part,
                 value: str = value) -> bytes:
            outline = _outlines(part.geometry, np.full(len(part), value, dtype=object))
            return mapview.area_document([props[i] for i in rows], [geoms[i] for i in rows],
                                         outlines=outline)

        _write_once(static_folder() / folder / name, make)


def map_files(path: str, sha256: str, column: str | None,
              tolerance: float = DEFAULT_TOLERANCE_M) -> MapFiles:
    """The static files of the map of one results file and group column (see
    :func:`_map_files`), written again if ``static/cache`` was emptied meanwhile."""
    files = _map_files(path, sha256, column, tolerance)
    main = files.areas or files.overview
    folder = static_folder()
    if not (folder / files.script).exists() or not (main and (folder / main).exists()):
        forget_map_files()
        files = _map_files(path, sha256, column, tolerance)
    return files


def forget_map_files() -> None:
    """Drop the cached knowledge of which map files exist (they are checked and written again
    on the next map)."""
    _map_files.clear()
    map_script.clear()
    group_summary.clear()


@st.cache_resource(show_spinner="Preparing the map…", max_entries=8)
def _map_files(path: str, sha256: str, column: str | None,
               tolerance: float = DEFAULT_TOLERANCE_M) -> MapFiles:
    """Write the static files of the map (once per checksum, group column and tolerance).

    Up to ``mapview.OVERVIEW_MIN_AREAS`` areas: one file with every area (coverage
    simplified as a whole) and the outlines of the groups of *column*. More areas with a
    group column: the overview of the groups now, and each group's file in a background
    thread (:func:`group_file` writes one at once when it is needed first).
    """
    results = load_results(path, sha256)
    areas = results.areas
    script = map_script()
    folder = _folder(sha256, tolerance)
    minx, miny, maxx, maxy = mapview.wgs84_bounds(areas)
    bounds = ((miny, minx), (maxy, maxx))
    keys = _group_keys(areas, column)
    in_tooltip = keys is not None and keys.nunique() > 1
    col_tag = _short(column or "")
    if column is None or len(areas) <= mapview.OVERVIEW_MIN_AREAS:
        name = f"{folder}/areas-{col_tag}.geojson"

        def make() -> bytes:
            simplified = simplify_coverage(areas.geometry, tolerance=tolerance)
            geoms = web_geometries(simplified, tolerance=0.0)
            props = mapview.area_properties(areas.drop(columns="geometry"),
                                            group_column=column if in_tooltip else None)
            outlines = _outlines(simplified, keys) if keys is not None else []
            return mapview.area_document(props, geoms, outlines=outlines)

        _write_once(static_folder() / name, make)
        return MapFiles(script=script, areas=name, overview=None, groups={}, split=False,
                        bounds=bounds, group_in_tooltip=in_tooltip)

    assert keys is not None
    summary = mapview.group_summary(areas, column)
    names = {str(v): f"g-{col_tag}-{_short(str(v))}.geojson" for v in summary.index}
    overview = f"{folder}/overview-{col_tag}.geojson"

    def make_overview() -> bytes:
        merged = dissolve(areas.geometry, keys).reindex(summary.index)
        geoms = web_geometries(gpd.GeoSeries(merged.values, crs=areas.crs),
                               tolerance=mapview.OVERVIEW_TOLERANCE_M)
        return mapview.overview_document(summary, geoms,
                                         files=[names[str(v)] for v in summary.index])

    _write_once(static_folder() / overview, make_overview)
    threading.Thread(target=_write_group_files, name="firerisk-map-files", daemon=True,
                     args=(results, column, tolerance, folder, names)).start()
    return MapFiles(script=script, areas=None, overview=overview,
                    groups={v: f"{folder}/{n}" for v, n in names.items()}, split=True,
                    bounds=bounds, group_in_tooltip=in_tooltip)


def group_file(path: str, sha256: str, column: str, value: str,
               tolerance: float = DEFAULT_TOLERANCE_M) -> str:
    """The file of one group's areas (split maps), written now if the background writer has
    not reached it yet; its path below ``static/``."""
    files = map_files(path, sha256, column, tolerance)
    relative = files.groups[value]
    target = static_folder() / relative
    if not target.exists():
        results = load_results(path, sha256)
        _write_once(target, lambda: _group_document(results, column, value, tolerance))
    return relative


@st.cache_data(show_spinner=False, max_entries=8)
def group_summary(path: str, sha256: str, column: str) -> pd.DataFrame:
    """Household-weighted figures per group (``mapview.group_summary``), cached."""
    return mapview.group_summary(load_results(path, sha256).areas, column)


@st.cache_data(show_spinner=False, max_entries=32)
def _classified(path: str, sha256: str, scheme: str) -> Banding:
    results = load_results(path, sha256)
    if scheme == AS_PUBLISHED:
        return published_banding(results.areas, results.band_breaks)
    return classify_rates(results.areas[AREA_ID].astype(str), results.areas[RISK_PER_1000],
                          scheme=scheme, labels=results.band_labels)


def band_schemes(results: Results) -> list[str]:
    """Schemes the sidebar offers: only the published bands when the file has no rates
    (public output)."""
    rates = results.areas.get(RISK_PER_1000)
    if rates is None or not rates.notna().any():
        return [AS_PUBLISHED]
    return list(SCHEMES)


def banding(results: Results, scheme: str) -> Banding:
    """Bands of every area under *scheme* (cached per results checksum); the published
    bands when *scheme* cannot be applied to this file."""
    if scheme not in band_schemes(results):
        scheme = AS_PUBLISHED
    return _classified(str(results.path.resolve()), fingerprint(results.path), scheme)


@dataclass(frozen=True)
class Selection:
    """The sidebar's area filter: group column and value (``ALL`` for every area)."""

    column: str | None
    value: str

    @property
    def is_all(self) -> bool:
        return self.column is None or self.value == ALL

    def mask(self, table: pd.DataFrame) -> pd.Series:
        """Boolean mask of the rows of *table* inside the selection."""
        if self.is_all or self.column not in table.columns:
            return pd.Series(True, index=table.index)
        return table[self.column].astype(str) == self.value

    def describe(self) -> str:
        """Plain description, for example ``borough: Hackney`` or ``all areas``."""
        return "all areas" if self.is_all else f"{self.column}: {self.value}"


def selection(results: Results) -> Selection:
    """The current selection from the sidebar widgets (defaults to every area)."""
    column = st.session_state.get("group_column")
    groups = results.group_columns
    if column not in groups:
        column = groups[0] if groups else None
    value = str(st.session_state.get("group_value", ALL))
    if column is not None and value != ALL:
        known = set(results.areas[column].astype(str))
        if value not in known:
            value = ALL
    return Selection(column=column, value=value)
