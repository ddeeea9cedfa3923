"""The results open styled in real QGIS: Debian's qgis / python3-qgis (3.22), headless.

QGIS runs in a subprocess with Debian's ``/usr/bin/python3`` (python3-qgis belongs to it) and
``QT_QPA_PLATFORM=offscreen`` (tests/qgis/open_results.py). It opens ``areas`` as a user would,
so the default style stored in the file's ``layer_styles`` table is applied.

Independent truth: the app's own legend for the same file (``ui.mapview.layer_style`` and
``legend_html``: labels, ranges, colours, order) and, for the picture QGIS draws, the share of
the map's area in each band computed with shapely from the polygons.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from firerisk.geo.results import Results, read_results, write_results
from firerisk.legend import FILL_OPACITY, NO_DATA_COLOUR
from firerisk.ui.bands import published_banding
from firerisk.ui.mapview import layer_style, legend_html

ROOT = Path(__file__).resolve().parent.parent
QGIS_PYTHON = Path("/usr/bin/python3")
PROBE = ROOT / "tests" / "qgis" / "open_results.py"
WIDTH, HEIGHT = 1600, 1200


def open_in_qgis(path: Path, png: Path) -> dict[str, Any]:
    """What QGIS makes of *path*, and its rendering of ``areas`` to *png*."""
    if not QGIS_PYTHON.exists():
        raise FileNotFoundError(f"{QGIS_PYTHON} is missing: install Debian's qgis and "
                                "python3-qgis (make system-deps)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(png.parent), XDG_RUNTIME_DIR=str(png.parent))
    proc = subprocess.run([str(QGIS_PYTHON), str(PROBE), str(path), str(png), str(WIDTH),
                           str(HEIGHT)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=png.parent, check=False)
    assert proc.returncode == 0, f"QGIS failed:\n{proc.stdout}\n{proc.stderr}"
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def app_legend(results: Results) -> list[tuple[int, str, str]]:
    """(band, label as QGIS should show it, colour) in the order of the app's legend."""
    style = layer_style(results, "band",
                        banding=published_banding(results.areas, results.band_breaks))
    rows = [(i, style.labels[i - 1] + (f" ({style.ranges[i - 1]})" if style.ranges else ""),
             style.colours[i - 1]) for i in range(len(style.labels), 0, -1)]
    # the app's legend lists them in this order too (highest first)
    html = legend_html(style, dict.fromkeys(range(1, len(style.labels) + 1), 1))
    positions = [html.index(f">{style.labels[i - 1]}") for i, _, _ in rows]
    assert positions == sorted(positions)
    return rows


def pixel_shares(png: Path, colours: dict[int, str]) -> tuple[dict[int, float], float]:
    """Share of the coloured pixels drawn in each class (pixels within 3 RGB units of a class
    colour as QGIS blends it over white), and the share of pixels that match nothing
    (anti-aliased edges)."""
    img = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    keys = list(colours)
    rgb = np.array([[int(colours[k][i:i + 2], 16) for i in (1, 3, 5)] for k in keys], float)
    ref = np.vstack([rgb * FILL_OPACITY + 255 * (1 - FILL_OPACITY), [[255, 255, 255]]])
    dist = np.sqrt(((img[:, :, None, :] - ref[None, None, :, :]) ** 2).sum(axis=-1))
    nearest, exact = dist.argmin(axis=-1), dist.min(axis=-1) < 3
    counts = np.bincount(nearest[exact & (nearest < len(keys))], minlength=len(keys))
    shares = {k: float(counts[n] / counts.sum()) for n, k in enumerate(keys)}
    return shares, float(1 - exact.mean())


def area_shares(results: Results) -> dict[int, float]:
    areas = results.areas
    band = pd.to_numeric(areas["band_index"], errors="coerce").fillna(0).astype(int)
    total = areas.geometry.area.groupby(band.to_numpy()).sum()
    return {int(k): float(v / total.sum()) for k, v in total.items()}


