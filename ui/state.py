"""Where the app finds its results, and the cached loaders shared by every session.

Every cache is keyed by the results file's SHA-256 (itself cached on path, size and
modification time), so all sessions share one copy and a rebuilt file is picked up at once.
Cached objects are shared: page code must treat them as read-only.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo.errors import FireRiskError
from geo.results import Results, read_results
from geo.simplify import DEFAULT_TOLERANCE_M, simplify_coverage, web_geometries
from ui.assets import APP_DIR, install_vendor_assets
from ui.bands import AS_PUBLISHED, SCHEMES, Banding, classify_rates, published_banding

__all__ = [
    "ALL",
    "DEFAULT_PROFILE",
    "DEFAULT_RESULTS",
    "Selection",
    "band_schemes",
    "banding",
    "current_results",
    "ensure_results",
    "ensure_vendor_assets",
    "fingerprint",
    "group_outlines",
    "load_results",
    "profile_path",
    "results_path",
    "selection",
    "web_geometry",
]

DEFAULT_RESULTS = APP_DIR / "sample_data" / "results" / "london.gpkg"
DEFAULT_PROFILE = APP_DIR / "sample_data" / "london.toml"
#: Filter value meaning "every area".
ALL = "All"


def results_path() -> Path:
    """The results file: ``$FIRERISK_RESULTS`` if set, else the London sample results."""
    env = os.environ.get("FIRERISK_RESULTS")
    return Path(env) if env else DEFAULT_RESULTS


def profile_path() -> Path:
    """The dataset profile used to build missing results: ``$FIRERISK_PROFILE`` or London."""
    env = os.environ.get("FIRERISK_PROFILE")
    return Path(env) if env else DEFAULT_PROFILE


@st.cache_resource(show_spinner=False)
def ensure_vendor_assets() -> list[Path]:
    """Copy Leaflet into ``static/vendor`` once per server process."""
    return install_vendor_assets()


@st.cache_data(show_spinner=False, max_entries=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


@st.cache_resource(show_spinner="Preparing the map…", max_entries=4)
def web_geometry(path: str, sha256: str, tolerance: float = DEFAULT_TOLERANCE_M
                 ) -> dict[str, dict[str, Any]]:
    """Simplified, rounded WGS 84 GeoJSON geometry per ``area_id`` (shared, read-only)."""
    areas = load_results(path, sha256).areas
    geoms = web_geometries(areas.geometry, tolerance=tolerance)
    return dict(zip(areas["area_id"].astype(str), geoms, strict=True))


@st.cache_resource(show_spinner=False, max_entries=8)
def group_outlines(path: str, sha256: str, column: str,
                   tolerance: float = DEFAULT_TOLERANCE_M) -> list[tuple[str, dict[str, Any]]]:
    """Outline of each area group (for example each borough), for orientation on the map."""
    areas = load_results(path, sha256).areas
    # Dissolve the *simplified* coverage, so the outlines run exactly along the polygon edges.
    simplified = gpd.GeoDataFrame(
        {column: areas[column].to_numpy()},
        geometry=simplify_coverage(areas.geometry, tolerance=tolerance).to_numpy(),
        crs=areas.crs)
    dissolved = simplified.dissolve(by=column, as_index=False)
    dissolved["geometry"] = dissolved.geometry.boundary
    wgs = web_geometries(dissolved.geometry, tolerance=0.0)
    return list(zip(dissolved[column].astype(str), wgs, strict=True))


@st.cache_data(show_spinner=False, max_entries=32)
def _classified(path: str, sha256: str, scheme: str) -> Banding:
    results = load_results(path, sha256)
    if scheme == AS_PUBLISHED:
        return published_banding(results.areas, results.band_breaks)
    return classify_rates(results.areas["area_id"].astype(str), results.areas["risk_per_1000"],
                          scheme=scheme, labels=results.band_labels)


def band_schemes(results: Results) -> list[str]:
    """Schemes the sidebar offers: only the published bands when the file has no rates
    (public output)."""
    rates = results.areas.get("risk_per_1000")
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
