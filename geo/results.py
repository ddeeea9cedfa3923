"""The results GeoPackage: write it once at build time, read it in the app, the PDF and QGIS.

Layers (see docs/DESIGN.md): ``areas`` (polygons with every per-area output), ``targets``
(the ranked list, no geometry), ``run`` (section/key/value), ``provenance`` (one row per
input), ``band_breaks``, ``layer_styles`` (the default QGIS style of ``areas``) and, when the
backtest ran, ``evaluation``. No layer holds incident coordinates or incident-level rows.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from firerisk.columns import (
    AREA_ID,
    AREA_NAME,
    BAND,
    BAND_INDEX,
    EXPECTED,
    HOUSEHOLDS,
    RANK,
    RISK_PER_1000,
)
from firerisk.errors import Problem, ResultsFileError
from firerisk.geo.styles import area_style, layer_styles_table

__all__ = [
    "AREA_COLUMNS",
    "INTERNAL_COLUMNS",
    "OPTIONAL_LAYERS",
    "REQUIRED_LAYERS",
    "STYLES_LAYER",
    "Results",
    "join_attributions",
    "read_results",
    "run_table",
    "table_reader",
    "write_results",
]

REQUIRED_LAYERS = ("areas", "targets", "run", "provenance", "band_breaks")
#: QGIS's table of layer styles (the default style of ``areas``; read by QGIS, not the app).
STYLES_LAYER = "layer_styles"
OPTIONAL_LAYERS = ("evaluation", "evaluation_curve", "model_comparison", "coefficients")
AREA_COLUMNS = (AREA_ID, AREA_NAME, HOUSEHOLDS, RANK, BAND, BAND_INDEX)
#: Columns an internal-mode file must also hold (public files carry bands and ranks only).
INTERNAL_COLUMNS = (EXPECTED, RISK_PER_1000)


@dataclass(frozen=True)
class Results:
    """Everything a results GeoPackage holds, ready for the app and the report."""

    path: Path
    areas: gpd.GeoDataFrame = field(repr=False)
    targets: pd.DataFrame = field(repr=False)
    run: dict[str, dict[str, Any]] = field(repr=False)
    provenance: pd.DataFrame = field(repr=False)
    band_breaks: pd.DataFrame = field(repr=False)
    extra: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def group_columns(self) -> list[str]:
        """Group labels (for example ``borough``) recorded at build time."""
        return list(self.run.get("profile", {}).get("groups", []))

    @property
    def mode(self) -> str:
        """Output mode, ``internal`` or ``public``."""
        return str(self.run.get("disclosure", {}).get("mode", "internal"))

    @property
    def threshold(self) -> int:
        """Small-number threshold in force when the file was written."""
        return int(self.run.get("disclosure", {}).get("threshold", 5))

    @property
    def band_labels(self) -> list[str]:
        """Band labels, lowest priority first."""
        return [str(v) for v in self.band_breaks.sort_values(BAND_INDEX)["label"]]

    def attribution(self) -> str:
        """Attribution text of every input, each distinct sentence once
        (:func:`join_attributions`)."""
        return join_attributions(self.provenance.get("attribution", pd.Series(dtype=str)))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z©(“\"'])")


def join_attributions(texts: Iterable[Any]) -> str:
    """Join attribution texts into one line, each distinct sentence once, in first-seen order.

    Two inputs often share a sentence (for example the ONS boundaries and the census both
    say "Source: Office for National Statistics licensed under the Open Government Licence
    v.3.0."); the joined line keeps the first and drops the repeat. Sentences are compared
    with their whitespace collapsed; a sentence ends at ``.``, ``!`` or ``?`` followed by
    space and a capital or an opening mark, so ``v.3.0`` and ``v. 3.0`` stay whole. Missing or
    blank texts are skipped.
    """
    seen: dict[str, None] = {}
    for text in texts:
        if not isinstance(text, str):
            continue
        for sentence in _SENTENCE_END.split(" ".join(text.split())):
            if sentence:
                seen.setdefault(sentence, None)
    return " ".join(seen)


def run_table(sections: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Flatten ``{section: {key: value}}`` into the ``run`` layer's section/key/value rows."""
    rows = []
    for section, items in sections.items():
        for key, value in items.items():
            rows.append({"section": section, "key": key,
                         "value": json.dumps(value, default=str, ensure_ascii=False)})
    return pd.DataFrame(rows, columns=["section", "key", "value"])


def write_results(
    path: str | Path,
    *,
    areas: gpd.GeoDataFrame,
    targets: pd.DataFrame,
    run: dict[str, dict[str, Any]],
    provenance: pd.DataFrame,
    band_breaks: pd.DataFrame,
    extra: dict[str, pd.DataFrame] | None = None,
) -> Path:
    """Write a results GeoPackage, replacing any file at *path*.

    The file is first written beside the target and then moved into place, so a reader
    never sees half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.gpkg")
    if tmp.exists():
        tmp.unlink()
    if areas.geom_type.isin(["Point", "MultiPoint"]).any():
        raise ResultsFileError("refusing to write point geometry to a results file")
    pyogrio.write_dataframe(areas, tmp, layer="areas", driver="GPKG")
    tables = {"targets": targets, "run": run_table(run), "provenance": provenance,
              "band_breaks": band_breaks, **(extra or {})}
    for name, table in tables.items():
        pyogrio.write_dataframe(pd.DataFrame(table).reset_index(drop=True), tmp, layer=name,
                                driver="GPKG")
    _write_layer_styles(tmp, areas, band_breaks, run)
    tmp.replace(path)
    return path


def _geometry_column(path: Path, layer: str) -> str:
    """The geometry column of *layer* as the GeoPackage registers it."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        row = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                         (layer,)).fetchone()
    return str(row[0]) if row else "geom"


def _write_layer_styles(path: Path, areas: gpd.GeoDataFrame, band_breaks: pd.DataFrame,
                        run: dict[str, dict[str, Any]]) -> None:
    """Store the app's band style as the default QGIS style of ``areas`` (``layer_styles``,
    see ``geo/styles.py``), so the file opens in QGIS coloured by priority band."""
    style = area_style(areas, band_breaks, run)
    generated = run.get("build", {}).get("generated_at")
    try:
        updated = datetime.fromisoformat(str(generated)) if generated else None
    except ValueError:
        updated = None
    table = layer_styles_table(style, geometry_column=_geometry_column(path, "areas"),
                               updated=updated)
    pyogrio.write_dataframe(table, path, layer=STYLES_LAYER, driver="GPKG")


def table_reader(path: Path) -> Callable[[str], pd.DataFrame]:
    """A function reading one attribute-only layer of *path* as a DataFrame."""

    def table(name: str) -> pd.DataFrame:
        return pd.DataFrame(pyogrio.read_dataframe(path, layer=name, read_geometry=False))

    return table


def read_results(path: str | Path) -> Results:
    """Read a results GeoPackage written by :func:`write_results`.

    Raises
    ------
    ResultsFileError
        When the file is missing, is not a GeoPackage, or lacks layers or columns.
    UnsafeFileError
        When the file is not a GeoPackage by its content (checked before GDAL opens it).
    """
    path = Path(path)
    fix = "rebuild it with: firerisk build --config PROFILE.toml --out RESULTS.gpkg"
    if not path.exists():
        raise ResultsFileError([Problem(str(path), "the results file does not exist.", fix)])
    from firerisk.geo.safefiles import admit

    admit(path, allowed={"gpkg"})  # a GeoPackage by content, under the size limit
    try:
        layers = {str(row[0]) for row in pyogrio.list_layers(path)}
    except Exception as exc:  # pyogrio raises its own DataSourceError types
        raise ResultsFileError([Problem(str(path), f"is not a readable GeoPackage ({exc}).", fix)]) from exc
    missing = [name for name in REQUIRED_LAYERS if name not in layers]
    if missing:
        raise ResultsFileError([Problem(
            str(path), f"expected layers {', '.join(REQUIRED_LAYERS)}; missing {', '.join(missing)} "
            f"(found {', '.join(sorted(layers)) or 'none'}).", fix)])
    areas = gpd.read_file(path, layer="areas", engine="pyogrio")
    run_layer = table_reader(path)("run")
    run: dict[str, dict[str, Any]] = {}
    for row in run_layer.itertuples(index=False):
        run.setdefault(str(row.section), {})[str(row.key)] = json.loads(str(row.value))
    public = str(run.get("disclosure", {}).get("mode", "internal")) == "public"
    needed = AREA_COLUMNS if public else AREA_COLUMNS + INTERNAL_COLUMNS
    absent = [c for c in needed if c not in areas.columns]
    if absent:
        raise ResultsFileError([Problem(str(path), f"the areas layer lacks {', '.join(absent)}.", fix,
                                        column=absent[0])])

    table = table_reader(path)
    extra = {name: table(name) for name in OPTIONAL_LAYERS if name in layers}
    return Results(path=path, areas=areas, targets=table("targets"), run=run,
                   provenance=table("provenance"), band_breaks=table("band_breaks"), extra=extra)