def test_london_results_open_in_qgis_with_the_apps_bands(sample_results: Path,
                                                         tmp_path: Path) -> None:
    results = read_results(sample_results)
    seen = open_in_qgis(sample_results, tmp_path / "london.png")
    assert seen["valid"]
    assert seen["features"] == len(results.areas)
    assert seen["renderer"] == "categorizedSymbol"
    assert seen["attribute"] == "band_index"
    want = app_legend(results)
    got = [(int(c["value"]), c["label"], c["colour"]) for c in seen["categories"]]
    assert got == want
    assert seen["legend"] == [label for _, label, _ in want]
    assert {c["alpha"] for c in seen["categories"]} == {round(FILL_OPACITY * 255)}

    shares, unmatched = pixel_shares(tmp_path / "london.png",
                                     {i: colour for i, _, colour in want})
    truth = area_shares(results)
    print(f"\nQGIS render {WIDTH}x{HEIGHT}: band pixel shares "
          f"{ {k: round(v, 3) for k, v in sorted(shares.items())} }, area shares "
          f"{ {k: round(v, 3) for k, v in sorted(truth.items())} }, {unmatched:.1%} edge "
          "pixels")
    assert set(truth) == set(shares)
    for band, share in truth.items():
        assert shares[band] == pytest.approx(share, abs=0.02), band
    assert unmatched < 0.2


def test_public_results_style_has_no_ranges_and_shows_areas_with_no_band(
        sample_results: Path, tmp_path: Path) -> None:
    # Public output publishes no rates (band_breaks without limits); areas without a band
    # are drawn grey as "No data", as in the app.
    results = read_results(sample_results)
    areas = results.areas.copy()
    column = results.group_columns[0]
    largest = areas.geometry.area.groupby(areas[column].astype(str)).sum().idxmax()
    gone = areas[column].astype(str) == largest
    areas.loc[gone, "band_index"] = 0
    breaks = results.band_breaks.assign(lower=np.nan, upper=np.nan)
    run = {**results.run, "disclosure": {**results.run.get("disclosure", {}),
                                         "mode": "public"}}
    path = write_results(tmp_path / "public.gpkg", areas=areas, targets=results.targets,
                         run=run, provenance=results.provenance, band_breaks=breaks)
    public = read_results(path)
    seen = open_in_qgis(path, tmp_path / "public.png")
    assert seen["renderer"] == "categorizedSymbol"
    labels = [c["label"] for c in seen["categories"]]
    assert labels == [*reversed(public.band_labels), "No data"]
    assert seen["categories"][-1]["colour"] == NO_DATA_COLOUR
    assert not any(ch.isdigit() for label in labels for ch in label)
    shares, _ = pixel_shares(tmp_path / "public.png",
                             {int(c["value"]): c["colour"] for c in seen["categories"]})
    truth = area_shares(public)
    assert truth[0] > 0.05  # the group really left without a band
    for band, share in truth.items():
        assert shares[band] == pytest.approx(share, abs=0.02), band


def test_style_table_is_the_one_qgis_reads(sample_results: Path) -> None:
    import pyogrio

    table = pd.DataFrame(pyogrio.read_dataframe(sample_results, layer="layer_styles",
                                                read_geometry=False))
    assert len(table) == 1
    row = table.iloc[0]
    assert row["f_table_name"] == "areas"
    assert row["f_geometry_column"] == "geom"
    assert bool(row["useAsDefault"])
    assert row["styleName"] == "Priority for a home fire safety visit"
    assert row["styleQML"].lstrip().startswith("<!DOCTYPE qgis")
    # the SLD is well-formed and has one rule per band
    import xml.etree.ElementTree as ET

    sld = ET.fromstring(row["styleSLD"].encode("utf-8"))
    rules = sld.findall(".//{http://www.opengis.net/se}Rule")
    assert len(rules) == len(read_results(sample_results).band_labels)
